// The control plane as one node runs it (runtime/cluster_control.hpp), on a MemoryStore with the
// node's real agent and simulated peers: the leader writes every live node's share and this node
// runs its own; a config the leader cannot load leaves the one before in force and says why; a
// node's share that goes away stops what it ran.
#include "cluster/memory_store.hpp"
#include "cluster/node_agent.hpp"
#include "runtime/cluster_control.hpp"

#include "support/wait.hpp"

#include <cserve/error.hpp>

#include <gtest/gtest.h>

#include <mutex>

namespace cserve::detail {
namespace {

using namespace std::chrono_literals;

struct Harness {
  Harness() : store(clock) {
    cluster::NodeAgentOptions o;
    o.record.id = "a";
    o.record.resources = {{"CPU", 4}, {"GPU", 0}};
    o.ttl = 2s;
    agent = std::make_unique<cluster::NodeAgent>(store, o);
    EXPECT_TRUE(agent->wait_registered(10s));
    peer_lease = store.grant_lease(600s);
    cluster::NodeRecord b;
    b.id = "b";
    b.resources = {{"CPU", 4}, {"GPU", 0}};
    store.put(cluster::node_key("b"), cluster::encode(b), peer_lease);
    EXPECT_TRUE(test::wait_until([&] { return agent->nodes().size() == 2 && agent->term(); }, 10s));
    control = std::make_unique<ClusterControl>(
        store, *agent, 2s,
        ClusterControl::Hooks{[](const Json& c) -> std::vector<Demand> {
                                if (c.value("broken", false)) throw ConfigError("libmissing.so: cannot open");
                                Demand d{{"app", "Model"}, c.at("replicas").get<int>(), {.cpus = 1}};
                                if (c.contains("autoscaling")) {
                                  AutoscalingConfig a;
                                  a.min_replicas = 1;
                                  a.max_replicas = 8;
                                  a.target_ongoing_requests = 2;
                                  a.look_back_period_s = 0.2;
                                  a.upscale_delay_s = 0;
                                  a.downscale_delay_s = 0;
                                  d.autoscaling = a;
                                }
                                return {d};
                              },
                              [this](const Json& c) {
                                std::lock_guard lock(mu);
                                applied.push_back(c);
                              }});
  }
  ~Harness() {
    control.reset();
    agent.reset();
  }
  static Json config(int replicas) {
    return {{"applications", Json::array({{{"name", "app"}, {"import_path", "lib.so:app"}}})}, {"replicas", replicas}};
  }
  // Node b's record, publishing `load` requests of Model.
  void peer_load(double load) {
    cluster::NodeRecord b;
    b.id = "b";
    b.resources = {{"CPU", 4}, {"GPU", 0}};
    b.load["app"]["Model"] = load;
    store.put(cluster::node_key("b"), cluster::encode(b), peer_lease);
  }
  // The replicas of Model that `node`'s share gives it.
  int share(const std::string& node) {
    auto r = store.get(std::string(kAssignPrefix) + node);
    if (r.kvs.empty()) return -1;
    return Json::parse(r.kvs[0].value).at("config").at("applications")[0].at("deployments")[0].at("num_replicas");
  }
  Json last_applied() {
    std::lock_guard lock(mu);
    return applied.empty() ? Json() : applied.back();
  }

  SteadyClock clock;
  cluster::MemoryStore store;
  std::unique_ptr<cluster::NodeAgent> agent;
  cluster::LeaseId peer_lease = 0;
  std::unique_ptr<ClusterControl> control;
  std::mutex mu;
  std::vector<Json> applied;
};

TEST(ClusterControl, TheLeaderWritesEveryNodesShareAndThisNodeRunsItsOwn) {
  Harness h;
  h.control->submit(Harness::config(4), 10s);  // returns once this node runs its share
  EXPECT_EQ(h.share("a"), 2);
  EXPECT_EQ(h.share("b"), 2);
  const Json mine = h.last_applied();
  ASSERT_FALSE(mine.is_null());
  EXPECT_EQ(mine["applications"][0]["deployments"][0]["num_replicas"], 2);
  EXPECT_EQ(h.control->config()["replicas"], 4) << "every node sees the cluster's config";
  EXPECT_TRUE(h.control->problems().empty());
}

TEST(ClusterControl, AConfigTheLeaderCannotLoadLeavesTheOneBeforeInForce) {
  Harness h;
  h.control->submit(Harness::config(4), 10s);
  const auto before = h.store.get(std::string(kAssignPrefix) + "a").kvs.at(0).mod_revision;
  Json broken = Harness::config(8);
  broken["broken"] = true;
  h.control->submit(broken, 1s);
  ASSERT_TRUE(test::wait_until([&] { return !h.control->problems().empty(); }, 10s));
  EXPECT_NE(h.control->problems()[0].find("cannot plan the cluster's config"), std::string::npos);
  EXPECT_NE(h.control->problems()[0].find("libmissing.so"), std::string::npos) << h.control->problems()[0];
  EXPECT_EQ(h.store.get(std::string(kAssignPrefix) + "a").kvs.at(0).mod_revision, before) << "shares untouched";
  h.control->submit(Harness::config(6), 10s);
  EXPECT_EQ(h.share("a") + h.share("b"), 6);
  EXPECT_TRUE(h.control->problems().empty());
}

TEST(ClusterControl, ADeadPeersShareMovesAndItsAssignmentGoes) {
  Harness h;
  h.control->submit(Harness::config(4), 10s);
  h.store.revoke_lease(h.peer_lease);  // node b dies
  ASSERT_TRUE(test::wait_until([&] { return h.share("a") == 4 && h.share("b") == -1; }, 10s));
  ASSERT_TRUE(test::wait_until([&] { return h.last_applied()["applications"][0]["deployments"][0]["num_replicas"] == 4; },
                               10s));
}

// Autoscaling across nodes: the leader sums the load the nodes publish and scales the deployment's
// replicas over all of them; each node runs its share as a fixed count.
TEST(ClusterControl, TheLeaderAutoscalesOnTheLoadEveryNodePublishes) {
  Harness h;
  Json config = Harness::config(1);
  config["autoscaling"] = true;
  h.control->submit(config, 10s);
  EXPECT_EQ(h.share("a") + h.share("b"), 1) << "its initial replicas";
  h.peer_load(12);  // 12 requests on node b: 6 replicas at 2 each
  ASSERT_TRUE(test::wait_until([&] { return h.share("a") + h.share("b") == 6; }, 10s))
      << h.share("a") << " + " << h.share("b");
  EXPECT_EQ(h.share("a"), 3) << "spread over the nodes";
  const auto assignment = Json::parse(h.store.get(std::string(kAssignPrefix) + "a").kvs.at(0).value);
  EXPECT_FALSE(assignment["config"]["applications"][0]["deployments"][0].contains("autoscaling_config"))
      << "a node runs a fixed share";
  h.peer_load(0);
  ASSERT_TRUE(test::wait_until([&] { return h.share("a") + h.share("b") == 1; }, 10s)) << "down to min_replicas";
}

}  // namespace
}  // namespace cserve::detail
