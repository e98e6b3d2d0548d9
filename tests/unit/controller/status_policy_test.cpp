// Status derivation as a pure function of what the controller observed.
#include "controller/status_policy.hpp"

#include <gtest/gtest.h>

namespace cserve {
namespace {

using DS = DeploymentStatus;
using T = DeploymentStatusTrigger;

const DeploymentVerdict kUpdating{DS::UPDATING, T::CONFIG_UPDATE_STARTED, ""};

TEST(StatusPolicy, ADeploymentReachesHealthyWhenExactlyTheTargetRuns) {
  DeploymentFacts f{.target_replicas = 2, .running_target = 1, .others = 1};
  DeploymentVerdict v = derive_deployment_status(f, kUpdating);
  EXPECT_EQ(v.status, DS::UPDATING);
  EXPECT_EQ(v.trigger, T::CONFIG_UPDATE_STARTED);
  EXPECT_EQ(v.message, "1 of 2 replicas of the target version running");
  f.running_target = 2;
  f.others = 0;
  v = derive_deployment_status(f, v);
  EXPECT_EQ(v.status, DS::HEALTHY);
  EXPECT_EQ(v.trigger, T::CONFIG_UPDATE_COMPLETED);
  EXPECT_EQ(v.message, "");
}

TEST(StatusPolicy, FailureWinsOverEverything) {
  DeploymentFacts f{.target_replicas = 1, .running_target = 1, .failed = "cannot be placed"};
  DeploymentVerdict v = derive_deployment_status(f, kUpdating);
  EXPECT_EQ(v.status, DS::DEPLOY_FAILED);
  EXPECT_EQ(v.trigger, T::REPLICA_STARTUP_FAILED);
  EXPECT_EQ(v.message, "cannot be placed");
}

TEST(StatusPolicy, WaitingForResourcesAndStartErrorsAreInTheMessage) {
  DeploymentFacts f{.target_replicas = 1, .unplaceable = "needs {CPU: 4}", .last_start_error = "model missing"};
  DeploymentVerdict v = derive_deployment_status(f, kUpdating);
  EXPECT_EQ(v.message,
            "0 of 1 replicas of the target version running; waiting for resources: needs {CPU: 4}; last start error: "
            "model missing");
}

TEST(StatusPolicy, AutoscalingShowsItsDirectionThenItsCompletion) {
  DeploymentFacts f{.target_replicas = 3, .running_target = 1, .scaling = Scaling::kUp};
  DeploymentVerdict v = derive_deployment_status(f, {DS::HEALTHY, T::AUTOSCALING, ""});
  EXPECT_EQ(v.status, DS::UPSCALING);
  EXPECT_EQ(v.trigger, T::AUTOSCALING);
  f.running_target = 3;
  v = derive_deployment_status(f, v);
  EXPECT_EQ(v.status, DS::HEALTHY);
  EXPECT_EQ(v.trigger, T::UPSCALE_COMPLETED);
}

TEST(StatusPolicy, AReplacedReplicaMakesTheDeploymentUnhealthyUntilTheTargetRunsAgain) {
  DeploymentFacts f{.target_replicas = 2, .running_target = 1, .others = 1, .unhealthy = "replica r failed 3 checks"};
  DeploymentVerdict v = derive_deployment_status(f, {DS::HEALTHY, T::HEALTH_CHECK_FAILED, ""});
  EXPECT_EQ(v.status, DS::UNHEALTHY);
  EXPECT_EQ(v.trigger, T::HEALTH_CHECK_FAILED);
  EXPECT_EQ(v.message, "replica r failed 3 checks; 1 of 2 replicas running");
}

DeploymentSummary summary(std::string name, DS status, Scaling scaling = Scaling::kNone) {
  return {std::move(name), {status, T::UNSPECIFIED, "m-" + std::string(to_string(status))}, scaling};
}

TEST(StatusPolicy, ApplicationRules) {
  using AS = ApplicationStatus;
  EXPECT_EQ(derive_application_status(false, AS::DEPLOYING, {summary("a", DS::HEALTHY)}).status, AS::RUNNING);
  EXPECT_EQ(derive_application_status(false, AS::DEPLOYING, {summary("a", DS::UPDATING)}).status, AS::DEPLOYING);
  EXPECT_EQ(derive_application_status(true, AS::RUNNING, {summary("a", DS::HEALTHY)}).status, AS::DELETING);
  // Autoscaling does not take a RUNNING application out of RUNNING, but does not make one either.
  EXPECT_EQ(derive_application_status(false, AS::RUNNING, {summary("a", DS::UPSCALING, Scaling::kUp)}).status,
            AS::RUNNING);
  EXPECT_EQ(derive_application_status(false, AS::DEPLOYING, {summary("a", DS::UPSCALING, Scaling::kUp)}).status,
            AS::DEPLOYING);
  // UNHEALTHY only for an application that was serving, and until every deployment is HEALTHY.
  EXPECT_EQ(derive_application_status(false, AS::RUNNING, {summary("a", DS::UNHEALTHY)}).status, AS::UNHEALTHY);
  EXPECT_EQ(derive_application_status(false, AS::DEPLOYING, {summary("a", DS::UNHEALTHY)}).status, AS::DEPLOYING);
  EXPECT_EQ(derive_application_status(false, AS::UNHEALTHY, {summary("a", DS::UPDATING)}).status, AS::UNHEALTHY);
  EXPECT_EQ(derive_application_status(false, AS::UNHEALTHY, {summary("a", DS::HEALTHY)}).status, AS::RUNNING);
}

TEST(StatusPolicy, AFailedApplicationNamesOnlyItsFailedDeployments) {
  ApplicationVerdict v = derive_application_status(
      false, ApplicationStatus::DEPLOYING,
      {summary("a", DS::UPDATING), summary("b", DS::DEPLOY_FAILED), summary("c", DS::HEALTHY)});
  EXPECT_EQ(v.status, ApplicationStatus::DEPLOY_FAILED);
  EXPECT_EQ(v.message, "deployment 'b': m-DEPLOY_FAILED");
  v = derive_application_status(false, ApplicationStatus::DEPLOYING,
                                {summary("a", DS::UPDATING), summary("c", DS::HEALTHY)});
  EXPECT_EQ(v.message, "deployment 'a': m-UPDATING");
}

}  // namespace
}  // namespace cserve
