// Dynamic batching: a model that is much cheaper per input when inputs come in batches.
//
// Each call to the model first dequantizes its int8 weights (a 1024 x 1024 matrix: the fixed
// part, paid once per call, standing for per-call costs such as a weight upload or a kernel
// launch) and then scores every 512-number input against eight rows (the per-input part, about
// 250x cheaper). The Batcher gathers concurrent requests into one call.
//
//   $ ./batching --port 8000 [--max-batch-size 32]       (--max-batch-size 1 turns batching off)
//   $ curl -d '[0.1, 0.2, ...512 numbers]' localhost:8000/model      -> [8 scores]
//   $ curl localhost:8000/model/stats                                -> {"batches":..,"mean_batch_size":..}
#include <cserve/cserve.hpp>

#include "../common/example_args.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>

constexpr int kDim = 512;         // input size
constexpr int kOutputs = 8;       // scores per input
constexpr int kWeightSide = 1024; // the stored weight matrix is kWeightSide x kWeightSide

class QuantizedModel {
 public:
  explicit QuantizedModel(int max_batch_size)
      : weights_(static_cast<std::size_t>(kWeightSide) * kWeightSide),
        batch_({.max_batch_size = max_batch_size, .batch_wait_timeout = std::chrono::milliseconds(5)},
               [this](std::vector<std::vector<float>> xs) { return infer(std::move(xs)); }) {
    std::mt19937 rng(42);
    std::uniform_int_distribution<int> w(-127, 127);
    for (auto& v : weights_) v = static_cast<std::int8_t>(w(rng));
  }

  static void routes(cserve::Routes<QuantizedModel>& r) {
    r.post("/", &QuantizedModel::predict).get("/stats", &QuantizedModel::stats);
  }

  cserve::Task<cserve::Json> predict(const cserve::Request& req) {
    cserve::Json body = req.json();
    if (!body.is_array() || body.size() != kDim) {
      throw cserve::HttpError(400, "expected a JSON array of " + std::to_string(kDim) + " numbers");
    }
    std::vector<float> x;
    try {
      x = body.get<std::vector<float>>();
    } catch (const cserve::Json::exception&) {
      throw cserve::HttpError(400, "expected numbers only");
    }
    co_return cserve::Json(co_await batch_(std::move(x)));
  }

  cserve::Json stats() {
    return {{"batches", batches_},
            {"inputs", inputs_},
            {"mean_batch_size", batches_ ? static_cast<double>(inputs_) / batches_ : 0.0}};
  }

 private:
  std::vector<std::vector<float>> infer(std::vector<std::vector<float>> xs) {
    ++batches_;
    inputs_ += static_cast<long>(xs.size());
    // The fixed part: dequantize every weight.
    std::vector<float> w(weights_.size());
    for (std::size_t i = 0; i < weights_.size(); ++i) w[i] = static_cast<float>(weights_[i]) * (1.0f / 127);
    // The per-input part: eight dot products.
    std::vector<std::vector<float>> out;
    out.reserve(xs.size());
    for (const auto& x : xs) {
      std::vector<float> y(kOutputs);
      for (int o = 0; o < kOutputs; ++o) {
        float acc = 0;
        for (int i = 0; i < kDim; ++i) acc += w[static_cast<std::size_t>(o) * kWeightSide + i] * x[i];
        y[o] = std::tanh(acc);
      }
      out.push_back(std::move(y));
    }
    return out;
  }

  std::vector<std::int8_t> weights_;
  long batches_ = 0;
  long inputs_ = 0;
  cserve::Batcher<std::vector<float>, std::vector<float>> batch_;
};

int main(int argc, char** argv) {
  // --max-batch-size N is this example's own flag; the rest are the common ones.
  int max_batch_size = 32;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--max-batch-size" && i + 1 < argc) {
      max_batch_size = std::atoi(argv[++i]);
    } else {
      rest.push_back(argv[i]);
    }
  }
  return examples::guarded_main(argv[0], [&] {
    cserve::Serve serve = cserve::start(examples::parse_args(static_cast<int>(rest.size()), rest.data()));
    serve.run(cserve::deployment<QuantizedModel>().max_ongoing_requests(std::max(64, max_batch_size)).bind(max_batch_size),
              {.route_prefix = "/model"});
    serve.wait([&] { examples::announce(serve); });
  });
}
