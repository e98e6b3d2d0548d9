// The Open Inference Protocol's pure pieces: datatypes, tensors, the checks against a model's
// metadata, and the REST codec (JSON tensors and the binary tensor data extension).
#include <cserve/detail/inference_http.hpp>

#include <gtest/gtest.h>

#include <cstring>

namespace cserve::detail {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    return e.what();
  }
  return "(no error)";
}

Request post(std::string body, Headers headers = {}) {
  return Request("POST", "/v2/models/m/infer", "", std::move(headers), std::move(body));
}

TEST(InferenceTypes, DatatypesHaveTheProtocolsNamesAndSizes) {
  for (auto t : {DataType::kBool, DataType::kUint8, DataType::kUint16, DataType::kUint32, DataType::kUint64,
                 DataType::kInt8, DataType::kInt16, DataType::kInt32, DataType::kInt64, DataType::kFp16,
                 DataType::kFp32, DataType::kFp64, DataType::kBytes}) {
    EXPECT_EQ(data_type_named(to_string(t)), t);
  }
  EXPECT_EQ(to_string(DataType::kFp16), "FP16");
  EXPECT_EQ(element_size(DataType::kUint64), 8u);
  EXPECT_EQ(element_size(DataType::kBytes), 0u);
  EXPECT_FALSE(data_type_named("fp32"));  // case-sensitive
}

TEST(InferenceTypes, TensorsCheckTheirBytesAgainstTheirShape) {
  Tensor t = Tensor::of<std::int32_t>("a", {2, 2}, {1, 2, 3, 4});
  EXPECT_EQ(t.values<std::int32_t>()[3], 4);
  EXPECT_NE(error_of([&] { (void)t.values<float>(); }).find("tensor 'a' is INT32, read as FP32"), std::string::npos);
  EXPECT_NE(error_of([] { Tensor::of<float>("b", {3}, {1, 2}); }).find("tensor 'b': 8 bytes of data, shape [3]"),
            std::string::npos);
  Tensor s = Tensor::of_strings("s", {2}, {"ab", ""});
  ASSERT_EQ(s.strings().size(), 2u);
  EXPECT_EQ(s.strings()[0], "ab");
  EXPECT_NE(error_of([] { Tensor::from_bytes("c", DataType::kBytes, {1}, std::string("\x05\x00\x00\x00" "ab", 6)); })
                .find("malformed elements"),
            std::string::npos);
  EXPECT_NE(error_of([] { Tensor("d", DataType::kFp32, {-1}); }).find("negative dimension"), std::string::npos);
}

TEST(InferenceRest, JsonTensorsOfEveryKindDecode) {
  RestInfer r = decode_rest_infer(post(R"({"id": "7", "parameters": {"p": 1}, "inputs": [
      {"name": "b", "shape": [2], "datatype": "BOOL", "data": [true, false]},
      {"name": "u8", "shape": [1, 2], "datatype": "UINT8", "data": [[0, 255]]},
      {"name": "i64", "shape": [1], "datatype": "INT64", "data": [-9007199254740993]},
      {"name": "f", "shape": [2], "datatype": "FP64", "data": [0.5, 3]},
      {"name": "s", "shape": [1], "datatype": "BYTES", "data": ["hi"]}],
      "outputs": [{"name": "o", "parameters": {"binary_data": true}}]})"));
  EXPECT_EQ(r.request.id, "7");
  EXPECT_EQ(r.request.parameters["p"], 1);
  ASSERT_EQ(r.request.inputs.size(), 5u);
  EXPECT_EQ(r.request.inputs[0].bytes(), std::string("\x01\x00", 2));
  EXPECT_EQ(r.request.inputs[1].values<std::uint8_t>()[1], 255);
  EXPECT_EQ(r.request.inputs[2].values<std::int64_t>()[0], -9007199254740993);
  EXPECT_EQ(r.request.inputs[3].values<double>()[1], 3.0);
  EXPECT_EQ(r.request.inputs[4].strings()[0], "hi");
  EXPECT_EQ(r.request.outputs, std::vector<std::string>{"o"});
  EXPECT_EQ(r.binary.count("o"), 1u);
}

TEST(InferenceRest, MalformedRequestsSayWhatIsWrong) {
  auto decode = [](std::string body, Headers h = {}) {
    return error_of([&] { decode_rest_infer(post(body, h)); });
  };
  EXPECT_NE(decode("[1]").find("not a JSON object"), std::string::npos);
  EXPECT_NE(decode(R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP8", "data": [1]}]})")
                .find("input 'x': unknown datatype 'FP8'"),
            std::string::npos);
  EXPECT_NE(decode(R"({"inputs": [{"name": "x", "shape": [1], "datatype": "UINT8", "data": [256]}]})")
                .find("input 'x': element 0 (256) is not in range"),
            std::string::npos);
  EXPECT_NE(decode(R"({"inputs": [{"name": "x", "shape": [1], "datatype": "UINT8", "data": [-1]}]})")
                .find("is not unsigned"),
            std::string::npos);
  EXPECT_NE(decode(R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP16", "data": [1]}]})")
                .find("FP16 data travels as binary data"),
            std::string::npos);
  EXPECT_NE(decode(R"({"inputs": [{"name": "x", "shape": [-1], "datatype": "FP32", "data": [1]}]})")
                .find("is not of sizes"),
            std::string::npos);
  EXPECT_NE(decode(R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32"}]})").find("no \"data\""),
            std::string::npos);
  // The binary extension: a header length past the body, bytes left over, a size past the end.
  const std::string json = R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32",
                                "parameters": {"binary_data_size": 4}}]})";
  EXPECT_NE(decode(json + "abcd", {{"Inference-Header-Content-Length", "99999"}}).find("not a size within the body"),
            std::string::npos);
  EXPECT_NE(decode(json + "abcdef", {{"Inference-Header-Content-Length", std::to_string(json.size())}})
                .find("2 bytes of binary data after the JSON belong to no input"),
            std::string::npos);
  EXPECT_NE(decode(json + "ab", {{"Inference-Header-Content-Length", std::to_string(json.size())}})
                .find("binary_data_size 4 is more than the 2 binary bytes left"),
            std::string::npos);
  EXPECT_NE(decode(json).find("binary_data_size 4 is more than the 0 binary bytes left"), std::string::npos);
}

TEST(InferenceRest, RequestsAreCheckedAgainstTheMetadata) {
  ModelMetadata m{.inputs = {{"x", DataType::kFp32, {-1, 2}}}, .outputs = {{"y", DataType::kFp32, {-1}}}};
  InferRequest ok;
  ok.inputs.push_back(Tensor::of<float>("x", {3, 2}, {1, 2, 3, 4, 5, 6}));
  check_request(m, ok);
  InferRequest missing;
  EXPECT_NE(error_of([&] { check_request(m, missing); }).find("input 'x' is missing"), std::string::npos);
  InferRequest extra = ok;
  extra.inputs.push_back(Tensor::of<float>("z", {1}, {1}));
  EXPECT_NE(error_of([&] { check_request(m, extra); }).find("input 'z' is not an input of the model"),
            std::string::npos);
  InferRequest rank;
  rank.inputs.push_back(Tensor::of<float>("x", {6}, {1, 2, 3, 4, 5, 6}));
  EXPECT_NE(error_of([&] { check_request(m, rank); }).find("input 'x': shape [6], the model takes [-1, 2]"),
            std::string::npos);
  InferRequest asks = ok;
  asks.outputs = {"w"};
  EXPECT_NE(error_of([&] { check_request(m, asks); }).find("output 'w' is not an output of the model"),
            std::string::npos);
}

TEST(InferenceRest, ResponsesAreJsonOrBinaryAsAsked) {
  RestInfer asked;
  asked.request.id = "r1";
  InferResponse response;
  response.outputs.push_back(Tensor::of<std::uint16_t>("a", {2}, {1, 65535}));
  response.outputs.push_back(Tensor::of<bool>("b", {1}, {true}));
  Response r = encode_rest_infer("m", asked, response);
  EXPECT_EQ(r.content_type, "application/json");
  Json j = Json::parse(r.body);
  EXPECT_EQ(j["model_name"], "m");
  EXPECT_EQ(j["id"], "r1");
  EXPECT_EQ(j["outputs"][0]["data"], Json::parse("[1, 65535]"));
  EXPECT_EQ(j["outputs"][1]["data"], Json::parse("[true]"));
  asked.binary = {"a"};
  r = encode_rest_infer("m", asked, response);
  EXPECT_EQ(r.content_type, "application/octet-stream");
  ASSERT_EQ(r.headers.size(), 1u);
  const std::size_t n = std::stoul(r.headers[0].second);
  EXPECT_EQ(r.body.substr(n), std::string("\x01\x00\xff\xff", 4));
  EXPECT_EQ(Json::parse(r.body.substr(0, n))["outputs"][0]["parameters"]["binary_data_size"], 4);
  // An output asked for that the model did not produce is the model's fault: kInternal.
  asked.request.outputs = {"c"};
  try {
    encode_rest_infer("m", asked, response);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInternal);
  }
}

}  // namespace
}  // namespace cserve::detail
