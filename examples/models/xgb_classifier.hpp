// xgb_classifier.hpp — an XGBoost model (its JSON format) run through XGBoost's C API.
#pragma once

#include "digits.hpp"

#include <string>
#include <vector>

namespace digits {

class XgbClassifier {
 public:
  explicit XgbClassifier(const std::string& path);  // throws runtime_error (load_error)
  ~XgbClassifier();
  XgbClassifier(const XgbClassifier&) = delete;
  XgbClassifier& operator=(const XgbClassifier&) = delete;
  XgbClassifier(XgbClassifier&& o) noexcept : booster_(o.booster_) { o.booster_ = nullptr; }
  // One prediction call for the whole batch.
  std::vector<Probabilities> predict(const std::vector<Features>& batch);

 private:
  void* booster_ = nullptr;  // BoosterHandle
};

}  // namespace digits
