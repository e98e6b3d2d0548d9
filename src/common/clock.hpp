// clock.hpp — time as the controller reads it, behind an interface so that it can be injected:
// SteadyClock in the runtime, ManualClock in tests (which then drive the controller with tick()
// and never sleep). The decisions themselves — rollout, placement, health, autoscaling, batching —
// are pure functions of explicit times.
// Thread-safety: SteadyClock is stateless; ManualClock's reads and moves are atomic.
#pragma once

#include <atomic>
#include <chrono>
#include <sstream>
#include <string>

namespace cserve {

using TimePoint = std::chrono::steady_clock::time_point;
using Duration = std::chrono::steady_clock::duration;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SteadyClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
};

// Time that moves only when told to.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = TimePoint{} + std::chrono::hours(1)) : now_(start.time_since_epoch().count()) {}
  TimePoint now() const override { return TimePoint(Duration(now_.load(std::memory_order_acquire))); }
  void advance(Duration d) { now_.fetch_add(d.count(), std::memory_order_acq_rel); }

 private:
  std::atomic<Duration::rep> now_;
};

inline Duration seconds_to_duration(double s) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s));
}

// "0.3 s", "20 s": seconds as a person writes them, for messages.
inline std::string describe_seconds(double s) {
  std::ostringstream out;
  out << s << " s";
  return out.str();
}

}  // namespace cserve
