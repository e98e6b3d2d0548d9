// cserve/metrics.hpp — application metrics, exported with cserve's own at /metrics on the admin
// port in Prometheus format (Ray Serve's ray.serve.metrics API).
//
//   class Model {
//     cserve::metrics::Counter hits_{"model_hits", "requests per model", {"model"}};
//     cserve::metrics::Histogram ms_{"model_infer_ms", "inference time", {1, 5, 20, 100}, {}};
//    public:
//     cserve::Json operator()(const cserve::Request& r) {
//       hits_.inc(1, {{"model", "resnet"}});
//       ...
//     }
//   };
//
// Every sample recorded inside a replica also carries the tags application, deployment and
// replica. Metrics with the same name are one metric: every replica's instance adds to its own
// series (told apart by the replica tag). A tag key that was not declared, or a declared one
// left without a value (here or in set_default_tags), is an error (cserve::ConfigError).
// Thread-safety: safe from any thread.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace cserve {
class MetricFamily;
}

namespace cserve::metrics {

using Tags = std::map<std::string, std::string>;

class Metric {
 public:
  // Tags used when a call does not give them.
  void set_default_tags(Tags tags) { defaults_ = std::move(tags); }

 protected:
  Metric(int type, std::string name, std::string description, std::vector<std::string> tag_keys,
         std::vector<double> boundaries = {});
  // The series for `tags` (merged over the defaults and the replica's own tags).
  void record(int op, double value, const Tags& tags) const;

 private:
  std::vector<std::string> keys_;  // declared keys, then application, deployment, replica
  Tags defaults_;
  MetricFamily* family_;
};

class Counter : public Metric {
 public:
  Counter(std::string name, std::string description = "", std::vector<std::string> tag_keys = {})
      : Metric(0, std::move(name), std::move(description), std::move(tag_keys)) {}
  // `value` must be >= 0.
  void inc(double value = 1, const Tags& tags = {}) const;
};

class Gauge : public Metric {
 public:
  Gauge(std::string name, std::string description = "", std::vector<std::string> tag_keys = {})
      : Metric(1, std::move(name), std::move(description), std::move(tag_keys)) {}
  void set(double value, const Tags& tags = {}) const { record(1, value, tags); }
};

class Histogram : public Metric {
 public:
  Histogram(std::string name, std::string description, std::vector<double> boundaries,
            std::vector<std::string> tag_keys = {})
      : Metric(2, std::move(name), std::move(description), std::move(tag_keys), std::move(boundaries)) {}
  void observe(double value, const Tags& tags = {}) const { record(2, value, tags); }
};

}  // namespace cserve::metrics
