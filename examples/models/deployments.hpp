// deployments.hpp — the digits application's deployments:
//
//   DigitsApi (ingress, /digits)
//     ├── Preprocess           images (PNG/PGM) -> 64 features
//     ├── TorchDigits          LibTorch, TorchScript        ┐
//     ├── XgbDigits            XGBoost C API, JSON model    ├ each batches its inputs (Batcher)
//     ├── OnnxDigits           OpenCV DNN, ONNX             ┘
//     ├── Ensemble             calls the three, votes
//     └── Customers            ten per-customer XGBoost models, multiplexed
#pragma once

#include "digits.hpp"
#include "image.hpp"
#include "onnx_classifier.hpp"
#include "torch_classifier.hpp"
#include "xgb_classifier.hpp"

#include <cserve/cserve.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace digits {

// A classifier behind dynamic batching: concurrent requests share one forward pass. The model is
// loaded in the constructor: a missing or corrupt file fails the deployment with the loader's
// message. max_batch_size 1 turns batching off; user_config {"max_batch_size": n} changes it live.
template <class Classifier>
class DigitsModel {
 public:
  DigitsModel(const std::string& path, int max_batch_size)
      : model_(path),
        batch_({.max_batch_size = max_batch_size, .batch_wait_timeout = std::chrono::milliseconds(2)},
               [this](std::vector<Features> xs) { return run(std::move(xs)); }) {}

  cserve::Task<Probabilities> predict(Features x) { co_return co_await batch_(std::move(x)); }

  cserve::Json stats() const {
    return {{"batches", batches_}, {"inputs", inputs_}, {"max_batch_size", batch_.max_batch_size()}};
  }

  void reconfigure(const cserve::Json& config) {
    if (config.contains("max_batch_size")) batch_.set_max_batch_size(config.at("max_batch_size").get<int>());
  }

 private:
  std::vector<Probabilities> run(std::vector<Features> xs) {
    ++batches_;
    inputs_ += static_cast<long>(xs.size());
    return model_.predict(xs);
  }

  Classifier model_;
  long batches_ = 0;
  long inputs_ = 0;
  cserve::Batcher<Features, Probabilities> batch_;
};

using TorchDigits = DigitsModel<TorchClassifier>;
using XgbDigits = DigitsModel<XgbClassifier>;
using OnnxDigits = DigitsModel<OnnxClassifier>;

class Preprocess {
 public:
  Features decode(std::string image) { return features_of_image(image); }
};

// Asks the three models at once and takes the majority; when all three disagree, the class of
// their mean probabilities.
class Ensemble {
 public:
  Ensemble(cserve::DeploymentHandle<TorchDigits> torch, cserve::DeploymentHandle<XgbDigits> xgb,
           cserve::DeploymentHandle<OnnxDigits> onnx)
      : torch_(std::move(torch)), xgb_(std::move(xgb)), onnx_(std::move(onnx)) {}

  cserve::Task<cserve::Json> vote(Features x) {
    auto t = torch_.method(&TorchDigits::predict).remote(x);
    auto g = xgb_.method(&XgbDigits::predict).remote(x);
    auto o = onnx_.method(&OnnxDigits::predict).remote(std::move(x));
    const Probabilities pt = co_await t;
    const Probabilities pg = co_await g;
    const Probabilities po = co_await o;
    co_return tally(pt, pg, po);
  }

 private:
  static cserve::Json tally(const Probabilities& t, const Probabilities& g, const Probabilities& o) {
    Probabilities mean(kClasses);
    for (int k = 0; k < kClasses; ++k) mean[k] = (t[k] + g[k] + o[k]) / 3.0f;
    const int lt = label_of(t), lg = label_of(g), lo = label_of(o);
    const int label = (lt == lg || lt == lo) ? lt : (lg == lo ? lg : label_of(mean));
    return {{"label", label}, {"votes", {{"torch", lt}, {"xgb", lg}, {"onnx", lo}}}, {"probabilities", mean}};
  }

  cserve::DeploymentHandle<TorchDigits> torch_;
  cserve::DeploymentHandle<XgbDigits> xgb_;
  cserve::DeploymentHandle<OnnxDigits> onnx_;
};

// Per-customer XGBoost models (artifacts/customers/<id>.json), up to `max_models` loaded per
// replica; the request names its model with the serve_multiplexed_model_id header.
class Customers {
 public:
  Customers(std::string artifacts, int max_models)
      : dir_(std::filesystem::path(artifacts) / "customers"),
        models_({.max_num_models_per_replica = max_models}, [this](const std::string& id) { return load(id); }) {}

  cserve::Task<cserve::Json> predict(Features x) {
    std::shared_ptr<XgbClassifier> model = co_await models_.get(cserve::get_multiplexed_model_id());
    cserve::Json out = answer(model->predict({x}).front());
    out["model"] = cserve::get_multiplexed_model_id();
    co_return out;
  }

 private:
  std::shared_ptr<XgbClassifier> load(const std::string& id) {
    // Ids name files: letters, digits, '_' and '-' only, so no id reaches outside the directory.
    const bool plain = !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    });
    const std::filesystem::path path = dir_ / (id + ".json");
    if (!plain || !std::filesystem::is_regular_file(path)) {
      throw cserve::HttpError(404, "no customer model '" + id + "' (customer_0 .. customer_9 exist)");
    }
    return std::make_shared<XgbClassifier>(path.string());
  }

  std::filesystem::path dir_;
  cserve::Multiplexed<XgbClassifier> models_;
};

// The HTTP face: POST /torch, /xgb, /onnx, /ensemble and /customer with 64 numbers as JSON or an
// image; GET /stats.
class DigitsApi {
 public:
  DigitsApi(cserve::DeploymentHandle<Preprocess> pre, cserve::DeploymentHandle<TorchDigits> torch,
            cserve::DeploymentHandle<XgbDigits> xgb, cserve::DeploymentHandle<OnnxDigits> onnx,
            cserve::DeploymentHandle<Ensemble> ensemble, cserve::DeploymentHandle<Customers> customers)
      : pre_(std::move(pre)), torch_(std::move(torch)), xgb_(std::move(xgb)), onnx_(std::move(onnx)),
        ensemble_(std::move(ensemble)), customers_(std::move(customers)) {}

  static void routes(cserve::Routes<DigitsApi>& r) {
    r.post("/torch", &DigitsApi::torch)
        .post("/xgb", &DigitsApi::xgb)
        .post("/onnx", &DigitsApi::onnx)
        .post("/ensemble", &DigitsApi::ensemble)
        .post("/customer", &DigitsApi::customer)
        .get("/stats", &DigitsApi::stats);
  }

  cserve::Task<cserve::Json> torch(const cserve::Request& req) {
    Features x = co_await features(req);
    co_return answer(co_await torch_.method(&TorchDigits::predict).remote(std::move(x)));
  }
  cserve::Task<cserve::Json> xgb(const cserve::Request& req) {
    Features x = co_await features(req);
    co_return answer(co_await xgb_.method(&XgbDigits::predict).remote(std::move(x)));
  }
  cserve::Task<cserve::Json> onnx(const cserve::Request& req) {
    Features x = co_await features(req);
    co_return answer(co_await onnx_.method(&OnnxDigits::predict).remote(std::move(x)));
  }
  cserve::Task<cserve::Json> ensemble(const cserve::Request& req) {
    Features x = co_await features(req);
    co_return co_await ensemble_.method(&Ensemble::vote).remote(std::move(x));
  }
  cserve::Task<cserve::Json> customer(const cserve::Request& req) {
    const std::string id = cserve::get_multiplexed_model_id();
    if (id.empty()) throw missing_model_id();
    Features x = co_await features(req);
    co_return co_await customers_.options(options_for(id)).method(&Customers::predict).remote(std::move(x));
  }

  cserve::Task<cserve::Json> stats(const cserve::Request&) {
    cserve::Json out = cserve::Json::object();
    out["torch"] = co_await torch_.method(&TorchDigits::stats).remote();
    out["xgb"] = co_await xgb_.method(&XgbDigits::stats).remote();
    out["onnx"] = co_await onnx_.method(&OnnxDigits::stats).remote();
    co_return out;
  }

 private:
  // The request's features: an image goes to Preprocess, anything else must be JSON.
  cserve::Task<Features> features(const cserve::Request& req) {
    const auto type = req.header("content-type");
    if ((type && type->starts_with("image/")) || looks_like_image(req.body())) {
      co_return co_await pre_.method(&Preprocess::decode).remote(req.body());
    }
    co_return features_of_json(req.json());
  }

  static cserve::HttpError missing_model_id() {
    return cserve::HttpError(400, "name the customer's model with the serve_multiplexed_model_id header");
  }
  static cserve::HandleOptions options_for(const std::string& id) { return {.multiplexed_model_id = id}; }

  cserve::DeploymentHandle<Preprocess> pre_;
  cserve::DeploymentHandle<TorchDigits> torch_;
  cserve::DeploymentHandle<XgbDigits> xgb_;
  cserve::DeploymentHandle<OnnxDigits> onnx_;
  cserve::DeploymentHandle<Ensemble> ensemble_;
  cserve::DeploymentHandle<Customers> customers_;
};

}  // namespace digits
