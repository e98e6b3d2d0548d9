// The Open Inference Protocol over REST, with curl as the client (a client this project does not
// write): server and model metadata, health, JSON tensors, the binary tensor data extension both
// ways, and the protocol's errors.
#include <cserve/cserve.hpp>

#include "support/local_serve.hpp"
#include "support/wait.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace cserve {
namespace {

using namespace std::chrono_literals;

// y = 2x per element; norm = the sum of squares of each row; tag = "doubled" for each row.
class Doubler {
 public:
  ModelMetadata metadata() const {
    return {.versions = {"1"},
            .platform = "cserve_test",
            .inputs = {{"x", DataType::kFp32, {-1, 4}}},
            .outputs = {{"y", DataType::kFp32, {-1, 4}}, {"norm", DataType::kFp64, {-1}}, {"tag", DataType::kBytes, {-1}}}};
  }
  InferResponse infer(InferRequest request) {
    const Tensor& x = request.input("x");
    const std::int64_t rows = x.shape()[0];
    Tensor y("y", DataType::kFp32, x.shape());
    Tensor norm("norm", DataType::kFp64, {rows});
    auto in = x.values<float>();
    auto out = y.mutable_values<float>();
    auto n = norm.mutable_values<double>();
    for (std::size_t i = 0; i < in.size(); ++i) {
      out[i] = 2 * in[i];
      n[i / 4] += static_cast<double>(in[i]) * in[i];
    }
    InferResponse r;
    r.outputs.push_back(std::move(y));
    r.outputs.push_back(std::move(norm));
    r.outputs.push_back(Tensor::of_strings("tag", {rows}, std::vector<std::string>(rows, "doubled")));
    return r;
  }
};

// The same model with its requests batched: one forward pass over the rows of every request in
// the batch. Records the batch sizes it saw.
std::atomic<int> g_largest_batch{0};

class BatchedDoubler {
 public:
  ModelMetadata metadata() const {
    return {.inputs = {{"x", DataType::kFp32, {1, -1}}}, .outputs = {{"y", DataType::kFp32, {1, -1}}}};
  }
  Task<InferResponse> infer(InferRequest request) { co_return co_await batch_(std::move(request)); }

 private:
  std::vector<InferResponse> forward(std::vector<InferRequest> batch) {
    int largest = g_largest_batch.load();
    while (static_cast<int>(batch.size()) > largest && !g_largest_batch.compare_exchange_weak(largest, static_cast<int>(batch.size()))) {
    }
    std::vector<float> rows;  // the batch's rows, concatenated: one pass over all of them
    for (const auto& r : batch) {
      auto x = r.input("x").values<float>();
      rows.insert(rows.end(), x.begin(), x.end());
    }
    for (auto& v : rows) v *= 2;
    std::vector<InferResponse> out;
    std::size_t at = 0;
    for (const auto& r : batch) {
      const auto& shape = r.input("x").shape();
      const auto n = static_cast<std::size_t>(shape[1]);
      InferResponse response;
      response.outputs.push_back(
          Tensor::of<float>("y", shape, std::vector<float>(rows.begin() + at, rows.begin() + at + n)));
      at += n;
      out.push_back(std::move(response));
    }
    return out;
  }

  Batcher<InferRequest, InferResponse> batch_{{.max_batch_size = 8, .batch_wait_timeout = std::chrono::milliseconds(200)},
                                              [this](std::vector<InferRequest> b) { return forward(std::move(b)); }};
};

struct CurlResult {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// Runs curl with `args` (already quoted for the shell) against the server; -i gives the head.
CurlResult curl(const std::string& args) {
  const std::string out_path = std::filesystem::temp_directory_path() /
                               ("cserve_curl_" + std::to_string(::getpid()) + ".out");
  const std::string command = "curl -s -S -i -o " + out_path + " " + args;
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  std::ifstream in(out_path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  std::filesystem::remove(out_path);
  const std::string raw = s.str();
  CurlResult r;
  const auto head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) return r;
  std::istringstream head(raw.substr(0, head_end));
  std::string line;
  std::getline(head, line);
  if (line.size() > 12) r.status = std::stoi(line.substr(9, 3));
  while (std::getline(head, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == ' ')) value.pop_back();
    r.headers[name] = value;
  }
  r.body = raw.substr(head_end + 4);
  return r;
}

std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

class Inference : public ::testing::Test {
 protected:
  void SetUp() override {
    serve_.run(deployment<Doubler>().name("Doubler").model_name("doubler").bind(), RunOptions{.name = "models"});
    base_ = "http://127.0.0.1:" + std::to_string(serve_.http_port());
  }
  CurlResult get(const std::string& path) { return curl(quoted(base_ + path)); }
  CurlResult post_json(const std::string& path, const Json& body) {
    return curl("-X POST -H 'Content-Type: application/json' --data-binary " + quoted(body.dump()) + " " +
                quoted(base_ + path));
  }
  // A POST whose body is `json` followed by `binary`, with Inference-Header-Content-Length.
  CurlResult post_binary(const std::string& path, const std::string& json, const std::string& binary) {
    const std::string file = std::filesystem::temp_directory_path() /
                             ("cserve_curl_" + std::to_string(::getpid()) + ".in");
    std::ofstream(file, std::ios::binary) << json << binary;
    CurlResult r = curl("-X POST -H 'Content-Type: application/octet-stream' -H 'Inference-Header-Content-Length: " +
                        std::to_string(json.size()) + "' --data-binary @" + file + " " + quoted(base_ + path));
    std::filesystem::remove(file);
    return r;
  }

  Serve serve_ = test::start_local();
  std::string base_;
};

std::string float_bytes(const std::vector<float>& v) {
  std::string out(v.size() * sizeof(float), '\0');
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

TEST_F(Inference, ServerMetadataAndHealth) {
  auto r = get("/v2");
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = Json::parse(r.body);
  EXPECT_EQ(j["name"], "cserve");
  EXPECT_TRUE(j["version"].is_string());
  EXPECT_EQ(j["extensions"], Json::array({"binary_tensor_data"}));
  EXPECT_EQ(get("/v2/health/live").status, 200);
  EXPECT_TRUE(test::wait_until([&] { return get("/v2/health/ready").status == 200; }, 10s));
  EXPECT_EQ(get("/v2/models/doubler/ready").status, 200);
  EXPECT_EQ(get("/v2/models/doubler/versions/1/ready").status, 200);
  EXPECT_EQ(get("/v2/models/doubler/versions/7/ready").status, 404);
  // HEAD answers as GET would, without the body.
  const CurlResult head = curl("-I " + quoted(base_ + "/v2/models/doubler"));
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
  EXPECT_EQ(curl("-I " + quoted(base_ + "/v2/models/doubler/versions/1/ready")).status, 200);
}

TEST_F(Inference, ModelMetadataSaysWhatTheModelTakes) {
  auto r = get("/v2/models/doubler");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body), Json::parse(R"({
    "name": "doubler", "versions": ["1"], "platform": "cserve_test",
    "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}],
    "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1, 4]},
                {"name": "norm", "datatype": "FP64", "shape": [-1]},
                {"name": "tag", "datatype": "BYTES", "shape": [-1]}]})"));
  EXPECT_EQ(get("/v2/models/doubler/versions/1").status, 200);
}

TEST_F(Inference, JsonTensorsInAndOut) {
  Json request = Json::parse(R"({"id": "req-7", "inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP32",
                                  "data": [[1, 2, 3, 4], [0.5, 0, -1, 2]]}]})");
  auto r = post_json("/v2/models/doubler/infer", request);
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = Json::parse(r.body);
  EXPECT_EQ(j["model_name"], "doubler");
  EXPECT_EQ(j["id"], "req-7");
  ASSERT_EQ(j["outputs"].size(), 3u);
  EXPECT_EQ(j["outputs"][0]["name"], "y");
  EXPECT_EQ(j["outputs"][0]["shape"], Json::array({2, 4}));
  EXPECT_EQ(j["outputs"][0]["data"], Json::parse("[2, 4, 6, 8, 1, 0, -2, 4]"));
  EXPECT_EQ(j["outputs"][1]["data"], Json::parse("[30, 5.25]"));
  EXPECT_EQ(j["outputs"][2]["data"], Json::parse(R"(["doubled", "doubled"])"));
  // Only the outputs asked for, through a versioned path.
  request["outputs"] = Json::parse(R"([{"name": "norm"}])");
  r = post_json("/v2/models/doubler/versions/1/infer", request);
  ASSERT_EQ(r.status, 200) << r.body;
  j = Json::parse(r.body);
  EXPECT_EQ(j["model_version"], "1");
  ASSERT_EQ(j["outputs"].size(), 1u);
  EXPECT_EQ(j["outputs"][0]["name"], "norm");
}

TEST_F(Inference, BinaryTensorsBothWays) {
  const std::vector<float> x = {1, 2, 3, 4, -1, -2, -3, -4, 0.25f, 0, 0, 0};
  const std::string json = Json{{"inputs", Json::array({{{"name", "x"}, {"shape", {3, 4}}, {"datatype", "FP32"},
                                                          {"parameters", {{"binary_data_size", x.size() * 4}}}}})},
                                {"outputs", Json::array({{{"name", "y"}, {"parameters", {{"binary_data", true}}}},
                                                         {{"name", "tag"}}})}}
                               .dump();
  auto r = post_binary("/v2/models/doubler/infer", json, float_bytes(x));
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(r.headers.count("inference-header-content-length")) << r.body;
  const std::size_t header = std::stoul(r.headers["inference-header-content-length"]);
  ASSERT_LE(header, r.body.size());
  Json j = Json::parse(r.body.substr(0, header));
  ASSERT_EQ(j["outputs"].size(), 2u);
  EXPECT_EQ(j["outputs"][0]["parameters"]["binary_data_size"], 48);
  EXPECT_FALSE(j["outputs"][0].contains("data"));
  EXPECT_EQ(j["outputs"][1]["data"], Json::parse(R"(["doubled", "doubled", "doubled"])"));  // JSON: not asked binary
  const std::string binary = r.body.substr(header);
  ASSERT_EQ(binary.size(), 48u);
  std::vector<float> y(12);
  std::memcpy(y.data(), binary.data(), binary.size());
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_EQ(y[i], 2 * x[i]) << i;
  // "binary_data_output": every output as binary, in order.
  const std::string all = Json{{"parameters", {{"binary_data_output", true}}},
                               {"inputs", Json::array({{{"name", "x"}, {"shape", {1, 4}}, {"datatype", "FP32"},
                                                        {"parameters", {{"binary_data_size", 16}}}}})}}
                              .dump();
  r = post_binary("/v2/models/doubler/infer", all, float_bytes({3, 0, 0, 4}));
  ASSERT_EQ(r.status, 200) << r.body;
  const std::size_t h = std::stoul(r.headers["inference-header-content-length"]);
  j = Json::parse(r.body.substr(0, h));
  EXPECT_EQ(j["outputs"][1]["parameters"]["binary_data_size"], 8);
  double norm = 0;
  std::memcpy(&norm, r.body.data() + h + 16, 8);
  EXPECT_EQ(norm, 25.0);
  // The BYTES output: a u32 length, then the bytes.
  EXPECT_EQ(r.body.substr(h + 24), std::string("\x07\x00\x00\x00", 4) + "doubled");
}

TEST_F(Inference, BadInputIsA400NamingTheTensorAndUnknownModelsA404) {
  auto error_of = [](const CurlResult& r) { return Json::parse(r.body).value("error", std::string()); };
  auto input = [](Json shape, std::string datatype, Json data) {
    return Json{{"inputs", Json::array({{{"name", "x"}, {"shape", shape}, {"datatype", datatype}, {"data", data}}})}};
  };
  auto r = post_json("/v2/models/doubler/infer", input({1, 4}, "INT32", {1, 2, 3, 4}));  // wrong datatype
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(error_of(r).find("input 'x': datatype INT32, the model takes FP32"), std::string::npos) << r.body;
  r = post_json("/v2/models/doubler/infer", input({2, 2}, "FP32", {1, 2, 3, 4}));  // wrong shape
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(error_of(r).find("input 'x': shape [2, 2], the model takes [-1, 4]"), std::string::npos) << r.body;
  r = post_json("/v2/models/doubler/infer", input({1, 4}, "FP32", {1, 2, 3}));  // too few elements
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(error_of(r).find("input 'x': 3 elements of data, shape [1, 4] needs 4"), std::string::npos) << r.body;
  // A binary tensor whose byte size does not fit its shape.
  const std::string json = Json{{"inputs", Json::array({{{"name", "x"}, {"shape", {1, 4}}, {"datatype", "FP32"},
                                                          {"parameters", {{"binary_data_size", 12}}}}})}}
                               .dump();
  r = post_binary("/v2/models/doubler/infer", json, float_bytes({1, 2, 3}));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(error_of(r).find("tensor 'x': 12 bytes of data, shape [1, 4] of FP32 needs 16"), std::string::npos)
      << r.body;
  r = post_json("/v2/models/doubler/infer", Json{{"inputs", "nope"}});
  EXPECT_EQ(r.status, 400);
  r = curl("-X POST --data-binary '{not json' " + quoted(base_ + "/v2/models/doubler/infer"));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(error_of(r).find("not a JSON object"), std::string::npos) << r.body;
  // Unknown model or version: 404.
  r = get("/v2/models/tripler");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(error_of(r).find("no model 'tripler' (models: doubler)"), std::string::npos) << r.body;
  r = post_json("/v2/models/doubler/versions/2/infer", input({1, 4}, "FP32", {1, 2, 3, 4}));
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(error_of(r).find("model 'doubler' has no version '2'"), std::string::npos) << r.body;
  // A body over the proxy's limit: 413, before anything reaches the model.
  const std::string file = std::filesystem::temp_directory_path() / ("cserve_big_" + std::to_string(::getpid()));
  std::ofstream(file, std::ios::binary) << std::string((10u << 20) + 1, ' ');
  r = curl("-X POST --data-binary @" + file + " " + quoted(base_ + "/v2/models/doubler/infer"));
  std::filesystem::remove(file);
  EXPECT_EQ(r.status, 413);
}

TEST(InferenceBatching, RequestsToABatchedModelShareOneForwardPass) {
  Serve serve = test::start_local();
  serve.run(deployment<BatchedDoubler>().max_ongoing_requests(16).bind(), RunOptions{.name = "batched"});
  const std::string url = "http://127.0.0.1:" + std::to_string(serve.http_port()) + "/v2/models/BatchedDoubler/infer";
  // Eight clients at once, each with its own row; every answer is its own row doubled.
  const std::string dir = std::filesystem::temp_directory_path() / ("cserve_batch_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string script;
  for (int i = 0; i < 8; ++i) {
    const Json body{{"inputs", Json::array({{{"name", "x"}, {"shape", {1, 2}}, {"datatype", "FP32"},
                                             {"data", {i, 10 * i}}}})}};
    script += "curl -s -S -o " + dir + "/" + std::to_string(i) + " --data-binary " + quoted(body.dump()) + " " +
              quoted(url) + " & ";
  }
  script += "wait";
  g_largest_batch = 0;
  ASSERT_EQ(std::system(script.c_str()), 0);
  for (int i = 0; i < 8; ++i) {
    std::ifstream in(dir + "/" + std::to_string(i));
    std::stringstream s;
    s << in.rdbuf();
    Json j = Json::parse(s.str(), nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << s.str();
    EXPECT_EQ(j["outputs"][0]["data"], Json::array({2.0 * i, 20.0 * i})) << s.str();
  }
  std::filesystem::remove_all(dir);
  EXPECT_GT(g_largest_batch.load(), 1) << "eight requests at once never shared a batch";
}

}  // namespace
}  // namespace cserve
