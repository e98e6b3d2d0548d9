#include "controller/health_policy.hpp"

namespace cserve {

HealthRecord health_on_running(TimePoint now, const HealthConfig& c) {
  HealthRecord r;
  r.next_check = now + seconds_to_duration(c.period_s);
  return r;
}

HealthStep health_step(const HealthRecord& r, TimePoint now, const HealthConfig& c) {
  HealthStep step;
  step.next = r;
  if (!r.pending_since && now >= r.next_check) {
    step.post_check = true;
    step.next.pending_since = now;
  } else if (r.pending_since && now - *r.pending_since >= seconds_to_duration(c.timeout_s)) {
    step.timed_out = true;
    ++step.next.failures;
    step.next.pending_since = now;
    step.next.last_error =
        "no answer to a health check within health_check_timeout_s (" + describe_seconds(c.timeout_s) + ")";
  }
  if (step.next.failures >= kFailuresToReplace) {
    step.replace = step.next.pending_since && !step.post_check ? Replacement::kDrop : Replacement::kDrain;
    step.post_check = false;
  }
  return step;
}

HealthRecord health_answered(const HealthRecord& r, const std::optional<std::string>& error, TimePoint now,
                             const HealthConfig& c) {
  HealthRecord next = r;
  next.pending_since.reset();
  next.next_check = now + seconds_to_duration(c.period_s);
  if (error) {
    ++next.failures;
    next.last_error = "check_health() raised: " + *error;
  } else {
    next.failures = 0;
  }
  return next;
}

}  // namespace cserve
