// examples/cuda_mlp: a cuBLAS model, two replicas sharing one GPU. The tests that need a GPU skip
// (and say so) on a machine without one; scripts/gpu_check.sh runs them where there is one.
#include "mlp.hpp"

#include <cserve/json.hpp>

#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/prometheus.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <mutex>
#include <set>
#include <thread>

namespace cserve {
namespace {

using namespace std::chrono_literals;
using test::ChildProcess;
using test::HttpClient;

bool have_gpu(std::string* why) { return mlp::cuda_device_count(why) > 0; }

TEST(CudaMlp, TheDeviceFollowsPlacementAndCudaVisibleDevices) {
  EXPECT_EQ(mlp::cuda_device_for({1}, nullptr), 1);         // in the serving process: cserve's id
  EXPECT_EQ(mlp::cuda_device_for({1}, ""), 1);
  EXPECT_EQ(mlp::cuda_device_for({3}, "3"), 0);             // a worker sees only its own GPU
  EXPECT_EQ(mlp::cuda_device_for({3, 5}, "3,5"), 0);
  EXPECT_EQ(mlp::cuda_device_for({5}, "3,5"), 1);
  EXPECT_EQ(mlp::cuda_device_for({1}, "2,3"), 1);           // ids count within what this process sees
  EXPECT_THROW(mlp::cuda_device_for({}, nullptr), std::invalid_argument);
}

TEST(CudaMlp, WithoutAUsableGpuTheExampleExitsWithCudasReason) {
  std::string why;
  if (have_gpu(&why)) GTEST_SKIP() << "this machine has a GPU";
  ChildProcess p("/bin/sh", {"-c", std::string("exec ") + CSERVE_CUDA_MLP_BINARY + " --port 0 2>&1"});
  auto line = p.wait_for_line(std::string(CSERVE_CUDA_MLP_BINARY) + ": no CUDA device to serve on: ", 30s);
  ASSERT_TRUE(line);
  EXPECT_NE(line->find(why), std::string::npos) << *line << " vs " << why;
  EXPECT_EQ(p.wait_exit(10s), 1);
}

TEST(CudaMlp, TwoReplicasShareOneGpuBatchOnItAndAgreeWithTheCpu) {
  std::string why;
  if (!have_gpu(&why)) GTEST_SKIP() << "no CUDA device: " << why;
  ChildProcess p(CSERVE_CUDA_MLP_BINARY, {"--port", "0", "--gpus", "1", "--admin-port", "0"});
  const int port = p.wait_for_port(60s);
  ASSERT_GT(port, 0);
  auto admin_line = p.wait_for_line("admin on ", 10s);
  ASSERT_TRUE(admin_line);
  const int admin_port = std::stoi(admin_line->substr(admin_line->rfind(':') + 1));

  const mlp::Weights weights = mlp::make_weights(mlp::Dims{}, 7);
  std::mutex mu;
  std::set<std::string> replicas;
  std::set<int> devices;
  double worst = 0;
  int failed = 0;
  std::vector<std::thread> clients;
  for (int t = 0; t < 16; ++t) {
    clients.emplace_back([&, t] {
      HttpClient c(port);
      for (int i = 0; i < 16; ++i) {
        std::vector<float> x(mlp::Dims{}.in);
        for (std::size_t k = 0; k < x.size(); ++k) x[k] = std::sin(0.01f * static_cast<float>(k * (t + 1) + i));
        auto r = c.request("POST", "/mlp", Json(x).dump());
        std::lock_guard lock(mu);
        if (r.status != 200) {
          ++failed;
          continue;
        }
        Json j = Json::parse(r.body);
        replicas.insert(j["replica"].get<std::string>());
        devices.insert(j["device"].get<int>());
        const auto y = j["outputs"].get<std::vector<float>>();
        const auto want = mlp::cpu_forward(weights, x);
        for (std::size_t k = 0; k < want.size(); ++k) {
          worst = std::max(worst, static_cast<double>(std::abs(y[k] - want[k]) / (1.0f + std::abs(want[k]))));
        }
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(failed, 0);
  EXPECT_LT(worst, 1e-3) << "GPU and CPU disagree";
  EXPECT_EQ(replicas.size(), 2u) << "both replicas served";
  EXPECT_EQ(devices, std::set<int>{0}) << "both on the one GPU";

  HttpClient admin(admin_port);
  Json status = Json::parse(admin.get("/api/serve/applications/").body);
  for (const auto& r : status["applications"]["default"]["deployments"]["Mlp"]["replicas"]) {
    EXPECT_EQ(r["gpu_ids"], Json::array({0})) << r;
  }
  // Batches formed on the device (16 concurrent clients, two replicas).
  long batches = 0, inputs = 0;
  for (int i = 0; i < 8; ++i) {
    Json s = Json::parse(HttpClient(port).get("/mlp/stats").body);
    batches = std::max(batches, s["batches"].get<long>());
    inputs = std::max(inputs, s["inputs"].get<long>());
  }
  EXPECT_LT(batches, inputs);
  // NVML (the driver's) reports the device.
  const test::PromText m = test::parse_prometheus(admin.get("/metrics").body);
  EXPECT_GT(m.sum("cserve_gpu_memory_used_bytes", {{"gpu", "0"}}), 0);
  EXPECT_GT(m.sum("cserve_gpu_memory_total_bytes", {{"gpu", "0"}}), 0);
}

}  // namespace
}  // namespace cserve
