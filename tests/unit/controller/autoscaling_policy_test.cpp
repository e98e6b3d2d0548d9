// The autoscaling policy with explicit times: no clock, no threads, no sleeps.
#include "controller/autoscaling_policy.hpp"

#include <gtest/gtest.h>

namespace cserve {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

AutoscalingConfig config() {
  AutoscalingConfig c;
  c.min_replicas = 1;
  c.max_replicas = 10;
  c.target_ongoing_requests = 2;
  c.look_back_period_s = 1;
  c.upscale_delay_s = 3;
  c.downscale_delay_s = 10;
  return c;
}

const TimePoint t0{};

TEST(Autoscaling, HoldsWhileLoadMatchesTheTarget) {
  AutoscalingState s;
  auto c = config();
  for (int i = 0; i < 100; ++i) {
    auto d = autoscale(c, s, t0 + milliseconds(100 * i), 4, 2);  // 2 per replica = target
    EXPECT_EQ(d.target, 2);
    EXPECT_EQ(d.desired, 2);
  }
}

TEST(Autoscaling, ScalesUpOnlyAfterTheUpscaleDelay) {
  AutoscalingState s;
  auto c = config();
  EXPECT_EQ(autoscale(c, s, t0, 12, 2).desired, 6);  // 6 per replica, target 2 -> 6 replicas
  EXPECT_EQ(autoscale(c, s, t0 + milliseconds(2900), 12, 2).target, 2);
  auto d = autoscale(c, s, t0 + seconds(3), 12, 2);
  EXPECT_EQ(d.target, 6);
}

TEST(Autoscaling, AWishThatFlipsStartsItsDelayAgain) {
  AutoscalingState s;
  auto c = config();
  c.look_back_period_s = 0.001;  // no averaging: each sample stands alone
  autoscale(c, s, t0, 12, 2);                              // up
  autoscale(c, s, t0 + seconds(2), 4, 2);                  // neither
  EXPECT_EQ(autoscale(c, s, t0 + seconds(4), 12, 2).target, 2);  // up again, since 4 s
  EXPECT_EQ(autoscale(c, s, t0 + seconds(6), 12, 2).target, 2);
  EXPECT_EQ(autoscale(c, s, t0 + seconds(7), 12, 2).target, 6);
}

TEST(Autoscaling, StaysWithinMinAndMax) {
  AutoscalingState s;
  auto c = config();
  c.upscale_delay_s = 0;
  c.downscale_delay_s = 0;
  EXPECT_EQ(autoscale(c, s, t0, 1000, 2).target, 10);
  AutoscalingState quiet;
  EXPECT_EQ(autoscale(c, quiet, t0, 0, 5).target, 1);
}

TEST(Autoscaling, AveragesOverTheLookBackWindow) {
  AutoscalingState s;
  auto c = config();
  c.upscale_delay_s = 0;
  // A one-sample spike inside a quiet second does not double the replicas...
  for (int i = 0; i < 9; ++i) autoscale(c, s, t0 + milliseconds(100 * i), 4, 2);
  auto d = autoscale(c, s, t0 + milliseconds(900), 8, 2);
  EXPECT_NEAR(d.average, 4.4, 1e-9);
  EXPECT_EQ(d.desired, 3);
  // ...and samples older than the window no longer count.
  d = autoscale(c, s, t0 + milliseconds(3000), 4, 3);
  EXPECT_DOUBLE_EQ(d.average, 4);
}

TEST(Autoscaling, ScalesToZeroAfterItsOwnDelayAndBackAtOnce) {
  AutoscalingState s;
  auto c = config();
  c.min_replicas = 0;
  c.downscale_delay_s = 10;
  c.downscale_to_zero_delay_s = 2;
  EXPECT_EQ(autoscale(c, s, t0, 0, 1).target, 1);
  EXPECT_EQ(autoscale(c, s, t0 + milliseconds(1900), 0, 1).target, 1);
  EXPECT_EQ(autoscale(c, s, t0 + seconds(2), 0, 1).target, 0);
  EXPECT_EQ(autoscale(c, s, t0 + seconds(3), 0, 0).target, 0);
  // A request waits at zero: one replica at once, no delay.
  EXPECT_EQ(autoscale(c, s, t0 + seconds(4), 1, 0).target, 1);
}

TEST(Autoscaling, FactorsScaleEachStep) {
  AutoscalingState s;
  auto c = config();
  c.upscale_delay_s = 0;
  c.upscaling_factor = 0.5;  // half of the way: 2 -> 4 instead of 2 -> 6
  EXPECT_EQ(autoscale(c, s, t0, 12, 2).target, 4);
}

TEST(Autoscaling, FollowsNewBoundsAtOnce) {
  AutoscalingState s;
  auto c = config();
  c.min_replicas = 3;
  EXPECT_EQ(autoscale(c, s, t0, 0, 1).target, 3);
  c.min_replicas = 1;
  c.max_replicas = 2;
  EXPECT_EQ(autoscale(c, s, t0, 100, 5).target, 2);
}

TEST(Autoscaling, InvalidConfigsNameTheField) {
  auto c = config();
  c.min_replicas = 5;
  c.max_replicas = 2;
  EXPECT_NE(validate_autoscaling(c).value_or("").find("min_replicas"), std::string::npos);
  c = config();
  c.target_ongoing_requests = 0;
  EXPECT_NE(validate_autoscaling(c).value_or("").find("target_ongoing_requests"), std::string::npos);
  c = config();
  c.initial_replicas = 50;
  EXPECT_NE(validate_autoscaling(c).value_or("").find("initial_replicas"), std::string::npos);
  EXPECT_EQ(validate_autoscaling(config()), std::nullopt);
}

}  // namespace
}  // namespace cserve
