// records.hpp — the controller's record of each application, deployment and replica: the target
// it was given and what it has observed. Only the controller touches them, under its mutex.
//
// Replica record:
//
//   PENDING --placed--> STARTING --constructed--> RUNNING --stop--> STOPPING --drained--> (gone)
//      |                   +--constructor threw--> (gone; counted toward DEPLOY_FAILED)
//      +--stop--> (gone)                             |
//                          3 failed health checks ---+--> STOPPING (it answers: drains first)
//                                                    +--> (gone at once, if stuck: resources freed)
//                          its worker process ended -+--> (gone at once; replaced after a backoff)
#pragma once

#include "controller/autoscaling_policy.hpp"
#include "controller/health_policy.hpp"
#include "controller/placement.hpp"
#include "controller/status_policy.hpp"
#include "replica/replica.hpp"
#include "router/router.hpp"

#include <cserve/deployment.hpp>
#include <cserve/status.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cserve {

struct ReplicaRecord {
  std::string id;
  std::string version_key;   // code version + resources: what a restart is needed to change
  std::string code_version;  // shown in status
  ReplicaState state = ReplicaState::PENDING;
  std::shared_ptr<Replica> replica;      // set once placed
  std::optional<Allocation> allocation;  // set once placed
  int config_generation = 0;             // the user_config generation the object has
  bool reconfiguring = false;
  std::optional<Failure> reconfigure_failed;  // then it is replaced
  HealthRecord health;                        // while RUNNING
  std::optional<TimePoint> running_since;     // set on reaching RUNNING

  struct Stopping {
    TimePoint since;
    TimePoint next_drain_check;
    bool stop_posted = false;
  };
  std::optional<Stopping> stopping;  // set in STOPPING

  // Reported by replica callbacks (under the controller's mutex), taken in by the next tick:
  struct Started {
    std::optional<Failure> failure;  // nullopt: constructed
  };
  std::optional<Started> started;
  bool stopped = false;
};

struct DeploymentRecord {
  detail::DeploymentDef def;  // the target
  std::string version_key;
  int config_generation = 0;
  std::shared_ptr<Router> router;
  std::vector<std::shared_ptr<ReplicaRecord>> replicas;  // creation order
  std::vector<std::string> published;                    // ids the router has
  bool republish = false;                                // limits changed since published
  bool deleting = false;

  // Starting the target version:
  int start_failures = 0;                      // constructor failures of the target version
  std::optional<std::string> last_start_error;
  bool started_once = false;                   // a replica of the target version reached RUNNING
  std::optional<std::string> failed;           // DEPLOY_FAILED, and why
  std::optional<std::string> unplaceable;      // why a PENDING replica fit nowhere last tick

  // Autoscaling (set when the target has an autoscaling_config):
  std::optional<int> autoscaled;  // the autoscaler's replica count
  AutoscalingState autoscaling;
  Scaling scaling = Scaling::kNone;  // the autoscaler's last change, while carried out

  // Health:
  std::optional<std::string> unhealthy;  // why a replica was last replaced for failing checks
  int health_replacements = 0;

  // Replicas whose worker process ended by itself (crash, kill, exit):
  int replica_restarts = 0;
  std::optional<std::string> last_replica_exit;
  int crash_streak = 0;                    // of replicas that died young, in a row
  std::optional<TimePoint> restart_after;  // exponential backoff: no new replica before this

  DeploymentVerdict verdict{DeploymentStatus::UPDATING, DeploymentStatusTrigger::CONFIG_UPDATE_STARTED, ""};

  int target_replicas() const { return deleting ? 0 : autoscaled.value_or(def.options.num_replicas); }
};

struct AppRecord {
  std::string name;
  std::string route_prefix;
  std::string ingress;
  std::map<std::string, DeploymentRecord> deployments;
  ApplicationVerdict verdict;
  bool deleting = false;
};

}  // namespace cserve
