// The model bench/inference.sh serves over the Open Inference Protocol: y = 2x for an FP32 tensor
// of any length, so that the bench measures the protocol's path (decode, check, encode), not a
// model.
#include <cserve/application.hpp>
#include <cserve/cserve.hpp>

namespace {

class Doubler {
 public:
  cserve::ModelMetadata metadata() const {
    return {.inputs = {{"x", cserve::DataType::kFp32, {-1}}}, .outputs = {{"y", cserve::DataType::kFp32, {-1}}}};
  }
  cserve::InferResponse infer(cserve::InferRequest request) {
    const cserve::Tensor& x = request.input("x");
    cserve::Tensor y("y", cserve::DataType::kFp32, x.shape());
    auto in = x.values<float>();
    auto out = y.mutable_values<float>();
    for (std::size_t i = 0; i < in.size(); ++i) out[i] = 2 * in[i];
    cserve::InferResponse r;
    r.outputs.push_back(std::move(y));
    return r;
  }
};

}  // namespace

CSERVE_APPLICATION(doubler, args) {
  (void)args;
  return cserve::deployment<Doubler>().model_name("doubler").max_ongoing_requests(64).bind();
}
