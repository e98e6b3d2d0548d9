// cserve/inference.hpp — models served over the Open Inference Protocol (KServe v2): named,
// typed tensors in and out.
//
//   class Doubler {
//    public:
//     cserve::ModelMetadata metadata() const {
//       return {.platform = "cserve", .inputs = {{"x", cserve::DataType::kFp32, {-1, 4}}},
//               .outputs = {{"y", cserve::DataType::kFp32, {-1, 4}}}};
//     }
//     cserve::InferResponse infer(cserve::InferRequest request) {
//       const cserve::Tensor& x = request.input("x");
//       cserve::Tensor y("y", cserve::DataType::kFp32, x.shape());
//       auto in = x.values<float>();
//       auto out = y.mutable_values<float>();
//       for (std::size_t i = 0; i < in.size(); ++i) out[i] = 2 * in[i];
//       return {.outputs = {std::move(y)}};
//     }
//   };
//   serve.run(cserve::deployment<Doubler>().bind());   // POST /v2/models/Doubler/infer
//
// A deployment whose class has metadata() and infer(InferRequest) (returning InferResponse or a
// Task of one) serves a model named after the deployment (or `.model_name("...")`). The proxy
// answers the protocol's REST paths (docs/inference.md): every request is checked against the
// metadata (input names, datatypes, shapes with -1 for any size, byte sizes) before infer() runs,
// and an error names the tensor. In-process a request moves into infer(): nothing is copied.
// Thread-safety: values; infer() runs on its replica's strand like any handler.
#pragma once

#include <cserve/error.hpp>
#include <cserve/json.hpp>

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace cserve {

// The protocol's tensor datatypes.
enum class DataType { kBool, kUint8, kUint16, kUint32, kUint64, kInt8, kInt16, kInt32, kInt64, kFp16, kFp32, kFp64, kBytes };

// "BOOL", "UINT8", ... "FP32", "BYTES".
std::string_view to_string(DataType t);
std::optional<DataType> data_type_named(std::string_view name);
// Bytes per element; 0 for BYTES (each element is a u32 length and its bytes).
std::size_t element_size(DataType t);

// The C++ element type of a datatype: what values<T>() takes.
template <class T>
constexpr std::optional<DataType> data_type_of() {
  if constexpr (std::is_same_v<T, bool>) return DataType::kBool;
  else if constexpr (std::is_same_v<T, std::uint8_t>) return DataType::kUint8;
  else if constexpr (std::is_same_v<T, std::uint16_t>) return DataType::kUint16;
  else if constexpr (std::is_same_v<T, std::uint32_t>) return DataType::kUint32;
  else if constexpr (std::is_same_v<T, std::uint64_t>) return DataType::kUint64;
  else if constexpr (std::is_same_v<T, std::int8_t>) return DataType::kInt8;
  else if constexpr (std::is_same_v<T, std::int16_t>) return DataType::kInt16;
  else if constexpr (std::is_same_v<T, std::int32_t>) return DataType::kInt32;
  else if constexpr (std::is_same_v<T, std::int64_t>) return DataType::kInt64;
  else if constexpr (std::is_same_v<T, float>) return DataType::kFp32;
  else if constexpr (std::is_same_v<T, double>) return DataType::kFp64;
  else return std::nullopt;
}

// A tensor the model declares: -1 in `shape` for a dimension of any size.
struct TensorSpec {
  std::string name;
  DataType datatype = DataType::kFp32;
  std::vector<std::int64_t> shape;
};

struct ModelMetadata {
  std::vector<std::string> versions;  // the versions a request may name (none: versions are refused)
  std::string platform = "cserve";
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
};

// A named tensor: row-major, contiguous, little-endian elements (BOOL one byte each; BYTES as a
// u32 length and the bytes, per element).
class Tensor {
 public:
  Tensor() = default;
  // Zero-filled (BYTES: that many empty elements).
  Tensor(std::string name, DataType datatype, std::vector<std::int64_t> shape);
  // From the raw bytes of its elements; throws Error (kInvalidArgument) naming the tensor when
  // their size does not match the shape.
  static Tensor from_bytes(std::string name, DataType datatype, std::vector<std::int64_t> shape, std::string bytes);
  template <class T>
  static Tensor of(std::string name, std::vector<std::int64_t> shape, const std::vector<T>& values);
  static Tensor of_strings(std::string name, std::vector<std::int64_t> shape, const std::vector<std::string>& values);

  const std::string& name() const { return name_; }
  DataType datatype() const { return datatype_; }
  const std::vector<std::int64_t>& shape() const { return shape_; }
  std::int64_t element_count() const;
  // The elements' bytes as the binary tensor extension carries them.
  const std::string& bytes() const { return data_; }

  // The elements as T, which must be the datatype's element type (Error otherwise).
  template <class T>
  std::span<const T> values() const {
    check_type(data_type_of<T>());
    return {reinterpret_cast<const T*>(data_.data()), data_.size() / sizeof(T)};
  }
  template <class T>
  std::span<T> mutable_values() {
    check_type(data_type_of<T>());
    return {reinterpret_cast<T*>(data_.data()), data_.size() / sizeof(T)};
  }
  // A BYTES tensor's elements.
  std::vector<std::string_view> strings() const;

 private:
  void check_type(std::optional<DataType> wanted) const;

  std::string name_;
  DataType datatype_ = DataType::kFp32;
  std::vector<std::int64_t> shape_;
  std::string data_;
};

struct InferRequest {
  std::string model_name;
  std::string model_version;   // "" when the request names none
  std::string id;              // the client's id, returned in the response
  Json parameters = Json::object();
  std::vector<Tensor> inputs;
  std::vector<std::string> outputs;  // the outputs asked for (none: all)

  // The input named `name`; throws Error (kInvalidArgument) when the request has none.
  const Tensor& input(std::string_view name) const;
};

struct InferResponse {
  std::vector<Tensor> outputs;
  Json parameters = Json::object();
};

template <class T>
Tensor Tensor::of(std::string name, std::vector<std::int64_t> shape, const std::vector<T>& values) {
  static_assert(data_type_of<T>().has_value(), "Tensor::of takes the element type of a protocol datatype");
  std::string bytes(values.size() * sizeof(T), '\0');
  if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  return from_bytes(std::move(name), *data_type_of<T>(), std::move(shape), std::move(bytes));
}

template <>
inline Tensor Tensor::of<bool>(std::string name, std::vector<std::int64_t> shape, const std::vector<bool>& values) {
  std::string bytes;
  for (bool v : values) bytes.push_back(v ? 1 : 0);
  return from_bytes(std::move(name), DataType::kBool, std::move(shape), std::move(bytes));
}

namespace detail {

template <class T>
concept ServesModel = requires(T& t, InferRequest r) {
  { t.metadata() } -> std::convertible_to<ModelMetadata>;
  t.infer(std::move(r));
};

// Checks `request` against the model's metadata: every declared input present with its datatype
// and a matching shape, no undeclared input, asked-for outputs declared. Throws Error
// (kInvalidArgument) naming the tensor.
void check_request(const ModelMetadata& metadata, const InferRequest& request);

Json metadata_json(const std::string& model, const ModelMetadata& metadata);

}  // namespace detail
}  // namespace cserve
