#include "api/inference_metrics.hpp"

#include "api/metrics_registry.hpp"

namespace cserve {
namespace {

struct Families {
  MetricFamily& requests = MetricsRegistry::global().family(
      MetricType::kCounter, "cserve_model_inference_requests_total",
      "inference requests answered, by model, version and protocol", {"model", "version", "protocol"});
  MetricFamily& failures = MetricsRegistry::global().family(
      MetricType::kCounter, "cserve_model_inference_failures_total",
      "inference requests answered with an error, by model, version, protocol and reason code",
      {"model", "version", "protocol", "code"});
  MetricFamily& queue_ms = MetricsRegistry::global().family(
      MetricType::kHistogram, "cserve_model_inference_queue_latency_ms",
      "time from an inference request's submission to a replica taking it, in milliseconds", {"model", "version"},
      latency_ms_bounds());
  MetricFamily& compute_ms = MetricsRegistry::global().family(
      MetricType::kHistogram, "cserve_model_inference_compute_latency_ms",
      "time from a replica taking an inference request to its answer, in milliseconds", {"model", "version"},
      latency_ms_bounds());
};

Families& families() {
  static Families f;
  return f;
}

double ms(std::chrono::steady_clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace

InferenceTimer::InferenceTimer(std::string model, std::string version, std::string protocol)
    : model_(std::move(model)), version_(std::move(version)), protocol_(std::move(protocol)), submitted_(Clock::now()) {}

void InferenceTimer::started() { started_ = Clock::now(); }

void InferenceTimer::finished(std::optional<ErrorCode> failure) {
  if (finished_) return;
  finished_ = true;
  Families& f = families();
  f.requests.series({model_, version_, protocol_}).add(1);
  if (failure) f.failures.series({model_, version_, protocol_, std::string(to_string(*failure))}).add(1);
  if (started_) {
    f.queue_ms.series({model_, version_}).observe(ms(*started_ - submitted_));
    f.compute_ms.series({model_, version_}).observe(ms(Clock::now() - *started_));
  }
}

}  // namespace cserve
