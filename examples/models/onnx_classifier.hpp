// onnx_classifier.hpp — an ONNX model run by OpenCV's DNN module (cv::dnn::readNetFromONNX).
#pragma once

#include "digits.hpp"

#include <memory>
#include <string>
#include <vector>

namespace digits {

class OnnxClassifier {
 public:
  explicit OnnxClassifier(const std::string& path);  // throws runtime_error (load_error)
  ~OnnxClassifier();
  OnnxClassifier(OnnxClassifier&&) noexcept;
  // One forward pass for the whole batch.
  std::vector<Probabilities> predict(const std::vector<Features>& batch);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace digits
