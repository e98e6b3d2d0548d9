#include "controller/autoscaling_policy.hpp"

#include <algorithm>
#include <cmath>

namespace cserve {
namespace {

int desired_replicas(const AutoscalingConfig& c, double average, int current) {
  if (current == 0) return c.min_replicas;  // (waiting requests were handled by the caller)
  double per_replica = average / current;
  double error_ratio = per_replica / c.target_ongoing_requests;
  double factor = error_ratio > 1 ? c.upscaling_factor : c.downscaling_factor;
  double wanted = current * (1 + (error_ratio - 1) * factor);
  int desired = static_cast<int>(std::ceil(wanted - 1e-9));
  return std::clamp(desired, c.min_replicas, c.max_replicas);
}

}  // namespace

AutoscalingDecision autoscale(const AutoscalingConfig& c, AutoscalingState& s, TimePoint now,
                              double ongoing, int current) {
  s.samples.emplace_back(now, ongoing);
  const TimePoint horizon = now - seconds_to_duration(c.look_back_period_s);
  while (s.samples.size() > 1 && s.samples.front().first < horizon) s.samples.pop_front();
  double sum = 0;
  for (const auto& [t, v] : s.samples) sum += v;

  AutoscalingDecision d;
  d.average = sum / static_cast<double>(s.samples.size());
  // Requests waiting at zero replicas are served only once one starts: no averaging, no delay.
  if (current == 0 && ongoing > 0) {
    d.desired = d.target = std::max(1, c.min_replicas);
    s.wish = 0;
    s.wish_since.reset();
    return d;
  }
  d.desired = desired_replicas(c, d.average, current);
  const int bounded = std::clamp(current, c.min_replicas, c.max_replicas);
  if (bounded != current) {  // the bounds changed under a redeploy: follow them at once
    d.target = bounded;
    s.wish = 0;
    s.wish_since.reset();
    return d;
  }
  const int wish = d.desired > current ? 1 : d.desired < current ? -1 : 0;
  if (wish != s.wish) {
    s.wish = wish;
    s.wish_since = now;
  }
  d.target = current;
  if (wish == 0) return d;
  double delay = wish > 0 ? c.upscale_delay_s : c.downscale_delay_s;
  if (wish < 0 && d.desired == 0) delay = c.downscale_to_zero_delay_s.value_or(c.downscale_delay_s);
  if (now - *s.wish_since >= seconds_to_duration(delay)) {
    d.target = d.desired;
    s.wish = 0;  // a further step waits its own delay
    s.wish_since.reset();
  }
  return d;
}

std::optional<std::string> validate_autoscaling(const AutoscalingConfig& c) {
  auto finite = [](double v) { return std::isfinite(v); };
  if (c.min_replicas < 0) return "autoscaling_config.min_replicas must be >= 0";
  if (c.max_replicas < 1) return "autoscaling_config.max_replicas must be >= 1";
  if (c.min_replicas > c.max_replicas) {
    return "autoscaling_config.min_replicas must be <= max_replicas";
  }
  if (c.initial_replicas && (*c.initial_replicas < c.min_replicas || *c.initial_replicas > c.max_replicas)) {
    return "autoscaling_config.initial_replicas must be within [min_replicas, max_replicas]";
  }
  if (!(finite(c.target_ongoing_requests) && c.target_ongoing_requests > 0)) {
    return "autoscaling_config.target_ongoing_requests must be > 0";
  }
  if (!(finite(c.look_back_period_s) && c.look_back_period_s > 0)) {
    return "autoscaling_config.look_back_period_s must be > 0";
  }
  if (!(finite(c.upscale_delay_s) && c.upscale_delay_s >= 0)) {
    return "autoscaling_config.upscale_delay_s must be >= 0";
  }
  if (!(finite(c.downscale_delay_s) && c.downscale_delay_s >= 0)) {
    return "autoscaling_config.downscale_delay_s must be >= 0";
  }
  if (c.downscale_to_zero_delay_s && !(finite(*c.downscale_to_zero_delay_s) && *c.downscale_to_zero_delay_s >= 0)) {
    return "autoscaling_config.downscale_to_zero_delay_s must be >= 0";
  }
  if (!(finite(c.upscaling_factor) && c.upscaling_factor > 0)) {
    return "autoscaling_config.upscaling_factor must be > 0";
  }
  if (!(finite(c.downscaling_factor) && c.downscaling_factor > 0)) {
    return "autoscaling_config.downscaling_factor must be > 0";
  }
  return std::nullopt;
}

}  // namespace cserve
