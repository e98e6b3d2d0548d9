#include "support/wait.hpp"

#include "api/metrics_registry.hpp"

namespace cserve::test {

PromText scrape_local() { return parse_prometheus(MetricsRegistry::global().render()); }

double local_metric(const std::string& name, const std::map<std::string, std::string>& labels) {
  return scrape_local().sum(name, labels);
}

}  // namespace cserve::test
