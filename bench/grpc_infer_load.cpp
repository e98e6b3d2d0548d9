// grpc_infer_load — a load generator for bench/inference.sh: ModelInfer calls over gRPC with one
// FP32 tensor as raw_input_contents, from C connections at once (one call in flight on each, as
// wrk keeps one request in flight per connection), for D seconds after a warm-up.
//
//   grpc_infer_load PORT CONNECTIONS SECONDS ELEMENTS
// Prints "requests/s p50 p99" (latencies with units, as wrk prints them). Exits 1 when a call
// fails.
#include "open_inference.grpc.pb.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Connection {
  std::unique_ptr<inference::GRPCInferenceService::Stub> stub;
  const inference::ModelInferRequest* request = nullptr;
  std::unique_ptr<grpc::ClientContext> context;
  inference::ModelInferResponse response;
  Clock::time_point sent;
  std::vector<double> latencies_us;  // one call at a time per connection: no lock needed
};

std::atomic<bool> g_measuring{false};
std::atomic<bool> g_stop{false};
std::atomic<bool> g_failed{false};
std::mutex g_mu;
std::condition_variable g_cv;
int g_running = 0;

void send(Connection& c) {
  c.context = std::make_unique<grpc::ClientContext>();
  c.response.Clear();
  c.sent = Clock::now();
  c.stub->async()->ModelInfer(c.context.get(), c.request, &c.response, [&c](grpc::Status status) {
    if (!status.ok()) {
      std::fprintf(stderr, "call failed: %d %s\n", static_cast<int>(status.error_code()), status.error_message().c_str());
      g_failed = true;
    }
    if (g_measuring) {
      c.latencies_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - c.sent).count());
    }
    if (g_stop || g_failed) {
      std::lock_guard lock(g_mu);
      if (--g_running == 0) g_cv.notify_all();
      return;
    }
    send(c);
  });
}

std::string with_unit(double us) {
  char out[32];
  if (us >= 1000) std::snprintf(out, sizeof out, "%.2fms", us / 1000);
  else std::snprintf(out, sizeof out, "%.2fus", us);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: grpc_infer_load PORT CONNECTIONS SECONDS ELEMENTS\n");
    return 2;
  }
  const std::string target = std::string("127.0.0.1:") + argv[1];
  const int connections = std::stoi(argv[2]);
  const double seconds = std::stod(argv[3]);
  const int elements = std::stoi(argv[4]);

  inference::ModelInferRequest request;
  request.set_model_name("doubler");
  auto* x = request.add_inputs();
  x->set_name("x");
  x->set_datatype("FP32");
  x->add_shape(elements);
  std::string data(static_cast<std::size_t>(elements) * 4, '\0');
  const float one = 1.0f;
  for (int i = 0; i < elements; ++i) std::memcpy(&data[static_cast<std::size_t>(i) * 4], &one, 4);
  request.add_raw_input_contents(std::move(data));

  std::vector<std::unique_ptr<Connection>> conns;
  for (int i = 0; i < connections; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own per channel
    args.SetMaxReceiveMessageSize(64 << 20);
    auto c = std::make_unique<Connection>();
    c->stub = inference::GRPCInferenceService::NewStub(
        grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
    c->request = &request;
    conns.push_back(std::move(c));
  }
  g_running = connections;
  for (auto& c : conns) send(*c);
  std::this_thread::sleep_for(std::chrono::seconds(2));  // warm-up
  g_measuring = true;
  const auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  g_measuring = false;
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  g_stop = true;
  {
    std::unique_lock lock(g_mu);
    g_cv.wait(lock, [] { return g_running == 0; });
  }
  if (g_failed) return 1;
  std::vector<double> all;
  for (auto& c : conns) all.insert(all.end(), c->latencies_us.begin(), c->latencies_us.end());
  if (all.empty()) return 1;
  std::sort(all.begin(), all.end());
  std::printf("%.2f %s %s\n", static_cast<double>(all.size()) / elapsed, with_unit(all[all.size() / 2]).c_str(),
              with_unit(all[std::min(all.size() - 1, all.size() * 99 / 100)]).c_str());
  return 0;
}
