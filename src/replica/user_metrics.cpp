#include <cserve/metrics.hpp>

#include "api/metrics_registry.hpp"

#include <cserve/detail/resumer.hpp>
#include <cserve/error.hpp>
#include <cserve/replica_context.hpp>

#include <algorithm>
#include <stdexcept>

namespace cserve::metrics {
namespace {

const char* const kReplicaTags[] = {"application", "deployment", "replica"};

MetricType type_of(int t) {
  return t == 0 ? MetricType::kCounter : t == 1 ? MetricType::kGauge : MetricType::kHistogram;
}

}  // namespace

Metric::Metric(int type, std::string name, std::string description, std::vector<std::string> tag_keys,
               std::vector<double> boundaries)
    : keys_(std::move(tag_keys)) {
  if (name.empty()) throw ConfigError("a metric needs a name");
  for (const char* k : kReplicaTags) keys_.emplace_back(k);
  if (type_of(type) == MetricType::kHistogram && boundaries.empty()) {
    throw ConfigError("histogram " + name + " needs at least one boundary");
  }
  try {
    family_ = &MetricsRegistry::global().family(type_of(type), name, description, keys_, std::move(boundaries));
  } catch (const std::invalid_argument& e) {
    throw ConfigError(e.what());
  }
}

void Metric::record(int op, double value, const Tags& tags) const {
  const std::size_t declared = keys_.size() - 3;
  for (const auto& [k, v] : tags) {
    if (std::find(keys_.begin(), keys_.begin() + static_cast<std::ptrdiff_t>(declared), k) ==
        keys_.begin() + static_cast<std::ptrdiff_t>(declared)) {
      throw ConfigError("metric " + family_->name() + " has no tag key '" + k + "'");
    }
  }
  std::vector<std::string> values;
  values.reserve(keys_.size());
  for (std::size_t i = 0; i < declared; ++i) {
    if (auto it = tags.find(keys_[i]); it != tags.end()) {
      values.push_back(it->second);
    } else if (auto d = defaults_.find(keys_[i]); d != defaults_.end()) {
      values.push_back(d->second);
    } else {
      throw ConfigError("metric " + family_->name() + ": no value for tag '" + keys_[i] + "'");
    }
  }
  if (detail::in_replica()) {
    const ReplicaContext& c = get_replica_context();
    values.push_back(c.app_name);
    values.push_back(c.deployment);
    values.push_back(c.replica_id);
  } else {
    values.insert(values.end(), 3, "");
  }
  Series& s = family_->series(values);
  switch (op) {
    case 0: s.add(value); break;
    case 1: s.set(value); break;
    default: s.observe(value); break;
  }
}

void Counter::inc(double value, const Tags& tags) const {
  if (!(value >= 0)) throw ConfigError("counter increments must be >= 0");
  record(0, value, tags);
}

}  // namespace cserve::metrics
