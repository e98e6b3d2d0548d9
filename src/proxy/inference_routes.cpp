#include "proxy/inference_routes.hpp"

#include "proxy/http_errors.hpp"

#include <algorithm>

namespace cserve {
namespace {

constexpr std::string_view kModels = "/v2/models/";

Response status_only(int status) {
  Response r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  return r;
}

}  // namespace

std::optional<InferenceRoute> inference_route(std::string_view method, std::string_view path, const RouteTable& routes,
                                              std::string_view request_id) {
  InferenceRoute route;
  const bool get = method == "GET" || method == "HEAD";
  if (path == "/v2" || path == "/v2/health/live" || path == "/v2/health/ready") {
    if (!get) {
      route.answer = error_response(405, "use GET for " + std::string(path), request_id);
    } else if (path == "/v2") {
      route.answer = Response::json(
          Json{{"name", "cserve"}, {"version", CSERVE_VERSION}, {"extensions", Json::array({"binary_tensor_data"})}});
    } else if (path == "/v2/health/live") {
      route.answer = status_only(200);
    } else {
      const bool ready = std::all_of(routes.models().begin(), routes.models().end(),
                                     [](const RouteTable::Model& m) { return m.router->serving(); });
      route.answer = status_only(ready ? 200 : 400);
    }
    return route;
  }
  if (!path.starts_with(kModels)) return std::nullopt;
  std::string_view rest = path.substr(kModels.size());
  const std::string_view name = rest.substr(0, rest.find('/'));
  rest.remove_prefix(name.size());
  route.model = routes.model(name);
  if (route.model == nullptr) {
    std::string known;
    for (const auto& m : routes.models()) known += (known.empty() ? "" : ", ") + m.name;
    route.answer = error_response(
        404, "no model '" + std::string(name) + "' (models: " + (known.empty() ? std::string("none") : known) + ")",
        request_id);
    return route;
  }
  route.infer = method == "POST" && rest.ends_with("/infer");
  if (rest.starts_with("/versions/")) {
    const std::string_view v = rest.substr(10);
    route.version = std::string(v.substr(0, v.find('/')));
  }
  if (rest == "/ready" && get) {  // without a version: the proxy knows
    route.answer = status_only(route.model->router->serving() ? 200 : 400);
    route.model = nullptr;
  } else if (rest.ends_with("/ready") && get && !route.model->router->serving()) {
    route.answer = status_only(400);
    route.model = nullptr;
  }
  return route;
}

}  // namespace cserve
