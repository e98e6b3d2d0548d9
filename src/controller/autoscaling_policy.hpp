// autoscaling_policy.hpp — how many replicas a deployment should have: a pure function of its
// load samples, its AutoscalingConfig and the time, called by the controller every tick.
//
// desired = ceil(current * (1 + (average_per_replica / target - 1) * factor)), with
// average_per_replica = (mean ongoing over look_back_period_s) / current, factor the up or down
// scaling factor, clamped to [min_replicas, max_replicas]. A change is made only once the same
// direction has been wished for continuously for the direction's delay; the wish resets when it
// flips or goes away. From zero replicas any ongoing request asks for one replica at once.
// Thread-safety: AutoscalingState belongs to one deployment, used by the controller's thread.
#pragma once

#include "common/clock.hpp"

#include <cserve/autoscaling.hpp>

#include <deque>
#include <optional>
#include <string>
#include <utility>

namespace cserve {

struct AutoscalingState {
  std::deque<std::pair<TimePoint, double>> samples;  // (time, ongoing requests), oldest first
  std::optional<TimePoint> wish_since;               // when the current wish began
  int wish = 0;                                      // +1 up, -1 down, 0 none
};

struct AutoscalingDecision {
  int target = 0;      // the replica count to have now
  int desired = 0;     // what the load asks for (before delays)
  double average = 0;  // mean ongoing requests over the look-back window
};

// Records `ongoing` (queued + in flight, summed over replicas) at `now` and decides.
AutoscalingDecision autoscale(const AutoscalingConfig& config, AutoscalingState& state,
                              TimePoint now, double ongoing, int current);

// nullopt when `c` is valid, else a message naming the field.
std::optional<std::string> validate_autoscaling(const AutoscalingConfig& c);

}  // namespace cserve
