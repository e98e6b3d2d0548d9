// cserve/handle.hpp — calling deployments from C++: DeploymentHandle<T> and DeploymentResponse<R>.
//
//   cserve::DeploymentHandle<Model> h = serve.run(cserve::deployment<Model>().bind());
//   cserve::DeploymentResponse<float> r = h.remote(x);            // operator()(x), in flight now
//   float y = r.result();                                          // from a plain thread
//   float z = co_await h.method(&Model::predict).remote(x);        // inside a coroutine
//   auto tokens = h.method(&Model::generate).remote(prompt);       // a Stream<T> method:
//   while (auto t = co_await tokens.next()) use(*t);               //   a DeploymentStream<T>
//
// A call goes through the deployment's router like an HTTP request (power of two choices,
// max_ongoing_requests, queueing, kOverloaded when the queue is full) and runs on a replica's
// strand. Arguments are moved into the call — in-process nothing is serialized. A
// DeploymentResponse passed as an argument is resolved first, without blocking any thread.
//
// The rule for code inside a deployment: co_await responses; never call result(), which would
// block a worker thread (and could deadlock the runtime) — it throws cserve::Error there instead.
// Thread-safety: handles are cheap to copy and safe to use from any thread. One
// DeploymentResponse (or DeploymentStream) is awaited or waited on by one caller.
#pragma once

#include <cserve/detail/call_context.hpp>
#include <cserve/detail/resumer.hpp>
#include <cserve/detail/send_call.hpp>
#include <cserve/detail/type_name.hpp>
#include <cserve/error.hpp>
#include <cserve/json.hpp>
#include <cserve/stream.hpp>
#include <cserve/task.hpp>

#include <chrono>
#include <coroutine>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace cserve {

// Options for the calls a handle makes (Ray's handle.options(...)):
//   co_await h.options({.multiplexed_model_id = "customer-7"}).remote(x);
struct HandleOptions {
  std::string multiplexed_model_id;  // the multiplexed model the calls ask for (cserve/multiplex.hpp)
};

namespace detail {
// Resumes `h` on this thread as code outside any replica (clearing the replica context).
void resume_outside_replica(std::coroutine_handle<> h);
// A sink that applies `options` to each call, then passes it on to `sink`.
std::shared_ptr<CallSink> with_options(std::shared_ptr<CallSink> sink, HandleOptions options);
}  // namespace detail

// The result of a handle call, in flight.
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
  R result(std::optional<std::chrono::duration<double>> timeout = std::nullopt) const;

  bool ready() const { return state_->ready(); }

  // Cancels the call: dropped from its queue if it has not started, cancelled at its next
  // suspension point if it has (and so are the calls it made). The response fails with
  // CancelledError unless it had finished already.
  void cancel() const;

  // co_await: inside a replica the coroutine continues on the replica's strand. If the request
  // the awaiting code serves is cancelled meanwhile, it continues at once with the request's
  // error (CancelledError, or TimeoutError for request_timeout_s).
  bool await_ready() const { return state_->ready(); }
  void await_suspend(std::coroutine_handle<> h) const;
  R await_resume() const { return state_->take(); }

  const std::shared_ptr<detail::ResponseState<R>>& state() const { return state_; }

 private:
  std::shared_ptr<detail::ResponseState<R>> state_;
  std::shared_ptr<detail::CallContext> call_;  // null for responses that are not calls (batches)
};

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
  DeploymentStream& operator=(DeploymentStream&& o) noexcept;
  ~DeploymentStream() { stop(); }

  // The next item, or nullopt at the end; the generator's exception, if it threw. One at a time.
  DeploymentResponse<std::optional<T>> next();

 private:
  // The consumer is gone: the generator stops at its next co_yield, and the calls it is
  // awaiting are cancelled.
  void stop();

  std::shared_ptr<detail::StreamChannel<T>> channel_;
  std::shared_ptr<detail::CallContext> call_;
};

// Calls `method` (a pointer to member function, or &T::operator()) of deployment T. remote()
// returns a DeploymentResponse<R> (R unwrapped from Task<R>), or a DeploymentStream<U> for a
// method returning Stream<U>.
template <class T, class M>
class MethodCaller {
 public:
  MethodCaller(std::shared_ptr<detail::CallSink> sink, M method) : sink_(std::move(sink)), method_(method) {}

  template <class... Args>
  auto remote(Args&&... args) const;

 private:
  std::shared_ptr<detail::CallSink> sink_;
  M method_;
};

// Calls a method by name with JSON arguments (see cserve/methods.hpp).
class NamedMethodCaller {
 public:
  NamedMethodCaller(std::shared_ptr<detail::CallSink> sink, std::string name)
      : sink_(std::move(sink)), name_(std::move(name)) {}

  // Each argument is converted to JSON (a DeploymentResponse is resolved first); the result is
  // JSON.
  template <class... Args>
  DeploymentResponse<Json> remote(Args&&... args) const;
  // For a method that returns a Stream: its items, as JSON.
  template <class... Args>
  DeploymentStream<Json> stream(Args&&... args) const;

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

  // A handle to the same deployment whose calls carry `options`.
  DeploymentHandle options(HandleOptions o) const {
    if (!sink_) throw Error("this DeploymentHandle is empty (default-constructed)");
    return DeploymentHandle(detail::with_options(sink_, std::move(o)), deployment_);
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

  // A handle to the same deployment whose calls carry `options`.
  DeploymentHandle options(HandleOptions o) const {
    if (!sink_) throw Error("this DeploymentHandle is empty (default-constructed)");
    return DeploymentHandle(detail::with_options(sink_, std::move(o)), deployment_);
  }

  DeploymentHandle<> untyped() const { return DeploymentHandle<>(sink_, deployment_); }
  operator DeploymentHandle<>() const { return untyped(); }

  const std::string& deployment_name() const { return deployment_; }
  explicit operator bool() const { return sink_ != nullptr; }

 private:
  std::shared_ptr<detail::CallSink> sink_;
  std::string deployment_;
};

// ---- Implementation ----------------------------------------------------------------------------

template <class R>
R DeploymentResponse<R>::result(std::optional<std::chrono::duration<double>> timeout) const {
  if (detail::in_replica()) {
    throw Error(
        "DeploymentResponse::result() would block a replica's worker thread (and can deadlock "
        "the runtime); inside a deployment, make the handler a coroutine and co_await the "
        "response");
  }
  if (!state_->wait_for(timeout)) throw TimeoutError("the call did not finish in time");
  return state_->take();
}

template <class R>
void DeploymentResponse<R>::cancel() const {
  if (call_) call_->cancel(detail::CancelReason::kCancelled);
  state_->set_error(std::make_exception_ptr(CancelledError("the call was cancelled")));
}

template <class R>
void DeploymentResponse<R>::await_suspend(std::coroutine_handle<> h) const {
  auto resumer = detail::current_resumer();
  std::shared_ptr<detail::CallContext> context = detail::current_call();
  std::uint64_t token = 0;
  if (context) {
    token = context->on_cancel([state = state_, c = context.get()] { state->set_error(c->error()); });
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

template <class T>
DeploymentStream<T>& DeploymentStream<T>::operator=(DeploymentStream&& o) noexcept {
  if (this != &o) {
    stop();
    channel_ = std::move(o.channel_);
    call_ = std::move(o.call_);
  }
  return *this;
}

template <class T>
DeploymentResponse<std::optional<T>> DeploymentStream<T>::next() {
  auto item = std::make_shared<typename detail::StreamChannel<T>::Item>();
  channel_->request(item);
  return DeploymentResponse<std::optional<T>>(std::move(item));
}

template <class T>
void DeploymentStream<T>::stop() {
  if (channel_) channel_->cancel();
  if (call_) call_->cancel(detail::CancelReason::kCancelled);
}

template <class T, class M>
template <class... Args>
auto MethodCaller<T, M>::remote(Args&&... args) const {
  using Stored = std::tuple<std::decay_t<Args>...>;
  using Result = std::invoke_result_t<M, T&, detail::resolved_t<std::decay_t<Args>>&&...>;
  auto stored = std::make_shared<Stored>(std::forward<Args>(args)...);
  if constexpr (detail::IsStream<Result>::value) {
    using U = typename detail::IsStream<Result>::value_type;
    return detail::send_stream_call<U>(
        sink_, std::move(stored),
        [method = method_](detail::ReplicaCallable& target, Stored& a) -> std::shared_ptr<detail::ItemSource<U>> {
          if (target.in_other_process()) return detail::open_encoded_stream<T, U>(target, method, a);
          return detail::drive(detail::invoke_stored<T>(target, method, a));
        });
  } else {
    using R = typename detail::ResponseOf<Result>::type;
    return detail::send_call<R>(
        sink_, std::move(stored),
        [method = method_](detail::ReplicaCallable& target, Stored& a,
                           const std::shared_ptr<detail::ResponseState<R>>& state,
                           detail::UniqueFunction<void()> done) {
          if (target.in_other_process()) {
            return detail::run_encoded_call<T, R>(target, method, a, state, std::move(done));
          }
          detail::run_handle_call<R>([&]() -> decltype(auto) { return detail::invoke_stored<T>(target, method, a); },
                                     state, std::move(done));
        });
  }
}

template <class... Args>
DeploymentResponse<Json> NamedMethodCaller::remote(Args&&... args) const {
  using Stored = std::tuple<std::decay_t<Args>...>;
  return detail::send_call<Json>(
      sink_, std::make_shared<Stored>(std::forward<Args>(args)...),
      [name = name_](detail::ReplicaCallable& target, Stored& stored,
                     const std::shared_ptr<detail::ResponseState<Json>>& state,
                     detail::UniqueFunction<void()> done) {
        Json args;
        try {
          args = detail::json_arguments(stored);
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

template <class... Args>
DeploymentStream<Json> NamedMethodCaller::stream(Args&&... args) const {
  using Stored = std::tuple<std::decay_t<Args>...>;
  return detail::send_stream_call<Json>(
      sink_, std::make_shared<Stored>(std::forward<Args>(args)...),
      [name = name_](detail::ReplicaCallable& target, Stored& stored) {
        return target.open_stream(name, detail::json_arguments(stored));
      });
}

}  // namespace cserve
