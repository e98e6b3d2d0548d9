// Applications bench/isolation.sh serves with their model in-process or in a worker process:
//   counter   the seed's Counter (GET / -> {"count": n})
//   echo      POST / answers its body (bytes as they are)
//   hop       GET /?calls=N&in_flight=W: the ingress makes N typed handle calls to Model, W in
//             flight at a time, and answers {"calls": N, "seconds": s}
#include <cserve/application.hpp>
#include <cserve/cserve.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace {

class Counter {
 public:
  cserve::Json operator()() { return {{"count", ++count_}}; }

 private:
  long count_ = 0;
};

class Echo {
 public:
  cserve::Response operator()(const cserve::Request& req) {
    cserve::Response r;
    r.body = req.body();
    r.content_type = "application/octet-stream";
    return r;
  }
};

class Model {
 public:
  static void methods(cserve::Methods<Model>& m) { m.add("count", &Model::count); }
  long operator()(long x) { return x + 1; }
  cserve::Stream<long> count(long n) {
    for (long i = 1; i <= n; ++i) co_yield i;
  }
};

struct Timing {
  long calls = 0;
  double seconds = 0;
};

cserve::Json to_json(const Timing& t) { return {{"calls", t.calls}, {"seconds", t.seconds}}; }
long query_or(const cserve::Request& req, const std::string& key, long fallback) {
  auto v = req.query(key);
  return v ? std::stol(*v) : fallback;
}

class Hop {
 public:
  explicit Hop(cserve::DeploymentHandle<Model> model) : model_(std::move(model)) {}
  // ?calls=N&in_flight=W: N typed calls, W at a time; ?stream=N: one stream of N items.
  cserve::Task<cserve::Json> operator()(const cserve::Request& req) {
    if (req.query("stream")) co_return co_await stream(query_or(req, "stream", 10000));
    const long calls = query_or(req, "calls", 10000);
    const long window = query_or(req, "in_flight", 64);
    const auto start = std::chrono::steady_clock::now();
    Timing t;
    std::vector<cserve::DeploymentResponse<long>> flying;
    for (long sent = 0; sent < calls;) {
      flying.clear();
      for (long j = 0; j < window && sent < calls; ++j, ++sent) flying.push_back(model_.remote(sent));
      for (auto& r : flying) t.calls += (co_await std::move(r)) > 0 ? 1 : 0;
    }
    t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    co_return to_json(t);
  }

 private:
  cserve::Task<cserve::Json> stream(long n) {
    const auto start = std::chrono::steady_clock::now();
    Timing t;
    auto items = model_.method(&Model::count).remote(n);
    while (auto item = co_await items.next()) t.calls += *item > 0 ? 1 : 0;
    t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    co_return to_json(t);
  }

  cserve::DeploymentHandle<Model> model_;
};

}  // namespace

// args: {"max_ongoing_requests": n} (default 5, Ray's).
CSERVE_APPLICATION(counter, args) {
  return cserve::deployment<Counter>().max_ongoing_requests(args.value("max_ongoing_requests", 5)).bind();
}

CSERVE_APPLICATION(echo, args) {
  (void)args;
  return cserve::deployment<Echo>().max_ongoing_requests(1000).bind();
}

CSERVE_APPLICATION(hop, args) {
  (void)args;
  return cserve::deployment<Hop>().bind(cserve::deployment<Model>().max_ongoing_requests(1000).bind());
}
