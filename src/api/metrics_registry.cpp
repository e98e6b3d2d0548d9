#include "api/metrics_registry.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace cserve {
namespace {

void atomic_add(std::atomic<double>& a, double v) {
  double cur = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

void append_escaped(std::string& out, const std::string& v) {
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void append_labels(std::string& out, const std::vector<std::pair<std::string, std::string>>& labels) {
  if (labels.empty()) return;
  out += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    append_escaped(out, v);
    out += '"';
  }
  out += '}';
}

const char* type_name(MetricType t) {
  switch (t) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
  }
  return "untyped";
}

void append_help(std::string& out, const std::string& name, const std::string& help, MetricType type) {
  out += "# HELP " + name + " ";
  for (char c : help) out += c == '\n' ? ' ' : c;
  out += "\n# TYPE " + name + " " + type_name(type) + "\n";
}

}  // namespace

Series::Series(const std::vector<double>* bounds) : bounds_(bounds) {
  if (bounds_) {
    buckets_ = std::make_unique<std::atomic<std::uint64_t>[]>(bounds_->size() + 1);
    for (std::size_t i = 0; i <= bounds_->size(); ++i) buckets_[i] = 0;
  }
}

void Series::add(double v) { atomic_add(value_, v); }
void Series::set(double v) { value_.store(v, std::memory_order_relaxed); }

void Series::observe(double v) {
  std::size_t i = static_cast<std::size_t>(
      std::lower_bound(bounds_->begin(), bounds_->end(), v) - bounds_->begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  atomic_add(value_, v);
}

std::vector<std::uint64_t> Series::cumulative() const {
  std::vector<std::uint64_t> out(bounds_->size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = running += buckets_[i].load(std::memory_order_relaxed);
  return out;
}

MetricFamily::MetricFamily(MetricType type, std::string name, std::string help,
                           std::vector<std::string> labels, std::vector<double> bounds)
    : type_(type), name_(std::move(name)), help_(std::move(help)), labels_(std::move(labels)),
      bounds_(std::move(bounds)) {}

Series& MetricFamily::series(const std::vector<std::string>& values) {
  if (values.size() != labels_.size()) {
    throw std::invalid_argument("metric " + name_ + " takes " + std::to_string(labels_.size()) +
                                " label values, got " + std::to_string(values.size()));
  }
  detail::MutexLock lock(mu_);
  auto& slot = series_[values];
  if (!slot) slot = std::make_unique<Series>(type_ == MetricType::kHistogram ? &bounds_ : nullptr);
  return *slot;
}

void MetricFamily::render(std::string& out) const {
  append_help(out, name_, help_, type_);
  detail::MutexLock lock(mu_);
  for (const auto& [values, s] : series_) {
    std::vector<std::pair<std::string, std::string>> labels;
    for (std::size_t i = 0; i < labels_.size(); ++i) labels.emplace_back(labels_[i], values[i]);
    if (type_ != MetricType::kHistogram) {
      out += name_;
      append_labels(out, labels);
      out += ' ' + format_value(s->value()) + '\n';
      continue;
    }
    auto counts = s->cumulative();
    for (std::size_t i = 0; i < counts.size(); ++i) {
      auto with_le = labels;
      with_le.emplace_back("le", i < bounds_.size() ? format_value(bounds_[i]) : "+Inf");
      out += name_ + "_bucket";
      append_labels(out, with_le);
      out += ' ' + std::to_string(counts[i]) + '\n';
    }
    out += name_ + "_sum";
    append_labels(out, labels);
    out += ' ' + format_value(s->sum()) + '\n';
    out += name_ + "_count";
    append_labels(out, labels);
    out += ' ' + std::to_string(counts.back()) + '\n';
  }
}

MetricsRegistry& MetricsRegistry::global() {
  static MetricsRegistry* registry = new MetricsRegistry();  // never destroyed: used at exit too
  return *registry;
}

MetricFamily& MetricsRegistry::family(MetricType type, const std::string& name, const std::string& help,
                                      const std::vector<std::string>& labels, std::vector<double> bounds) {
  detail::MutexLock lock(mu_);
  auto& slot = families_[name];
  if (!slot) {
    std::sort(bounds.begin(), bounds.end());
    slot = std::make_unique<MetricFamily>(type, name, help, labels, std::move(bounds));
  } else if (slot->type() != type || slot->labels() != labels) {
    throw std::invalid_argument("metric " + name + " already exists with another type or other labels");
  }
  return *slot;
}

std::uint64_t MetricsRegistry::add_collector(Collector c) {
  detail::MutexLock lock(mu_);
  collectors_.emplace(next_collector_, std::make_shared<Collector>(std::move(c)));
  return next_collector_++;
}

void MetricsRegistry::remove_collector(std::uint64_t id) {
  detail::MutexLock lock(mu_);
  collectors_.erase(id);
}

std::string MetricsRegistry::render() const {
  std::vector<std::shared_ptr<Collector>> collectors;
  std::vector<const MetricFamily*> families;
  {
    detail::MutexLock lock(mu_);
    for (const auto& [id, c] : collectors_) collectors.push_back(c);
    for (const auto& [name, f] : families_) families.push_back(f.get());
  }
  std::string out;
  for (const MetricFamily* f : families) f->render(out);
  std::vector<CollectedSample> samples;
  for (const auto& c : collectors) (*c)(samples);
  std::stable_sort(samples.begin(), samples.end(),
                   [](const CollectedSample& a, const CollectedSample& b) { return a.name < b.name; });
  const std::string* last = nullptr;
  for (const auto& s : samples) {
    if (!last || *last != s.name) append_help(out, s.name, s.help, s.type);
    last = &s.name;
    out += s.name;
    append_labels(out, s.labels);
    out += ' ' + format_value(s.value) + '\n';
  }
  return out;
}

const std::vector<double>& latency_ms_bounds() {
  static const std::vector<double> bounds{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000};
  return bounds;
}

}  // namespace cserve
