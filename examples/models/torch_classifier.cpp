#include "torch_classifier.hpp"

#include <ATen/Parallel.h>
#include <torch/script.h>

namespace digits {

struct TorchClassifier::Impl {
  torch::jit::Module module;
};

TorchClassifier::TorchClassifier(const std::string& path) : impl_(std::make_unique<Impl>()) {
  // One intra-op thread per replica: replicas, not LibTorch's pool, use the cores.
  at::set_num_threads(1);
  try {
    impl_->module = torch::jit::load(path);
  } catch (const c10::Error& e) {
    throw load_error(path, e.what_without_backtrace());
  }
  impl_->module.eval();
}

TorchClassifier::~TorchClassifier() = default;
TorchClassifier::TorchClassifier(TorchClassifier&&) noexcept = default;

std::vector<Probabilities> TorchClassifier::predict(const std::vector<Features>& batch) {
  const auto n = static_cast<std::int64_t>(batch.size());
  torch::Tensor input = torch::empty({n, kPixels}, torch::kFloat32);
  float* in = input.data_ptr<float>();
  for (std::int64_t i = 0; i < n; ++i) std::copy(batch[i].begin(), batch[i].end(), in + i * kPixels);
  c10::InferenceMode guard;
  torch::Tensor out = impl_->module.forward({input}).toTensor().contiguous();
  if (out.dim() != 2 || out.size(0) != n || out.size(1) != kClasses) {
    throw std::runtime_error("the TorchScript module answered a tensor of shape " + c10::str(out.sizes()) +
                             ", expected [" + std::to_string(n) + ", 10]");
  }
  const float* o = out.data_ptr<float>();
  std::vector<Probabilities> result(batch.size());
  for (std::int64_t i = 0; i < n; ++i) result[i].assign(o + i * kClasses, o + (i + 1) * kClasses);
  return result;
}

}  // namespace digits
