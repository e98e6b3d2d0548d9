// Whether a replica can ever fit on nodes of fixed capacity, and the message that says why not.
#include "controller/capacity.hpp"

#include "unit/support/nodes.hpp"

#include <gtest/gtest.h>

namespace cserve {
namespace {

using test::node;

Holding holding(std::string dep, double cpus, bool leaving = false) {
  Allocation a;
  a.node_id = "local";
  a.cpus = cpus;
  return {"app", std::move(dep), a, leaving};
}

TEST(Capacity, HeldForGoodItNeverFitsAndTheMessageSaysWhoHoldsIt) {
  auto why = never_fits({.cpus = 1}, {node(2)}, {node(0)}, {holding("A", 1), holding("B", 1)});
  ASSERT_TRUE(why.has_value());
  EXPECT_EQ(*why,
            "needs {CPU: 1} per replica; node 'local' has {CPU: 2, GPU: 0} in all and {CPU: 0, GPU: 0} free, held by "
            "deployment 'A' of application 'app' (1 replica, CPU 1), deployment 'B' of application 'app' "
            "(1 replica, CPU 1)");
}

TEST(Capacity, WhatLeavingReplicasGiveBackCounts) {
  EXPECT_EQ(never_fits({.cpus = 1}, {node(2)}, {node(0)}, {holding("A", 1), holding("old", 1, true)}), std::nullopt);
  EXPECT_EQ(never_fits({.cpus = 1}, {node(2)}, {node(1)}, {holding("A", 1)}), std::nullopt);
}

TEST(Capacity, LargerThanTheNodeNeverFits) {
  auto why = never_fits({.cpus = 4}, {node(2)}, {node(2)}, {});
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("needs {CPU: 4} per replica"), std::string::npos);
  EXPECT_NE(why->find("held by nobody"), std::string::npos);
  EXPECT_TRUE(never_fits({.cpus = 0, .gpus = 1}, {node(2)}, {node(2)}, {}).has_value());
}

}  // namespace
}  // namespace cserve
