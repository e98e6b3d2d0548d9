// cserve/detail/send_call.hpp — how a handle call travels: its arguments are stored (and the
// responses among them resolved), a Call is submitted to the deployment's CallSink (its router),
// and on the chosen replica the method runs and completes the caller's ResponseState or feeds its
// StreamChannel. A rejected call (no replica took it) fails with to_exception(failure).
//
// Ownership: the stored arguments and the result state are shared by the caller's response and
// the Call until the call completes; the replica's slot (`done`) is given back before the caller
// can see the result, so a caller that calls again at once finds it free.
// Thread-safety: the functions are reentrant; `run` executes on the replica's strand.
#pragma once

#include <cserve/detail/arguments.hpp>
#include <cserve/detail/call.hpp>
#include <cserve/detail/call_context.hpp>
#include <cserve/detail/callable.hpp>
#include <cserve/detail/response_state.hpp>
#include <cserve/detail/stream_channel.hpp>
#include <cserve/error.hpp>
#include <cserve/json.hpp>
#include <cserve/stream.hpp>
#include <cserve/task.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace cserve {

template <class R>
class DeploymentResponse;
template <class T>
class DeploymentStream;

namespace detail {

template <class T>
struct ResponseOf {
  using type = T;
};
template <class T>
struct ResponseOf<Task<T>> {
  using type = T;
};

// Takes what `produce()` returns (or throws), gives the replica's slot back (`done`), then
// completes `state`.
template <class R, class P>
void finish_call(const std::shared_ptr<ResponseState<R>>& state, UniqueFunction<void()>& done, P&& produce) {
  std::optional<typename ResponseState<R>::Stored> value;
  std::exception_ptr error;
  try {
    if constexpr (std::is_void_v<R>) {
      produce();
      value.emplace();
    } else {
      value.emplace(produce());
    }
  } catch (...) {
    error = std::current_exception();
  }
  done();
  if (error) {
    state->set_error(error);
  } else {
    state->set_value(std::move(*value));
  }
}

// Completes `state` with what `f()` returns (awaiting it first when it is a Task), calling
// `done` just before.
template <class R, class F>
void run_handle_call(F&& f, const std::shared_ptr<ResponseState<R>>& state, UniqueFunction<void()> done) {
  using Result = std::invoke_result_t<F>;
  if constexpr (IsTask<Result>::value) {
    std::optional<Result> task;
    try {
      task.emplace(f());
    } catch (...) {
      return finish_call(state, done, [e = std::current_exception()]() -> R { std::rethrow_exception(e); });
    }
    Result::start_detached(std::move(*task), [state, done = std::move(done)](auto& promise) mutable {
      finish_call(state, done, [&]() -> decltype(auto) { return promise.take(); });
    });
  } else {
    finish_call(state, done, [&]() -> decltype(auto) { return f(); });
  }
}

// Submits one call through `sink` once the responses among `stored` have resolved: the
// replica runs `start(target, stored, state, done)`, which must complete `state` and call `done`.
template <class R, class Stored, class Start>
DeploymentResponse<R> send_call(const std::shared_ptr<CallSink>& sink, std::shared_ptr<Stored> stored,
                                Start start) {
  auto state = std::make_shared<ResponseState<R>>();
  auto context = CallContext::child_of(current_call());
  auto submit = [sink, stored, state, context, start = std::move(start)](std::exception_ptr error) mutable {
    if (error) return state->set_error(error);
    Call call;
    call.context = context;
    call.run = [stored, state, start = std::move(start)](ReplicaCallable& target,
                                                         UniqueFunction<void()> done) mutable {
      start(target, *stored, state, std::move(done));
    };
    call.reject = [state](Failure f) { state->set_error(to_exception(std::move(f))); };
    sink->submit(std::move(call));
  };
  submit_when_resolved(stored, std::move(submit));
  return DeploymentResponse<R>(std::move(state), std::move(context));
}

// Submits one streaming call: on the replica `open(target, stored)` returns the Stream<U>, whose
// items the returned DeploymentStream pulls one at a time.
template <class U, class Stored, class Open>
DeploymentStream<U> send_stream_call(const std::shared_ptr<CallSink>& sink, std::shared_ptr<Stored> stored,
                                     Open open) {
  auto channel = std::make_shared<StreamChannel<U>>();
  auto context = CallContext::child_of(current_call());
  auto submit = [sink, stored, channel, context, open = std::move(open)](std::exception_ptr error) mutable {
    if (error) return channel->fail(error);
    Call call;
    call.context = context;
    call.run = [stored, channel, open = std::move(open)](ReplicaCallable& target,
                                                        UniqueFunction<void()> done) mutable {
      try {
        Stream<U> stream = open(target, *stored);
        channel->attach(std::make_shared<StreamDriver<U>>(std::move(stream), current_resumer()),
                        std::move(done));
      } catch (...) {
        channel->fail(std::current_exception());
        done();
      }
    };
    call.reject = [channel](Failure f) { channel->fail(to_exception(std::move(f))); };
    sink->submit(std::move(call));
  };
  submit_when_resolved(stored, std::move(submit));
  return DeploymentStream<U>(std::move(channel), std::move(context));
}

// Calls `method` of the T in the chosen replica with the stored arguments.
template <class T, class M, class Stored>
decltype(auto) invoke_stored(ReplicaCallable& target, M method, Stored& args) {
  T& object = *static_cast<T*>(target.object());
  return std::apply([&](auto&... a) -> decltype(auto) { return std::invoke(method, object, resolve(a)...); },
                    args);
}

// The arguments of a call by name, as the JSON array Methods expects.
template <class Stored>
Json json_arguments(Stored& stored) {
  Json args = Json::array();
  std::apply([&](auto&... a) { (args.push_back(Json(resolve(a))), ...); }, stored);
  return args;
}

}  // namespace detail
}  // namespace cserve
