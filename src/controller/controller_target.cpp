// The controller's target state (see controller.hpp): what deploy(), deploy_all() and
// delete_app() record, and the route table published from it.
#include "controller/controller.hpp"

#include "common/logging.hpp"
#include "controller/controller_internal.hpp"

#include <cserve/error.hpp>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

namespace cserve {
namespace {

// The name a deployment's model is served under (Open Inference Protocol), if it serves one.
std::optional<std::string> model_of(const detail::DeploymentDef& d) {
  if (!d.serves_model) return std::nullopt;
  return d.options.model_name.value_or(d.options.name);
}

// Model name -> application, for `specs`; throws ConfigError when two deployments serve one name.
std::map<std::string, std::string> models_of(const std::vector<const AppSpec*>& specs) {
  std::map<std::string, std::string> models;
  for (const AppSpec* spec : specs) {
    for (const auto& d : spec->deployments) {
      auto model = model_of(d);
      if (!model) continue;
      auto [it, added] = models.emplace(*model, spec->name);
      if (!added) {
        throw ConfigError("model '" + *model + "' is served by two deployments (in application" +
                          (it->second == spec->name ? " '" + spec->name + "'"
                                                    : "s '" + it->second + "' and '" + spec->name + "'") +
                          "): give one a model_name of its own");
      }
    }
  }
  return models;
}

// With fixed capacity (embedded mode) the nodes are all there will be: a deployment that wants
// more replicas than max_replicas_per_node allows on them never gets them.
void check_per_node_limits(const AppSpec& spec, const ControllerOptions& o) {
  if (o.capacity != Capacity::kFixed) return;
  const int nodes = static_cast<int>(o.nodes.size());
  for (const auto& d : spec.deployments) {
    if (!d.options.max_replicas_per_node) continue;
    const int wanted = d.options.autoscaling_config ? d.options.autoscaling_config->max_replicas : d.options.num_replicas;
    const int limit = *d.options.max_replicas_per_node * nodes;
    if (wanted > limit) {
      throw ConfigError("deployment '" + d.options.name + "': " +
                        (d.options.autoscaling_config ? "autoscaling_config.max_replicas " : "num_replicas ") +
                        std::to_string(wanted) + " > max_replicas_per_node " +
                        std::to_string(*d.options.max_replicas_per_node) + " x " + std::to_string(nodes) +
                        " node(s): this instance's nodes are all there will be");
    }
  }
}

}  // namespace

void Controller::deploy(AppSpec spec) {
  validate_app_spec(spec);
  check_per_node_limits(spec, options_);
  models_of({&spec});
  detail::MutexLock lock(mu_);
  for (const auto& [name, app] : apps_) {
    if (name != spec.name && !app->deleting && app->route_prefix == spec.route_prefix) {
      throw ConfigError("route_prefix '" + spec.route_prefix + "' is already used by application '" + name + "'");
    }
    if (name == spec.name || app->deleting) continue;
    for (const auto& [dname, d] : app->deployments) {
      auto model = model_of(d.def);
      if (!model || d.deleting) continue;
      for (const auto& mine : spec.deployments) {
        if (model_of(mine) == model) {
          throw ConfigError("model '" + *model + "' is already served by application '" + name + "'");
        }
      }
    }
  }
  apply_locked(std::move(spec));
  publish_routes_locked();
  wake();
  status_cv_.notify_all();
}

void Controller::deploy_all(std::vector<AppSpec> specs) {
  std::set<std::string> prefixes;
  std::vector<const AppSpec*> all;
  for (const auto& spec : specs) {
    validate_app_spec(spec);
    check_per_node_limits(spec, options_);
    if (!prefixes.insert(spec.route_prefix).second) {
      throw ConfigError("route_prefix '" + spec.route_prefix + "' is used by two applications");
    }
    all.push_back(&spec);
  }
  models_of(all);
  detail::MutexLock lock(mu_);
  for (auto& [app_name, app] : apps_) {
    const std::string& name = app_name;  // (a structured binding cannot be captured by clang 14)
    const bool kept = std::any_of(specs.begin(), specs.end(), [&](const AppSpec& s) { return s.name == name; });
    if (kept || app->deleting) continue;
    mark_deleting(*app);
    CSERVE_LOG(kInfo, "controller") << "deleting application '" << name << "' (not in the config)";
  }
  for (auto& spec : specs) apply_locked(std::move(spec));
  publish_routes_locked();
  wake();
  status_cv_.notify_all();
}

void Controller::apply_locked(AppSpec spec) {
  auto& slot = apps_[spec.name];
  if (!slot) {
    slot = std::make_unique<AppRecord>();
    slot->name = spec.name;
  }
  AppRecord& app = *slot;
  app.route_prefix = spec.route_prefix;
  app.ingress = spec.deployments.front().options.name;
  app.deleting = false;
  app.verdict = {ApplicationStatus::DEPLOYING, ""};
  for (auto& [deployment_name, d] : app.deployments) {
    const std::string& name = deployment_name;  // (a structured binding cannot be captured by clang 14)
    const bool kept = std::any_of(spec.deployments.begin(), spec.deployments.end(),
                                  [&](const auto& def) { return def.options.name == name; });
    if (!kept) d.deleting = true;
  }
  for (auto& def : spec.deployments) {
    auto [it, created] = app.deployments.try_emplace(def.options.name);
    DeploymentRecord& d = it->second;
    if (created) d.router = std::make_shared<Router>(def.options.name, router_config(def.options), rng_());
    set_target(d, std::move(def));
  }
  CSERVE_LOG(kInfo, "controller") << "deploying application '" << app.name << "' at " << app.route_prefix;
}

void Controller::set_target(DeploymentRecord& d, detail::DeploymentDef def) {
  std::string key = version_key_of(def);
  if (key != d.version_key) d.started_once = false;
  // Every deploy is a new attempt: a deployment that failed to start may start now (a missing
  // file restored, a user_config its reconfigure() accepts).
  d.start_failures = 0;
  d.last_start_error.reset();
  d.failed.reset();
  d.restart_after.reset();
  d.crash_streak = 0;
  if (def.options.user_config != d.def.options.user_config) ++d.config_generation;
  if (const auto& a = def.options.autoscaling_config) {
    // The first deploy starts at initial_replicas; a redeploy keeps the current count within
    // the (new) bounds.
    d.autoscaled = d.autoscaled ? std::clamp(*d.autoscaled, a->min_replicas, a->max_replicas)
                                : a->initial_replicas.value_or(a->min_replicas);
  } else {
    d.autoscaled.reset();
    d.autoscaling = {};
  }
  d.scaling = Scaling::kNone;
  d.version_key = std::move(key);
  d.def = std::move(def);
  d.deleting = false;
  d.verdict = {DeploymentStatus::UPDATING, DeploymentStatusTrigger::CONFIG_UPDATE_STARTED, ""};
  d.unhealthy.reset();
  d.router->reopen();
  d.republish = true;  // the tick hands the router the new limits
}

void Controller::mark_deleting(AppRecord& app) {
  app.deleting = true;
  app.verdict.status = ApplicationStatus::DELETING;
  for (auto& [name, d] : app.deployments) d.deleting = true;
}

void Controller::delete_app(const std::string& name) {
  detail::MutexLock lock(mu_);
  auto it = apps_.find(name);
  if (it == apps_.end()) throw ConfigError("no application named '" + name + "'");
  mark_deleting(*it->second);
  CSERVE_LOG(kInfo, "controller") << "deleting application '" << name << "'";
  publish_routes_locked();
  wake();
  status_cv_.notify_all();
}

void Controller::publish_routes_locked() {
  std::vector<RouteTable::Entry> entries;
  std::vector<RouteTable::Model> models;
  for (const auto& [name, app] : apps_) {
    if (app->deleting) continue;
    for (const auto& [dname, d] : app->deployments) {
      if (auto model = model_of(d.def); model && !d.deleting) models.push_back({*model, name, dname, d.router});
    }
    auto d = app->deployments.find(app->ingress);
    if (d == app->deployments.end()) continue;
    entries.push_back({app->route_prefix, name, d->second.router, d->second.def.stream_methods});
  }
  publish_routes_(std::make_shared<const RouteTable>(std::move(entries), std::move(models)));
}

}  // namespace cserve
