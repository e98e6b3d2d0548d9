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
#include <cserve/detail/type_name.hpp>
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

// Submits one streaming call: on the replica `open(target, stored)` returns the stream's items (a
// generator's driver, or items from a worker process), which the returned DeploymentStream pulls
// one at a time.
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
        std::shared_ptr<ItemSource<U>> items = open(target, *stored);
        channel->attach(std::move(items), std::move(done));
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

// The name a typed call to `method` of T travels under to another process: "__call__" for the
// call operator, else the name T's methods() hook registered it under. Throws cserve::Error
// (kInvalidArgument) for a method that is not registered.
template <class T, class M>
std::string method_name(M method) {
  if constexpr (requires { &T::operator(); }) {
    if constexpr (std::is_same_v<M, decltype(&T::operator())>) {
      if (method == &T::operator()) return "__call__";
    }
  }
  static const Methods<T> registered = [] {
    Methods<T> m;
    if constexpr (requires(Methods<T>& r) { T::methods(r); }) T::methods(m);
    return m;
  }();
  if (auto name = registered.name_of(method)) return *name;
  throw Error("deployment " + std::string(full_type_name<T>()) +
                  " runs in another process, and the method called is not registered in its static "
                  "methods(cserve::Methods<T>&) hook: register it (m.add(\"name\", &T::method)) to call it there",
              ErrorCode::kInvalidArgument);
}

// Each stored argument (resolved) converted to the method's parameter type and encoded with that
// type's codec: what the replica decodes.
template <class Params, class Stored, std::size_t... I>
std::vector<std::string> encode_arguments(Stored& stored, std::index_sequence<I...>) {
  std::vector<std::string> out;
  out.reserve(sizeof...(I));
  (out.push_back(cserve::encode<std::tuple_element_t<I, Params>>(
       std::tuple_element_t<I, Params>(resolve(std::get<I>(stored))))),
   ...);
  return out;
}

// A typed call to a replica in another process: the arguments cross as the codec bytes of the
// method's parameter types, the result comes back as R's. A type without a codec fails the call
// with an Error that names it (isolation is chosen at deploy time, so this cannot be a
// compile-time error).
template <class T, class R, class M, class Stored>
void run_encoded_call(ReplicaCallable& target, M method, Stored& stored, const std::shared_ptr<ResponseState<R>>& state,
                      UniqueFunction<void()> done) {
  using Params = typename MemberFunction<M>::args;
  std::string name;
  std::vector<std::string> args;
  try {
    name = method_name<T>(method);
    if constexpr (AllEncodable<Params>::value) {
      args = encode_arguments<Params>(stored, std::make_index_sequence<std::tuple_size_v<Params>>{});
    } else {
      throw Error("a parameter of type " + FirstUnencodable<Params>::name() +
                      " cannot cross to deployment " + std::string(full_type_name<T>()) +
                      " in another process: give it nlohmann-json's to_json/from_json or a cserve::Codec",
                  ErrorCode::kInvalidArgument);
    }
    if constexpr (!std::is_void_v<R> && !Encodable<R>) {
      throw Error("a result of type " + std::string(full_type_name<R>()) + " cannot come back from deployment " +
                      std::string(full_type_name<T>()) +
                      " in another process: give it nlohmann-json's to_json/from_json or a cserve::Codec",
                  ErrorCode::kInvalidArgument);
    }
  } catch (...) {
    return finish_call(state, done, [e = std::current_exception()]() -> R { std::rethrow_exception(e); });
  }
  target.call_encoded(name, std::move(args),
                      [state, done = std::move(done)](std::string result, std::exception_ptr error) mutable {
                        finish_call(state, done, [&]() -> R {
                          if (error) std::rethrow_exception(error);
                          if constexpr (std::is_void_v<R>) {
                            return;
                          } else if constexpr (Encodable<R>) {
                            return cserve::decode<R>(result);
                          } else {
                            throw Error("unreachable: a result without a codec", ErrorCode::kInternal);
                          }
                        });
                      });
}

// A typed stream call to a replica in another process: the arguments cross as in
// run_encoded_call, each item comes back as the codec bytes of U. Throws cserve::Error
// (kInvalidArgument) for a method or a type that cannot cross.
template <class T, class U, class M, class Stored>
std::shared_ptr<ItemSource<U>> open_encoded_stream(ReplicaCallable& target, M method, Stored& stored) {
  using Params = typename MemberFunction<M>::args;
  if constexpr (!AllEncodable<Params>::value) {
    throw Error("a parameter of type " + FirstUnencodable<Params>::name() + " cannot cross to deployment " +
                    std::string(full_type_name<T>()) +
                    " in another process: give it nlohmann-json's to_json/from_json or a cserve::Codec",
                ErrorCode::kInvalidArgument);
  } else if constexpr (!Encodable<U>) {
    throw Error("stream items of type " + std::string(full_type_name<U>()) + " cannot come back from deployment " +
                    std::string(full_type_name<T>()) +
                    " in another process: give it nlohmann-json's to_json/from_json or a cserve::Codec",
                ErrorCode::kInvalidArgument);
  } else {
    auto bytes = target.open_encoded_stream(
        method_name<T>(method), encode_arguments<Params>(stored, std::make_index_sequence<std::tuple_size_v<Params>>{}));
    return map_items<U>(std::move(bytes), [](std::string item) { return cserve::decode<U>(item); });
  }
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
