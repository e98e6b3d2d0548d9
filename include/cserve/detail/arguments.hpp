// cserve/detail/arguments.hpp — handle call arguments that are DeploymentResponses of earlier
// calls: the call is submitted once they have resolved (no thread blocks), and each becomes its
// value when the call runs; a failed one fails the call with its error.
// Thread-safety: when_resolved's callbacks may arrive on any threads; `go` runs once.
#pragma once

#include <cserve/detail/mutex.hpp>
#include <cserve/detail/unique_function.hpp>

#include <cstddef>
#include <exception>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

namespace cserve {

template <class R>
class DeploymentResponse;

namespace detail {

template <class A>
struct IsResponse : std::false_type {};
template <class R>
struct IsResponse<DeploymentResponse<R>> : std::true_type {
  using value_type = R;
};

// What a stored argument becomes when the call runs: a DeploymentResponse<X> becomes its X.
template <class A>
struct Resolved {
  using type = A;
};
template <class R>
struct Resolved<DeploymentResponse<R>> {
  using type = R;
};
template <class A>
using resolved_t = typename Resolved<A>::type;

template <class Tuple>
struct HasResponse;
template <class... A>
struct HasResponse<std::tuple<A...>> : std::bool_constant<(IsResponse<A>::value || ...)> {};

// Calls `go` once every DeploymentResponse among `args` has resolved, with the first error.
template <class Args>
void when_resolved(const std::shared_ptr<Args>& args, UniqueFunction<void(std::exception_ptr)> go) {
  struct Join {
    Mutex mu;
    std::size_t left CSERVE_GUARDED_BY(mu) = 0;
    std::exception_ptr error CSERVE_GUARDED_BY(mu);
    UniqueFunction<void(std::exception_ptr)> go CSERVE_GUARDED_BY(mu);
  };
  auto join = std::make_shared<Join>();
  std::size_t pending = 0;
  std::apply([&](auto&... a) { ((pending += IsResponse<std::decay_t<decltype(a)>>::value), ...); }, *args);
  {
    MutexLock lock(join->mu);
    join->go = std::move(go);
    join->left = pending + 1;  // +1: released after every callback is registered
  }
  auto arrive = [join](std::exception_ptr e) {
    UniqueFunction<void(std::exception_ptr)> go;
    std::exception_ptr error;
    {
      MutexLock lock(join->mu);
      if (e && !join->error) join->error = e;
      if (--join->left > 0) return;
      go = std::move(join->go);
      error = join->error;
    }
    go(error);
  };
  auto watch = [&](auto& arg) {
    if constexpr (IsResponse<std::decay_t<decltype(arg)>>::value) {
      auto state = arg.state();
      state->on_ready([arrive, state]() mutable {
        std::exception_ptr e;
        try {
          (void)state->take();
        } catch (...) {
          e = std::current_exception();
        }
        arrive(e);
      });
    }
  };
  std::apply([&](auto&... a) { (watch(a), ...); }, *args);
  arrive(nullptr);
}

// Runs `submit(error)` now, or once the DeploymentResponses among the arguments have resolved.
template <class Stored, class F>
void submit_when_resolved(const std::shared_ptr<Stored>& stored, F submit) {
  if constexpr (HasResponse<Stored>::value) {
    when_resolved(stored, UniqueFunction<void(std::exception_ptr)>(std::move(submit)));
  } else {
    submit(nullptr);
  }
}

// A stored argument as the method receives it (after when_resolved).
template <class A>
decltype(auto) resolve(A& a) {
  if constexpr (IsResponse<A>::value) {
    return a.state()->take();
  } else {
    return std::move(a);
  }
}

}  // namespace detail
}  // namespace cserve
