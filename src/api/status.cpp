#include <cserve/status.hpp>

namespace cserve {

const char* to_string(ApplicationStatus s) {
  switch (s) {
    case ApplicationStatus::NOT_STARTED: return "NOT_STARTED";
    case ApplicationStatus::DEPLOYING: return "DEPLOYING";
    case ApplicationStatus::RUNNING: return "RUNNING";
    case ApplicationStatus::DEPLOY_FAILED: return "DEPLOY_FAILED";
    case ApplicationStatus::DELETING: return "DELETING";
    case ApplicationStatus::UNHEALTHY: return "UNHEALTHY";
  }
  return "UNKNOWN";
}

const char* to_string(DeploymentStatus s) {
  switch (s) {
    case DeploymentStatus::UPDATING: return "UPDATING";
    case DeploymentStatus::HEALTHY: return "HEALTHY";
    case DeploymentStatus::UNHEALTHY: return "UNHEALTHY";
    case DeploymentStatus::DEPLOY_FAILED: return "DEPLOY_FAILED";
    case DeploymentStatus::UPSCALING: return "UPSCALING";
    case DeploymentStatus::DOWNSCALING: return "DOWNSCALING";
  }
  return "UNKNOWN";
}

const char* to_string(ReplicaState s) {
  switch (s) {
    case ReplicaState::PENDING: return "PENDING";
    case ReplicaState::STARTING: return "STARTING";
    case ReplicaState::RUNNING: return "RUNNING";
    case ReplicaState::STOPPING: return "STOPPING";
  }
  return "UNKNOWN";
}

const char* to_string(DeploymentStatusTrigger s) {
  switch (s) {
    case DeploymentStatusTrigger::UNSPECIFIED: return "UNSPECIFIED";
    case DeploymentStatusTrigger::CONFIG_UPDATE_STARTED: return "CONFIG_UPDATE_STARTED";
    case DeploymentStatusTrigger::CONFIG_UPDATE_COMPLETED: return "CONFIG_UPDATE_COMPLETED";
    case DeploymentStatusTrigger::UPSCALE_COMPLETED: return "UPSCALE_COMPLETED";
    case DeploymentStatusTrigger::DOWNSCALE_COMPLETED: return "DOWNSCALE_COMPLETED";
    case DeploymentStatusTrigger::AUTOSCALING: return "AUTOSCALING";
    case DeploymentStatusTrigger::REPLICA_STARTUP_FAILED: return "REPLICA_STARTUP_FAILED";
    case DeploymentStatusTrigger::HEALTH_CHECK_FAILED: return "HEALTH_CHECK_FAILED";
    case DeploymentStatusTrigger::DELETING: return "DELETING";
  }
  return "UNKNOWN";
}

Json to_json(const ServeStatus& s) {
  Json apps = Json::object();
  for (const auto& [name, app] : s.applications) {
    Json deps = Json::object();
    for (const auto& [dname, d] : app.deployments) {
      Json replicas = Json::array();
      for (const auto& r : d.replicas) {
        replicas.push_back({{"replica_id", r.replica_id},
                            {"state", to_string(r.state)},
                            {"version", r.version},
                            {"gpu_ids", r.gpu_ids},
                            {"multiplexed_model_ids", r.multiplexed_model_ids}});
      }
      deps[dname] = {{"name", d.name},
                     {"status", to_string(d.status)},
                     {"status_trigger", to_string(d.status_trigger)},
                     {"message", d.message},
                     {"target_replicas", d.target_replicas},
                     {"health_check_replacements", d.health_check_replacements},
                     {"replica_restarts", d.replica_restarts},
                     {"last_replica_exit", d.last_replica_exit},
                     {"replicas", replicas}};
    }
    apps[name] = {{"name", app.name},
                  {"route_prefix", app.route_prefix},
                  {"ingress", app.ingress},
                  {"status", to_string(app.status)},
                  {"message", app.message},
                  {"deployments", deps}};
  }
  Json nodes = Json::array();
  for (const auto& n : s.nodes) {
    nodes.push_back({{"node_id", n.node_id},
                     {"ip", n.ip},
                     {"http_port", n.http_port},
                     {"admin_port", n.admin_port},
                     {"resources", n.resources},
                     {"available", n.available},
                     {"replicas", n.replicas},
                     {"controller_leader", n.controller_leader},
                     {"last_heartbeat_ms", n.last_heartbeat_ms ? Json(*n.last_heartbeat_ms) : Json()}});
  }
  Json out = {{"http", {{"host", s.http_host}, {"port", s.http_port}}}, {"applications", apps}, {"nodes", nodes}};
  if (s.cluster_warning) out["cluster_warning"] = *s.cluster_warning;
  return out;
}

}  // namespace cserve
