// cserve/handle.hpp — calling deployments from C++: DeploymentHandle<T> and DeploymentResponse<R>.
//
//   cserve::DeploymentHandle<Model> h = serve.run(cserve::deployment<Model>().bind());
//   cserve::DeploymentResponse<float> r = h.remote(x);            // operator()(x), in flight now
//   float y = r.result();                                          // from a plain thread
//   float z = co_await h.method(&Model::predict).remote(x);        // inside a coroutine
//
// A call goes through the deployment's router like an HTTP request (power of two choices,
// max_ongoing_requests, queueing, 503 when the queue is full) and runs on a replica's strand.
// Arguments are moved into the call — in-process nothing is serialized. A DeploymentResponse
// passed as an argument is resolved first, without blocking any thread.
//
// The rule for code inside a deployment: co_await responses; never call result(), which would
// block a worker thread (and could deadlock the runtime) — it throws cserve::Error there instead.
// Thread-safety: handles are cheap to copy and safe to use from any thread. One
// DeploymentResponse is awaited (or waited on) by one caller.
#pragma once

#include <cserve/detail/call.hpp>
#include <cserve/detail/call_context.hpp>
#include <cserve/detail/callable.hpp>
#include <cserve/detail/resumer.hpp>
#include <cserve/detail/type_name.hpp>
#include <cserve/error.hpp>
#include <cserve/json.hpp>
#include <cserve/stream.hpp>
#include <cserve/task.hpp>

#include <chrono>
#include <condition_variable>
#include <coroutine>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace cserve {

// No replica would take a handle call: the queue was full, or the deployment is gone or failed.
class UnavailableError : public Error {
 public:
  using Error::Error;
};

template <class R>
class DeploymentResponse;

namespace detail {

// Resumes `h` on this thread as code outside any replica (clearing the replica context).
void resume_outside_replica(std::coroutine_handle<> h);

// What a handle call fails with when no replica ran it: the router's status as an exception.
inline std::exception_ptr rejection_error(int status, std::string message) {
  if (status == 408) return std::make_exception_ptr(TimeoutError(std::move(message)));
  if (status == 499) return std::make_exception_ptr(CancelledError(std::move(message)));
  return std::make_exception_ptr(UnavailableError(std::move(message)));
}

// The result of one call, shared by the call and its DeploymentResponse.
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
      std::lock_guard lock(mu_);
      if (!done_) {
        on_ready_.push_back(std::move(fn));
        return;
      }
    }
    fn();
  }

  bool ready() const {
    std::lock_guard lock(mu_);
    return done_;
  }

  bool wait_for(std::optional<std::chrono::duration<double>> timeout) {
    std::unique_lock lock(mu_);
    if (!timeout) {
      cv_.wait(lock, [&] { return done_; });
      return true;
    }
    return cv_.wait_for(lock, *timeout, [&] { return done_; });
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
      std::lock_guard lock(mu_);
      if (done_) return;
      store();
      done_ = true;
      next.swap(on_ready_);
    }
    cv_.notify_all();
    for (auto& fn : next) fn();
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::optional<Stored> value_;
  std::exception_ptr error_;
  std::vector<UniqueFunction<void()>> on_ready_;
};

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

template <class T>
struct ResponseOf {
  using type = T;
};
template <class T>
struct ResponseOf<Task<T>> {
  using type = T;
};

// Takes what `produce()` returns (or throws), gives the replica's slot back (`done`), then
// completes `state`: a caller that calls again as soon as it sees the result finds the slot free.
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
void run_handle_call(F&& f, const std::shared_ptr<ResponseState<R>>& state,
                     UniqueFunction<void()> done) {
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

}  // namespace detail

template <class R>
class DeploymentResponse {
 public:
  explicit DeploymentResponse(std::shared_ptr<detail::ResponseState<R>> state,
                              std::shared_ptr<detail::CallContext> call = nullptr)
      : state_(std::move(state)), call_(std::move(call)) {}

  // Blocks this thread until the call finishes; returns its value or throws its exception
  // (UnavailableError when no replica took it). Throws TimeoutError after `timeout` (the call
  // goes on: cancel() it if its result is no longer wanted), and cserve::Error when called
  // inside a deployment (co_await the response there).
  R result(std::optional<std::chrono::duration<double>> timeout = std::nullopt) const {
    if (detail::in_replica()) {
      throw Error(
          "DeploymentResponse::result() would block a replica's worker thread (and can deadlock "
          "the runtime); inside a deployment, make the handler a coroutine and co_await the "
          "response");
    }
    if (!state_->wait_for(timeout)) throw TimeoutError("the call did not finish in time");
    return state_->take();
  }

  bool ready() const { return state_->ready(); }

  // Cancels the call: dropped from its queue if it has not started, cancelled at its next
  // suspension point if it has (and so are the calls it made). The response fails with
  // CancelledError unless it had finished already.
  void cancel() const {
    if (call_) call_->cancel(detail::CancelReason::kCancelled);
    state_->set_error(std::make_exception_ptr(CancelledError("the call was cancelled")));
  }

  // co_await: inside a replica the coroutine continues on the replica's strand. If the request
  // the awaiting code serves is cancelled meanwhile, it continues at once with the request's
  // error (CancelledError, or TimeoutError for request_timeout_s).
  bool await_ready() const { return state_->ready(); }
  void await_suspend(std::coroutine_handle<> h) const {
    auto resumer = detail::current_resumer();
    std::shared_ptr<detail::CallContext> context = detail::current_call();
    std::uint64_t token = 0;
    if (context) {
      token = context->on_cancel(
          [state = state_, c = context.get()] { state->set_error(c->error()); });
    }
    state_->on_ready([h, resumer = std::move(resumer), context = std::move(context), token]() mutable {
      if (context) context->forget(token);
      if (resumer) {
        resumer->post([h, context = std::move(context)] {
          detail::ScopedCall in_call(context);
          h.resume();
        });
      } else {
        detail::resume_outside_replica(h);
      }
    });
  }
  R await_resume() const { return state_->take(); }

  const std::shared_ptr<detail::ResponseState<R>>& state() const { return state_; }

 private:
  std::shared_ptr<detail::ResponseState<R>> state_;
  std::shared_ptr<detail::CallContext> call_;  // null for responses that are not calls (batches)
};

namespace detail {

// A remote Stream<T>: filled in by the call on the replica (its driver and the slot's release),
// pulled by the DeploymentStream on the caller's side, one item at a time.
template <class T>
class StreamChannel : public std::enable_shared_from_this<StreamChannel<T>> {
 public:
  using Item = ResponseState<std::optional<T>>;

  // From the replica: the stream is ready. `done` gives the replica's slot back when it ends.
  void attach(std::shared_ptr<StreamDriver<T>> driver, UniqueFunction<void()> done) {
    std::shared_ptr<Item> waiting;
    bool cancelled = false;
    {
      std::lock_guard lock(mu_);
      driver_ = std::move(driver);
      done_ = std::move(done);
      cancelled = cancelled_;
      if (cancelled) {
        driver_->cancel();
        finished_ = true;
      } else {
        waiting = std::exchange(waiting_, nullptr);
        pulling_ = waiting != nullptr;
      }
    }
    if (cancelled) return release();
    if (waiting) pull(std::move(waiting));
  }

  // The call failed before it could stream (rejected, or the method threw).
  void fail(std::exception_ptr error) {
    std::shared_ptr<Item> waiting;
    {
      std::lock_guard lock(mu_);
      error_ = error;
      finished_ = true;
      waiting = std::exchange(waiting_, nullptr);
    }
    if (waiting) waiting->set_error(error);
  }

  void request(std::shared_ptr<Item> item) {
    {
      std::lock_guard lock(mu_);
      if (error_) return item->set_error(error_);
      if (finished_) return item->set_value(std::optional<T>());
      if (pulling_ || waiting_) {
        return item->set_error(std::make_exception_ptr(
            Error("DeploymentStream::next() called again before the previous item arrived")));
      }
      if (!driver_) {
        waiting_ = std::move(item);
        return;
      }
      pulling_ = true;
    }
    pull(std::move(item));
  }

  // The consumer is gone: stop the generator (now, or when the pull in progress returns).
  void cancel() {
    {
      std::lock_guard lock(mu_);
      if (finished_ || cancelled_) return;
      cancelled_ = true;
      if (!driver_ || pulling_) return;  // attach() or the pull's callback finishes the job
      driver_->cancel();
      finished_ = true;
    }
    release();
  }

 private:
  // With pulling_ already set under the lock by the caller.
  void pull(std::shared_ptr<Item> item) {
    driver_->pull([self = this->shared_from_this(), item = std::move(item)](
                      std::optional<T> value, std::exception_ptr error) mutable {
      bool end = false;
      {
        std::lock_guard lock(self->mu_);
        self->pulling_ = false;
        if (error || !value) {
          self->finished_ = true;
          end = true;
        } else if (self->cancelled_) {
          self->driver_->cancel();
          self->finished_ = true;
          end = true;
        }
      }
      if (error) {
        item->set_error(error);
      } else {
        item->set_value(std::move(value));
      }
      if (end) self->release();
    });
  }

  void release() {
    UniqueFunction<void()> done;
    {
      std::lock_guard lock(mu_);
      done = std::move(done_);
    }
    if (done) done();
  }

  std::mutex mu_;
  std::shared_ptr<StreamDriver<T>> driver_;
  UniqueFunction<void()> done_;
  std::exception_ptr error_;
  std::shared_ptr<Item> waiting_;  // a next() that came before the stream was ready
  bool pulling_ = false;
  bool finished_ = false;
  bool cancelled_ = false;
};

}  // namespace detail

// A stream from another deployment, as an async range:
//   auto tokens = h.method(&Llm::generate).remote(prompt);
//   while (auto t = co_await tokens.next()) use(*t);        // or tokens.next().result()
// Destroying it before the end stops the generator in its replica.
template <class T>
class DeploymentStream {
 public:
  DeploymentStream(std::shared_ptr<detail::StreamChannel<T>> channel, std::shared_ptr<detail::CallContext> call)
      : channel_(std::move(channel)), call_(std::move(call)) {}
  DeploymentStream(DeploymentStream&&) noexcept = default;
  DeploymentStream& operator=(DeploymentStream&& o) noexcept {
    if (this != &o) {
      stop();
      channel_ = std::move(o.channel_);
      call_ = std::move(o.call_);
    }
    return *this;
  }
  ~DeploymentStream() { stop(); }

  // The next item, or nullopt at the end; the generator's exception, if it threw. One at a time.
  DeploymentResponse<std::optional<T>> next() {
    auto item = std::make_shared<typename detail::StreamChannel<T>::Item>();
    channel_->request(item);
    return DeploymentResponse<std::optional<T>>(std::move(item));
  }

 private:
  // The consumer is gone: the generator stops at its next co_yield, and the calls it is
  // awaiting are cancelled.
  void stop() {
    if (channel_) channel_->cancel();
    if (call_) call_->cancel(detail::CancelReason::kCancelled);
  }

  std::shared_ptr<detail::StreamChannel<T>> channel_;
  std::shared_ptr<detail::CallContext> call_;
};

namespace detail {

// Starts the call once every DeploymentResponse among `args` has resolved.
template <class Args>
void when_resolved(const std::shared_ptr<Args>& args, UniqueFunction<void(std::exception_ptr)> go) {
  struct Join {
    std::mutex mu;
    std::size_t left;
    std::exception_ptr error;
    UniqueFunction<void(std::exception_ptr)> go;
  };
  auto join = std::make_shared<Join>();
  join->go = std::move(go);
  std::size_t pending = 0;
  std::apply([&](auto&... a) { ((pending += IsResponse<std::decay_t<decltype(a)>>::value), ...); }, *args);
  join->left = pending + 1;  // +1: released after every callback is registered
  auto arrive = [join](std::exception_ptr e) {
    UniqueFunction<void(std::exception_ptr)> go;
    std::exception_ptr error;
    {
      std::lock_guard lock(join->mu);
      if (e && !join->error) join->error = e;
      if (--join->left > 0) return;
      go = std::move(join->go);
      error = join->error;
    }
    go(error);
  };
  std::apply(
      [&](auto&... a) {
        (
            [&](auto& arg) {
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
            }(a),
            ...);
      },
      *args);
  arrive(nullptr);
}

template <class Tuple>
struct HasResponse;
template <class... A>
struct HasResponse<std::tuple<A...>> : std::bool_constant<(IsResponse<A>::value || ...)> {};

// Runs `submit` now, or once the DeploymentResponses among the arguments have resolved.
template <class Stored, class F>
void submit_when_resolved(const std::shared_ptr<Stored>& stored, F submit) {
  if constexpr (HasResponse<Stored>::value) {
    when_resolved(stored, UniqueFunction<void(std::exception_ptr)>(std::move(submit)));
  } else {
    submit(nullptr);
  }
}

template <class A>
decltype(auto) resolve(A& a) {
  if constexpr (IsResponse<A>::value) {
    return a.state()->take();
  } else {
    return std::move(a);
  }
}

}  // namespace detail

namespace detail {

// Sends one call with arguments `stored` (resolving the responses among them first) through
// `sink`; on the chosen replica `start(target, args, state, done)` runs it and fills `state`.
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
    call.reject = [state](int status, std::string message) {
      state->set_error(rejection_error(status, std::move(message)));
    };
    sink->submit(std::move(call));
  };
  submit_when_resolved(stored, std::move(submit));
  return DeploymentResponse<R>(std::move(state), std::move(context));
}

}  // namespace detail

// Calls `method` (a pointer to member function, or &T::operator()) of deployment T.
template <class T, class M>
class MethodCaller {
 public:
  MethodCaller(std::shared_ptr<detail::CallSink> sink, M method) : sink_(std::move(sink)), method_(method) {}

  template <class... Args>
  auto remote(Args&&... args) const {
    using Stored = std::tuple<std::decay_t<Args>...>;
    using Result = std::invoke_result_t<M, T&, detail::resolved_t<std::decay_t<Args>>&&...>;
    auto stored = std::make_shared<Stored>(std::forward<Args>(args)...);
    if constexpr (detail::IsStream<Result>::value) {
      return remote_stream<typename detail::IsStream<Result>::value_type>(std::move(stored));
    } else {
      using R = typename detail::ResponseOf<Result>::type;
      return detail::send_call<R>(
          sink_, std::move(stored),
          [method = method_](detail::ReplicaCallable& target, Stored& args,
                             const std::shared_ptr<detail::ResponseState<R>>& state,
                             detail::UniqueFunction<void()> done) {
            T& object = *static_cast<T*>(target.object());
            detail::run_handle_call<R>(
                [&]() -> decltype(auto) {
                  return std::apply(
                      [&](auto&... a) -> decltype(auto) {
                        return std::invoke(method, object, detail::resolve(a)...);
                      },
                      args);
                },
                state, std::move(done));
          });
    }
  }

 private:
  template <class U, class Stored>
  DeploymentStream<U> remote_stream(std::shared_ptr<Stored> stored) const {
    auto channel = std::make_shared<detail::StreamChannel<U>>();
    auto context = detail::CallContext::child_of(detail::current_call());
    auto submit = [sink = sink_, method = method_, stored, channel, context](std::exception_ptr error) {
      if (error) return channel->fail(error);
      detail::Call call;
      call.context = context;
      call.run = [method, stored, channel](detail::ReplicaCallable& target,
                                           detail::UniqueFunction<void()> done) {
        T& object = *static_cast<T*>(target.object());
        try {
          Stream<U> stream = std::apply(
              [&](auto&... a) { return std::invoke(method, object, detail::resolve(a)...); }, *stored);
          channel->attach(std::make_shared<detail::StreamDriver<U>>(std::move(stream),
                                                                   detail::current_resumer()),
                          std::move(done));
        } catch (...) {
          channel->fail(std::current_exception());
          done();
        }
      };
      call.reject = [channel](int status, std::string message) {
        channel->fail(detail::rejection_error(status, std::move(message)));
      };
      sink->submit(std::move(call));
    };
    detail::submit_when_resolved(stored, std::move(submit));
    return DeploymentStream<U>(std::move(channel), std::move(context));
  }

  std::shared_ptr<detail::CallSink> sink_;
  M method_;
};

// Calls a method by name with JSON arguments (see cserve/methods.hpp); the result is JSON.
class NamedMethodCaller {
 public:
  NamedMethodCaller(std::shared_ptr<detail::CallSink> sink, std::string name)
      : sink_(std::move(sink)), name_(std::move(name)) {}

  // Each argument is converted to JSON (a DeploymentResponse is resolved first).
  template <class... Args>
  DeploymentResponse<Json> remote(Args&&... args) const {
    using Stored = std::tuple<std::decay_t<Args>...>;
    return detail::send_call<Json>(
        sink_, std::make_shared<Stored>(std::forward<Args>(args)...),
        [name = name_](detail::ReplicaCallable& target, Stored& stored,
                       const std::shared_ptr<detail::ResponseState<Json>>& state,
                       detail::UniqueFunction<void()> done) {
          Json args = Json::array();
          try {
            std::apply([&](auto&... a) { (args.push_back(Json(detail::resolve(a))), ...); }, stored);
          } catch (...) {
            state->set_error(std::current_exception());
            return done();
          }
          target.call_method(name, std::move(args),
                             [state, done = std::move(done)](Json result, std::exception_ptr error) mutable {
                               detail::finish_call(state, done, [&]() -> Json {
                                 if (error) std::rethrow_exception(error);
                                 return std::move(result);
                               });
                             });
        });
  }

 private:
  std::shared_ptr<detail::CallSink> sink_;
  std::string name_;
};

template <class T = void>
class DeploymentHandle;

// The untyped handle: any deployment, methods called by name with JSON in and out.
//   cserve::DeploymentHandle<> h = serve.get_app_handle("model");
//   cserve::Json y = co_await h.method("predict").remote(x);
template <>
class DeploymentHandle<void> {
 public:
  DeploymentHandle() = default;
  DeploymentHandle(std::shared_ptr<detail::CallSink> sink, std::string deployment)
      : sink_(std::move(sink)), deployment_(std::move(deployment)) {}

  // Calls the call operator ("__call__").
  template <class... Args>
  DeploymentResponse<Json> remote(Args&&... args) const {
    return method("__call__").remote(std::forward<Args>(args)...);
  }
  NamedMethodCaller method(std::string name) const {
    if (!sink_) throw Error("this DeploymentHandle is empty (default-constructed)");
    return NamedMethodCaller(sink_, std::move(name));
  }

  const std::string& deployment_name() const { return deployment_; }
  explicit operator bool() const { return sink_ != nullptr; }

 private:
  std::shared_ptr<detail::CallSink> sink_;
  std::string deployment_;
};

template <class T>
class DeploymentHandle {
 public:
  DeploymentHandle() = default;
  DeploymentHandle(std::shared_ptr<detail::CallSink> sink, std::string deployment)
      : sink_(std::move(sink)), deployment_(std::move(deployment)) {}

  // Calls the deployment's call operator.
  template <class... Args>
  auto remote(Args&&... args) const {
    return method(&T::operator()).remote(std::forward<Args>(args)...);
  }

  // Calls another member function: handle.method(&Model::predict).remote(x).
  template <class M>
    requires std::is_member_function_pointer_v<M>
  MethodCaller<T, M> method(M m) const {
    if (!sink_) throw Error("this DeploymentHandle is empty (default-constructed)");
    return MethodCaller<T, M>(sink_, m);
  }

  // Calls a method by name with JSON arguments and result (see cserve/methods.hpp).
  NamedMethodCaller method(std::string name) const { return untyped().method(std::move(name)); }

  DeploymentHandle<> untyped() const { return DeploymentHandle<>(sink_, deployment_); }
  operator DeploymentHandle<>() const { return untyped(); }

  const std::string& deployment_name() const { return deployment_; }
  explicit operator bool() const { return sink_ != nullptr; }

 private:
  std::shared_ptr<detail::CallSink> sink_;
  std::string deployment_;
};

}  // namespace cserve
