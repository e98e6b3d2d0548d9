// cserve/detail/to_response.hpp — turns what a handler returns into a Response.
// Thread-safety: pure functions.
#pragma once

#include <cserve/http.hpp>

#include <string_view>
#include <type_traits>
#include <utility>

namespace cserve::detail {

template <class>
inline constexpr bool kDependentFalse = false;

// Json (or anything Json can be built from) -> application/json; strings -> text/plain;
// Response as it is.
template <class R>
Response to_response(R&& value) {
  using D = std::decay_t<R>;
  if constexpr (std::is_same_v<D, Response>) {
    return std::forward<R>(value);
  } else if constexpr (std::is_convertible_v<const D&, std::string_view>) {
    return Response::text(std::string(std::string_view(value)));
  } else if constexpr (std::is_same_v<D, Json>) {
    return Response::json(value);
  } else if constexpr (std::is_constructible_v<Json, R>) {
    return Response::json(Json(std::forward<R>(value)));
  } else {
    static_assert(kDependentFalse<D>,
                  "a cserve handler must return cserve::Json, std::string, cserve::Response or a "
                  "value convertible to cserve::Json");
  }
}

// Calls `f(args...)` and converts its result; a void result becomes a JSON null.
template <class F, class... Args>
Response invoke_to_response(F&& f, Args&&... args) {
  using R = std::invoke_result_t<F, Args...>;
  if constexpr (std::is_void_v<R>) {
    std::invoke(std::forward<F>(f), std::forward<Args>(args)...);
    return Response::json(nullptr);
  } else {
    return to_response(std::invoke(std::forward<F>(f), std::forward<Args>(args)...));
  }
}

}  // namespace cserve::detail
