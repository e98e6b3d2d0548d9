// cserve/detail/callable.hpp — the type-erased user object a replica holds, and the adapters
// that turn a user class (call operator, Routes, optional hooks) into one.
// Thread-safety: a ReplicaCallable is used by one replica, on its strand only.
#pragma once

#include <cserve/detail/to_response.hpp>
#include <cserve/http.hpp>
#include <cserve/routes.hpp>

#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

namespace cserve::detail {

class ReplicaCallable {
 public:
  virtual ~ReplicaCallable() = default;
  // Runs the user's handler. May throw (HttpError or anything else).
  virtual Response handle(Request& req) = 0;
  // Delivers user_config. May throw.
  virtual void reconfigure(const Json& config) = 0;
};

using ReplicaFactory = std::function<std::unique_ptr<ReplicaCallable>()>;

template <class T>
concept HasRoutes = requires(Routes<T>& r) { T::routes(r); };

template <class T>
concept HasReconfigure = requires(T& t, const Json& j) { t.reconfigure(j); };

template <class T>
concept CallableWithRequest = std::is_invocable_v<T&, const Request&>;

template <class T>
concept CallableWithNothing = std::is_invocable_v<T&>;

template <class T>
concept Servable = HasRoutes<T> || CallableWithRequest<T> || CallableWithNothing<T>;

template <class T>
class CallableFor final : public ReplicaCallable {
 public:
  template <class... Args>
  explicit CallableFor(Args&&... args) : target_(std::forward<Args>(args)...) {
    if constexpr (HasRoutes<T>) T::routes(routes_);
  }

  Response handle(Request& req) override {
    if constexpr (HasRoutes<T>) {
      return routes_.dispatch(target_, req);
    } else if constexpr (CallableWithRequest<T>) {
      return invoke_to_response(target_, static_cast<const Request&>(req));
    } else {
      return invoke_to_response(target_);
    }
  }

  void reconfigure(const Json& config) override {
    if constexpr (HasReconfigure<T>) target_.reconfigure(config);
  }

 private:
  T target_;
  struct NoRoutes {};
  [[no_unique_address]] std::conditional_t<HasRoutes<T>, Routes<T>, NoRoutes> routes_;
};

// A free function served as a deployment: cserve::deployment<&hello>().
template <auto F>
struct FunctionDeployment {
  Response operator()(const Request& req) {
    if constexpr (std::is_invocable_v<decltype(F), const Request&>) {
      return invoke_to_response(F, req);
    } else {
      return invoke_to_response(F);
    }
  }
};

}  // namespace cserve::detail
