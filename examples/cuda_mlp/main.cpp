// A model on the GPU: an MLP forward pass with cuBLAS, two replicas sharing one device
// ({.gpus = 0.5} each), every replica on the device placement gave it, inputs batched on the
// device. GPU utilization and memory appear in the admin API's /metrics (NVML).
//
//   $ ./cuda_mlp --port 8000 [--gpus N] [--replicas 2] [--gpu-fraction 0.5] [--max-batch-size 32]
//                [--admin-port 8265]
//   $ curl -d '[0.1, 0.2, ... 256 numbers]' localhost:8000/mlp
//   {"outputs": [16 numbers], "device": 0, "replica": "Mlp#..."}
//   $ curl localhost:8000/mlp/stats
//
// Without a usable CUDA device it exits at once with CUDA's reason.
#include "mlp.hpp"

#include "../common/example_args.hpp"

#include <cserve/cserve.hpp>

#include <cstdlib>
#include <string_view>

namespace {

constexpr unsigned kSeed = 7;

class Mlp {
 public:
  explicit Mlp(int max_batch)
      : model_(mlp::cuda_device_for(cserve::get_replica_context().gpu_ids, std::getenv("CUDA_VISIBLE_DEVICES")),
               mlp::make_weights(mlp::Dims{}, kSeed), max_batch),
        batch_({.max_batch_size = max_batch, .batch_wait_timeout = std::chrono::milliseconds(2)},
               [this](std::vector<std::vector<float>> xs) { return run(std::move(xs)); }) {}

  static void routes(cserve::Routes<Mlp>& r) { r.post("/", &Mlp::predict).get("/stats", &Mlp::stats); }

  cserve::Task<cserve::Json> predict(const cserve::Request& req) {
    std::vector<float> x = input_of(req.json());
    std::vector<float> y = co_await batch_(std::move(x));
    co_return answer(y);
  }

  cserve::Json stats() const {
    return {{"batches", batches_}, {"inputs", inputs_}, {"device", model_.device()},
            {"replica", cserve::get_replica_context().replica_id}};
  }

 private:
  static std::vector<float> input_of(const cserve::Json& body) {
    const int n = mlp::Dims{}.in;
    if (!body.is_array() || static_cast<int>(body.size()) != n) {
      throw cserve::HttpError(400, "expected a JSON array of " + std::to_string(n) + " numbers");
    }
    std::vector<float> x;
    for (const auto& v : body) {
      if (!v.is_number()) throw cserve::HttpError(400, "expected numbers only, got " + v.dump());
      x.push_back(v.get<float>());
    }
    return x;
  }

  cserve::Json answer(const std::vector<float>& y) const {
    return {{"outputs", y}, {"device", model_.device()}, {"replica", cserve::get_replica_context().replica_id}};
  }

  std::vector<std::vector<float>> run(std::vector<std::vector<float>> xs) {
    ++batches_;
    inputs_ += static_cast<long>(xs.size());
    return model_.forward(xs);
  }

  mlp::GpuMlp model_;
  long batches_ = 0;
  long inputs_ = 0;
  cserve::Batcher<std::vector<float>, std::vector<float>> batch_;
};

}  // namespace

int main(int argc, char** argv) {
  int gpus = -1, replicas = 2, max_batch = 32, admin_port = -1;
  double fraction = 0.5;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--gpus" && has_value) {
      gpus = std::atoi(argv[++i]);
    } else if (a == "--replicas" && has_value) {
      replicas = std::atoi(argv[++i]);
    } else if (a == "--gpu-fraction" && has_value) {
      fraction = std::atof(argv[++i]);
    } else if (a == "--max-batch-size" && has_value) {
      max_batch = std::atoi(argv[++i]);
    } else if (a == "--admin-port" && has_value) {
      admin_port = std::atoi(argv[++i]);
    } else {
      rest.push_back(argv[i]);
    }
  }
  return examples::guarded_main(argv[0], [&] {
    cserve::ServeOptions options = examples::parse_args(static_cast<int>(rest.size()), rest.data());
    std::string why;
    const int visible = mlp::cuda_device_count(&why);
    if (visible == 0) throw std::runtime_error("no CUDA device to serve on: " + why);
    options.gpus = gpus >= 0 ? gpus : visible;
    if (admin_port >= 0) {
      options.admin.enabled = true;
      options.admin.port = admin_port;
    }
    cserve::Serve serve = cserve::start(options);
    serve.run(cserve::deployment<Mlp>()
                  .num_replicas(replicas)
                  .resources({.cpus = 0.5, .gpus = fraction})
                  .max_ongoing_requests(std::max(64, max_batch))
                  .bind(max_batch),
              {.route_prefix = "/mlp"});
    serve.wait([&] {
      examples::announce(serve);
      if (serve.admin_port() > 0) std::printf("admin on 127.0.0.1:%d\n", serve.admin_port());
    });
  });
}
