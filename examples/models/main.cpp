// Real models served from C++: one application of several deployments, classifying 8x8 digit
// images with a TorchScript network (LibTorch), an XGBoost model (its C API) and an ONNX export
// of the same network (OpenCV DNN), an ensemble of the three, and ten per-customer XGBoost models
// multiplexed over two replicas. The models come from examples/models/train.py.
//
//   $ ./digits --port 8000 [--artifacts DIR] [--max-batch-size 16]
//   $ curl -d '[0,0,5,13,9,1,0,0, ...64 numbers 0..16]' localhost:8000/digits/torch
//   {"label":0,"probabilities":[0.99,...]}
//   $ curl --data-binary @seven.png -H 'Content-Type: image/png' localhost:8000/digits/ensemble
//   $ curl -d '[...]' -H 'serve_multiplexed_model_id: customer_3' localhost:8000/digits/customer
#include "deployments.hpp"

#include "../common/example_args.hpp"

#include <cstdlib>
#include <string_view>

#ifndef CSERVE_MODELS_DIR
#define CSERVE_MODELS_DIR "artifacts"
#endif

int main(int argc, char** argv) {
  std::string artifacts = CSERVE_MODELS_DIR;
  int max_batch_size = 16;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--artifacts" && i + 1 < argc) {
      artifacts = argv[++i];
    } else if (a == "--max-batch-size" && i + 1 < argc) {
      max_batch_size = std::atoi(argv[++i]);
    } else {
      rest.push_back(argv[i]);
    }
  }
  return examples::guarded_main(argv[0], [&] {
    using namespace digits;
    cserve::Serve serve = cserve::start(examples::parse_args(static_cast<int>(rest.size()), rest.data()));
    // Eight replicas share the machine: a quarter of a CPU each for placement.
    const cserve::Resources quarter{.cpus = 0.25};
    auto model = [&]<class M>(cserve::Deployment<M> d, const std::string& name, const std::string& file) {
      return d.name(name).resources(quarter).max_ongoing_requests(64).bind(artifacts + "/" + file, max_batch_size);
    };
    auto torch = model(cserve::deployment<TorchDigits>(), "TorchDigits", "digits.pt");
    auto xgb = model(cserve::deployment<XgbDigits>(), "XgbDigits", "digits_xgb.json");
    auto onnx = model(cserve::deployment<OnnxDigits>(), "OnnxDigits", "digits.onnx");
    auto app = cserve::deployment<DigitsApi>().resources(quarter).max_ongoing_requests(256).bind(
        cserve::deployment<Preprocess>().resources(quarter).max_ongoing_requests(64).bind(), torch, xgb, onnx,
        cserve::deployment<Ensemble>().resources(quarter).max_ongoing_requests(64).bind(torch, xgb, onnx),
        cserve::deployment<Customers>().num_replicas(2).resources(quarter).max_ongoing_requests(16).bind(artifacts, 3));
    serve.run(app, {.name = "digits", .route_prefix = "/digits"});
    serve.wait([&] { examples::announce(serve); });
  });
}
