// metrics_registry.hpp — the process's metrics: counters, gauges and histograms with labels,
// rendered in the Prometheus text exposition format (version 0.0.4).
//
//   auto& requests = MetricsRegistry::global().family(MetricType::kCounter,
//       "cserve_num_http_requests_total", "HTTP requests answered", {"route", "method", ...});
//   requests.series({"/Counter", "GET", ...}).add(1);     // keep the Series& for hot paths
//
// Families and series are created on first use and live as long as the process: a Series& stays
// valid, so callers resolve it once and update it with atomics only. Values that are cheaper to
// read than to maintain (queue lengths, replica counts) come from collectors, called at each
// render.
// Thread-safety: every member function is safe from any thread. Collectors run during render()
// without the registry's lock held.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <cserve/detail/mutex.hpp>

#include <string>
#include <vector>

namespace cserve {

enum class MetricType { kCounter, kGauge, kHistogram };

// One labelled time series of a family.
class Series {
 public:
  explicit Series(const std::vector<double>* bounds);
  void add(double v);       // counter / gauge
  void set(double v);       // gauge
  void observe(double v);   // histogram
  double value() const { return value_.load(std::memory_order_relaxed); }
  // Histogram state: cumulative counts per bound (and +Inf last), sum, count.
  std::vector<std::uint64_t> cumulative() const;
  double sum() const { return value(); }
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  const std::vector<double>* bounds_;  // the family's (histograms), else null
  std::atomic<double> value_{0};       // counter/gauge value, or histogram sum
  std::atomic<std::uint64_t> count_{0};
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
};

class MetricFamily {
 public:
  MetricFamily(MetricType type, std::string name, std::string help, std::vector<std::string> labels,
               std::vector<double> bounds);
  // The series for these label values (one per label name, in order). Throws std::invalid_argument
  // on a count mismatch.
  Series& series(const std::vector<std::string>& values);

  MetricType type() const { return type_; }
  const std::string& name() const { return name_; }
  const std::vector<std::string>& labels() const { return labels_; }
  void render(std::string& out) const;

 private:
  const MetricType type_;
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> labels_;
  const std::vector<double> bounds_;
  mutable detail::Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Series>> series_ CSERVE_GUARDED_BY(mu_);
};

// A sample a collector reports at render time.
struct CollectedSample {
  std::string name;
  std::string help;
  MetricType type = MetricType::kGauge;
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};

class MetricsRegistry {
 public:
  using Collector = std::function<void(std::vector<CollectedSample>&)>;

  static MetricsRegistry& global();

  // The family named `name`, created on first use. Asking again with another type or other
  // labels throws std::invalid_argument naming the metric.
  MetricFamily& family(MetricType type, const std::string& name, const std::string& help,
                       const std::vector<std::string>& labels, std::vector<double> bounds = {});
  // Adds a collector; the returned id removes it.
  std::uint64_t add_collector(Collector c);
  void remove_collector(std::uint64_t id);

  std::string render() const;

 private:
  mutable detail::Mutex mu_;
  std::map<std::string, std::unique_ptr<MetricFamily>> families_ CSERVE_GUARDED_BY(mu_);
  std::map<std::uint64_t, std::shared_ptr<Collector>> collectors_ CSERVE_GUARDED_BY(mu_);
  std::uint64_t next_collector_ CSERVE_GUARDED_BY(mu_) = 1;
};

// Histogram bounds for latencies in milliseconds (Ray Serve's defaults).
const std::vector<double>& latency_ms_bounds();

}  // namespace cserve
