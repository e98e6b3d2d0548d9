// cserve/autoscaling.hpp — autoscaling_config, with Ray Serve's names and defaults.
//
//   cserve::deployment<Model>().autoscaling({.min_replicas = 0, .max_replicas = 8,
//                                            .target_ongoing_requests = 4}).bind();
//   cserve::deployment<Model>().num_replicas_auto().bind();    // Ray's num_replicas="auto"
//
// The controller samples each deployment's ongoing requests (in flight on its replicas plus
// queued in its router) every control-loop tick (0.05 s by default, where Ray's replicas push
// every 10 s), averages them over look_back_period_s, and moves the replica count toward
// ongoing / target_ongoing_requests, within [min_replicas, max_replicas], once the wish has
// held for upscale_delay_s (or downscale_delay_s; downscale_to_zero_delay_s for the last
// replica). A deployment at zero replicas starts one at once when a request arrives; that
// request waits in the queue for it.
// Thread-safety: a plain value.
#pragma once

#include <optional>

namespace cserve {

struct AutoscalingConfig {
  int min_replicas = 1;
  int max_replicas = 1;
  std::optional<int> initial_replicas;  // replicas at the first deploy; default min_replicas
  double target_ongoing_requests = 2;   // per replica
  double look_back_period_s = 30;       // window the ongoing count is averaged over
  double upscale_delay_s = 30;          // a wish to scale up must hold this long
  double downscale_delay_s = 600;       // a wish to scale down must hold this long
  std::optional<double> downscale_to_zero_delay_s;  // for 1 -> 0; default downscale_delay_s
  double upscaling_factor = 1;          // multiplies each upscale step (> 0)
  double downscaling_factor = 1;        // multiplies each downscale step (> 0)
};

// The config Ray's num_replicas="auto" stands for.
inline AutoscalingConfig auto_num_replicas() {
  AutoscalingConfig c;
  c.min_replicas = 1;
  c.max_replicas = 100;
  return c;
}

}  // namespace cserve
