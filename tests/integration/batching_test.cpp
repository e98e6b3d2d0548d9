// Dynamic batching inside real replicas, called through handles and HTTP.
#include <cserve/cserve.hpp>

#include "support/http_client.hpp"
#include "support/local_serve.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <thread>

namespace cserve {
namespace {

using namespace std::chrono_literals;

using test::start_local;

std::mutex g_mu;
std::vector<std::size_t> g_sizes;

class Squares {
 public:
  explicit Squares(int max_batch, double wait_s)
      : batch_({.max_batch_size = max_batch, .batch_wait_timeout = std::chrono::duration<double>(wait_s)},
               [this](std::vector<int> xs) { return square_all(std::move(xs)); }) {}

  Task<int> operator()(int x) { co_return co_await batch_(x); }

  void reconfigure(const Json& c) { batch_.set_max_batch_size(c.at("max_batch_size").get<int>()); }

 private:
  std::vector<int> square_all(std::vector<int> xs) {
    {
      std::lock_guard lock(g_mu);
      g_sizes.push_back(xs.size());
    }
    std::this_thread::sleep_for(2ms);  // a fixed per-call cost
    if (!xs.empty() && xs[0] == -1) throw std::runtime_error("poisoned batch");
    std::vector<int> out;
    for (int x : xs) out.push_back(x * x);
    if (!xs.empty() && xs[0] == -2) out.pop_back();
    return out;
  }

  Batcher<int, int> batch_;
};

TEST(Batching, BatchesFormUnderConcurrencyAndNeverExceedTheMax) {
  {
    std::lock_guard lock(g_mu);
    g_sizes.clear();
  }
  Serve serve = start_local();
  auto h = serve.run(deployment<Squares>().max_ongoing_requests(32).bind(8, 0.05));
  std::vector<DeploymentResponse<int>> calls;
  for (int i = 0; i < 32; ++i) calls.push_back(h.remote(i));
  for (int i = 0; i < 32; ++i) EXPECT_EQ(calls[i].result(), i * i);
  std::lock_guard lock(g_mu);
  std::size_t total = 0, biggest = 0;
  for (auto s : g_sizes) {
    total += s;
    biggest = std::max(biggest, s);
  }
  EXPECT_EQ(total, 32u);
  EXPECT_LE(biggest, 8u);
  EXPECT_GT(biggest, 1u) << "no batch formed";
  EXPECT_LT(g_sizes.size(), 32u);
}

TEST(Batching, ALoneRequestWaitsNoLongerThanTheTimeout) {
  Serve serve = start_local();
  auto h = serve.run(deployment<Squares>().max_ongoing_requests(32).bind(8, 0.2));
  auto start = std::chrono::steady_clock::now();
  // A batch of 8 never fills: only the timeout can close it (else the wait runs out).
  EXPECT_EQ(h.remote(3).result(30s), 9);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 190ms) << "it waited for company first";
}

TEST(Batching, BatchErrorsReachEveryCallerOfTheBatch) {
  Serve serve = start_local();
  auto h = serve.run(deployment<Squares>().max_ongoing_requests(32).bind(2, 10.0));
  auto a = h.remote(-1);  // poisons its batch
  auto b = h.remote(5);   // same batch (max 2): fails too
  EXPECT_THROW(a.result(), std::runtime_error);
  EXPECT_THROW(b.result(), std::runtime_error);
  auto c = h.remote(-2);  // the batch function drops a result
  auto d = h.remote(4);
  try {
    c.result();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("1 results for 2 inputs"), std::string::npos) << e.what();
  }
  EXPECT_THROW(d.result(), Error);
  // The replica serves on.
  auto e = h.remote(6);
  auto f = h.remote(7);
  EXPECT_EQ(e.result(), 36);
  EXPECT_EQ(f.result(), 49);
}

TEST(Batching, ReconfigureChangesTheBatchSize) {
  {
    std::lock_guard lock(g_mu);
    g_sizes.clear();
  }
  Serve serve = start_local();
  auto h = serve.run(
      deployment<Squares>().max_ongoing_requests(32).user_config({{"max_batch_size", 1}}).bind(8, 0.05));
  std::vector<DeploymentResponse<int>> calls;
  for (int i = 0; i < 6; ++i) calls.push_back(h.remote(i));
  for (auto& c : calls) c.result();
  std::lock_guard lock(g_mu);
  for (auto s : g_sizes) EXPECT_EQ(s, 1u);
}

}  // namespace
}  // namespace cserve
