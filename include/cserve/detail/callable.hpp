// cserve/detail/callable.hpp — the type-erased user object a replica holds, and the adapters
// that turn a user class (call operator, Routes, optional hooks) into one.
// Thread-safety: a ReplicaCallable is used by one replica, on its strand only.
#pragma once

#include <cserve/detail/inference_http.hpp>
#include <cserve/detail/item_source.hpp>
#include <cserve/detail/resumer.hpp>
#include <cserve/detail/to_response.hpp>
#include <cserve/detail/unique_function.hpp>
#include <cserve/http.hpp>
#include <cserve/methods.hpp>
#include <cserve/routes.hpp>
#include <cserve/stream.hpp>
#include <cserve/task.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

namespace cserve::detail {

// A streaming HTTP answer, pulled chunk by chunk by the proxy; cancel() stops the stream between
// pulls.
using ChunkSource = ItemSource<std::string>;

// What an HTTP handler produced: a response, the exception it threw, or — for a Stream — the
// head of the response (status, content type) and its chunks.
struct HandlerOutcome {
  Response response;
  std::exception_ptr error;
  std::shared_ptr<ChunkSource> stream;
};

template <class T>
std::string to_chunk(T&& item) {
  if constexpr (std::is_convertible_v<const std::decay_t<T>&, std::string_view>) {
    return std::string(std::string_view(item));
  } else {
    return Json(std::forward<T>(item)).dump() + "\n";  // JSON items: one per line (NDJSON)
  }
}

// A Stream<T> run on the calling replica's strand (this must run inside the call that returned it).
template <class T>
std::shared_ptr<ItemSource<T>> drive(Stream<T> stream) {
  return std::make_shared<StreamDriver<T>>(std::move(stream), current_resumer());
}

// A Stream<T> served over HTTP: its items as chunks.
template <class T>
std::shared_ptr<ChunkSource> chunks_of(Stream<T> stream) {
  return map_items<std::string>(drive(std::move(stream)), [](T item) { return to_chunk(std::move(item)); });
}

using OutcomeCallback = UniqueFunction<void(HandlerOutcome)>;

// Runs `f` (a handler already bound to its arguments) and reports its outcome to `done`: at once
// for a plain result, when the coroutine finishes for a Task. `done` is called exactly once.
template <class F>
void run_http_handler(F&& f, OutcomeCallback done) {
  using R = std::invoke_result_t<F>;
  try {
    if constexpr (IsStream<R>::value) {
      using T = typename IsStream<R>::value_type;
      HandlerOutcome out;
      out.response.content_type = std::is_convertible_v<const T&, std::string_view>
                                      ? "text/plain; charset=utf-8"
                                      : "application/x-ndjson";
      out.stream = chunks_of(f());
      done(std::move(out));
    } else if constexpr (IsTask<R>::value) {
      R::start_detached(f(), [done = std::move(done)](auto& promise) mutable {
        HandlerOutcome out;
        try {
          if constexpr (std::is_void_v<typename IsTask<R>::value_type>) {
            promise.take();
            out.response = Response::json(nullptr);
          } else {
            out.response = to_response(promise.take());
          }
        } catch (...) {
          out.error = std::current_exception();
        }
        done(std::move(out));
      });
    } else {
      HandlerOutcome out;
      out.response = invoke_to_response(std::forward<F>(f));
      done(std::move(out));
    }
  } catch (...) {
    if (done) done(HandlerOutcome{{}, std::current_exception()});
  }
}

class ReplicaCallable {
 public:
  virtual ~ReplicaCallable() = default;
  // Runs the HTTP handler for `req`, which outlives the call. May finish later (coroutines).
  virtual void handle(Request& req, OutcomeCallback done) = 0;
  // Answers an Open Inference Protocol request to the model this deployment serves
  // (/v2/models/...: metadata, readiness, infer); `req` outlives the call.
  virtual void handle_inference(Request& req, OutcomeCallback done) = 0;
  // Calls a method by name with JSON arguments (untyped handles); `done` gets the result.
  virtual void call_method(const std::string& name, Json args, JsonDone done) = 0;
  // Calls a Stream method by name with JSON arguments; its items as JSON. Throws cserve::Error.
  virtual std::shared_ptr<ItemSource<Json>> open_stream(const std::string& name, const Json& args) = 0;
  // Calls a method by name with arguments as codec bytes (a typed call from another process).
  virtual void call_encoded(const std::string& name, std::vector<std::string> args, BytesDone done) = 0;
  // Calls a Stream method by name with arguments as codec bytes; its items as codec bytes of the
  // item type (a typed stream call from another process). Throws cserve::Error.
  virtual std::shared_ptr<ItemSource<std::string>> open_encoded_stream(const std::string& name,
                                                                       std::vector<std::string> args) = 0;
  // True when the object lives in another process: typed calls must be encoded (object() has
  // nothing to give).
  virtual bool in_other_process() const { return false; }
  // Delivers user_config. May throw.
  virtual void reconfigure(const Json& config) = 0;
  // Runs the user's check_health() if it has one; throws when unhealthy.
  virtual void check_health() = 0;
  // The user object, for typed handle calls (the handle checked the type).
  virtual void* object() = 0;
};

class CallSink;

// What a replica's constructor arguments may need from its application: the routers of the
// deployments bound into it (they arrive in the constructor as handles).
class FactoryContext {
 public:
  virtual ~FactoryContext() = default;
  // Throws cserve::ConfigError for a deployment the application does not have.
  virtual std::shared_ptr<CallSink> sink(const std::string& deployment) const = 0;
};

using ReplicaFactory = std::function<std::unique_ptr<ReplicaCallable>(const FactoryContext&)>;

template <class T>
concept HasRoutes = requires(Routes<T>& r) { T::routes(r); };

template <class T>
concept HasMethods = requires(Methods<T>& m) { T::methods(m); };

// A call operator callable by name or from another process (see Methods::add).
template <class T>
concept NameCallableOperator = requires { &T::operator(); } && (JsonCallable<decltype(&T::operator())> ||
                                                                EncodedCallable<decltype(&T::operator())>);

template <class T>
concept HasReconfigure = requires(T& t, const Json& j) { t.reconfigure(j); };

template <class T>
concept HasCheckHealth = requires(T& t) { t.check_health(); };

template <class T>
concept CallableWithRequest = std::is_invocable_v<T&, const Request&>;

template <class T>
concept CallableWithNothing = std::is_invocable_v<T&>;

// Any class can be a deployment: an HTTP entry point (routes, or a call operator taking a
// Request, nothing, or JSON-convertible parameters) is needed only for an ingress that HTTP
// reaches; other deployments are called through handles.
template <class T>
concept Servable = std::is_class_v<T>;

template <class T>
class CallableFor final : public ReplicaCallable {
 public:
  template <class... Args>
  explicit CallableFor(Args&&... args) : target_(std::forward<Args>(args)...) {
    if constexpr (ServesModel<T>) model_.emplace(target_.metadata());
    if constexpr (HasRoutes<T>) T::routes(routes_);
    if constexpr (HasMethods<T>) T::methods(methods_);
    if constexpr (NameCallableOperator<T>) {
      if (!methods_.has("__call__")) methods_.add("__call__", &T::operator());
    }
  }

  void handle(Request& req, OutcomeCallback done) override {
    if constexpr (HasRoutes<T>) {
      routes_.dispatch(target_, req, std::move(done));
    } else if constexpr (CallableWithRequest<T>) {
      run_http_handler([&]() -> decltype(auto) { return target_(static_cast<const Request&>(req)); },
                       std::move(done));
    } else if constexpr (CallableWithNothing<T>) {
      run_http_handler([&]() -> decltype(auto) { return target_(); }, std::move(done));
    } else if constexpr (JsonCallOperator<T>) {
      handle_json_call(req, std::move(done));
    } else {
      done(HandlerOutcome{{}, std::make_exception_ptr(HttpError(
                                  404, "this deployment has no HTTP entry point (no routes, no call "
                                       "operator taking a Request, nothing, or JSON-convertible "
                                       "parameters)"))});
    }
  }

  void call_method(const std::string& name, Json args, JsonDone done) override {
    methods_.call(target_, name, std::move(args), std::move(done));
  }

  void handle_inference(Request& req, OutcomeCallback done) override {
    auto answer = [done = std::move(done)](Response response, std::exception_ptr error) mutable {
      done(HandlerOutcome{std::move(response), error, nullptr});
    };
    if constexpr (ServesModel<T>) {
      serve_inference_http(req, *model_, [this](InferRequest r, InferDone d) { infer(std::move(r), std::move(d)); },
                           std::move(answer));
    } else {
      answer({}, std::make_exception_ptr(Error("this deployment serves no model (its class has no metadata() and "
                                               "infer(cserve::InferRequest))",
                                               ErrorCode::kNotFound)));
    }
  }

  void reconfigure(const Json& config) override {
    if constexpr (HasReconfigure<T>) target_.reconfigure(config);
  }

  void check_health() override {
    if constexpr (HasCheckHealth<T>) target_.check_health();
  }

  std::shared_ptr<ItemSource<Json>> open_stream(const std::string& name, const Json& args) override {
    return drive(methods_.stream(target_, name, args));
  }

  std::shared_ptr<ItemSource<std::string>> open_encoded_stream(const std::string& name,
                                                               std::vector<std::string> args) override {
    return drive(methods_.encoded_stream(target_, name, std::move(args)));
  }

  void call_encoded(const std::string& name, std::vector<std::string> args, BytesDone done) override {
    methods_.call_encoded(target_, name, std::move(args), std::move(done));
  }

  void* object() override { return &target_; }

 private:
  // The model's infer(), a plain function or a coroutine.
  void infer(InferRequest request, InferDone done) {
    if constexpr (ServesModel<T>) {
      using R = decltype(target_.infer(std::move(request)));
      try {
        if constexpr (IsTask<R>::value) {
          R::start_detached(target_.infer(std::move(request)), [done = std::move(done)](auto& promise) mutable {
            std::optional<InferResponse> response;
            std::exception_ptr error;
            try {
              response.emplace(promise.take());
            } catch (...) {
              error = std::current_exception();
            }
            done(response ? std::move(*response) : InferResponse{}, error);
          });
        } else {
          InferResponse response = target_.infer(std::move(request));
          done(std::move(response), nullptr);
        }
      } catch (...) {
        if (done) done({}, std::current_exception());
      }
    }
  }

  // A call operator taking JSON-convertible parameters, over HTTP: the body is its one argument,
  // or a JSON array of its arguments when it takes several.
  void handle_json_call(Request& req, OutcomeCallback done) {
    using Args = typename MemberFunction<decltype(&T::operator())>::args;
    constexpr std::size_t n = std::tuple_size_v<Args>;
    std::optional<Args> args;
    try {
      Json body = req.json();
      Json array = Json::array();
      if constexpr (n == 1) {
        array.push_back(std::move(body));
      } else {
        array = std::move(body);
      }
      args.emplace(arguments_from_json<Args>("__call__", array, std::make_index_sequence<n>{}));
    } catch (...) {
      return done(HandlerOutcome{{}, std::current_exception()});
    }
    run_http_handler(
        [&]() -> decltype(auto) {
          return std::apply([&](auto&... a) -> decltype(auto) { return target_(std::move(a)...); }, *args);
        },
        std::move(done));
  }

  T target_;
  std::optional<ModelMetadata> model_;  // a model's metadata, read once at construction
  struct NoRoutes {};
  [[no_unique_address]] std::conditional_t<HasRoutes<T>, Routes<T>, NoRoutes> routes_;
  Methods<T> methods_;
};

// A free function served as a deployment: cserve::deployment<&hello>().
template <auto F>
struct FunctionDeployment {
  decltype(auto) operator()(const Request& req) {
    if constexpr (std::is_invocable_v<decltype(F), const Request&>) {
      return F(req);
    } else {
      return F();
    }
  }
};

}  // namespace cserve::detail
