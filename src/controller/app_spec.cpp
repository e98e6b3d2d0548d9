#include "controller/app_spec.hpp"

#include "controller/autoscaling_policy.hpp"
#include "controller/placement.hpp"

#include <cserve/error.hpp>

namespace cserve {
namespace {

void validate_deployment(const detail::DeploymentDef& def) {
  const auto& o = def.options;
  auto fail = [&](const std::string& what) { throw ConfigError("deployment '" + o.name + "': " + what); };
  if (o.name.empty()) throw ConfigError("deployment name must not be empty");
  if (o.name.find_first_of("/#") != std::string::npos) fail("name must not contain '/' or '#'");
  if (o.num_replicas < 0) fail("num_replicas must be >= 0");
  if (o.max_replicas_per_node && *o.max_replicas_per_node < 1) fail("max_replicas_per_node must be >= 1");
  if (o.max_ongoing_requests < 1) fail("max_ongoing_requests must be >= 1");
  if (o.max_queued_requests < -1) fail("max_queued_requests must be -1 (unbounded) or >= 0");
  if (!(o.graceful_shutdown_wait_loop_s > 0)) fail("graceful_shutdown_wait_loop_s must be > 0");
  if (!(o.graceful_shutdown_timeout_s >= 0)) fail("graceful_shutdown_timeout_s must be >= 0");
  if (!(o.health_check_period_s > 0)) fail("health_check_period_s must be > 0");
  if (!(o.health_check_timeout_s > 0)) fail("health_check_timeout_s must be > 0");
  if (auto e = validate_resources(o.resources)) fail(*e);
  if (o.autoscaling_config) {
    if (auto e = validate_autoscaling(*o.autoscaling_config)) fail(*e);
  }
  if (o.model_name) {
    if (!def.serves_model) {
      fail("model_name is set but " + def.type_name +
           " serves no model (it needs metadata() and infer(cserve::InferRequest), see cserve/inference.hpp)");
    }
    if (o.model_name->empty() || o.model_name->find_first_of("/?# ") != std::string::npos) {
      fail("model_name '" + *o.model_name + "' must be a non-empty name without '/', '?', '#' or spaces");
    }
  }
  if (o.user_config && !def.has_reconfigure) {
    fail("user_config is set but " + def.type_name + " has no reconfigure(const cserve::Json&) to receive it");
  }
}

}  // namespace

std::optional<std::string> validate_route_prefix(const std::string& p) {
  if (p.empty() || p.front() != '/') return "route_prefix '" + p + "' must start with '/'";
  if (p.size() > 1 && p.back() == '/') return "route_prefix '" + p + "' must not end with '/'";
  if (p.find_first_of("{}?# ") != std::string::npos) {
    return "route_prefix '" + p + "' must not contain '{', '}', '?', '#' or spaces";
  }
  return std::nullopt;
}

void validate_app_spec(const AppSpec& spec) {
  if (spec.name.empty()) throw ConfigError("application name must not be empty");
  if (auto e = validate_route_prefix(spec.route_prefix)) throw ConfigError(*e);
  if (spec.deployments.empty()) throw ConfigError("application '" + spec.name + "' has no deployments");
  for (const auto& def : spec.deployments) validate_deployment(def);
}

}  // namespace cserve
