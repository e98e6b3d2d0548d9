// cserve/routes.hpp — FastAPI-style method + path routes for an ingress class.
//
//   class Items {
//    public:
//     static void routes(cserve::Routes<Items>& r) {
//       r.get("/", &Items::list).get("/items/{id}", &Items::get).post("/items", &Items::add);
//     }
//     cserve::Json list();
//     cserve::Json get(const cserve::Request& req);   // req.path_param("id")
//     cserve::Json add(const cserve::Request& req);   // req.json()
//   };
//
// A handler is a member function (or any callable taking T&) with no argument or one
// `const Request&`, returning Json, std::string, Response or a value convertible to Json — or a
// Task of one (a coroutine).
// A path no route matches answers 404; a known path with another method answers 405 with Allow.
// Thread-safety: built once per replica, before the replica serves; dispatch runs on the
// replica's own strand.
#pragma once

#include <cserve/detail/route_matcher.hpp>
#include <cserve/detail/to_response.hpp>
#include <cserve/detail/unique_function.hpp>
#include <cserve/http.hpp>
#include <cserve/task.hpp>

#include <exception>

#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace cserve {

namespace detail {
struct RequestAccess {
  static void set_path_params(Request& r, std::vector<std::pair<std::string, std::string>> p) {
    r.params_ = std::move(p);
  }
  static void set_ids(Request& r, std::string full_path, std::string request_id) {
    r.full_path_ = std::move(full_path);
    r.request_id_ = std::move(request_id);
  }
};

// The HttpError a failed match answers with (404, or 405 with Allow).
HttpError route_miss(const RouteMatcher::Match& m, const Request& req);

struct HandlerOutcome;
template <class F>
void run_http_handler(F&& f, UniqueFunction<void(HandlerOutcome)> done);
}  // namespace detail

template <class T>
class Routes {
 public:
  template <class M>
  Routes& route(std::string method, std::string_view pattern, M handler) {
    matcher_.add(std::move(method), pattern);
    handlers_.push_back(wrap(std::move(handler)));
    return *this;
  }
  template <class M>
  Routes& get(std::string_view pattern, M handler) { return route("GET", pattern, std::move(handler)); }
  template <class M>
  Routes& post(std::string_view pattern, M handler) { return route("POST", pattern, std::move(handler)); }
  template <class M>
  Routes& put(std::string_view pattern, M handler) { return route("PUT", pattern, std::move(handler)); }
  template <class M>
  Routes& patch(std::string_view pattern, M handler) { return route("PATCH", pattern, std::move(handler)); }
  template <class M>
  Routes& del(std::string_view pattern, M handler) { return route("DELETE", pattern, std::move(handler)); }

  // Runs the matching handler for `req` (which outlives the call) and reports to `done`.
  template <class Callback>
  void dispatch(T& target, Request& req, Callback done) const {
    auto m = matcher_.match(req.method(), req.path());
    if (m.kind != detail::RouteMatcher::Match::Kind::kFound) {
      return done({{}, std::make_exception_ptr(detail::route_miss(m, req))});
    }
    detail::RequestAccess::set_path_params(req, std::move(m.params));
    handlers_[m.index](target, req, std::move(done));
  }

 private:
  using Done = detail::UniqueFunction<void(detail::HandlerOutcome)>;
  using Handler = std::function<void(T&, const Request&, Done)>;

  template <class M>
  static Handler wrap(M handler) {
    if constexpr (std::is_invocable_v<M, T&, const Request&>) {
      return [handler](T& t, const Request& r, Done done) {
        detail::run_http_handler([&]() -> decltype(auto) { return std::invoke(handler, t, r); }, std::move(done));
      };
    } else if constexpr (std::is_invocable_v<M, T&>) {
      return [handler](T& t, const Request&, Done done) {
        detail::run_http_handler([&]() -> decltype(auto) { return std::invoke(handler, t); }, std::move(done));
      };
    } else {
      static_assert(detail::kDependentFalse<M>,
                    "a route handler takes no argument or one `const cserve::Request&`");
    }
  }

  detail::RouteMatcher matcher_;
  std::vector<Handler> handlers_;
};

}  // namespace cserve
