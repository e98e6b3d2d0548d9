// examples/models as its users run it: the digits binary serving TorchScript (LibTorch), XGBoost
// and ONNX (OpenCV DNN) models over HTTP, judged on the held-out split the models never saw.
#include <cserve/json.hpp>

#include "support/http_client.hpp"
#include "support/process.hpp"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

namespace cserve {
namespace {

using namespace std::chrono_literals;
using test::ChildProcess;
using test::HttpClient;

const std::string kArtifacts = CSERVE_MODELS_DIR;

struct TestSplit {
  std::vector<Json> inputs;  // each an array of 64 numbers
  std::vector<int> labels;
};

const TestSplit& test_split() {
  static const TestSplit split = [] {
    std::ifstream in(kArtifacts + "/digits_test.json");
    Json j = Json::parse(in);
    TestSplit s;
    for (auto& x : j["inputs"]) s.inputs.push_back(x);
    for (auto& y : j["labels"]) s.labels.push_back(y.get<int>());
    return s;
  }();
  return split;
}

// The digits example on a free port.
class Digits {
 public:
  explicit Digits(std::vector<std::string> args = {}) {
    args.insert(args.begin(), {"--port", "0"});
    process_ = std::make_unique<ChildProcess>(CSERVE_DIGITS_BINARY, args);
    port = process_->wait_for_port(60s);
  }
  int port = -1;

 private:
  std::unique_ptr<ChildProcess> process_;
};

// POSTs every body to `path` from 8 connections at once; the answers in input order.
std::vector<test::HttpResult> post_all(int port, const std::string& path, const std::vector<std::string>& bodies,
                                       const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  std::vector<test::HttpResult> out(bodies.size());
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      HttpClient c(port);
      for (std::size_t i = t; i < bodies.size(); i += 8) out[i] = c.request("POST", path, bodies[i], headers);
    });
  }
  for (auto& t : threads) t.join();
  return out;
}

std::vector<std::string> json_bodies() {
  std::vector<std::string> bodies;
  for (const auto& x : test_split().inputs) bodies.push_back(x.dump());
  return bodies;
}

struct Answers {
  std::vector<int> labels;
  std::vector<std::vector<double>> probabilities;
  double accuracy = 0;
};

Answers answers_of(const std::vector<test::HttpResult>& results) {
  Answers a;
  int right = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    EXPECT_EQ(results[i].status, 200) << results[i].body;
    if (results[i].status != 200) continue;
    Json j = Json::parse(results[i].body);
    a.labels.push_back(j["label"].get<int>());
    a.probabilities.push_back(j["probabilities"].get<std::vector<double>>());
    right += a.labels.back() == test_split().labels[i];
  }
  a.accuracy = static_cast<double>(right) / static_cast<double>(results.size());
  return a;
}

std::map<std::string, Answers> classify_all(int port) {
  std::map<std::string, Answers> out;
  for (const char* model : {"torch", "xgb", "onnx"}) {
    out[model] = answers_of(post_all(port, std::string("/digits/") + model, json_bodies()));
  }
  return out;
}

TEST(Digits, ModelsMeetTheirAccuracyOnTheHeldOutSplitBatchedOrNot) {
  ASSERT_EQ(test_split().inputs.size(), 360u);
  std::map<std::string, Answers> batched;
  {
    Digits app({"--max-batch-size", "16"});
    ASSERT_GT(app.port, 0);
    batched = classify_all(app.port);
    // The batches did form (8 concurrent clients).
    Json stats = Json::parse(HttpClient(app.port).get("/digits/stats").body);
    for (const char* m : {"torch", "xgb", "onnx"}) {
      EXPECT_EQ(stats[m]["inputs"], 360) << stats;
      EXPECT_LT(stats[m]["batches"].get<int>(), 360) << m << ": no batch of more than one formed: " << stats;
    }
  }
  EXPECT_GE(batched["torch"].accuracy, 0.95);
  EXPECT_GE(batched["xgb"].accuracy, 0.93);
  std::printf("accuracy on 360 held-out images: torch %.4f  xgb %.4f  onnx %.4f\n", batched["torch"].accuracy,
              batched["xgb"].accuracy, batched["onnx"].accuracy);
  // The ONNX export of the same weights agrees with TorchScript on every image.
  ASSERT_EQ(batched["onnx"].labels.size(), 360u);
  double worst = 0;
  for (std::size_t i = 0; i < 360; ++i) {
    EXPECT_EQ(batched["onnx"].labels[i], batched["torch"].labels[i]) << "image " << i;
    for (int k = 0; k < 10; ++k) {
      worst = std::max(worst, std::abs(batched["onnx"].probabilities[i][k] - batched["torch"].probabilities[i][k]));
    }
  }
  EXPECT_LT(worst, 1e-5) << "ONNX and TorchScript probabilities differ by " << worst;

  // Batching off: the same answers.
  Digits unbatched({"--max-batch-size", "1"});
  ASSERT_GT(unbatched.port, 0);
  std::map<std::string, Answers> single = classify_all(unbatched.port);
  Json stats = Json::parse(HttpClient(unbatched.port).get("/digits/stats").body);
  EXPECT_EQ(stats["torch"]["batches"], 360) << stats;
  for (const char* m : {"torch", "xgb", "onnx"}) {
    EXPECT_EQ(single[m].labels, batched[m].labels) << m;
    EXPECT_EQ(single[m].probabilities, batched[m].probabilities) << m << ": a batch of one answered otherwise";
  }
}

// An 8x8 test image drawn at 32x32 (each pixel a 4x4 block), as PNG or PGM bytes; `inverted`
// draws it dark on light.
std::string image_of(const Json& pixels, const std::string& ext, bool inverted = false) {
  cv::Mat img(32, 32, CV_8U);
  for (int r = 0; r < 32; ++r) {
    for (int c = 0; c < 32; ++c) {
      const double v = pixels[(r / 4) * 8 + c / 4].get<double>();
      const int grey = static_cast<int>(std::lround(v * 255.0 / 16.0));
      img.at<unsigned char>(r, c) = static_cast<unsigned char>(inverted ? 255 - grey : grey);
    }
  }
  std::vector<unsigned char> bytes;
  EXPECT_TRUE(cv::imencode(ext, img, bytes));
  return std::string(bytes.begin(), bytes.end());
}

TEST(Digits, ImagesAreDecodedByThePreprocessingDeploymentAndClassifiedLikeTheirNumbers) {
  Digits app;
  ASSERT_GT(app.port, 0);
  std::vector<std::string> numbers, pngs, pgms, inverted;
  for (std::size_t i = 0; i < 60; ++i) {
    const Json& x = test_split().inputs[i];
    numbers.push_back(x.dump());
    pngs.push_back(image_of(x, ".png"));
    pgms.push_back(image_of(x, ".pgm"));
    inverted.push_back(image_of(x, ".png", true));
  }
  for (const char* model : {"/digits/torch", "/digits/ensemble"}) {
    Answers by_numbers = answers_of(post_all(app.port, model, numbers));
    EXPECT_EQ(answers_of(post_all(app.port, model, pngs, {{"Content-Type", "image/png"}})).labels, by_numbers.labels)
        << model;
    EXPECT_EQ(answers_of(post_all(app.port, model, pgms)).labels, by_numbers.labels) << model << " (PGM, sniffed)";
    EXPECT_EQ(answers_of(post_all(app.port, model, inverted)).labels, by_numbers.labels) << model << " (dark on light)";
  }
  // The ensemble shows its votes.
  Json j = Json::parse(HttpClient(app.port).request("POST", "/digits/ensemble", numbers[0]).body);
  EXPECT_EQ(j["votes"].size(), 3u) << j;
  EXPECT_EQ(j["label"], test_split().labels[0]) << j;
}

TEST(Digits, BadInputIsA400ThatNamesTheProblem) {
  Digits app;
  ASSERT_GT(app.port, 0);
  HttpClient c(app.port);
  auto expect_400 = [&](const std::string& body, const std::string& says,
                        std::vector<std::pair<std::string, std::string>> headers = {}) {
    for (const char* model : {"/digits/torch", "/digits/xgb", "/digits/onnx", "/digits/ensemble"}) {
      auto r = c.request("POST", model, body, headers);
      EXPECT_EQ(r.status, 400) << model << " " << r.body;
      EXPECT_NE(r.body.find(says), std::string::npos) << model << ": " << r.body;
    }
  };
  Json short_input = test_split().inputs[0];
  short_input.erase(short_input.size() - 1);
  expect_400(short_input.dump(), "expected 64 numbers (an 8x8 image), got 63");
  Json words = test_split().inputs[0];
  words[5] = "five";
  expect_400(words.dump(), "element 5 is not a number");
  Json big = test_split().inputs[0];
  big[9] = 17;
  expect_400(big.dump(), "element 9 is 17: pixel values are 0..16");
  expect_400("{\"pixels\": 1}", "expected a JSON array of 64 numbers");
  expect_400("not json at all", "not valid JSON");
  expect_400(std::string("\x89PNG\r\n\x1a\n", 8) + "truncated", "could not be decoded");
  expect_400("definitely not an image", "could not be decoded", {{"Content-Type", "image/png"}});
  // The replicas are unharmed.
  EXPECT_EQ(c.request("POST", "/digits/torch", test_split().inputs[0].dump()).status, 200);
}

TEST(Digits, PerCustomerModelsAreMultiplexedByTheModelIdHeader) {
  Digits app;
  ASSERT_GT(app.port, 0);
  HttpClient c(app.port);
  const std::string x = test_split().inputs[1].dump();
  for (int round = 0; round < 2; ++round) {
    for (int k = 0; k < 10; ++k) {
      const std::string id = "customer_" + std::to_string(k);
      auto r = c.request("POST", "/digits/customer", x, {{"serve_multiplexed_model_id", id}});
      ASSERT_EQ(r.status, 200) << r.body;
      Json j = Json::parse(r.body);
      EXPECT_EQ(j["model"], id);
      EXPECT_EQ(j["probabilities"].size(), 10u);
    }
  }
  auto unknown = c.request("POST", "/digits/customer", x, {{"serve_multiplexed_model_id", "customer_42"}});
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(unknown.body.find("no customer model 'customer_42'"), std::string::npos) << unknown.body;
  auto escape = c.request("POST", "/digits/customer", x, {{"serve_multiplexed_model_id", "../digits_xgb"}});
  EXPECT_EQ(escape.status, 404) << "an id is a name, never a path: " << escape.body;
  auto none = c.request("POST", "/digits/customer", x);
  EXPECT_EQ(none.status, 400);
  EXPECT_NE(none.body.find("serve_multiplexed_model_id"), std::string::npos) << none.body;
}

// A copy of the artifacts with one file replaced by `content`.
std::filesystem::path artifacts_with(const std::string& file, const std::string& content) {
  auto dir = std::filesystem::temp_directory_path() / ("digits_artifacts_" + std::to_string(::getpid()) + "_" + file);
  std::filesystem::remove_all(dir);
  std::filesystem::copy(kArtifacts, dir, std::filesystem::copy_options::recursive);
  std::filesystem::remove(dir / file);
  if (!content.empty()) std::ofstream(dir / file) << content;
  return dir;
}

TEST(Digits, AMissingOrCorruptModelFileFailsTheDeploymentWithTheLoadersMessage) {
  struct Case {
    std::string file, content, deployment, says;
  };
  for (const Case& k : {Case{"digits.pt", "not a zip archive", "TorchDigits", "cannot load model"},
                        Case{"digits_xgb.json", "{\"learner\": ", "XgbDigits", "cannot load model"},
                        Case{"digits.onnx", "", "OnnxDigits", "no such file"}}) {
    auto dir = artifacts_with(k.file, k.content);
    // stderr too: the failure is reported there.
    ChildProcess p("/bin/sh", {"-c", std::string("exec ") + CSERVE_DIGITS_BINARY + " --port 0 --artifacts " +
                                         dir.string() + " 2>&1"});
    auto line = p.wait_for_line(std::string(CSERVE_DIGITS_BINARY) + ": application 'digits' is DEPLOY_FAILED", 60s);
    ASSERT_TRUE(line) << k.file;
    EXPECT_NE(line->find("deployment '" + k.deployment + "'"), std::string::npos) << *line;
    EXPECT_NE(line->find(k.says), std::string::npos) << *line;
    EXPECT_NE(line->find(k.file), std::string::npos) << *line;
    EXPECT_EQ(p.wait_exit(30s), 1);
    std::filesystem::remove_all(dir);
  }
}

}  // namespace
}  // namespace cserve
