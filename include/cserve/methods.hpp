// cserve/methods.hpp — a deployment's methods callable by name with JSON arguments, for untyped
// handles (DeploymentHandle<>), handle.method("name"), and (later) callers in other processes.
//
//   class Model {
//    public:
//     static void methods(cserve::Methods<Model>& m) {
//       m.add("predict", &Model::predict).add("info", &Model::info).add("tokens", &Model::tokens);
//     }
//     float predict(std::vector<float> x, float scale);
//     cserve::Task<cserve::Json> info();
//     cserve::Stream<std::string> tokens(int n);
//   };
//
//   cserve::DeploymentHandle<> h = serve.get_app_handle("model");
//   cserve::Json y = h.method("predict").remote(std::vector<float>{1, 2}, 0.5f).result();
//   auto tokens = h.method("tokens").stream(3);           // a DeploymentStream<cserve::Json>
//
// Arguments travel as one JSON array, each converted with nlohmann's to_json/from_json; the
// result comes back as JSON (void as null); a method returning Stream<U> is called with stream()
// and yields its items as JSON. A method may be a coroutine (Task<R>). The call operator is
// callable as "__call__" without registration when its parameters convert from JSON and its
// result converts to JSON. A call naming no such method, with arguments of the wrong count or
// type, or with remote() for a stream (or stream() for a value), fails with cserve::Error
// (kNotFound or kInvalidArgument) saying which.
//
// The same registry serves typed handle calls to a deployment in a worker process
// (handle.method(&Model::predict).remote(x) with isolation: process): the method is found by its
// member pointer, each argument and the result (or each item of a Stream) cross as their
// cserve::Codec bytes (MessagePack for JSON-convertible types, raw bytes for strings, a user
// type's own codec), so a method may also take and return types that only have a Codec.
// Thread-safety: built once per replica, before it serves; calls run on the replica's strand.
#pragma once

#include <cserve/codec.hpp>
#include <cserve/detail/type_name.hpp>
#include <cserve/detail/unique_function.hpp>
#include <cserve/error.hpp>
#include <cserve/json.hpp>
#include <cserve/stream.hpp>
#include <cserve/task.hpp>

#include <cstddef>
#include <exception>
#include <functional>
#include <map>
#include <string>
#include <optional>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <vector>
#include <utility>

namespace cserve {

namespace detail {

using JsonDone = UniqueFunction<void(Json result, std::exception_ptr error)>;
// A call across processes: the result's codec bytes, or the error.
using BytesDone = UniqueFunction<void(std::string result, std::exception_ptr error)>;

template <class M>
struct MemberFunction;
template <class R, class C, class... A>
struct MemberFunction<R (C::*)(A...)> {
  using result = R;
  using args = std::tuple<std::decay_t<A>...>;
};
template <class R, class C, class... A>
struct MemberFunction<R (C::*)(A...) const> : MemberFunction<R (C::*)(A...)> {};
template <class R, class C, class... A>
struct MemberFunction<R (C::*)(A...) noexcept> : MemberFunction<R (C::*)(A...)> {};
template <class R, class C, class... A>
struct MemberFunction<R (C::*)(A...) const noexcept> : MemberFunction<R (C::*)(A...)> {};

template <class A>
concept FromJson = requires(const Json& j) { j.get<A>(); };

template <class Tuple>
struct AllFromJson;
template <class... A>
struct AllFromJson<std::tuple<A...>> : std::bool_constant<(FromJson<A> && ...)> {};

// A value that becomes JSON: void (null) or anything nlohmann::json is constructible from.
template <class V>
concept ToJson = std::is_void_v<V> || std::is_constructible_v<Json, V>;

// What a method called by name may return: a JSON-convertible value, a Task of one, or a
// Stream of JSON-convertible items.
template <class R>
struct JsonResultOf : std::bool_constant<ToJson<R>> {};
template <class V>
struct JsonResultOf<Task<V>> : std::bool_constant<ToJson<V>> {};
template <class U>
struct JsonResultOf<Stream<U>> : std::bool_constant<std::is_constructible_v<Json, U>> {};

// Types whose values cross a process boundary (cserve/codec.hpp).
template <class Tuple>
struct AllEncodable;
template <class... A>
struct AllEncodable<std::tuple<A...>> : std::bool_constant<(Encodable<A> && ...)> {};

template <class R>
struct EncodableResult : std::bool_constant<std::is_void_v<R> || Encodable<R>> {};
template <class V>
struct EncodableResult<Task<V>> : EncodableResult<V> {};
template <class U>
struct EncodableResult<Stream<U>> : std::bool_constant<Encodable<U>> {};

// A member function that can be called by name (JSON) or from another process (codecs).
template <class M>
concept JsonCallable = AllFromJson<typename MemberFunction<M>::args>::value &&
                       JsonResultOf<typename MemberFunction<M>::result>::value;
template <class M>
concept EncodedCallable = AllEncodable<typename MemberFunction<M>::args>::value &&
                          EncodableResult<typename MemberFunction<M>::result>::value;

// The first argument type without a codec, for messages.
template <class... A>
std::string first_unencodable() {
  std::string name;
  ((name.empty() && !Encodable<A> ? (void)(name = std::string(full_type_name<A>())) : (void)0), ...);
  return name;
}

template <class Tuple>
struct FirstUnencodable;
template <class... A>
struct FirstUnencodable<std::tuple<A...>> {
  static std::string name() { return first_unencodable<A...>(); }
};

// The call operator, when it is one member function whose parameters all convert from JSON and
// whose result converts to JSON.
template <class T>
concept JsonCallOperator =
    requires { &T::operator(); } &&
    AllFromJson<typename MemberFunction<decltype(&T::operator())>::args>::value &&
    JsonResultOf<typename MemberFunction<decltype(&T::operator())>::result>::value;

template <class U>
Stream<Json> as_json_stream(Stream<U> items) {
  while (auto item = co_await items.next()) co_yield Json(std::move(*item));
}

template <class U>
Stream<std::string> as_encoded_stream(Stream<U> items) {
  while (auto item = co_await items.next()) co_yield cserve::encode<U>(*item);
}

// Converts a JSON array of arguments to the parameter tuple of a method; throws Error
// (kInvalidArgument) naming the method and the argument.
template <class Args, std::size_t... I>
Args arguments_from_json(const std::string& name, const Json& args, std::index_sequence<I...>) {
  constexpr std::size_t n = sizeof...(I);
  if (!args.is_array() || args.size() != n) {
    throw Error("method '" + name + "' takes " + std::to_string(n) + " argument(s), got " +
                    (args.is_array() ? std::to_string(args.size()) : std::string("a non-array")),
                ErrorCode::kInvalidArgument);
  }
  Args converted;
  auto convert = [&](auto& slot, std::size_t i) {
    try {
      slot = args[i].template get<std::decay_t<decltype(slot)>>();
    } catch (const Json::exception& e) {
      throw Error("method '" + name + "': argument " + std::to_string(i + 1) + ": " + e.what(),
                  ErrorCode::kInvalidArgument);
    }
  };
  (convert(std::get<I>(converted), I), ...);
  (void)convert;  // (unused for a method without parameters)
  return converted;
}

}  // namespace detail

template <class T>
class Methods {
 public:
  // Registers `method` (a member function of T) under `name`.
  template <class M>
    requires std::is_member_function_pointer_v<M>
  Methods& add(std::string name, M method) {
    using Args = typename detail::MemberFunction<M>::args;
    using R = typename detail::MemberFunction<M>::result;
    static_assert(detail::JsonCallable<M> || detail::EncodedCallable<M>,
                  "a method called by name takes parameters that nlohmann::json converts from and returns "
                  "void, such a value, a cserve::Task of one or a cserve::Stream of such items; or (for calls "
                  "from other processes only) takes and returns types with a cserve::Codec");
    using Indices = std::make_index_sequence<std::tuple_size_v<Args>>;
    Entry entry;
    entry.is = [method](const std::type_info& type, const void* pointer) {
      return type == typeid(M) && *static_cast<const M*>(pointer) == method;
    };
    if constexpr (detail::JsonCallable<M>) {
      if constexpr (detail::IsStream<R>::value) {
        entry.stream = [method, name](T& t, const Json& args) {
          return std::apply(
              [&](auto&&... a) { return detail::as_json_stream(std::invoke(method, t, std::move(a)...)); },
              detail::arguments_from_json<Args>(name, args, Indices{}));
        };
      } else {
        entry.call = [method, name](T& t, Json args, detail::JsonDone done) {
          invoke<R, Args>(name, method, t, args, std::move(done), Indices{});
        };
      }
    }
    if constexpr (detail::EncodedCallable<M>) {
      if constexpr (detail::IsStream<R>::value) {
        entry.encoded_stream = [method, name](T& t, std::vector<std::string> args) {
          return std::apply(
              [&](auto&&... a) { return detail::as_encoded_stream(std::invoke(method, t, std::move(a)...)); },
              decode_arguments<Args>(name, args, Indices{}));
        };
      } else {
        entry.encoded = [method, name](T& t, std::vector<std::string> args, detail::BytesDone done) {
          invoke_encoded<R, Args>(name, method, t, std::move(args), std::move(done), Indices{});
        };
      }
    }
    entries_[std::move(name)] = std::move(entry);
    return *this;
  }

  // The name `method` is registered under, if it is.
  template <class M>
  std::optional<std::string> name_of(M method) const {
    for (const auto& [name, e] : entries_) {
      if (e.is && e.is(typeid(M), &method)) return name;
    }
    return std::nullopt;
  }

  // Calls method `name` of `t` with arguments as codec bytes (a call from another process);
  // `done` gets the result's codec bytes or the error, exactly once.
  void call_encoded(T& t, const std::string& name, std::vector<std::string> args, detail::BytesDone done) const {
    const Entry* e = nullptr;
    try {
      e = &find(name);
      if (e->encoded_stream) {
        throw Error("method '" + name + "' returns a stream: call it as one", ErrorCode::kInvalidArgument);
      }
      if (!e->encoded) {
        throw Error("method '" + name + "' cannot be called from another process: its parameters or result have no "
                        "cserve::Codec",
                    ErrorCode::kInvalidArgument);
      }
    } catch (...) {
      return done({}, std::current_exception());
    }
    e->encoded(t, std::move(args), std::move(done));
  }

  // Calls method `name` of `t`, which returns a Stream, with arguments as codec bytes; its items
  // as their codec's bytes. Throws cserve::Error like stream().
  Stream<std::string> encoded_stream(T& t, const std::string& name, std::vector<std::string> args) const {
    const Entry& e = find(name);
    if (!e.encoded_stream) {
      throw Error(e.encoded || e.call ? "method '" + name + "' does not return a stream: call it with remote(...)"
                                      : "method '" + name + "' cannot be called from another process: its "
                                                            "parameters or items have no cserve::Codec",
                  ErrorCode::kInvalidArgument);
    }
    return e.encoded_stream(t, std::move(args));
  }

  bool has(const std::string& name) const { return entries_.count(name) != 0; }
  // The names of the methods that return a Stream.
  std::vector<std::string> stream_names() const {
    std::vector<std::string> out;
    for (const auto& [name, e] : entries_) {
      if (e.stream || e.encoded_stream) out.push_back(name);
    }
    return out;
  }

  // Calls method `name` of `t`; `done` gets its result as JSON or its error, exactly once.
  void call(T& t, const std::string& name, Json args, detail::JsonDone done) const {
    const Entry* e = nullptr;
    try {
      e = &find(name);
      if (!e->call) {
        throw Error("method '" + name + "' returns a stream: call it with stream(...)",
                    ErrorCode::kInvalidArgument);
      }
    } catch (...) {
      return done(nullptr, std::current_exception());
    }
    e->call(t, std::move(args), std::move(done));
  }

  // Calls method `name` of `t`, which returns a stream, and gives its items as JSON. Throws
  // cserve::Error for an unknown method, a method that is not a stream, or bad arguments.
  Stream<Json> stream(T& t, const std::string& name, const Json& args) const {
    const Entry& e = find(name);
    if (!e.stream) {
      throw Error("method '" + name + "' does not return a stream: call it with remote(...)",
                  ErrorCode::kInvalidArgument);
    }
    return e.stream(t, args);
  }

 private:
  struct Entry {
    std::function<void(T&, Json, detail::JsonDone)> call;  // set for a value (or Task) method
    std::function<Stream<Json>(T&, const Json&)> stream;   // set for a Stream method
    std::function<void(T&, std::vector<std::string>, detail::BytesDone)> encoded;  // codec arguments
    std::function<Stream<std::string>(T&, std::vector<std::string>)> encoded_stream;  // codec arguments, items
    std::function<bool(const std::type_info&, const void*)> is;                   // is it this member?
  };

  const Entry& find(const std::string& name) const {
    auto it = entries_.find(name);
    if (it != entries_.end()) return it->second;
    std::string known;
    for (const auto& [n, f] : entries_) known += (known.empty() ? "" : ", ") + n;
    throw Error("no method '" + name + "' callable by name (known: " +
                    (known.empty() ? std::string("none") : known) +
                    "; register methods in a static methods(cserve::Methods<T>&) hook)",
                ErrorCode::kNotFound);
  }

  template <class R, class Args, class M, std::size_t... I>
  static void invoke(const std::string& name, M method, T& t, const Json& args,
                     detail::JsonDone done, std::index_sequence<I...> indices) {
    Args converted;
    try {
      converted = detail::arguments_from_json<Args>(name, args, indices);
    } catch (...) {
      return done(nullptr, std::current_exception());
    }
    try {
      if constexpr (detail::IsTask<R>::value) {
        R::start_detached(std::invoke(method, t, std::move(std::get<I>(converted))...),
                          [done = std::move(done)](auto& promise) mutable {
                            try {
                              if constexpr (std::is_void_v<typename detail::IsTask<R>::value_type>) {
                                promise.take();
                                done(nullptr, nullptr);
                              } else {
                                done(Json(promise.take()), nullptr);
                              }
                            } catch (...) {
                              done(nullptr, std::current_exception());
                            }
                          });
      } else if constexpr (std::is_void_v<R>) {
        std::invoke(method, t, std::move(std::get<I>(converted))...);
        done(nullptr, nullptr);
      } else {
        done(Json(std::invoke(method, t, std::move(std::get<I>(converted))...)), nullptr);
      }
    } catch (...) {
      if (done) done(nullptr, std::current_exception());
    }
  }

  // Each argument decoded with its parameter type's codec; throws Error (kInvalidArgument).
  template <class Args, std::size_t... I>
  static Args decode_arguments(const std::string& name, const std::vector<std::string>& args,
                               std::index_sequence<I...>) {
    constexpr std::size_t n = sizeof...(I);
    if (args.size() != n) {
      throw Error("method '" + name + "' takes " + std::to_string(n) + " argument(s), got " +
                      std::to_string(args.size()),
                  ErrorCode::kInvalidArgument);
    }
    Args decoded;
    ((std::get<I>(decoded) = cserve::decode<std::tuple_element_t<I, Args>>(args[I])), ...);
    return decoded;
  }

  template <class R, class Args, class M, std::size_t... I>
  static void invoke_encoded(const std::string& name, M method, T& t, std::vector<std::string> args,
                             detail::BytesDone done, std::index_sequence<I...> indices) {
    Args decoded;
    try {
      decoded = decode_arguments<Args>(name, args, indices);
    } catch (...) {
      return done({}, std::current_exception());
    }
    auto encoded = [](auto&& value) {
      return cserve::encode<std::decay_t<decltype(value)>>(value);
    };
    try {
      if constexpr (detail::IsTask<R>::value) {
        R::start_detached(std::invoke(method, t, std::move(std::get<I>(decoded))...),
                          [done = std::move(done), encoded](auto& promise) mutable {
                            try {
                              if constexpr (std::is_void_v<typename detail::IsTask<R>::value_type>) {
                                promise.take();
                                done({}, nullptr);
                              } else {
                                done(encoded(promise.take()), nullptr);
                              }
                            } catch (...) {
                              done({}, std::current_exception());
                            }
                          });
      } else if constexpr (std::is_void_v<R>) {
        std::invoke(method, t, std::move(std::get<I>(decoded))...);
        done({}, nullptr);
      } else {
        done(encoded(std::invoke(method, t, std::move(std::get<I>(decoded))...)), nullptr);
      }
    } catch (...) {
      if (done) done({}, std::current_exception());
    }
  }

  std::map<std::string, Entry> entries_;
};

}  // namespace cserve
