// prometheus.hpp — a strict reader of the Prometheus text exposition format (0.0.4) for tests:
// every line must be a HELP or TYPE comment or a well-formed sample of a declared metric.
// Thread-safety: plain functions.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace cserve::test {

struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct PromText {
  std::map<std::string, std::string> types;  // metric family -> counter | gauge | histogram ...
  std::vector<PromSample> samples;

  // The value of the one sample named `name` whose labels include `labels`; throws when there
  // is none or more than one.
  double value(const std::string& name, const std::map<std::string, std::string>& labels = {}) const;
  // The sum over samples named `name` whose labels include `labels` (0 when none).
  double sum(const std::string& name, const std::map<std::string, std::string>& labels = {}) const;
};

// Throws std::runtime_error naming the line for anything malformed.
PromText parse_prometheus(const std::string& text);

}  // namespace cserve::test
