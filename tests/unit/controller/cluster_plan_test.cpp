// The leader's plan across nodes: spread by default, stable under re-planning (a new leader, a
// node joining), replicas of a dead node moved to the others, resources respected (CPUs, GPUs,
// custom), and a shortfall named when a replica fits nowhere.
#include "controller/cluster_plan.hpp"

#include "unit/support/nodes.hpp"

#include <gtest/gtest.h>

namespace cserve {
namespace {

NodeResources named(const std::string& id, double cpus, int gpus = 0) {
  NodeResources n = test::node(cpus, gpus);
  n.node_id = id;
  return n;
}

const DeploymentKey kCounter{"app", "Counter"};

int count(const ClusterPlan& p, const std::string& node, const DeploymentKey& d = kCounter) {
  auto n = p.shares.find(node);
  if (n == p.shares.end()) return 0;
  auto it = n->second.find(d);
  return it == n->second.end() ? 0 : it->second;
}

TEST(ClusterPlan, SixReplicasSpreadTwoTwoTwo) {
  const auto p = plan_cluster({{kCounter, 6, {.cpus = 1}}}, {named("a", 4), named("b", 4), named("c", 4)}, {});
  EXPECT_EQ(count(p, "a"), 2);
  EXPECT_EQ(count(p, "b"), 2);
  EXPECT_EQ(count(p, "c"), 2);
  EXPECT_TRUE(p.shortfalls.empty());
}

TEST(ClusterPlan, PlanningAgainFromThePlanInForceChangesNothingEvenWhenANodeJoins) {
  const std::vector<Demand> demands{{kCounter, 4, {.cpus = 1}}};
  const auto first = plan_cluster(demands, {named("a", 4), named("b", 4)}, {});
  const auto again = plan_cluster(demands, {named("a", 4), named("b", 4), named("c", 4)}, first.shares);
  EXPECT_EQ(again.shares, first.shares) << "a new node gets new replicas, not moved ones";
  // Scaling up spreads the new replicas onto the node with the fewest.
  const auto more = plan_cluster({{kCounter, 6, {.cpus = 1}}}, {named("a", 4), named("b", 4), named("c", 4)},
                                 first.shares);
  EXPECT_EQ(count(more, "a"), 2);
  EXPECT_EQ(count(more, "b"), 2);
  EXPECT_EQ(count(more, "c"), 2);
}

TEST(ClusterPlan, ADeadNodesReplicasGoToTheOthersAndTheSurvivorsKeepTheirs) {
  const std::vector<Demand> demands{{kCounter, 6, {.cpus = 1}}};
  const auto before = plan_cluster(demands, {named("a", 4), named("b", 4), named("c", 4)}, {});
  const auto after = plan_cluster(demands, {named("a", 4), named("c", 4)}, before.shares);
  EXPECT_EQ(count(after, "a"), 3);
  EXPECT_EQ(count(after, "c"), 3);
  EXPECT_EQ(count(after, "b"), 0);
}

TEST(ClusterPlan, ScalingDownTakesFromEveryNodeSoWhatStaysIsSpread) {
  const auto before = plan_cluster({{kCounter, 6, {.cpus = 1}}}, {named("a", 4), named("b", 4), named("c", 4)}, {});
  const auto after = plan_cluster({{kCounter, 3, {.cpus = 1}}}, {named("a", 4), named("b", 4), named("c", 4)},
                                  before.shares);
  EXPECT_EQ(count(after, "a"), 1);
  EXPECT_EQ(count(after, "b"), 1);
  EXPECT_EQ(count(after, "c"), 1);
}

TEST(ClusterPlan, ResourcesDecideWhereAReplicaCanGo) {
  const DeploymentKey model{"app", "Model"};
  const DeploymentKey tpu{"app", "Tpu"};
  NodeResources with_tpu = named("t", 8);
  with_tpu.custom["tpu"] = 1;
  const auto p = plan_cluster({{model, 3, {.cpus = 1, .gpus = 0.5}}, {tpu, 1, {.cpus = 1, .custom = {{"tpu", 1}}}}},
                              {named("cpu-only", 8), named("g", 8, 1), with_tpu}, {});
  EXPECT_EQ(count(p, "g", model), 2) << "two halves of its one GPU";
  EXPECT_EQ(count(p, "t", tpu), 1);
  ASSERT_EQ(p.shortfalls.size(), 1u);
  EXPECT_EQ(p.shortfalls[0].deployment, model);
  EXPECT_NE(p.shortfalls[0].message.find("deployment 'Model' of application 'app': 1 of 3 replicas fit on no node"),
            std::string::npos)
      << p.shortfalls[0].message;
  EXPECT_NE(p.shortfalls[0].message.find("GPU"), std::string::npos) << p.shortfalls[0].message;
}

TEST(ClusterPlan, MaxReplicasPerNodeCapsEachNodeAndNamesTheRest) {
  const auto p = plan_cluster({{kCounter, 5, {.cpus = 1}, 1}}, {named("a", 8), named("b", 8), named("c", 8)}, {});
  EXPECT_EQ(count(p, "a"), 1);
  EXPECT_EQ(count(p, "b"), 1);
  EXPECT_EQ(count(p, "c"), 1);
  ASSERT_EQ(p.shortfalls.size(), 1u);
  EXPECT_NE(p.shortfalls[0].message.find("2 of 5 replicas fit on no node: every node with room holds "
                                         "max_replicas_per_node (1) already"),
            std::string::npos)
      << p.shortfalls[0].message;
  // A plan in force above a newly lowered limit keeps only what the limit allows.
  Shares two_each{{"a", {{kCounter, 2}}}, {"b", {{kCounter, 2}}}};
  const auto lowered = plan_cluster({{kCounter, 4, {.cpus = 1}, 1}}, {named("a", 8), named("b", 8)}, two_each);
  EXPECT_EQ(count(lowered, "a"), 1);
  EXPECT_EQ(count(lowered, "b"), 1);
}

TEST(ClusterPlan, SpreadPrefersTheNodeWithMoreFreeCpuAmongEquals) {
  const auto p = plan_cluster({{kCounter, 1, {.cpus = 1}}}, {named("small", 2), named("big", 16)}, {});
  EXPECT_EQ(count(p, "big"), 1);
}

TEST(ClusterPlan, NoNodesIsAShortfallNotACrash) {
  const auto p = plan_cluster({{kCounter, 2, {.cpus = 1}}}, {}, {});
  EXPECT_TRUE(p.shares.empty());
  ASSERT_EQ(p.shortfalls.size(), 1u);
  EXPECT_NE(p.shortfalls[0].message.find("no nodes"), std::string::npos) << p.shortfalls[0].message;
}

}  // namespace
}  // namespace cserve
