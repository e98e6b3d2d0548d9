// controller_internal.hpp — small helpers the controller's files share.
// Thread-safety: pure functions.
#pragma once

#include "controller/placement.hpp"
#include "router/router.hpp"

#include <cserve/deployment.hpp>

#include <string>

namespace cserve {

// What a replica must be restarted to change: the code version and the resources.
inline std::string version_key_of(const detail::DeploymentDef& def) {
  const bool process = def.options.isolation == Isolation::kProcess;
  return def.code_version + "|" + describe(def.options.resources) + (process ? "|process" : "");
}

inline Router::Config router_config(const DeploymentOptions& o) {
  return {o.max_ongoing_requests, o.max_queued_requests};
}

}  // namespace cserve
