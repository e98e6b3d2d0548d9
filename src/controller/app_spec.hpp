// app_spec.hpp — what the controller is asked to run (an application: a name, a route prefix and
// its deployments) and the checks it must pass first. A spec that fails a check changes nothing.
// Thread-safety: plain values and pure functions.
#pragma once

#include <cserve/deployment.hpp>

#include <optional>
#include <string>
#include <vector>

namespace cserve {

struct AppSpec {
  std::string name;
  std::string route_prefix;
  std::vector<detail::DeploymentDef> deployments;  // [0] is the ingress
};

// nullopt when `prefix` is a valid route_prefix ("/" or "/a/b"), else a message naming it.
std::optional<std::string> validate_route_prefix(const std::string& prefix);

// Throws ConfigError naming the application, the deployment and the field.
void validate_app_spec(const AppSpec& spec);

}  // namespace cserve
