// http_metrics.hpp — what the proxy records per answered request, under Ray Serve's metric names
// with the cserve_ prefix: requests and errors by route, method, application and status, the
// latency histogram, and the requests being processed.
// Thread-safety: HttpMetrics is shared by every connection; a RequestMetrics belongs to one
// connection (its cache of series makes the repeated case a few compares and atomics).
#pragma once

#include "api/metrics_registry.hpp"

#include <chrono>
#include <string>

namespace cserve {

class HttpMetrics {
 public:
  HttpMetrics();
  MetricFamily& requests;
  MetricFamily& errors;
  MetricFamily& latency_ms;
  Series& ongoing;
};

class RequestMetrics {
 public:
  explicit RequestMetrics(HttpMetrics& m) : m_(m) {}

  // A request was read and is being answered.
  void begin(std::string route, std::string application, std::string method);
  // Its answer's status is being written (0: abandoned). Returns its latency in milliseconds,
  // or -1 when no request was open.
  double end(int status);
  const std::string& method() const { return method_; }

 private:
  HttpMetrics& m_;
  bool open_ = false;
  std::chrono::steady_clock::time_point start_;
  std::string route_, application_, method_;
  // The series of the last request of this connection, reused while the labels repeat.
  std::string cached_route_, cached_application_, cached_method_;
  int cached_status_ = 0;
  Series* requests_ = nullptr;
  Series* latency_ = nullptr;
};

}  // namespace cserve
