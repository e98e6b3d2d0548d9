#include "controller/status_policy.hpp"

namespace cserve {
namespace {

std::string running_of(const DeploymentFacts& f) {
  return std::to_string(f.running_target) + " of " + std::to_string(f.target_replicas);
}

}  // namespace

DeploymentVerdict derive_deployment_status(const DeploymentFacts& f, const DeploymentVerdict& previous) {
  DeploymentVerdict v;
  v.trigger = previous.trigger;
  if (f.failed) {
    v.status = DeploymentStatus::DEPLOY_FAILED;
    v.trigger = DeploymentStatusTrigger::REPLICA_STARTUP_FAILED;
    v.message = *f.failed;
  } else if (f.deleting) {
    v.status = DeploymentStatus::UPDATING;
    v.trigger = DeploymentStatusTrigger::DELETING;
    v.message = "deleting";
  } else if (f.running_target == f.target_replicas && f.others == 0) {
    if (f.scaling != Scaling::kNone) {
      v.trigger = f.scaling == Scaling::kUp ? DeploymentStatusTrigger::UPSCALE_COMPLETED
                                            : DeploymentStatusTrigger::DOWNSCALE_COMPLETED;
    } else if (previous.status != DeploymentStatus::HEALTHY) {
      v.trigger = previous.status == DeploymentStatus::DOWNSCALING ? DeploymentStatusTrigger::DOWNSCALE_COMPLETED
                                                                   : DeploymentStatusTrigger::CONFIG_UPDATE_COMPLETED;
    }
    v.status = DeploymentStatus::HEALTHY;
  } else if (f.unhealthy) {
    v.status = DeploymentStatus::UNHEALTHY;
    v.message = *f.unhealthy + "; " + running_of(f) + " replicas running";
  } else if (f.scaling != Scaling::kNone) {
    v.status = f.scaling == Scaling::kUp ? DeploymentStatus::UPSCALING : DeploymentStatus::DOWNSCALING;
    v.message = "autoscaling: " + running_of(f) + " replicas running";
    if (f.unplaceable) v.message += "; waiting for resources: " + *f.unplaceable;
  } else {
    v.status = f.running_target > f.target_replicas ? DeploymentStatus::DOWNSCALING : DeploymentStatus::UPDATING;
    v.message = running_of(f) + " replicas of the target version running";
    if (f.unplaceable) v.message += "; waiting for resources: " + *f.unplaceable;
    if (f.last_start_error) v.message += "; last start error: " + *f.last_start_error;
  }
  return v;
}

ApplicationVerdict derive_application_status(bool deleting, ApplicationStatus previous,
                                             const std::vector<DeploymentSummary>& deployments) {
  bool all_healthy = true;
  bool any_failed = false;
  bool any_unhealthy = false;
  ApplicationVerdict v;
  for (const auto& d : deployments) {
    const DeploymentStatus s = d.verdict.status;
    any_failed = any_failed || s == DeploymentStatus::DEPLOY_FAILED;
    any_unhealthy = any_unhealthy || s == DeploymentStatus::UNHEALTHY;
    const bool autoscaling = d.scaling != Scaling::kNone &&
                             (s == DeploymentStatus::UPSCALING || s == DeploymentStatus::DOWNSCALING);
    if (s == DeploymentStatus::HEALTHY || (autoscaling && previous == ApplicationStatus::RUNNING)) continue;
    all_healthy = false;
  }
  // The message names the deployments that keep the application from RUNNING: the failed ones
  // when any failed (the others' progress is beside the point), else every one not HEALTHY.
  for (const auto& d : deployments) {
    const DeploymentStatus s = d.verdict.status;
    const bool autoscaling = d.scaling != Scaling::kNone &&
                             (s == DeploymentStatus::UPSCALING || s == DeploymentStatus::DOWNSCALING);
    const bool named = any_failed ? s == DeploymentStatus::DEPLOY_FAILED
                                  : s != DeploymentStatus::HEALTHY && !(autoscaling && previous == ApplicationStatus::RUNNING);
    if (!named) continue;
    if (!v.message.empty()) v.message += "; ";
    v.message += "deployment '" + d.name + "': " + d.verdict.message;
  }
  if (deleting) {
    v.status = ApplicationStatus::DELETING;
  } else if (any_failed) {
    v.status = ApplicationStatus::DEPLOY_FAILED;
  } else if (any_unhealthy && previous == ApplicationStatus::RUNNING) {
    v.status = ApplicationStatus::UNHEALTHY;  // it was serving; a replica had to be replaced
  } else if (previous == ApplicationStatus::UNHEALTHY && !all_healthy) {
    v.status = ApplicationStatus::UNHEALTHY;  // until every deployment is healthy again
  } else {
    v.status = all_healthy ? ApplicationStatus::RUNNING : ApplicationStatus::DEPLOYING;
  }
  return v;
}

}  // namespace cserve
