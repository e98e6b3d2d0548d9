// The controller's statuses and the calls that wait on them or read them (see controller.hpp).
#include "controller/controller.hpp"

#include "common/logging.hpp"

#include <cserve/error.hpp>

#include <algorithm>

namespace cserve {

void Controller::update_statuses(AppRecord& app) {
  std::vector<DeploymentSummary> summaries;
  for (auto& [name, d] : app.deployments) {
    DeploymentFacts facts;
    facts.target_replicas = d.autoscaled.value_or(d.def.options.num_replicas);
    for (const auto& r : d.replicas) {
      if (r->state == ReplicaState::RUNNING && r->version_key == d.version_key) {
        ++facts.running_target;
      } else if (r->state != ReplicaState::STOPPING) {
        ++facts.others;
      }
    }
    facts.deleting = d.deleting;
    facts.failed = d.failed;
    facts.unhealthy = d.unhealthy;
    facts.scaling = d.scaling;
    facts.unplaceable = d.unplaceable;
    if (d.start_failures > 0) facts.last_start_error = d.last_start_error;
    d.verdict = derive_deployment_status(facts, d.verdict);
    if (d.verdict.status == DeploymentStatus::HEALTHY) {  // settled: what led here is over
      d.unhealthy.reset();
      d.scaling = Scaling::kNone;
    }
    summaries.push_back({name, d.verdict, d.scaling});
  }
  app.verdict = derive_application_status(app.deleting, app.verdict.status, summaries);
}

void Controller::wait_running(const std::string& name, std::optional<TimePoint> deadline) {
  detail::MutexLock lock(mu_);
  auto settled = [&] {
    mu_.assert_held();
    if (stop_) return true;
    auto it = apps_.find(name);
    if (it == apps_.end()) return true;
    const ApplicationStatus s = it->second->verdict.status;
    return s == ApplicationStatus::RUNNING || s == ApplicationStatus::DEPLOY_FAILED ||
           s == ApplicationStatus::DELETING;
  };
  if (deadline) {
    status_cv_.wait_until(mu_, *deadline, settled);
  } else {
    status_cv_.wait(mu_, settled);
  }
  auto it = apps_.find(name);
  if (it == apps_.end()) throw DeployError("application '" + name + "' was deleted while deploying");
  const AppRecord& app = *it->second;
  switch (app.verdict.status) {
    case ApplicationStatus::RUNNING:
      return;
    case ApplicationStatus::DEPLOY_FAILED:
      throw DeployError("application '" + name + "' is DEPLOY_FAILED: " + app.verdict.message);
    case ApplicationStatus::DELETING:
      throw DeployError("application '" + name + "' is being deleted");
    default:
      throw DeployError("application '" + name + "' is not RUNNING " +
                        (stop_ ? std::string("(the runtime is shutting down)")
                               : "in time; status " + std::string(to_string(app.verdict.status)) + ": " +
                                     app.verdict.message));
  }
}

void Controller::wait_deleted(const std::string& name) {
  detail::MutexLock lock(mu_);
  status_cv_.wait(mu_, [&] {
    mu_.assert_held();
    return stop_ || apps_.find(name) == apps_.end();
  });
}

ServeStatus Controller::status() const {
  detail::MutexLock lock(mu_);
  ServeStatus out;
  for (const auto& [name, app] : apps_) {
    ApplicationStatusInfo a;
    a.name = name;
    a.route_prefix = app->route_prefix;
    a.ingress = app->ingress;
    a.status = app->verdict.status;
    a.message = app->verdict.message;
    for (const auto& [dname, d] : app->deployments) {
      DeploymentStatusInfo info;
      info.name = dname;
      info.status = d.verdict.status;
      info.status_trigger = d.verdict.trigger;
      info.message = d.verdict.message;
      info.health_check_replacements = d.health_replacements;
      info.replica_restarts = d.replica_restarts;
      info.last_replica_exit = d.last_replica_exit.value_or("");
      info.target_replicas = d.target_replicas();
      for (const auto& r : d.replicas) {
        info.replicas.push_back({r->id, r->state, r->code_version,
                                 r->allocation ? r->allocation->gpu_ids() : std::vector<int>{},
                                 r->replica ? r->replica->models() : std::vector<std::string>{}});
      }
      a.deployments.emplace(dname, std::move(info));
    }
    out.applications.emplace(name, std::move(a));
  }
  for (const NodeResources& total : options_.nodes) {
    NodeStatusInfo n;
    n.node_id = total.node_id;
    n.resources = amounts(total);
    for (const NodeResources& f : free_) {
      if (f.node_id == total.node_id) n.available = amounts(f);
    }
    for (const auto& [name, app] : apps_) {
      for (const auto& [dname, d] : app->deployments) {
        for (const auto& r : d.replicas) {
          if (r->allocation && r->allocation->node_id == total.node_id) ++n.replicas;
        }
      }
    }
    out.nodes.push_back(std::move(n));
  }
  return out;
}

Controller::Target Controller::target(const std::string& app, const std::optional<std::string>& deployment) const {
  detail::MutexLock lock(mu_);
  auto a = apps_.find(app);
  if (a == apps_.end() || a->second->deleting) throw ConfigError("no application named '" + app + "'");
  const std::string& name = deployment.value_or(a->second->ingress);
  auto d = a->second->deployments.find(name);
  if (d == a->second->deployments.end() || d->second.deleting) {
    throw ConfigError("application '" + app + "' has no deployment '" + name + "'");
  }
  return {d->second.router, name, d->second.def.type_name};
}

Duration Controller::drain_budget() const {
  detail::MutexLock lock(mu_);
  double longest = 0;
  for (const auto& [name, app] : apps_) {
    for (const auto& [dname, d] : app->deployments) {
      longest = std::max(longest, d.def.options.graceful_shutdown_timeout_s);
    }
  }
  return seconds_to_duration(longest);
}

void Controller::shutdown(Duration timeout) {
  {
    detail::MutexLock lock(mu_);
    if (stop_) return;
    for (auto& [name, app] : apps_) mark_deleting(*app);
    publish_routes_locked();
    wake();
    status_cv_.wait_for(mu_, timeout, [&] {
      mu_.assert_held();
      return apps_.empty();
    });
    if (!apps_.empty()) {
      CSERVE_LOG(kWarning, "controller") << "shutdown: replicas still stopping after the timeout";
    }
    stop_ = true;
    wake_cv_.notify_all();
    status_cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

}  // namespace cserve
