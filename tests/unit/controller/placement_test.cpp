#include "controller/placement.hpp"

#include "unit/support/nodes.hpp"

#include <gtest/gtest.h>

namespace cserve {
namespace {

using test::node;

TEST(Placement, FitsWhileCpusLast) {
  std::vector<NodeResources> nodes{node(2)};
  for (int i = 0; i < 4; ++i) {
    auto r = place({.cpus = 0.5}, nodes);
    ASSERT_TRUE(r.allocation) << i;
    apply_allocation(nodes, *r.allocation, -1);
  }
  auto full = place({.cpus = 0.5}, nodes);
  EXPECT_FALSE(full.allocation);
  EXPECT_NE(full.reason.find("CPU 0.5 > free 0"), std::string::npos) << full.reason;
}

TEST(Placement, ReleasingGivesResourcesBack) {
  std::vector<NodeResources> nodes{node(1)};
  auto a = place({.cpus = 1}, nodes);
  ASSERT_TRUE(a.allocation);
  apply_allocation(nodes, *a.allocation, -1);
  EXPECT_FALSE(place({.cpus = 1}, nodes).allocation);
  apply_allocation(nodes, *a.allocation, +1);
  EXPECT_TRUE(place({.cpus = 1}, nodes).allocation);
}

TEST(Placement, FractionalGpusPackOntoOneDevice) {
  std::vector<NodeResources> nodes{node(8, 2)};
  std::vector<int> ids;
  for (int i = 0; i < 4; ++i) {
    auto r = place({.cpus = 1, .gpus = 0.5}, nodes);
    ASSERT_TRUE(r.allocation);
    ids.push_back(r.allocation->gpu_ids().at(0));
    apply_allocation(nodes, *r.allocation, -1);
  }
  // Two halves share GPU 0 before GPU 1 is touched.
  EXPECT_EQ(ids, (std::vector<int>{0, 0, 1, 1}));
  auto none = place({.cpus = 1, .gpus = 0.5}, nodes);
  EXPECT_FALSE(none.allocation);
  EXPECT_NE(none.reason.find("no GPU with 0.5 free"), std::string::npos) << none.reason;
}

TEST(Placement, WholeGpusNeedEntirelyFreeDevices) {
  std::vector<NodeResources> nodes{node(8, 3)};
  auto half = place({.cpus = 0, .gpus = 0.5}, nodes);
  apply_allocation(nodes, *half.allocation, -1);  // GPU 0 is half used
  auto two = place({.cpus = 0, .gpus = 2}, nodes);
  ASSERT_TRUE(two.allocation);
  EXPECT_EQ(two.allocation->gpu_ids(), (std::vector<int>{1, 2}));
  apply_allocation(nodes, *two.allocation, -1);
  EXPECT_FALSE(place({.cpus = 0, .gpus = 1}, nodes).allocation);
}

TEST(Placement, CustomResources) {
  auto n = node(4);
  n.custom["accelerator"] = 1;
  std::vector<NodeResources> nodes{n};
  Resources want{.cpus = 1, .custom = {{"accelerator", 1}}};
  auto a = place(want, nodes);
  ASSERT_TRUE(a.allocation);
  apply_allocation(nodes, *a.allocation, -1);
  auto b = place(want, nodes);
  EXPECT_FALSE(b.allocation);
  EXPECT_NE(b.reason.find("accelerator 1 > free 0"), std::string::npos) << b.reason;
  EXPECT_FALSE(place({.cpus = 1, .custom = {{"tpu", 1}}}, nodes).allocation);
}

TEST(Placement, ReasonNamesWhatIsNeededAndFree) {
  std::vector<NodeResources> nodes{node(2)};
  auto r = place({.cpus = 4, .gpus = 1}, nodes);
  EXPECT_FALSE(r.allocation);
  EXPECT_EQ(r.reason, "needs {CPU: 4, GPU: 1}; node 'local': CPU 4 > free 2 (free {CPU: 2, GPU: 0})");
}

TEST(Placement, ValidatesRequests) {
  EXPECT_EQ(validate_resources({.cpus = 0.25, .gpus = 0.5}), std::nullopt);
  EXPECT_EQ(validate_resources({.cpus = 1, .gpus = 2}), std::nullopt);
  EXPECT_NE(validate_resources({.cpus = -1}), std::nullopt);
  EXPECT_NE(validate_resources({.cpus = 1, .gpus = 1.5}), std::nullopt);
  EXPECT_NE(validate_resources({.cpus = 1, .custom = {{"x", -2}}}), std::nullopt);
}

}  // namespace
}  // namespace cserve
