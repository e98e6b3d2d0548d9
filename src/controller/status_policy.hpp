// status_policy.hpp — the statuses Ray users know, derived from what the controller observes:
// pure functions, called at the end of every tick.
//
// Deployment (first rule that applies):
//   failed                                  -> DEPLOY_FAILED (REPLICA_STARTUP_FAILED)
//   deleting                                -> UPDATING (DELETING)
//   target replicas of the target version running, nothing else -> HEALTHY
//       (trigger: UPSCALE/DOWNSCALE_COMPLETED after autoscaling, else CONFIG_UPDATE_COMPLETED)
//   a replica was replaced for failing health checks -> UNHEALTHY
//   autoscaling under way                   -> UPSCALING / DOWNSCALING
//   otherwise                               -> UPDATING (DOWNSCALING when above target)
// Application:
//   deleting -> DELETING; a deployment DEPLOY_FAILED -> DEPLOY_FAILED; a deployment UNHEALTHY
//   while the application was RUNNING -> UNHEALTHY (it stays so until every deployment is
//   HEALTHY); all HEALTHY -> RUNNING (autoscaling does not take a RUNNING application out of
//   RUNNING); otherwise DEPLOYING.
// Thread-safety: pure functions over values.
#pragma once

#include <cserve/status.hpp>

#include <optional>
#include <string>
#include <vector>

namespace cserve {

enum class Scaling { kNone, kUp, kDown };  // an autoscaler decision being carried out

struct DeploymentFacts {
  int target_replicas = 0;
  int running_target = 0;  // RUNNING replicas of the target version
  int others = 0;          // replicas neither STOPPING nor counted in running_target
  bool deleting = false;
  std::optional<std::string> failed;            // why it is DEPLOY_FAILED
  std::optional<std::string> unhealthy;         // why a replica was replaced for failing checks
  Scaling scaling = Scaling::kNone;
  std::optional<std::string> unplaceable;       // why a replica waits for resources
  std::optional<std::string> last_start_error;  // the target version's last constructor failure
};

struct DeploymentVerdict {
  DeploymentStatus status = DeploymentStatus::UPDATING;
  DeploymentStatusTrigger trigger = DeploymentStatusTrigger::UNSPECIFIED;
  std::string message;
};

// `previous`: the deployment's verdict of the last tick (its trigger stays unless a rule sets it).
DeploymentVerdict derive_deployment_status(const DeploymentFacts& facts, const DeploymentVerdict& previous);

struct DeploymentSummary {
  std::string name;
  DeploymentVerdict verdict;
  Scaling scaling = Scaling::kNone;
};

struct ApplicationVerdict {
  ApplicationStatus status = ApplicationStatus::DEPLOYING;
  // "deployment 'X': ...; deployment 'Y': ...": the DEPLOY_FAILED deployments when any failed,
  // else those not HEALTHY.
  std::string message;
};

ApplicationVerdict derive_application_status(bool deleting, ApplicationStatus previous,
                                             const std::vector<DeploymentSummary>& deployments);

}  // namespace cserve
