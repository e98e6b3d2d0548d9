#include "router/route_table.hpp"

#include <gtest/gtest.h>

namespace cserve {
namespace {

RouteTable table() {
  return RouteTable({{"/", "root", nullptr}, {"/Counter", "counter", nullptr}, {"/Counter/admin", "admin", nullptr}});
}

TEST(RouteTable, LongestPrefixOnWholeSegments) {
  auto t = table();
  EXPECT_EQ(t.match("/Counter").entry->app, "counter");
  EXPECT_EQ(t.match("/Counter").rest, "/");
  EXPECT_EQ(t.match("/Counter/").rest, "/");
  EXPECT_EQ(t.match("/Counter/incr").rest, "/incr");
  EXPECT_EQ(t.match("/Counter/admin/x").entry->app, "admin");
  EXPECT_EQ(t.match("/Counter/admin/x").rest, "/x");
  EXPECT_EQ(t.match("/Counterfeit").entry->app, "root");
  EXPECT_EQ(t.match("/Counterfeit").rest, "/Counterfeit");
}

TEST(RouteTable, NoRootMeansNoMatch) {
  RouteTable t({{"/a", "a", nullptr}});
  EXPECT_EQ(t.match("/b").entry, nullptr);
  EXPECT_EQ(t.match("/ab").entry, nullptr);
  EXPECT_EQ(t.to_json(), (Json{{"/a", "a"}}));
}

}  // namespace
}  // namespace cserve
