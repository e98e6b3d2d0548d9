// cserve/detail/response_state.hpp — the result of one handle call, shared by the call (which
// completes it on a replica's thread) and its DeploymentResponse (which waits for it or awaits it).
// Thread-safety: every member function is safe from any thread. The first completion wins; later
// ones are ignored (a cancelled call may still finish).
#pragma once

#include <cserve/detail/mutex.hpp>
#include <cserve/detail/unique_function.hpp>

#include <chrono>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace cserve::detail {

template <class R>
class ResponseState {
 public:
  using Stored = std::conditional_t<std::is_void_v<R>, std::monostate, R>;

  template <class V>
  void set_value(V&& v) {
    finish([&] { value_.emplace(std::forward<V>(v)); });
  }
  void set_error(std::exception_ptr e) {
    finish([&] { error_ = std::move(e); });
  }

  // Runs `fn` once the result is there: at once if it already is, else on the completing thread.
  void on_ready(UniqueFunction<void()> fn) {
    {
      MutexLock lock(mu_);
      if (!done_) {
        on_ready_.push_back(std::move(fn));
        return;
      }
    }
    fn();
  }

  bool ready() const {
    MutexLock lock(mu_);
    return done_;
  }

  // Blocks until ready (true) or until `timeout` passes (false).
  bool wait_for(std::optional<std::chrono::duration<double>> timeout) {
    MutexLock lock(mu_);
    auto done = [&] {
      mu_.assert_held();
      return done_;
    };
    if (!timeout) {
      cv_.wait(mu_, done);
      return true;
    }
    return cv_.wait_for(mu_, *timeout, done);
  }

  // After ready(): the value (a copy when R is copyable, so it may be taken again) or the error.
  R take() {
    if (error_) std::rethrow_exception(error_);
    if constexpr (std::is_void_v<R>) {
      return;
    } else if constexpr (std::is_copy_constructible_v<R>) {
      return *value_;
    } else {
      return std::move(*value_);
    }
  }

 private:
  template <class F>
  void finish(F&& store) {
    std::vector<UniqueFunction<void()>> next;
    {
      MutexLock lock(mu_);
      if (done_) return;
      store();
      done_ = true;
      next.swap(on_ready_);
    }
    cv_.notify_all();
    for (auto& fn : next) fn();
  }

  mutable Mutex mu_;
  CondVar cv_;
  bool done_ CSERVE_GUARDED_BY(mu_) = false;
  // Written once under mu_ before done_ is set; read by take() only after ready() was seen true,
  // so take() needs no lock.
  std::optional<Stored> value_;
  std::exception_ptr error_;
  std::vector<UniqueFunction<void()>> on_ready_ CSERVE_GUARDED_BY(mu_);
};

}  // namespace cserve::detail
