#include "proxy/builtin_routes.hpp"

namespace cserve {

std::optional<Response> builtin_response(std::string_view path, ProxyState& state) {
  if (!path.starts_with("/-/")) return std::nullopt;
  if (path == "/-/healthz") {
    const bool draining = state.draining.load(std::memory_order_relaxed);
    return Response::text(draining ? "draining" : "success", draining ? 503 : 200);
  }
  if (path == "/-/routes") return Response::json(state.routes()->to_json());
  return std::nullopt;
}

}  // namespace cserve
