#include "onnx_classifier.hpp"

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>

#include <filesystem>

namespace digits {

struct OnnxClassifier::Impl {
  cv::dnn::Net net;
};

OnnxClassifier::OnnxClassifier(const std::string& path) : impl_(std::make_unique<Impl>()) {
  if (!std::filesystem::is_regular_file(path)) throw load_error(path, "no such file");
  cv::setNumThreads(1);  // replicas, not OpenCV's pool, use the cores
  try {
    impl_->net = cv::dnn::readNetFromONNX(path);
  } catch (const cv::Exception& e) {
    throw load_error(path, e.what());
  }
  if (impl_->net.empty()) throw load_error(path, "OpenCV read no network from it");
  impl_->net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  impl_->net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
}

OnnxClassifier::~OnnxClassifier() = default;
OnnxClassifier::OnnxClassifier(OnnxClassifier&&) noexcept = default;

std::vector<Probabilities> OnnxClassifier::predict(const std::vector<Features>& batch) {
  const int n = static_cast<int>(batch.size());
  cv::Mat input(n, kPixels, CV_32F);
  for (int i = 0; i < n; ++i) std::copy(batch[i].begin(), batch[i].end(), input.ptr<float>(i));
  impl_->net.setInput(input);
  cv::Mat out = impl_->net.forward();
  if (out.dims != 2 || out.rows != n || out.cols != kClasses || out.type() != CV_32F) {
    throw std::runtime_error("the ONNX model answered a " + std::to_string(out.rows) + "x" + std::to_string(out.cols) +
                             " matrix, expected " + std::to_string(n) + "x10 floats");
  }
  std::vector<Probabilities> result(batch.size());
  for (int i = 0; i < n; ++i) result[i].assign(out.ptr<float>(i), out.ptr<float>(i) + kClasses);
  return result;
}

}  // namespace digits
