#include "xgb_classifier.hpp"

#include <xgboost/c_api.h>

#include <filesystem>
#include <memory>

namespace digits {
namespace {

// Throws with XGBoost's own message when a C API call fails.
void check(int rc, const std::string& what) {
  if (rc != 0) throw std::runtime_error(what + ": " + XGBGetLastError());
}

}  // namespace

XgbClassifier::XgbClassifier(const std::string& path) {
  // XGBoost reports a missing file as a parse error of nothing: say what it is.
  if (!std::filesystem::is_regular_file(path)) throw load_error(path, "no such file");
  check(XGBoosterCreate(nullptr, 0, &booster_), "XGBoosterCreate");
  if (XGBoosterLoadModel(booster_, path.c_str()) != 0) {
    const std::string why = XGBGetLastError();
    XGBoosterFree(booster_);
    booster_ = nullptr;
    throw load_error(path, why);
  }
  // One thread per replica: replicas, not XGBoost's OpenMP pool, use the cores.
  check(XGBoosterSetParam(booster_, "nthread", "1"), "XGBoosterSetParam");
}

XgbClassifier::~XgbClassifier() {
  if (booster_) XGBoosterFree(booster_);
}

std::vector<Probabilities> XgbClassifier::predict(const std::vector<Features>& batch) {
  std::vector<float> rows;
  rows.reserve(batch.size() * kPixels);
  for (const auto& x : batch) rows.insert(rows.end(), x.begin(), x.end());
  DMatrixHandle dmat = nullptr;
  check(XGDMatrixCreateFromMat(rows.data(), batch.size(), kPixels, std::numeric_limits<float>::quiet_NaN(), &dmat),
        "XGDMatrixCreateFromMat");
  std::unique_ptr<void, int (*)(DMatrixHandle)> owned(dmat, XGDMatrixFree);
  const char* config = R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": true})";
  const bst_ulong* shape = nullptr;
  bst_ulong dims = 0;
  const float* out = nullptr;
  check(XGBoosterPredictFromDMatrix(booster_, dmat, config, &shape, &dims, &out), "XGBoosterPredictFromDMatrix");
  if (dims != 2 || shape[0] != batch.size() || shape[1] != kClasses) {
    throw std::runtime_error("the XGBoost model answered " + std::to_string(dims) +
                             " dimensions, expected [batch, 10] (is it a 10-class multi:softprob model?)");
  }
  std::vector<Probabilities> result(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) result[i].assign(out + i * kClasses, out + (i + 1) * kClasses);
  return result;
}

}  // namespace digits
