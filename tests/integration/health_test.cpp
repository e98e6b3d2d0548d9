// Health checks and recovery, caused for real: a check_health() that starts failing, a handler
// that blocks forever.
#include <cserve/cserve.hpp>

#include "support/http_client.hpp"
#include "support/load.hpp"
#include "support/local_serve.hpp"
#include "support/wait.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace cserve {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::mutex g_mu;
std::string g_sick;  // the replica id whose check_health() fails
std::set<std::string> g_checked;

class Flaky {
 public:
  Json operator()() { return {{"replica", get_replica_context().replica_id}}; }
  void check_health() {
    const std::string& me = get_replica_context().replica_id;
    std::lock_guard lock(g_mu);
    g_checked.insert(me);
    if (me == g_sick) throw std::runtime_error("GPU lost");
  }
};

// Waits (up to `timeout`) for `pred(serve.status())`.
template <class Pred>
bool wait_status(const Serve& serve, Pred pred, std::chrono::milliseconds timeout = 15s) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (pred(serve.status())) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

std::set<std::string> running_replicas(const ServeStatus& s, const std::string& app, const std::string& dep) {
  std::set<std::string> ids;
  for (const auto& r : s.applications.at(app).deployments.at(dep).replicas) {
    if (r.state == ReplicaState::RUNNING) ids.insert(r.replica_id);
  }
  return ids;
}

TEST(Health, AReplicaWhoseCheckStartsFailingIsReplacedWithoutFailingTraffic) {
  {
    std::lock_guard lock(g_mu);
    g_sick.clear();
    g_checked.clear();
  }
  Serve serve = test::start_local();
  serve.run(deployment<Flaky>().num_replicas(2).health_check_period_s(0.1).health_check_timeout_s(2).bind(),
            {.name = "flaky", .route_prefix = "/flaky"});
  auto before = running_replicas(serve.status(), "flaky", "Flaky");
  ASSERT_EQ(before.size(), 2u);
  // Checks run on both replicas.
  ASSERT_TRUE(wait_status(serve, [](const ServeStatus&) {
    std::lock_guard lock(g_mu);
    return g_checked.size() == 2;
  }));

  test::LoadGenerator load(serve.http_port(), "/flaky", 4);
  load.start();
  const std::string sick = *before.begin();
  {
    std::lock_guard lock(g_mu);
    g_sick = sick;
  }
  ASSERT_TRUE(wait_status(serve, [&](const ServeStatus& s) {
    const auto& d = s.applications.at("flaky").deployments.at("Flaky");
    auto now = running_replicas(s, "flaky", "Flaky");
    return d.health_check_replacements >= 1 && now.size() == 2 && !now.count(sick) &&
           d.status == DeploymentStatus::HEALTHY;
  })) << to_json(serve.status()).dump();
  std::this_thread::sleep_for(200ms);  // traffic on the replacement too
  auto stats = load.stop();
  EXPECT_GT(stats.ok(), 0);
  EXPECT_EQ(stats.failed(), 0) << "replacing an unhealthy replica must fail no request";
  auto d = serve.status().applications.at("flaky").deployments.at("Flaky");
  EXPECT_EQ(d.health_check_replacements, 1);
  EXPECT_EQ(d.status_trigger, DeploymentStatusTrigger::CONFIG_UPDATE_COMPLETED);
}

// check_health() fails while g_fail_next > 0, counting every check.
std::atomic<int> g_fail_next{0};
std::atomic<int> g_checks{0};
class Countable {
 public:
  Json operator()() { return get_replica_context().replica_id; }
  void check_health() {
    ++g_checks;
    if (g_fail_next.fetch_sub(1) > 0) throw std::runtime_error("sensor offline");
  }
};

TEST(Health, TwoFailuresInARowAreToleratedTheThirdReplacesTheReplica) {
  g_fail_next = 0;
  Serve serve = test::start_local();
  serve.run(deployment<Countable>().health_check_period_s(0.05).health_check_timeout_s(5).bind(),
            {.name = "count", .route_prefix = "/count"});
  auto failures = [] {
    return test::local_metric("cserve_deployment_health_check_failures_total", {{"application", "count"}});
  };
  const auto first = running_replicas(serve.status(), "count", "Countable");
  ASSERT_EQ(first.size(), 1u);
  const double failed_before = failures();

  // Exactly two failures, then passing checks: nothing is replaced.
  g_fail_next = 2;
  ASSERT_TRUE(test::wait_until([&] { return failures() == failed_before + 2; }));
  const int checks = g_checks.load();
  ASSERT_TRUE(test::wait_until([&] { return g_checks.load() >= checks + 3; })) << "passing checks follow";
  auto d = serve.status().applications.at("count").deployments.at("Countable");
  EXPECT_EQ(d.health_check_replacements, 0);
  EXPECT_EQ(running_replicas(serve.status(), "count", "Countable"), first);
  EXPECT_EQ(d.status, DeploymentStatus::HEALTHY);

  // Three in a row: replaced.
  g_fail_next = 3;
  ASSERT_TRUE(test::wait_until([&] {
    const ServeStatus s = serve.status();
    const auto& dep = s.applications.at("count").deployments.at("Countable");
    auto now = running_replicas(s, "count", "Countable");
    return dep.health_check_replacements == 1 && now.size() == 1 && now != first;
  })) << to_json(serve.status()).dump();
  EXPECT_EQ(failures(), failed_before + 5);
  d = serve.status().applications.at("count").deployments.at("Countable");
  EXPECT_EQ(d.health_check_replacements, 1);
}

// One request at a time; "/block" never returns until the test releases it.
struct Blocker {
  static inline std::mutex mu;
  static inline std::condition_variable cv;
  static inline bool released = false;
  static inline std::atomic<int> constructed{0};

  Blocker() { ++constructed; }
  Json operator()(const Request& req) {
    if (req.path() == "/block") {
      std::unique_lock lock(mu);
      cv.wait(lock, [] { return released; });
    }
    return {{"replica", get_replica_context().replica_id}};
  }
  static void release(bool v) {
    {
      std::lock_guard lock(mu);
      released = v;
    }
    cv.notify_all();
  }
};

TEST(Health, AHandlerThatBlocksForeverGets408sAndItsReplicaReplaced) {
  Blocker::release(false);
  Blocker::constructed = 0;
  ServeOptions o;
  o.http.request_timeout_s = 0.5;
  o.worker_threads = 4;
  o.cpus = 1;  // the replacement needs the CPU the stuck replica held: it must be given back
  Serve serve = test::start_local(o);
  struct ReleaseAtExit {  // whatever happens, the stuck worker thread goes before shutdown joins it
    ~ReleaseAtExit() { Blocker::release(true); }
  } release_at_exit;
  serve.run(deployment<Blocker>()
                .max_ongoing_requests(1)
                .health_check_period_s(0.1)
                .health_check_timeout_s(0.3)
                .bind(),
            {.name = "blocker", .route_prefix = "/b"});
  test::HttpClient client(serve.http_port());
  auto first = Json::parse(client.get("/b/ok").body)["replica"].get<std::string>();

  auto t0 = Clock::now();
  auto blocked = client.get("/b/block");
  EXPECT_EQ(blocked.status, 408);
  EXPECT_LT(Clock::now() - t0, 5s);

  // Three unanswered checks (about 1 s) later, a new replica serves.
  ASSERT_TRUE(wait_status(serve, [&](const ServeStatus& s) {
    auto ids = running_replicas(s, "blocker", "Blocker");
    return ids.size() == 1 && !ids.count(first);
  })) << to_json(serve.status()).dump();
  auto d = serve.status().applications.at("blocker").deployments.at("Blocker");
  EXPECT_EQ(d.health_check_replacements, 1);
  auto after = client.get("/b/ok");
  EXPECT_EQ(after.status, 200);
  EXPECT_NE(Json::parse(after.body)["replica"].get<std::string>(), first);
  EXPECT_EQ(Blocker::constructed.load(), 2);
}

}  // namespace
}  // namespace cserve
