// inference_metrics.hpp — per-model metrics of the Open Inference Protocol, recorded where an
// inference is submitted (the HTTP proxy and the gRPC ingress), so that a model in a worker
// process is counted too (docs/operations.md, Metrics):
//   cserve_model_inference_requests_total{model, version, protocol}      infer requests answered
//   cserve_model_inference_failures_total{model, version, protocol, code} those answered with an error
//   cserve_model_inference_queue_latency_ms{model, version}    from submission to a replica taking it
//   cserve_model_inference_compute_latency_ms{model, version}  from then to the answer (the checks,
//                                                              infer() and the encoding)
// `protocol` is "rest" or "grpc"; `code` a reason code's name (INVALID_ARGUMENT, OVERLOADED, ...).
// Thread-safety: an InferenceTimer belongs to one call; started() and finished() may run on any
// thread, in that order; the registry's series are atomics.
#pragma once

#include <cserve/error.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace cserve {

class InferenceTimer {
 public:
  InferenceTimer(std::string model, std::string version, std::string protocol);
  // A replica took the call: the queue time ends, the compute time begins.
  void started();
  // The answer: success (nullopt) or the failure's code. Records the request once; a call that
  // never started (rejected) has no queue or compute time.
  void finished(std::optional<ErrorCode> failure);

 private:
  using Clock = std::chrono::steady_clock;
  std::string model_, version_, protocol_;
  Clock::time_point submitted_;
  std::optional<Clock::time_point> started_;
  bool finished_ = false;
};

}  // namespace cserve
