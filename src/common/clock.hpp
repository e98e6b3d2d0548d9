// clock.hpp — time as the controller reads it, behind an interface so that it can be injected.
// (The decisions themselves — rollout, placement, batching — are pure functions of explicit times.)
// Thread-safety: SteadyClock is stateless.
#pragma once

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
