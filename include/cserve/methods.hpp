// cserve/methods.hpp — a deployment's methods callable by name with JSON arguments, for untyped
// handles (DeploymentHandle<>) and handle.method("name").
//
//   class Model {
//    public:
//     static void methods(cserve::Methods<Model>& m) {
//       m.add("predict", &Model::predict).add("info", &Model::info);
//     }
//     float predict(std::vector<float> x, float scale);
//     cserve::Task<cserve::Json> info();
//   };
//
//   cserve::DeploymentHandle<> h = serve.get_app_handle("model");
//   cserve::Json y = h.method("predict").remote(std::vector<float>{1, 2}, 0.5f).result();
//
// Arguments travel as one JSON array, each converted with nlohmann's to_json/from_json; the
// result comes back as JSON (void as null). A method may be a coroutine (Task<R>). The call
// operator is callable as "__call__" without registration when every parameter converts from
// JSON. A call naming no such method, or with arguments of the wrong count or type, fails with
// cserve::Error saying which.
// Thread-safety: built once per replica, before it serves; calls run on the replica's strand.
#pragma once

#include <cserve/detail/unique_function.hpp>
#include <cserve/error.hpp>
#include <cserve/json.hpp>
#include <cserve/task.hpp>

#include <cstddef>
#include <exception>
#include <functional>
#include <map>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace cserve {

namespace detail {

using JsonDone = UniqueFunction<void(Json result, std::exception_ptr error)>;

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

// The call operator, when it is one member function whose parameters all convert from JSON.
template <class T>
concept JsonCallOperator = requires { &T::operator(); } &&
                           AllFromJson<typename MemberFunction<decltype(&T::operator())>::args>::value;

template <class R>
void to_json_result(R&& r, JsonDone& done) {
  done(Json(std::forward<R>(r)), nullptr);
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
    static_assert(detail::AllFromJson<Args>::value,
                  "a method called by name takes parameters that nlohmann::json converts from");
    invokers_[std::move(name)] = [method, name](T& t, Json args, detail::JsonDone done) {
      invoke(name, method, t, std::move(args), std::move(done), std::make_index_sequence<std::tuple_size_v<Args>>{});
    };
    return *this;
  }

  bool has(const std::string& name) const { return invokers_.count(name) != 0; }

  // Calls method `name` of `t`; `done` gets its result as JSON or its error, exactly once.
  void call(T& t, const std::string& name, Json args, detail::JsonDone done) const {
    auto it = invokers_.find(name);
    if (it == invokers_.end()) {
      std::string known;
      for (const auto& [n, f] : invokers_) known += (known.empty() ? "" : ", ") + n;
      return done(nullptr, std::make_exception_ptr(Error(
                               "no method '" + name + "' callable by name (known: " +
                               (known.empty() ? std::string("none") : known) +
                               "; register methods in a static methods(cserve::Methods<T>&) hook)")));
    }
    it->second(t, std::move(args), std::move(done));
  }

 private:
  using Invoker = std::function<void(T&, Json, detail::JsonDone)>;

  template <class M, std::size_t... I>
  static void invoke(const std::string& name, M method, T& t, Json args, detail::JsonDone done,
                     std::index_sequence<I...>) {
    using Args = typename detail::MemberFunction<M>::args;
    using R = typename detail::MemberFunction<M>::result;
    constexpr std::size_t n = sizeof...(I);
    Args converted;
    try {
      if (!args.is_array() || args.size() != n) {
        throw Error("method '" + name + "' takes " + std::to_string(n) + " argument(s), got " +
                    (args.is_array() ? std::to_string(args.size()) : std::string("a non-array")));
      }
      auto convert = [&](auto& slot, std::size_t i) {
        try {
          slot = args[i].template get<std::decay_t<decltype(slot)>>();
        } catch (const Json::exception& e) {
          throw Error("method '" + name + "': argument " + std::to_string(i + 1) + ": " + e.what());
        }
      };
      (convert(std::get<I>(converted), I), ...);
      (void)convert;  // (unused for a method without parameters)
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
                                detail::to_json_result(promise.take(), done);
                              }
                            } catch (...) {
                              done(nullptr, std::current_exception());
                            }
                          });
      } else if constexpr (std::is_void_v<R>) {
        std::invoke(method, t, std::move(std::get<I>(converted))...);
        done(nullptr, nullptr);
      } else {
        detail::to_json_result(std::invoke(method, t, std::move(std::get<I>(converted))...), done);
      }
    } catch (...) {
      if (done) done(nullptr, std::current_exception());
    }
  }

  std::map<std::string, Invoker> invokers_;
};

}  // namespace cserve
