#include "controller/rollout.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace cserve {
namespace {

using S = ReplicaState;

std::vector<ReplicaView> replicas(std::initializer_list<std::tuple<const char*, const char*, S>> l) {
  std::vector<ReplicaView> out;
  for (auto [id, v, s] : l) out.push_back({id, v, s});
  return out;
}

TEST(Rollout, StartsTheTargetFromNothing) {
  auto p = plan_rollout({"v1", 3}, {});
  EXPECT_EQ(p.to_start, 3);
  EXPECT_TRUE(p.to_stop.empty());
}

TEST(Rollout, ScalingUpStartsOnlyTheDifference) {
  auto p = plan_rollout({"v1", 4}, replicas({{"a", "v1", S::RUNNING}}));
  EXPECT_EQ(p.to_start, 3);
  EXPECT_TRUE(p.to_stop.empty());
}

TEST(Rollout, ScalingDownStopsNewestAndNotStartedFirst) {
  auto p = plan_rollout({"v1", 2}, replicas({{"a", "v1", S::RUNNING},
                                              {"b", "v1", S::RUNNING},
                                              {"c", "v1", S::RUNNING},
                                              {"d", "v1", S::STARTING},
                                              {"e", "v1", S::PENDING}}));
  EXPECT_EQ(p.to_start, 0);
  EXPECT_EQ(p.to_stop, (std::vector<std::string>{"e", "d", "c"}));
}

TEST(Rollout, OldReplicasStayUntilNewOnesRun) {
  auto start = plan_rollout({"v2", 2}, replicas({{"a", "v1", S::RUNNING}, {"b", "v1", S::RUNNING}}));
  EXPECT_EQ(start.to_start, 2);
  EXPECT_TRUE(start.to_stop.empty());

  auto starting = plan_rollout({"v2", 2}, replicas({{"a", "v1", S::RUNNING},
                                                     {"b", "v1", S::RUNNING},
                                                     {"c", "v2", S::STARTING},
                                                     {"d", "v2", S::STARTING}}));
  EXPECT_EQ(starting.to_start, 0);
  EXPECT_TRUE(starting.to_stop.empty());

  auto one_up = plan_rollout({"v2", 2}, replicas({{"a", "v1", S::RUNNING},
                                                   {"b", "v1", S::RUNNING},
                                                   {"c", "v2", S::RUNNING},
                                                   {"d", "v2", S::STARTING}}));
  EXPECT_EQ(one_up.to_stop, (std::vector<std::string>{"a"}));  // oldest first

  auto done = plan_rollout({"v2", 2}, replicas({{"a", "v1", S::STOPPING},
                                                 {"b", "v1", S::RUNNING},
                                                 {"c", "v2", S::RUNNING},
                                                 {"d", "v2", S::RUNNING}}));
  EXPECT_EQ(done.to_stop, (std::vector<std::string>{"b"}));
}

TEST(Rollout, OldReplicasNotYetServingStopAtOnce) {
  auto p = plan_rollout({"v2", 1}, replicas({{"a", "v1", S::STARTING}, {"b", "v1", S::PENDING}}));
  EXPECT_EQ(p.to_start, 1);
  EXPECT_EQ(p.to_stop, (std::vector<std::string>{"a", "b"}));
}

TEST(Rollout, UnplaceableNewReplicaMakesRoomOneOldAtATime) {
  auto views = replicas({{"a", "v1", S::RUNNING}, {"b", "v1", S::RUNNING}, {"c", "v2", S::PENDING},
                         {"d", "v2", S::PENDING}});
  auto p = plan_rollout({"v2", 2, true, true}, views);
  EXPECT_EQ(p.to_stop, (std::vector<std::string>{"a"}));
  views[0].state = S::STOPPING;
  auto waiting = plan_rollout({"v2", 2, true, true}, views);
  EXPECT_TRUE(waiting.to_stop.empty());  // one at a time
}

TEST(Rollout, FailedDeploymentStartsNothingAndKeepsOldReplicas) {
  auto p = plan_rollout({"v2", 2, false, false}, replicas({{"a", "v1", S::RUNNING}, {"b", "v1", S::RUNNING}}));
  EXPECT_EQ(p.to_start, 0);
  EXPECT_TRUE(p.to_stop.empty());
}

TEST(Rollout, TargetZeroStopsEverything) {
  auto p = plan_rollout({"v1", 0}, replicas({{"a", "v1", S::RUNNING}, {"b", "v0", S::RUNNING},
                                              {"c", "v1", S::PENDING}}));
  EXPECT_EQ(p.to_start, 0);
  auto stops = p.to_stop;
  std::sort(stops.begin(), stops.end());
  EXPECT_EQ(stops, (std::vector<std::string>{"a", "b", "c"}));
}

}  // namespace
}  // namespace cserve
