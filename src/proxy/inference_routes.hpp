// inference_routes.hpp — the Open Inference Protocol's REST paths on the proxy (docs/inference.md).
// The server's own paths are answered on the I/O thread: GET /v2 (server metadata),
// /v2/health/live, /v2/health/ready (200 when every model has a replica that takes calls, else
// 400). A path under /v2/models/{name} goes to the replica of the deployment serving that model
// (metadata, infer, a versioned ready), except what the proxy knows alone: an unknown model (404)
// and the readiness of a model without a version.
// Thread-safety: reads an immutable route table.
#pragma once

#include "router/route_table.hpp"

#include <cserve/http.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace cserve {

struct InferenceRoute {
  std::optional<Response> answer;            // answered here
  const RouteTable::Model* model = nullptr;  // else: forward to this model's deployment
  bool infer = false;                        // a POST .../infer (counted in the model's metrics)
  std::string version;                       // the version the path names, if any
};

// How the proxy handles `path`, or nullopt when it is not one of the protocol's paths.
std::optional<InferenceRoute> inference_route(std::string_view method, std::string_view path, const RouteTable& routes,
                                              std::string_view request_id);

}  // namespace cserve
