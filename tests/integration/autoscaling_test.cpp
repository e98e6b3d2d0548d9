// Autoscaling under real load over HTTP: up toward max_replicas, down to min_replicas, to zero
// and back on the next request.
#include <cserve/cserve.hpp>

#include "support/http_client.hpp"
#include "support/load.hpp"
#include "support/local_serve.hpp"
#include "support/wait.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace cserve {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// 50 ms per request without holding a thread: load shows up as ongoing requests.
class Model {
 public:
  Task<Json> operator()() {
    co_await sleep_for(50ms);
    co_return Json{{"replica", get_replica_context().replica_id}};
  }
};

struct Counts {
  int target = -1;
  int running = 0;
  DeploymentStatus status = DeploymentStatus::UPDATING;
};

Counts counts(const Serve& serve) {
  Counts c;
  const ServeStatus status = serve.status();
  const auto& d = status.applications.at("model").deployments.at("Model");
  c.target = d.target_replicas;
  c.status = d.status;
  for (const auto& r : d.replicas) c.running += r.state == ReplicaState::RUNNING;
  return c;
}

template <class Pred>
bool wait_for(const Serve& serve, Pred pred, std::chrono::milliseconds timeout = 20s) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (pred(counts(serve))) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

AutoscalingConfig fast(int min_replicas) {
  AutoscalingConfig a;
  a.min_replicas = min_replicas;
  a.max_replicas = 4;
  a.target_ongoing_requests = 1;
  a.look_back_period_s = 0.3;
  a.upscale_delay_s = 0;
  a.downscale_delay_s = 0.5;
  a.downscale_to_zero_delay_s = 0.3;
  return a;
}

TEST(Autoscaling, LoadScalesUpIdlenessScalesDownAndZeroComesBackOnARequest) {
  Serve serve = test::start_local();
  serve.run(deployment<Model>().max_ongoing_requests(2).autoscaling(fast(1)).bind(),
            {.name = "model", .route_prefix = "/m"});
  ASSERT_EQ(counts(serve).running, 1);

  // 8 connections back to back: ~8 ongoing against a target of 1 per replica.
  test::LoadGenerator load(serve.http_port(), "/m", 8);
  load.start();
  auto t0 = Clock::now();
  EXPECT_TRUE(wait_for(serve, [](const Counts& c) { return c.running >= 2; }));
  auto first_new_replica = Clock::now() - t0;
  EXPECT_TRUE(wait_for(serve, [](const Counts& c) { return c.running == 4 && c.target == 4; }))
      << "load should raise the replicas to max_replicas";
  auto stats = load.stop();
  EXPECT_EQ(stats.failed(), 0);
  std::cout << "first added replica RUNNING after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(first_new_replica).count()
            << " ms of load (bench/autoscale_reaction measures it)\n";
  // The app stayed RUNNING while it scaled.
  EXPECT_EQ(serve.status().applications.at("model").status, ApplicationStatus::RUNNING);

  EXPECT_TRUE(wait_for(serve, [](const Counts& c) { return c.running == 1 && c.target == 1; }))
      << "idleness should bring the replicas back to min_replicas";
  EXPECT_EQ(serve.status().applications.at("model").deployments.at("Model").status_trigger,
            DeploymentStatusTrigger::DOWNSCALE_COMPLETED);

  // Allow zero: the idle deployment goes to no replica at all...
  serve.run(deployment<Model>().max_ongoing_requests(2).autoscaling(fast(0)).bind(),
            {.name = "model", .route_prefix = "/m"});
  EXPECT_TRUE(wait_for(serve, [](const Counts& c) { return c.running == 0 && c.target == 0; }));
  EXPECT_EQ(serve.status().applications.at("model").status, ApplicationStatus::RUNNING);
  // ...and the next request waits for a new one instead of failing: exactly one replica starts
  // for it (counted, since the idle replica may go again right after).
  const double starts = test::local_metric("cserve_deployment_replica_starts_total", {{"application", "model"}});
  auto r = test::HttpClient(serve.http_port()).get("/m");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(test::local_metric("cserve_deployment_replica_starts_total", {{"application", "model"}}) - starts, 1);
}

TEST(Autoscaling, InvalidConfigIsAConfigErrorNamingTheField) {
  Serve serve = test::start_local();
  auto bad = fast(1);
  bad.min_replicas = 5;
  try {
    serve.run(deployment<Model>().autoscaling(bad).bind());
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("autoscaling_config.min_replicas"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cserve
