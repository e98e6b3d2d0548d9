// health_policy.hpp — when to check a RUNNING replica's health, and when to replace it: pure
// logic over one replica's health record and an explicit time, called by the controller every
// tick and whenever a check answers.
//
// Rules (Ray's):
//  * A check is posted health_check_period_s after the replica started and after each answer.
//  * A check that raises is a failure; one unanswered for health_check_timeout_s is a failure too,
//    counted once per timeout (it stays posted and may still answer).
//  * kFailuresToReplace failures in a row replace the replica: one that still answers (no check
//    pending) drains like any stopping replica; one whose check is stuck is dropped at once, so
//    its resources go to the replacement. A passing check resets the count.
// Thread-safety: pure functions over values.
#pragma once

#include "common/clock.hpp"

#include <optional>
#include <string>

namespace cserve {

struct HealthConfig {
  double period_s = 10;
  double timeout_s = 30;
};

struct HealthRecord {
  TimePoint next_check{};
  std::optional<TimePoint> pending_since;  // a check is posted and unanswered (since, or since its last counted timeout)
  int failures = 0;                        // in a row
  std::string last_error;                  // the last failure, for messages
};

inline constexpr int kFailuresToReplace = 3;

enum class Replacement { kNone, kDrain, kDrop };

struct HealthStep {
  HealthRecord next;
  bool post_check = false;    // post a check now
  bool timed_out = false;     // an unanswered check counted as a failure now
  Replacement replace = Replacement::kNone;
};

// The record of a replica that became RUNNING at `now`.
HealthRecord health_on_running(TimePoint now, const HealthConfig& c);
// What to do for a RUNNING replica at `now`.
HealthStep health_step(const HealthRecord& r, TimePoint now, const HealthConfig& c);
// The record after a posted check answered at `now`: nullopt passed, else what it raised.
HealthRecord health_answered(const HealthRecord& r, const std::optional<std::string>& error, TimePoint now,
                             const HealthConfig& c);

}  // namespace cserve
