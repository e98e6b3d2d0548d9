// torch_classifier.hpp — a TorchScript module run by LibTorch (torch::jit::load). LibTorch's
// headers stay in the .cpp: they are the heaviest part of the build.
#pragma once

#include "digits.hpp"

#include <memory>
#include <string>
#include <vector>

namespace digits {

class TorchClassifier {
 public:
  explicit TorchClassifier(const std::string& path);  // throws runtime_error (load_error)
  ~TorchClassifier();
  TorchClassifier(TorchClassifier&&) noexcept;
  // One forward pass for the whole batch.
  std::vector<Probabilities> predict(const std::vector<Features>& batch);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace digits
