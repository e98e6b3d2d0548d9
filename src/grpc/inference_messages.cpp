#include "grpc/inference_messages.hpp"

#include <cserve/error.hpp>
#include <cserve/inference.hpp>

#include <cstdint>
#include <cstring>
#include <strings.h>
#include <limits>

namespace cserve::grpc_ingress {
namespace {

using Parameters = google::protobuf::Map<std::string, inference::InferParameter>;

Error invalid(const std::string& message) { return Error(message, ErrorCode::kInvalidArgument); }

Json json_of(const Parameters& params) {
  Json out = Json::object();
  for (const auto& [key, p] : params) {
    switch (p.parameter_choice_case()) {
      case inference::InferParameter::kBoolParam: out[key] = p.bool_param(); break;
      case inference::InferParameter::kInt64Param: out[key] = p.int64_param(); break;
      case inference::InferParameter::kStringParam: out[key] = p.string_param(); break;
      case inference::InferParameter::kDoubleParam: out[key] = p.double_param(); break;
      case inference::InferParameter::kUint64Param: out[key] = p.uint64_param(); break;
      case inference::InferParameter::PARAMETER_CHOICE_NOT_SET: break;
    }
  }
  return out;
}

void fill_parameters(const Json& j, Parameters& out) {
  if (!j.is_object()) return;
  for (const auto& [key, v] : j.items()) {
    inference::InferParameter p;
    if (v.is_boolean()) p.set_bool_param(v.get<bool>());
    else if (v.is_number_unsigned()) p.set_uint64_param(v.get<std::uint64_t>());
    else if (v.is_number_integer()) p.set_int64_param(v.get<std::int64_t>());
    else if (v.is_number_float()) p.set_double_param(v.get<double>());
    else if (v.is_string()) p.set_string_param(v.get<std::string>());
    else p.set_string_param(v.dump());  // an object or array: its JSON text
    out[key] = std::move(p);
  }
}

template <class T>
void append(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

// Values of a wider protobuf field, each checked to fit T.
template <class T, class Field>
void append_narrowed(std::string& out, const Field& values, const std::string& tensor) {
  std::size_t i = 0;
  for (auto v : values) {
    if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) {
      throw invalid("input '" + tensor + "': element " + std::to_string(i) + " (" + std::to_string(v) +
                    ") is out of range for its datatype");
    }
    append(out, static_cast<T>(v));
    ++i;
  }
}

// Which typed field carries `type`, and the element bytes of the values in it.
std::string typed_bytes(const inference::InferTensorContents& c, DataType type, const std::string& tensor) {
  std::string out;
  int used = 0;  // how many fields hold values: exactly the datatype's may
  used += c.bool_contents_size() > 0;
  used += c.int_contents_size() > 0;
  used += c.int64_contents_size() > 0;
  used += c.uint_contents_size() > 0;
  used += c.uint64_contents_size() > 0;
  used += c.fp32_contents_size() > 0;
  used += c.fp64_contents_size() > 0;
  used += c.bytes_contents_size() > 0;
  int mine = 0;
  switch (type) {
    case DataType::kBool:
      mine = c.bool_contents_size() > 0;
      for (bool b : c.bool_contents()) out.push_back(b ? 1 : 0);
      break;
    case DataType::kInt8: mine = c.int_contents_size() > 0; append_narrowed<std::int8_t>(out, c.int_contents(), tensor); break;
    case DataType::kInt16: mine = c.int_contents_size() > 0; append_narrowed<std::int16_t>(out, c.int_contents(), tensor); break;
    case DataType::kInt32: mine = c.int_contents_size() > 0; append_narrowed<std::int32_t>(out, c.int_contents(), tensor); break;
    case DataType::kInt64: mine = c.int64_contents_size() > 0; append_narrowed<std::int64_t>(out, c.int64_contents(), tensor); break;
    case DataType::kUint8: mine = c.uint_contents_size() > 0; append_narrowed<std::uint8_t>(out, c.uint_contents(), tensor); break;
    case DataType::kUint16: mine = c.uint_contents_size() > 0; append_narrowed<std::uint16_t>(out, c.uint_contents(), tensor); break;
    case DataType::kUint32: mine = c.uint_contents_size() > 0; append_narrowed<std::uint32_t>(out, c.uint_contents(), tensor); break;
    case DataType::kUint64: mine = c.uint64_contents_size() > 0; append_narrowed<std::uint64_t>(out, c.uint64_contents(), tensor); break;
    case DataType::kFp32:
      mine = c.fp32_contents_size() > 0;
      for (float v : c.fp32_contents()) append(out, v);
      break;
    case DataType::kFp64:
      mine = c.fp64_contents_size() > 0;
      for (double v : c.fp64_contents()) append(out, v);
      break;
    case DataType::kBytes:
      mine = c.bytes_contents_size() > 0;
      for (const std::string& s : c.bytes_contents()) {
        append(out, static_cast<std::uint32_t>(s.size()));
        out += s;
      }
      break;
    case DataType::kFp16:
      throw invalid("input '" + tensor + "': FP16 data travels as raw_input_contents, not typed contents");
  }
  if (used > mine) {
    throw invalid("input '" + tensor + "': its contents are not in the field for " + std::string(to_string(type)));
  }
  return out;
}

}  // namespace

std::string model_path(const std::string& name, const std::string& version) {
  return "/v2/models/" + name + (version.empty() ? std::string() : "/versions/" + version);
}

Request rest_infer_request(inference::ModelInferRequest& message) {
  const int n = message.inputs_size();
  const bool raw = message.raw_input_contents_size() > 0;
  if (raw && message.raw_input_contents_size() != n) {
    throw invalid("raw_input_contents has " + std::to_string(message.raw_input_contents_size()) +
                  " entries for " + std::to_string(n) + " inputs: give one per input, in order");
  }
  Json params = json_of(message.parameters());
  params["binary_data_output"] = true;
  Json j{{"inputs", Json::array()}, {"parameters", std::move(params)}};
  if (!message.id().empty()) j["id"] = message.id();
  std::string binary;
  for (int i = 0; i < n; ++i) {
    const auto& in = message.inputs(i);
    std::string bytes;
    if (raw) {
      if (in.has_contents()) {
        throw invalid("input '" + in.name() + "' has typed contents beside raw_input_contents: use one or the other");
      }
      bytes = std::move(*message.mutable_raw_input_contents(i));
    } else {
      const auto type = data_type_named(in.datatype());
      if (!type) throw invalid("input '" + in.name() + "': unknown datatype '" + in.datatype() + "'");
      bytes = typed_bytes(in.contents(), *type, in.name());
    }
    Json input_params = json_of(in.parameters());
    input_params["binary_data_size"] = bytes.size();
    j["inputs"].push_back({{"name", in.name()},
                           {"datatype", in.datatype()},
                           {"shape", std::vector<std::int64_t>(in.shape().begin(), in.shape().end())},
                           {"parameters", std::move(input_params)}});
    binary += bytes;
  }
  if (message.outputs_size() > 0) {
    j["outputs"] = Json::array();
    for (const auto& out : message.outputs()) {
      Json output_params = json_of(out.parameters());
      output_params["binary_data"] = true;
      j["outputs"].push_back({{"name", out.name()}, {"parameters", std::move(output_params)}});
    }
  }
  std::string body = j.dump();
  const std::size_t header = body.size();
  body += binary;
  const std::string path = model_path(message.model_name(), message.model_version()) + "/infer";
  return Request("POST", path, {},
                 {{"content-type", "application/octet-stream"},
                  {"inference-header-content-length", std::to_string(header)}},
                 std::move(body));
}

void fill_infer_response(const Response& rest, inference::ModelInferResponse& out) {
  std::string_view body = rest.body;
  std::string_view binary;
  for (const auto& [name, value] : rest.headers) {
    if (name.size() == 31 && strncasecmp(name.c_str(), "inference-header-content-length", 31) == 0) {
      const std::size_t n = std::stoull(value);
      if (n > body.size()) throw Error("the model's answer has a bad Inference-Header-Content-Length", ErrorCode::kInternal);
      binary = body.substr(n);
      body = body.substr(0, n);
    }
  }
  const Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("outputs") || !j["outputs"].is_array()) {
    throw Error("the model's answer is not an inference response", ErrorCode::kInternal);
  }
  out.set_model_name(j.value("model_name", std::string()));
  out.set_model_version(j.value("model_version", std::string()));
  out.set_id(j.value("id", std::string()));
  if (j.contains("parameters")) fill_parameters(j["parameters"], *out.mutable_parameters());
  for (const auto& o : j["outputs"]) {
    auto* t = out.add_outputs();
    t->set_name(o.value("name", std::string()));
    t->set_datatype(o.value("datatype", std::string()));
    for (const auto& d : o.value("shape", Json::array())) t->add_shape(d.get<std::int64_t>());
    Json params = o.value("parameters", Json::object());
    const auto size = params.value("binary_data_size", std::uint64_t{0});
    if (!params.contains("binary_data_size") || size > binary.size()) {
      throw Error("the model's answer for output '" + t->name() + "' has no binary data", ErrorCode::kInternal);
    }
    params.erase("binary_data_size");
    fill_parameters(params, *t->mutable_parameters());
    out.add_raw_output_contents(std::string(binary.substr(0, size)));
    binary.remove_prefix(size);
  }
}

void fill_model_metadata(const Json& metadata, inference::ModelMetadataResponse& out) {
  out.set_name(metadata.value("name", std::string()));
  out.set_platform(metadata.value("platform", std::string()));
  for (const auto& v : metadata.value("versions", Json::array())) out.add_versions(v.get<std::string>());
  auto tensors = [](const Json& list, auto* field) {
    for (const auto& t : list) {
      auto* m = field->Add();
      m->set_name(t.value("name", std::string()));
      m->set_datatype(t.value("datatype", std::string()));
      for (const auto& d : t.value("shape", Json::array())) m->add_shape(d.get<std::int64_t>());
    }
  };
  tensors(metadata.value("inputs", Json::array()), out.mutable_inputs());
  tensors(metadata.value("outputs", Json::array()), out.mutable_outputs());
}

}  // namespace cserve::grpc_ingress
