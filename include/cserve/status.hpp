// cserve/status.hpp — the observable state of applications, deployments and replicas.
// Names follow Ray Serve's status enums; PENDING is cserve's replica state for "placed nowhere
// yet: waiting for resources".
// Thread-safety: plain values (snapshots).
#pragma once

#include <cserve/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cserve {

enum class ApplicationStatus { NOT_STARTED, DEPLOYING, RUNNING, DEPLOY_FAILED, DELETING, UNHEALTHY };
enum class DeploymentStatus { UPDATING, HEALTHY, UNHEALTHY, DEPLOY_FAILED, UPSCALING, DOWNSCALING };
enum class ReplicaState { PENDING, STARTING, RUNNING, STOPPING };
// What caused a deployment's latest status change (Ray's DeploymentStatusTrigger).
enum class DeploymentStatusTrigger {
  UNSPECIFIED,
  CONFIG_UPDATE_STARTED,
  CONFIG_UPDATE_COMPLETED,
  UPSCALE_COMPLETED,
  DOWNSCALE_COMPLETED,
  AUTOSCALING,
  REPLICA_STARTUP_FAILED,
  HEALTH_CHECK_FAILED,
  DELETING
};

const char* to_string(ApplicationStatus s);
const char* to_string(DeploymentStatus s);
const char* to_string(ReplicaState s);
const char* to_string(DeploymentStatusTrigger s);

struct ReplicaStatusInfo {
  std::string replica_id;
  ReplicaState state = ReplicaState::PENDING;
  std::string version;
  std::vector<int> gpu_ids;
  std::vector<std::string> multiplexed_model_ids;  // models it holds or loads (cserve/multiplex.hpp)
};

struct DeploymentStatusInfo {
  std::string name;
  DeploymentStatus status = DeploymentStatus::UPDATING;
  DeploymentStatusTrigger status_trigger = DeploymentStatusTrigger::UNSPECIFIED;
  std::string message;
  int target_replicas = 0;
  int health_check_replacements = 0;  // replicas replaced for failing health checks
  int replica_restarts = 0;           // replicas restarted because their worker process ended
  std::string last_replica_exit;      // how the last one ended ("... was killed by SIGSEGV ...")
  std::vector<ReplicaStatusInfo> replicas;
};

struct ApplicationStatusInfo {
  std::string name;
  std::string route_prefix;
  std::string ingress;  // the ingress deployment's name
  ApplicationStatus status = ApplicationStatus::NOT_STARTED;
  std::string message;
  std::map<std::string, DeploymentStatusInfo> deployments;
};

// A node of the instance: in embedded mode the process itself; in cluster mode every node
// registered in the cluster's store, as its last heartbeat said (docs/cluster.md).
struct NodeStatusInfo {
  std::string node_id;
  std::string ip;
  int http_port = 0;
  int admin_port = 0;
  std::map<std::string, double> resources;  // in all: "CPU", "GPU" and custom names
  std::map<std::string, double> available;  // not held by replicas
  int replicas = 0;                         // replicas placed on it
  bool controller_leader = false;           // its controller leads the cluster (cluster mode)
  std::optional<std::int64_t> last_heartbeat_ms;  // Unix time in ms (cluster mode)
};

struct ServeStatus {
  std::string http_host;
  int http_port = 0;
  std::map<std::string, ApplicationStatusInfo> applications;
  std::vector<NodeStatusInfo> nodes;
  // Cluster mode: why the node list may be stale (the store unreachable since ...); none when
  // current or in embedded mode.
  std::optional<std::string> cluster_warning;
};

Json to_json(const ServeStatus& s);

}  // namespace cserve
