// cserve/task.hpp — Task<T>, the coroutine type of cserve handlers.
//
//   cserve::Task<cserve::Json> operator()(cserve::Request req) {
//     auto a = model_a_.remote(req.json());        // both calls in flight
//     auto b = model_b_.remote(req.json());
//     co_return cserve::Json{{"a", co_await a}, {"b", co_await b}};
//   }
//
// A Task is lazy: it starts when awaited (or when the replica starts a handler's Task) and
// resumes its awaiter when it finishes (symmetric transfer, no extra stack). Exceptions travel
// to the awaiter. Inside a replica every resumption happens on the replica's strand, so a
// replica interleaves its suspended coroutines but never runs two at once.
// Thread-safety: a Task is owned by one awaiter; move-only.
#pragma once

#include <cserve/detail/unique_function.hpp>

#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace cserve {

template <class T = void>
class Task;

namespace detail {

struct TaskPromiseBase {
  std::coroutine_handle<> continuation;
  UniqueFunction<void()> on_done;  // set when the Task was started detached
  std::exception_ptr error;

  struct FinalAwaiter {
    bool await_ready() noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      TaskPromiseBase& p = h.promise();
      if (p.continuation) return p.continuation;
      if (p.on_done) {
        auto done = std::move(p.on_done);
        done();  // may destroy the frame: touch nothing after this
      }
      return std::noop_coroutine();
    }
    void await_resume() noexcept {}
  };

  std::suspend_always initial_suspend() noexcept { return {}; }
  FinalAwaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { error = std::current_exception(); }
};

template <class T>
struct TaskPromise : TaskPromiseBase {
  std::optional<T> value;
  template <class V>
  void return_value(V&& v) {
    value.emplace(std::forward<V>(v));
  }
  T take() {
    if (error) std::rethrow_exception(error);
    return std::move(*value);
  }
};

template <>
struct TaskPromise<void> : TaskPromiseBase {
  void return_void() noexcept {}
  void take() {
    if (error) std::rethrow_exception(error);
  }
};

template <class>
struct IsTask : std::false_type {};
template <class T>
struct IsTask<Task<T>> : std::true_type {
  using value_type = T;
};

}  // namespace detail

template <class T>
class Task {
 public:
  struct promise_type : detail::TaskPromise<T> {
    Task get_return_object() { return Task(std::coroutine_handle<promise_type>::from_promise(*this)); }
  };
  using Handle = std::coroutine_handle<promise_type>;

  Task(Task&& other) noexcept : h_(std::exchange(other.h_, nullptr)) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      if (h_) h_.destroy();
      h_ = std::exchange(other.h_, nullptr);
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() {
    if (h_) h_.destroy();
  }

  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
    h_.promise().continuation = awaiting;
    return h_;
  }
  T await_resume() { return h_.promise().take(); }

  // Starts the Task without an awaiter; `done` gets the finished promise (read the result with
  // take()) and the frame is destroyed right after `done` returns.
  template <class F>
  static void start_detached(Task task, F done) {
    Handle h = std::exchange(task.h_, nullptr);
    h.promise().on_done = [h, done = std::move(done)]() mutable {
      done(h.promise());
      h.destroy();
    };
    h.resume();
  }

 private:
  explicit Task(Handle h) : h_(h) {}
  Handle h_;
};

}  // namespace cserve
