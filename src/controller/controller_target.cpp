// The controller's target state (see controller.hpp): what deploy(), deploy_all() and
// delete_app() record, and the route table published from it.
#include "controller/controller.hpp"

#include "common/logging.hpp"
#include "controller/controller_internal.hpp"

#include <cserve/error.hpp>

#include <algorithm>
#include <set>

namespace cserve {

void Controller::deploy(AppSpec spec) {
  validate_app_spec(spec);
  detail::MutexLock lock(mu_);
  for (const auto& [name, app] : apps_) {
    if (name != spec.name && !app->deleting && app->route_prefix == spec.route_prefix) {
      throw ConfigError("route_prefix '" + spec.route_prefix + "' is already used by application '" + name + "'");
    }
  }
  apply_locked(std::move(spec));
  publish_routes_locked();
  wake();
  status_cv_.notify_all();
}

void Controller::deploy_all(std::vector<AppSpec> specs) {
  std::set<std::string> prefixes;
  for (const auto& spec : specs) {
    validate_app_spec(spec);
    if (!prefixes.insert(spec.route_prefix).second) {
      throw ConfigError("route_prefix '" + spec.route_prefix + "' is used by two applications");
    }
  }
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
  for (const auto& [name, app] : apps_) {
    if (app->deleting) continue;
    auto d = app->deployments.find(app->ingress);
    if (d == app->deployments.end()) continue;
    entries.push_back({app->route_prefix, name, d->second.router});
  }
  publish_routes_(std::make_shared<const RouteTable>(std::move(entries)));
}

}  // namespace cserve
