// The health rules as pure decisions over explicit times.
#include "controller/health_policy.hpp"

#include <gtest/gtest.h>

namespace cserve {
namespace {

using namespace std::chrono_literals;

const HealthConfig kConfig{.period_s = 10, .timeout_s = 30};
const TimePoint t0 = TimePoint{} + 1h;

// Posts a check at `now` and answers it with `error`; returns the step that posted it.
HealthRecord check(HealthRecord r, TimePoint now, std::optional<std::string> error) {
  HealthStep step = health_step(r, now, kConfig);
  EXPECT_TRUE(step.post_check);
  return health_answered(step.next, error, now, kConfig);
}

TEST(HealthPolicy, TheFirstCheckComesOnePeriodAfterRunning) {
  HealthRecord r = health_on_running(t0, kConfig);
  EXPECT_FALSE(health_step(r, t0 + 9s, kConfig).post_check);
  HealthStep step = health_step(r, t0 + 10s, kConfig);
  EXPECT_TRUE(step.post_check);
  EXPECT_TRUE(step.next.pending_since.has_value());
  // While it is pending no second check is posted.
  EXPECT_FALSE(health_step(step.next, t0 + 11s, kConfig).post_check);
}

TEST(HealthPolicy, TwoFailuresInARowReplaceNothingTheThirdDoes) {
  HealthRecord r = health_on_running(t0, kConfig);
  r = check(r, t0 + 10s, "bad");
  r = check(r, t0 + 20s, "bad");
  EXPECT_EQ(r.failures, 2);
  EXPECT_EQ(r.last_error, "check_health() raised: bad");
  EXPECT_EQ(health_step(r, t0 + 25s, kConfig).replace, Replacement::kNone);
  r = check(r, t0 + 30s, "worse");
  EXPECT_EQ(r.failures, 3);
  // It answers (nothing pending): it drains like any stopping replica.
  EXPECT_EQ(health_step(r, t0 + 31s, kConfig).replace, Replacement::kDrain);
}

TEST(HealthPolicy, APassingCheckResetsTheCount) {
  HealthRecord r = health_on_running(t0, kConfig);
  r = check(r, t0 + 10s, "bad");
  r = check(r, t0 + 20s, "bad");
  r = check(r, t0 + 30s, std::nullopt);
  EXPECT_EQ(r.failures, 0);
  r = check(r, t0 + 40s, "bad");
  EXPECT_EQ(health_step(r, t0 + 41s, kConfig).replace, Replacement::kNone);
}

TEST(HealthPolicy, UnansweredChecksCountOncePerTimeoutAndAStuckReplicaIsDropped) {
  HealthRecord r = health_on_running(t0, kConfig);
  r = health_step(r, t0 + 10s, kConfig).next;  // posted, never answered
  HealthStep step = health_step(r, t0 + 39s, kConfig);
  EXPECT_FALSE(step.timed_out);
  step = health_step(step.next, t0 + 40s, kConfig);
  EXPECT_TRUE(step.timed_out);
  EXPECT_EQ(step.next.failures, 1);
  step = health_step(step.next, t0 + 41s, kConfig);  // the same timeout is not counted twice
  EXPECT_FALSE(step.timed_out);
  step = health_step(step.next, t0 + 70s, kConfig);
  EXPECT_EQ(step.next.failures, 2);
  EXPECT_EQ(step.replace, Replacement::kNone);
  step = health_step(step.next, t0 + 100s, kConfig);
  EXPECT_EQ(step.next.failures, 3);
  EXPECT_EQ(step.replace, Replacement::kDrop);
  EXPECT_NE(step.next.last_error.find("health_check_timeout_s (30 s)"), std::string::npos);
}

}  // namespace
}  // namespace cserve
