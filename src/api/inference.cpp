#include <cserve/detail/inference_http.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <utility>

namespace cserve {
namespace {

struct TypeInfo {
  DataType type;
  std::string_view name;
  std::size_t size;
};
constexpr std::array<TypeInfo, 13> kTypes = {{{DataType::kBool, "BOOL", 1},
                                              {DataType::kUint8, "UINT8", 1},
                                              {DataType::kUint16, "UINT16", 2},
                                              {DataType::kUint32, "UINT32", 4},
                                              {DataType::kUint64, "UINT64", 8},
                                              {DataType::kInt8, "INT8", 1},
                                              {DataType::kInt16, "INT16", 2},
                                              {DataType::kInt32, "INT32", 4},
                                              {DataType::kInt64, "INT64", 8},
                                              {DataType::kFp16, "FP16", 2},
                                              {DataType::kFp32, "FP32", 4},
                                              {DataType::kFp64, "FP64", 8},
                                              {DataType::kBytes, "BYTES", 0}}};

Error invalid(const std::string& message) { return Error(message, ErrorCode::kInvalidArgument); }

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

// The element count of a shape; throws for negative dimensions or an overflowing product.
std::int64_t count_of(const std::string& tensor, const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) {
    if (d < 0) throw invalid("tensor '" + tensor + "': shape " + shape_text(shape) + " has a negative dimension");
    if (d != 0 && n > std::numeric_limits<std::int64_t>::max() / d) {
      throw invalid("tensor '" + tensor + "': shape " + shape_text(shape) + " is too large");
    }
    n *= d;
  }
  return n;
}

// The number of elements in BYTES data (u32 length + bytes each), or nullopt if malformed.
std::optional<std::int64_t> bytes_elements(std::string_view data) {
  std::int64_t n = 0;
  while (!data.empty()) {
    if (data.size() < 4) return std::nullopt;
    std::uint32_t len = 0;
    std::memcpy(&len, data.data(), 4);
    if (data.size() - 4 < len) return std::nullopt;
    data.remove_prefix(4 + len);
    ++n;
  }
  return n;
}

void put_element(std::string& out, std::string_view bytes) {
  const auto len = static_cast<std::uint32_t>(bytes.size());
  out.append(reinterpret_cast<const char*>(&len), 4);
  out.append(bytes);
}

}  // namespace

std::string_view to_string(DataType t) {
  for (const auto& i : kTypes) {
    if (i.type == t) return i.name;
  }
  return "?";
}

std::optional<DataType> data_type_named(std::string_view name) {
  for (const auto& i : kTypes) {
    if (i.name == name) return i.type;
  }
  return std::nullopt;
}

std::size_t element_size(DataType t) {
  for (const auto& i : kTypes) {
    if (i.type == t) return i.size;
  }
  return 0;
}

Tensor::Tensor(std::string name, DataType datatype, std::vector<std::int64_t> shape)
    : name_(std::move(name)), datatype_(datatype), shape_(std::move(shape)) {
  const std::int64_t n = count_of(name_, shape_);
  if (datatype_ == DataType::kBytes) {
    data_.assign(static_cast<std::size_t>(n) * 4, '\0');  // n empty elements
  } else {
    data_.assign(static_cast<std::size_t>(n) * element_size(datatype_), '\0');
  }
}

Tensor Tensor::from_bytes(std::string name, DataType datatype, std::vector<std::int64_t> shape, std::string bytes) {
  Tensor t;
  const std::int64_t n = count_of(name, shape);
  if (datatype == DataType::kBytes) {
    auto elements = bytes_elements(bytes);
    if (!elements || *elements != n) {
      throw invalid("tensor '" + name + "': its BYTES data holds " +
                    (elements ? std::to_string(*elements) + " elements" : std::string("malformed elements")) +
                    ", shape " + shape_text(shape) + " needs " + std::to_string(n));
    }
  } else if (bytes.size() != static_cast<std::uint64_t>(n) * element_size(datatype)) {
    throw invalid("tensor '" + name + "': " + std::to_string(bytes.size()) + " bytes of data, shape " +
                  shape_text(shape) + " of " + std::string(to_string(datatype)) + " needs " +
                  std::to_string(static_cast<std::uint64_t>(n) * element_size(datatype)));
  }
  t.name_ = std::move(name);
  t.datatype_ = datatype;
  t.shape_ = std::move(shape);
  t.data_ = std::move(bytes);
  return t;
}

Tensor Tensor::of_strings(std::string name, std::vector<std::int64_t> shape, const std::vector<std::string>& values) {
  std::string bytes;
  for (const auto& v : values) put_element(bytes, v);
  return from_bytes(std::move(name), DataType::kBytes, std::move(shape), std::move(bytes));
}

std::int64_t Tensor::element_count() const { return count_of(name_, shape_); }

std::vector<std::string_view> Tensor::strings() const {
  check_type(DataType::kBytes);
  std::vector<std::string_view> out;
  std::string_view data = data_;
  while (data.size() >= 4) {
    std::uint32_t len = 0;
    std::memcpy(&len, data.data(), 4);
    out.push_back(data.substr(4, len));
    data.remove_prefix(4 + len);
  }
  return out;
}

void Tensor::check_type(std::optional<DataType> wanted) const {
  if (wanted != datatype_) {
    throw invalid("tensor '" + name_ + "' is " + std::string(to_string(datatype_)) + ", read as " +
                  (wanted ? std::string(to_string(*wanted)) : std::string("another type")));
  }
}

const Tensor& InferRequest::input(std::string_view name) const {
  for (const auto& t : inputs) {
    if (t.name() == name) return t;
  }
  throw invalid("the request has no input '" + std::string(name) + "'");
}

namespace detail {

void check_request(const ModelMetadata& metadata, const InferRequest& request) {
  for (const auto& spec : metadata.inputs) {
    const auto it = std::find_if(request.inputs.begin(), request.inputs.end(),
                                 [&](const Tensor& t) { return t.name() == spec.name; });
    if (it == request.inputs.end()) throw invalid("input '" + spec.name + "' is missing");
    if (it->datatype() != spec.datatype) {
      throw invalid("input '" + spec.name + "': datatype " + std::string(to_string(it->datatype())) +
                    ", the model takes " + std::string(to_string(spec.datatype)));
    }
    bool fits = it->shape().size() == spec.shape.size();
    for (std::size_t i = 0; fits && i < spec.shape.size(); ++i) {
      fits = spec.shape[i] < 0 || spec.shape[i] == it->shape()[i];
    }
    if (!fits) {
      throw invalid("input '" + spec.name + "': shape " + shape_text(it->shape()) + ", the model takes " +
                    shape_text(spec.shape));
    }
  }
  for (const auto& t : request.inputs) {
    const bool declared = std::any_of(metadata.inputs.begin(), metadata.inputs.end(),
                                      [&](const TensorSpec& s) { return s.name == t.name(); });
    if (!declared) throw invalid("input '" + t.name() + "' is not an input of the model");
  }
  for (const auto& name : request.outputs) {
    const bool declared = std::any_of(metadata.outputs.begin(), metadata.outputs.end(),
                                      [&](const TensorSpec& s) { return s.name == name; });
    if (!declared) throw invalid("output '" + name + "' is not an output of the model");
  }
}

Json metadata_json(const std::string& model, const ModelMetadata& metadata) {
  auto tensors = [](const std::vector<TensorSpec>& specs) {
    Json out = Json::array();
    for (const auto& s : specs) out.push_back({{"name", s.name}, {"datatype", to_string(s.datatype)}, {"shape", s.shape}});
    return out;
  };
  Json j{{"name", model}, {"platform", metadata.platform}, {"inputs", tensors(metadata.inputs)},
         {"outputs", tensors(metadata.outputs)}};
  if (!metadata.versions.empty()) j["versions"] = metadata.versions;
  return j;
}

namespace {

// JSON tensor data, flattened (nested arrays in row-major order), appended as elements.
void flatten(const std::string& tensor, DataType type, const Json& data, std::string& out, std::int64_t& count) {
  if (data.is_array()) {
    for (const auto& d : data) flatten(tensor, type, d, out, count);
    return;
  }
  auto bad = [&](const char* what) {
    return invalid("input '" + tensor + "': element " + std::to_string(count) + " (" + data.dump() + ") is not " +
                   what);
  };
  auto integer = [&]<class T>(T*) {
    T v{};
    if (data.is_number_integer()) {
      if constexpr (std::is_signed_v<T>) {
        const auto x = data.get<std::int64_t>();
        if (data.is_number_unsigned() && data.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) {
          throw bad("in range");
        }
        if (x < std::numeric_limits<T>::min() || x > std::numeric_limits<T>::max()) throw bad("in range");
        v = static_cast<T>(x);
      } else {
        if (!data.is_number_unsigned()) throw bad("unsigned");
        const auto x = data.get<std::uint64_t>();
        if (x > std::numeric_limits<T>::max()) throw bad("in range");
        v = static_cast<T>(x);
      }
    } else {
      throw bad("an integer");
    }
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
  };
  switch (type) {
    case DataType::kBool:
      if (!data.is_boolean()) throw bad("a boolean");
      out.push_back(data.get<bool>() ? 1 : 0);
      break;
    case DataType::kUint8: integer(static_cast<std::uint8_t*>(nullptr)); break;
    case DataType::kUint16: integer(static_cast<std::uint16_t*>(nullptr)); break;
    case DataType::kUint32: integer(static_cast<std::uint32_t*>(nullptr)); break;
    case DataType::kUint64: integer(static_cast<std::uint64_t*>(nullptr)); break;
    case DataType::kInt8: integer(static_cast<std::int8_t*>(nullptr)); break;
    case DataType::kInt16: integer(static_cast<std::int16_t*>(nullptr)); break;
    case DataType::kInt32: integer(static_cast<std::int32_t*>(nullptr)); break;
    case DataType::kInt64: integer(static_cast<std::int64_t*>(nullptr)); break;
    case DataType::kFp16:
      throw invalid("input '" + tensor + "': FP16 data travels as binary data (binary_data_size), not JSON");
    case DataType::kFp32: {
      if (!data.is_number()) throw bad("a number");
      const float v = data.get<float>();
      out.append(reinterpret_cast<const char*>(&v), sizeof v);
      break;
    }
    case DataType::kFp64: {
      if (!data.is_number()) throw bad("a number");
      const double v = data.get<double>();
      out.append(reinterpret_cast<const char*>(&v), sizeof v);
      break;
    }
    case DataType::kBytes:
      if (!data.is_string()) throw bad("a string");
      put_element(out, data.get_ref<const std::string&>());
      break;
  }
  ++count;
}

template <class T>
void append_values(const Tensor& t, Json& out) {
  for (T v : t.values<T>()) out.push_back(v);
}

Json json_data(const Tensor& t) {
  Json out = Json::array();
  switch (t.datatype()) {
    case DataType::kBool:
      for (char c : t.bytes()) out.push_back(c != 0);
      break;
    case DataType::kUint8: append_values<std::uint8_t>(t, out); break;
    case DataType::kUint16: append_values<std::uint16_t>(t, out); break;
    case DataType::kUint32: append_values<std::uint32_t>(t, out); break;
    case DataType::kUint64: append_values<std::uint64_t>(t, out); break;
    case DataType::kInt8: append_values<std::int8_t>(t, out); break;
    case DataType::kInt16: append_values<std::int16_t>(t, out); break;
    case DataType::kInt32: append_values<std::int32_t>(t, out); break;
    case DataType::kInt64: append_values<std::int64_t>(t, out); break;
    case DataType::kFp16:
      throw invalid("output '" + t.name() + "' is FP16: ask for it as binary data (\"binary_data\": true)");
    case DataType::kFp32: append_values<float>(t, out); break;
    case DataType::kFp64: append_values<double>(t, out); break;
    case DataType::kBytes:
      for (auto s : t.strings()) out.push_back(std::string(s));
      break;
  }
  return out;
}

std::vector<std::int64_t> shape_of(const std::string& tensor, const Json& j) {
  if (!j.is_array()) throw invalid("input '" + tensor + "': \"shape\" is not an array");
  std::vector<std::int64_t> shape;
  for (const auto& d : j) {
    if (!d.is_number_unsigned()) throw invalid("input '" + tensor + "': shape " + j.dump() + " is not of sizes");
    if (d.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      throw invalid("input '" + tensor + "': shape " + j.dump() + " is too large");
    }
    shape.push_back(d.get<std::int64_t>());
  }
  return shape;
}

const Json* parameter(const Json& object, const char* name) {
  if (!object.is_object()) return nullptr;
  auto params = object.find("parameters");
  if (params == object.end() || !params->is_object()) return nullptr;
  auto p = params->find(name);
  return p == params->end() ? nullptr : &*p;
}

std::string string_field(const Json& j, const char* field, const std::string& where) {
  auto it = j.find(field);
  if (it == j.end() || !it->is_string()) throw invalid(where + ": \"" + field + "\" is missing or not a string");
  return it->get<std::string>();
}

}  // namespace

RestInfer decode_rest_infer(const Request& req) {
  std::string_view body = req.body();
  std::string_view binary;
  if (auto header = req.header("inference-header-content-length")) {
    std::size_t n = 0;
    const std::string text(*header);
    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos || text.size() > 18 ||
        (n = std::stoull(text)) > body.size()) {
      throw invalid("Inference-Header-Content-Length '" + text + "' is not a size within the body (" +
                    std::to_string(body.size()) + " bytes)");
    }
    binary = body.substr(n);
    body = body.substr(0, n);
  }
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) throw invalid("the inference request is not a JSON object");
  RestInfer out;
  if (auto id = j.find("id"); id != j.end()) {
    if (!id->is_string()) throw invalid("\"id\" is not a string");
    out.request.id = id->get<std::string>();
  }
  if (auto params = j.find("parameters"); params != j.end()) {
    if (!params->is_object()) throw invalid("\"parameters\" is not an object");
    out.request.parameters = *params;
    if (auto b = params->find("binary_data_output"); b != params->end() && b->is_boolean()) out.all_binary = b->get<bool>();
  }
  auto inputs = j.find("inputs");
  if (inputs == j.end() || !inputs->is_array()) throw invalid("\"inputs\" is missing or not an array");
  for (const auto& in : *inputs) {
    if (!in.is_object()) throw invalid("an input is not an object");
    const std::string name = string_field(in, "name", "an input");
    const std::string type_name = string_field(in, "datatype", "input '" + name + "'");
    const auto type = data_type_named(type_name);
    if (!type) throw invalid("input '" + name + "': unknown datatype '" + type_name + "'");
    auto shape_it = in.find("shape");
    if (shape_it == in.end()) throw invalid("input '" + name + "': \"shape\" is missing");
    std::vector<std::int64_t> shape = shape_of(name, *shape_it);
    std::string bytes;
    if (const Json* size = parameter(in, "binary_data_size")) {
      if (!size->is_number_unsigned()) throw invalid("input '" + name + "': binary_data_size is not a size");
      const auto n = size->get<std::uint64_t>();
      if (n > binary.size()) {
        throw invalid("input '" + name + "': binary_data_size " + std::to_string(n) + " is more than the " +
                      std::to_string(binary.size()) + " binary bytes left in the body");
      }
      bytes.assign(binary.substr(0, n));
      binary.remove_prefix(n);
    } else {
      auto data = in.find("data");
      if (data == in.end()) throw invalid("input '" + name + "': no \"data\" and no binary_data_size");
      std::int64_t count = 0;
      flatten(name, *type, *data, bytes, count);
      const std::int64_t expected = count_of(name, shape);
      if (count != expected) {
        throw invalid("input '" + name + "': " + std::to_string(count) + " elements of data, shape " +
                      shape_text(shape) + " needs " + std::to_string(expected));
      }
    }
    out.request.inputs.push_back(Tensor::from_bytes(name, *type, std::move(shape), std::move(bytes)));
  }
  if (!binary.empty()) {
    throw invalid(std::to_string(binary.size()) + " bytes of binary data after the JSON belong to no input");
  }
  if (auto outputs = j.find("outputs"); outputs != j.end()) {
    if (!outputs->is_array()) throw invalid("\"outputs\" is not an array");
    for (const auto& o : *outputs) {
      if (!o.is_object()) throw invalid("an output is not an object");
      const std::string name = string_field(o, "name", "an output");
      if (const Json* b = parameter(o, "binary_data"); b && b->is_boolean() && b->get<bool>()) out.binary.insert(name);
      out.request.outputs.push_back(name);
    }
  }
  return out;
}

Response encode_rest_infer(const std::string& model, const RestInfer& asked, InferResponse response) {
  std::vector<const Tensor*> outputs;
  if (asked.request.outputs.empty()) {
    for (const auto& t : response.outputs) outputs.push_back(&t);
  } else {
    for (const auto& name : asked.request.outputs) {
      auto it = std::find_if(response.outputs.begin(), response.outputs.end(),
                             [&](const Tensor& t) { return t.name() == name; });
      if (it == response.outputs.end()) {
        throw Error("the model produced no output '" + name + "', which the request asked for", ErrorCode::kInternal);
      }
      outputs.push_back(&*it);
    }
  }
  Json j{{"model_name", model}, {"outputs", Json::array()}};
  if (!asked.request.model_version.empty()) j["model_version"] = asked.request.model_version;
  if (!asked.request.id.empty()) j["id"] = asked.request.id;
  if (!response.parameters.empty()) j["parameters"] = response.parameters;
  std::string binary;
  for (const Tensor* t : outputs) {
    Json o{{"name", t->name()}, {"datatype", to_string(t->datatype())}, {"shape", t->shape()}};
    if (asked.all_binary || asked.binary.count(t->name())) {
      o["parameters"] = {{"binary_data_size", t->bytes().size()}};
      binary += t->bytes();
    } else {
      o["data"] = json_data(*t);
    }
    j["outputs"].push_back(std::move(o));
  }
  Response r;
  r.body = j.dump();
  if (!binary.empty() || asked.all_binary || !asked.binary.empty()) {
    r.headers.emplace_back("Inference-Header-Content-Length", std::to_string(r.body.size()));
    r.content_type = "application/octet-stream";
    r.body += binary;
  }
  return r;
}

namespace {

// /v2/models/{name}[/versions/{v}][/ready|/infer] -> version and action.
struct ModelPath {
  std::string model, version, action;
};

ModelPath model_path(const std::string& path) {
  std::vector<std::string> parts;
  for (std::size_t at = 1; at <= path.size();) {
    const std::size_t slash = path.find('/', at);
    const std::size_t end = slash == std::string::npos ? path.size() : slash;
    parts.push_back(path.substr(at, end - at));
    at = end + 1;
  }
  ModelPath p;
  if (parts.size() < 3 || parts[0] != "v2" || parts[1] != "models" || parts[2].empty()) {
    throw Error("not a model path: " + path, ErrorCode::kNotFound);
  }
  p.model = parts[2];
  std::size_t next = 3;
  if (parts.size() > 4 && parts[3] == "versions") {
    p.version = parts[4];
    next = 5;
  }
  if (parts.size() == next + 1) p.action = parts[next];
  if (parts.size() > next + 1 || (!p.action.empty() && p.action != "ready" && p.action != "infer")) {
    throw Error("not a model path: " + path, ErrorCode::kNotFound);
  }
  return p;
}

}  // namespace

void serve_inference_http(const Request& req, const ModelMetadata& metadata, InferFn infer, HttpAnswer done) {
  ModelPath path;
  RestInfer asked;
  try {
    path = model_path(req.full_path());
    if (!path.version.empty() &&
        std::find(metadata.versions.begin(), metadata.versions.end(), path.version) == metadata.versions.end()) {
      throw Error("model '" + path.model + "' has no version '" + path.version + "'", ErrorCode::kNotFound);
    }
    if (path.action.empty() || path.action == "ready") {
      if (req.method() != "GET" && req.method() != "HEAD") throw HttpError(405, "use GET for " + req.full_path());
      return done(path.action.empty() ? Response::json(metadata_json(path.model, metadata)) : Response::text("", 200),
                  nullptr);
    }
    if (req.method() != "POST") throw HttpError(405, "use POST for " + req.full_path());
    asked = decode_rest_infer(req);
    asked.request.model_name = path.model;
    asked.request.model_version = path.version;
    check_request(metadata, asked.request);
  } catch (...) {
    return done({}, std::current_exception());
  }
  // The tensors move into infer(); what the answer needs (id, outputs asked for) stays here.
  InferRequest request = std::move(asked.request);
  asked.request = InferRequest{request.model_name, request.model_version, request.id, Json::object(), {}, request.outputs};
  infer(std::move(request), [asked = std::move(asked), done = std::move(done)](InferResponse response,
                                                                               std::exception_ptr error) mutable {
    if (error) return done({}, error);
    Response answer;
    try {
      answer = encode_rest_infer(asked.request.model_name, asked, std::move(response));
    } catch (...) {
      return done({}, std::current_exception());
    }
    done(std::move(answer), nullptr);
  });
}

}  // namespace detail
}  // namespace cserve
