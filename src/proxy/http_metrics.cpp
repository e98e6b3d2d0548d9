#include "proxy/http_metrics.hpp"

namespace cserve {

HttpMetrics::HttpMetrics()
    : requests(MetricsRegistry::global().family(MetricType::kCounter, "cserve_num_http_requests_total",
                                                "HTTP requests answered by the proxy",
                                                {"route", "method", "application", "status_code"})),
      errors(MetricsRegistry::global().family(MetricType::kCounter, "cserve_num_http_error_requests_total",
                                              "HTTP requests answered with a status of 400 or more",
                                              {"route", "error_code", "method", "application"})),
      latency_ms(MetricsRegistry::global().family(
          MetricType::kHistogram, "cserve_http_request_latency_ms",
          "time from a request's last byte to its answer's head, in milliseconds",
          {"route", "application", "status_code"}, latency_ms_bounds())),
      ongoing(MetricsRegistry::global()
                  .family(MetricType::kGauge, "cserve_num_ongoing_http_requests",
                          "HTTP requests being processed", {})
                  .series({})) {}

void RequestMetrics::begin(std::string route, std::string application, std::string method) {
  if (open_) end(0);
  route_ = std::move(route);
  application_ = std::move(application);
  method_ = std::move(method);
  start_ = std::chrono::steady_clock::now();
  open_ = true;
  m_.ongoing.add(1);
}

double RequestMetrics::end(int status) {
  if (!open_) return -1;
  open_ = false;
  m_.ongoing.add(-1);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
  if (status == 0) return ms;  // abandoned: the client went away before an answer
  if (status != cached_status_ || route_ != cached_route_ || application_ != cached_application_ ||
      method_ != cached_method_) {
    const std::string code = std::to_string(status);
    requests_ = &m_.requests.series({route_, method_, application_, code});
    latency_ = &m_.latency_ms.series({route_, application_, code});
    cached_status_ = status;
    cached_route_ = route_;
    cached_application_ = application_;
    cached_method_ = method_;
  }
  requests_->add(1);
  latency_->observe(ms);
  if (status >= 400) m_.errors.series({route_, std::to_string(status), method_, application_}).add(1);
  return ms;
}

}  // namespace cserve
