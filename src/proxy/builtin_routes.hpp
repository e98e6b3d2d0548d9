// builtin_routes.hpp — the proxy's own paths, answered on the I/O thread: /-/healthz (200
// "success"; 503 "draining" once the proxy drains) and /-/routes (route_prefix -> application).
// Thread-safety: reads the proxy state's atomics and route snapshot only.
#pragma once

#include "proxy/proxy_state.hpp"

#include <optional>
#include <string_view>

namespace cserve {

// The answer for a built-in `path`, or nullopt when `path` is not one.
std::optional<Response> builtin_response(std::string_view path, ProxyState& state);

}  // namespace cserve
