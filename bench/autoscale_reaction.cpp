// bench/autoscale_reaction: how fast a burst of load gets a new replica serving, with the
// autoscaling delays at 0. Side by side in the same run, the baseline: how long the same
// deployment takes to start one more replica when asked directly (num_replicas 1 -> 2), i.e.
// the part of the reaction that is not detecting the load.
//
//   ./build/release/bench/autoscale_reaction [ROUNDS]
//
// Load: 8 threads calling a 50 ms coroutine deployment through a handle (target 1 ongoing
// request per replica, so the policy wants more replicas at once).
#include <cserve/cserve.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

class Model {
 public:
  cserve::Task<int> operator()(int x) {
    co_await cserve::sleep_for(50ms);
    co_return x;
  }
};

int running(const cserve::Serve& s) {
  int n = 0;
  const cserve::ServeStatus status = s.status();
  for (const auto& r : status.applications.at("m").deployments.at("Model").replicas) {
    n += r.state == cserve::ReplicaState::RUNNING;
  }
  return n;
}

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// Time from the first call of a burst to a second replica RUNNING.
double autoscaled_round() {
  cserve::ServeOptions o;
  o.http_enabled = false;
  o.cpus = 16;
  cserve::Serve serve = cserve::start(o);
  cserve::AutoscalingConfig a;
  a.min_replicas = 1;
  a.max_replicas = 4;
  a.target_ongoing_requests = 1;
  a.look_back_period_s = 0.3;
  a.upscale_delay_s = 0;
  a.downscale_delay_s = 600;
  auto h = serve.run(cserve::deployment<Model>().max_ongoing_requests(4).autoscaling(a).bind(), {.name = "m"});
  std::atomic<bool> stop{false};
  std::vector<std::thread> load;
  auto t0 = Clock::now();
  for (int i = 0; i < 8; ++i) {
    load.emplace_back([&] {
      while (!stop) h.remote(1).result(10s);
    });
  }
  while (running(serve) < 2 && ms_since(t0) < 10000) std::this_thread::sleep_for(200us);
  double ms = ms_since(t0);
  stop = true;
  for (auto& t : load) t.join();
  return ms;
}

// Time from asking for a second replica to it RUNNING.
double direct_round() {
  cserve::ServeOptions o;
  o.http_enabled = false;
  o.cpus = 16;
  cserve::Serve serve = cserve::start(o);
  serve.run(cserve::deployment<Model>().num_replicas(1).bind(), {.name = "m"});
  auto t0 = Clock::now();
  serve.run(cserve::deployment<Model>().num_replicas(2).bind(), {.name = "m"});
  return ms_since(t0);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 5;
  if (rounds < 1) rounds = 1;
  std::vector<double> scaled, direct;
  for (int i = 0; i < rounds; ++i) {
    scaled.push_back(autoscaled_round());
    direct.push_back(direct_round());
  }
  std::printf("| measure | median | max |\n|---|---|---|\n");
  std::printf("| burst -> second replica RUNNING (autoscaling, delays 0) | %.1f ms | %.1f ms |\n", median(scaled),
              *std::max_element(scaled.begin(), scaled.end()));
  std::printf("| baseline: num_replicas 1 -> 2 -> RUNNING (no detection) | %.1f ms | %.1f ms |\n", median(direct),
              *std::max_element(direct.begin(), direct.end()));
  return 0;
}
