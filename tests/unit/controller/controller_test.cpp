// The controller driven by hand: a ManualClock, replicas on a task queue, tick() — no threads,
// no sleeps. Each step of a replica's life is explicit.
#include "controller/controller.hpp"

#include "unit/support/nodes.hpp"

#include "unit/support/manual_runtime.hpp"

#include <gtest/gtest.h>

#include <cserve/deployment.hpp>

namespace cserve {
namespace {

using namespace std::chrono_literals;

int g_health_failures_left = 0;  // check_health() raises while this is > 0

struct Model {
  Json operator()(const Request&) { return "ok"; }
  void check_health() {
    if (g_health_failures_left > 0) {
      --g_health_failures_left;
      throw std::runtime_error("GPU lost");
    }
  }
};

using test::node;

struct Harness {
  explicit Harness(double cpus = 8, Capacity capacity = Capacity::kFixed)
      : controller({.nodes = {node(cpus)}, .capacity = capacity}, launcher, clock, [](auto) {}) {}
  // Deletes what the test deployed, as a runtime's shutdown does (routers and replicas hold each
  // other until then), then drops work still queued.
  ~Harness() {
    for (const auto& [name, app] : controller.status().applications) controller.delete_app(name);
    for (int i = 0; i < 100 && !controller.status().applications.empty(); ++i) step(std::chrono::seconds(1));
    queue->tasks.clear();
  }

  // A tick, then everything the replicas were asked to do, then a tick that takes it in.
  void step(Duration advance = 0s) {
    clock.advance(advance);
    controller.tick();
    queue->run_all();
    controller.tick();
  }
  DeploymentStatusInfo deployment(const std::string& name = "Model") {
    return controller.status().applications.at("app").deployments.at(name);
  }

  ManualClock clock;
  std::shared_ptr<test::TaskQueue> queue = std::make_shared<test::TaskQueue>();
  test::QueueLauncher launcher{queue};
  Controller controller;
};

AppSpec spec(const Application& app) { return {"app", "/", app.deployments()}; }

TEST(Controller, OnFixedCapacityMaxReplicasPerNodeCapsNumReplicas) {
  Harness h;
  try {
    h.controller.deploy(spec(deployment<Model>().num_replicas(3).max_replicas_per_node(2).bind()));
    FAIL() << "deployed";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("deployment 'Model': num_replicas 3 > max_replicas_per_node 2 x 1 node(s)"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(h.controller.deploy(spec(deployment<Model>().max_replicas_per_node(0).bind())), ConfigError);
  h.controller.deploy(spec(deployment<Model>().num_replicas(2).max_replicas_per_node(2).bind()));
  h.step();
  EXPECT_EQ(h.deployment().replicas.size(), 2u);
}

TEST(Controller, TicksADeploymentToRunning) {
  Harness h;
  h.controller.deploy(spec(deployment<Model>().num_replicas(2).bind()));
  h.controller.tick();
  auto d = h.deployment();
  ASSERT_EQ(d.replicas.size(), 2u);
  EXPECT_EQ(d.replicas[0].state, ReplicaState::STARTING);
  EXPECT_EQ(d.status, DeploymentStatus::UPDATING);
  h.queue->run_all();  // the constructors run
  h.controller.tick();
  d = h.deployment();
  EXPECT_EQ(d.status, DeploymentStatus::HEALTHY);
  EXPECT_EQ(d.status_trigger, DeploymentStatusTrigger::CONFIG_UPDATE_COMPLETED);
  EXPECT_EQ(h.controller.status().applications.at("app").status, ApplicationStatus::RUNNING);
  EXPECT_EQ(h.launcher.made, 2);
}

TEST(Controller, TwoFailedHealthChecksReplaceNothingTheThirdReplacesTheReplica) {
  Harness h;
  h.controller.deploy(spec(deployment<Model>().health_check_period_s(1).bind()));
  h.step();
  const std::string first = h.deployment().replicas.at(0).replica_id;
  g_health_failures_left = 3;
  h.step(1s);  // check 1 fails
  h.step(1s);  // check 2 fails
  auto d = h.deployment();
  ASSERT_EQ(d.replicas.size(), 1u);
  EXPECT_EQ(d.replicas[0].replica_id, first);
  EXPECT_EQ(d.replicas[0].state, ReplicaState::RUNNING);
  EXPECT_EQ(d.health_check_replacements, 0);
  EXPECT_EQ(h.launcher.made, 1);
  h.clock.advance(1s);
  h.controller.tick();      // check 3 posted
  h.queue->run_all();       // ... and fails
  h.controller.tick();      // the third failure in a row: replaced
  d = h.deployment();
  EXPECT_EQ(d.health_check_replacements, 1);
  EXPECT_EQ(d.status, DeploymentStatus::UNHEALTHY);
  EXPECT_EQ(d.status_trigger, DeploymentStatusTrigger::HEALTH_CHECK_FAILED);
  EXPECT_NE(d.message.find("failed 3 health checks in a row (check_health() raised: GPU lost)"), std::string::npos)
      << d.message;
  EXPECT_EQ(h.controller.status().applications.at("app").status, ApplicationStatus::UNHEALTHY);
  // The replacement starts at the next tick and runs, the old replica drains away, and the
  // application recovers.
  h.step();
  EXPECT_EQ(h.launcher.made, 2);
  h.step(3s);
  d = h.deployment();
  ASSERT_EQ(d.replicas.size(), 1u);
  EXPECT_NE(d.replicas[0].replica_id, first);
  EXPECT_EQ(d.status, DeploymentStatus::HEALTHY);
  EXPECT_EQ(h.controller.status().applications.at("app").status, ApplicationStatus::RUNNING);
}

TEST(Controller, OnFixedCapacityAnUnplaceableReplicaFailsTheDeploymentAtOnce) {
  Harness h(/*cpus=*/1);
  h.controller.deploy(spec(deployment<Model>().num_replicas(2).bind()));
  h.controller.tick();
  auto d = h.deployment();
  EXPECT_EQ(d.status, DeploymentStatus::DEPLOY_FAILED);
  EXPECT_NE(d.message.find("cannot be placed: needs {CPU: 1} per replica"), std::string::npos) << d.message;
  EXPECT_NE(d.message.find("held by deployment 'Model' of application 'app' (1 replica, CPU 1)"), std::string::npos)
      << d.message;
  EXPECT_EQ(h.controller.status().applications.at("app").status, ApplicationStatus::DEPLOY_FAILED);
}

TEST(Controller, OnElasticCapacityAnUnplaceableReplicaWaits) {
  Harness h(/*cpus=*/1, Capacity::kElastic);
  h.controller.deploy(spec(deployment<Model>().num_replicas(2).bind()));
  h.step();
  auto d = h.deployment();
  EXPECT_EQ(d.status, DeploymentStatus::UPDATING);
  EXPECT_NE(d.message.find("1 of 2 replicas of the target version running; waiting for resources: needs {CPU: 1}"),
            std::string::npos)
      << d.message;
  ASSERT_EQ(d.replicas.size(), 2u);
  EXPECT_EQ(d.replicas[1].state, ReplicaState::PENDING);
}

TEST(Controller, ARollingUpdateOnAFullNodeMakesRoomInsteadOfFailing) {
  Harness h(/*cpus=*/2);
  h.controller.deploy(spec(deployment<Model>().num_replicas(2).version("v1").bind()));
  h.step();
  ASSERT_EQ(h.deployment().status, DeploymentStatus::HEALTHY);
  h.controller.deploy(spec(deployment<Model>().num_replicas(2).version("v2").bind()));
  for (int i = 0; i < 10; ++i) h.step(3s);
  auto d = h.deployment();
  EXPECT_EQ(d.status, DeploymentStatus::HEALTHY) << d.message;
  ASSERT_EQ(d.replicas.size(), 2u);
  for (const auto& r : d.replicas) EXPECT_EQ(r.version, "v2");
}

}  // namespace
}  // namespace cserve
