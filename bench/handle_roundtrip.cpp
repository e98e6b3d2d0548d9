// In-process handle round trips (Google Benchmark): a plain thread calls a deployment through a
// DeploymentHandle and waits for the answer — one at a time (latency), and with a window of
// calls in flight (throughput). The baseline in the same run is the bare machinery every call
// rides on: a post to a worker strand and a wait for it to come back.
//
//   ./build/release/bench/handle_roundtrip --benchmark_min_time=2
#include <cserve/cserve.hpp>

#include "common/worker_pool.hpp"

#include <benchmark/benchmark.h>

#include <condition_variable>
#include <mutex>

namespace {

struct Echo {
  int operator()(int x) { return x; }
};

cserve::Serve& runtime() {
  static cserve::Serve serve = cserve::start({.http_enabled = false, .worker_threads = 1, .cpus = 4});
  return serve;
}

cserve::DeploymentHandle<Echo>& echo() {
  static auto handle = runtime().run(cserve::deployment<Echo>().max_ongoing_requests(1024).bind(),
                                     {.name = "echo"});
  return handle;
}

void BM_HandleRoundTrip(benchmark::State& state) {
  auto& h = echo();
  int i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(h.remote(i++).result());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HandleRoundTrip)->UseRealTime();

void BM_HandleWindow(benchmark::State& state) {
  auto& h = echo();
  const int window = static_cast<int>(state.range(0));
  std::vector<cserve::DeploymentResponse<int>> pending;
  pending.reserve(window);
  for (auto _ : state) {
    pending.clear();
    for (int i = 0; i < window; ++i) pending.push_back(h.remote(i));
    for (auto& r : pending) benchmark::DoNotOptimize(r.result());
  }
  state.SetItemsProcessed(state.iterations() * window);
}
BENCHMARK(BM_HandleWindow)->Arg(64)->Arg(256)->UseRealTime();

// Baseline: the same thread hop with nothing of cserve's routing, state or closures.
void BM_BareStrandRoundTrip(benchmark::State& state) {
  static cserve::WorkerPool pool(1);
  auto strand = pool.make_strand();
  std::mutex mu;
  std::condition_variable cv;
  for (auto _ : state) {
    bool done = false;
    strand->post([&] {
      std::lock_guard lock(mu);
      done = true;
      cv.notify_one();
    });
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return done; });
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BareStrandRoundTrip)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
