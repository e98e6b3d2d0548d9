// cserve/codec.hpp — how a value crosses a process boundary (docs/wire.md, Values): the bytes a
// handle call's arguments and result become when the deployment runs in another process.
//
//   std::string, std::vector<std::uint8_t>   their raw bytes (never base64, never re-encoded)
//   anything nlohmann-json converts           MessagePack (numbers, vectors, maps, Json, ...)
//   your own type                              specialise cserve::Codec:
//
//   template <> struct cserve::Codec<Image> {
//     static void encode(const Image& v, std::string& out);   // append v's bytes to out
//     static Image decode(std::string_view bytes);             // throw cserve::Error if bad
//   };
//
// In-process calls never encode: values move. Decoding untrusted bytes that do not hold a T
// throws cserve::Error with kInvalidArgument naming the type.
// Thread-safety: codecs are stateless functions.
#pragma once

#include <cserve/detail/type_name.hpp>
#include <cserve/error.hpp>
#include <cserve/json.hpp>

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace cserve {

// The primary template has no members: a type is encodable when a specialisation (or one of the
// defaults below) provides encode and decode.
template <class T, class Enable = void>
struct Codec {};

template <>
struct Codec<std::string> {
  static void encode(const std::string& v, std::string& out) { out.append(v); }
  static std::string decode(std::string_view bytes) { return std::string(bytes); }
};

template <>
struct Codec<std::vector<std::uint8_t>> {
  static void encode(const std::vector<std::uint8_t>& v, std::string& out) {
    out.append(reinterpret_cast<const char*>(v.data()), v.size());
  }
  static std::vector<std::uint8_t> decode(std::string_view bytes) {
    return std::vector<std::uint8_t>(bytes.begin(), bytes.end());
  }
};

namespace detail {
template <class T>
concept JsonEncodable = std::is_constructible_v<Json, const T&> && requires(const Json& j) { j.get<T>(); };
}  // namespace detail

// Everything else nlohmann-json converts, as MessagePack.
template <class T>
struct Codec<T, std::enable_if_t<detail::JsonEncodable<T> && !std::is_same_v<T, std::string> &&
                                 !std::is_same_v<T, std::vector<std::uint8_t>>>> {
  static void encode(const T& v, std::string& out) { Json::to_msgpack(Json(v), out); }
  static T decode(std::string_view bytes) {
    Json j = Json::from_msgpack(bytes.begin(), bytes.end(), /*strict=*/true, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      throw Error("bytes that are not MessagePack where a " + std::string(detail::full_type_name<T>()) +
                      " was expected",
                  ErrorCode::kInvalidArgument);
    }
    try {
      return j.get<T>();
    } catch (const Json::exception& e) {
      throw Error("a value that is not a " + std::string(detail::full_type_name<T>()) + ": " + e.what(),
                  ErrorCode::kInvalidArgument);
    }
  }
};

// True when T can cross a process boundary.
template <class T>
concept Encodable = requires(const T& v, std::string& out, std::string_view bytes) {
  Codec<T>::encode(v, out);
  { Codec<T>::decode(bytes) } -> std::same_as<T>;
};

// The bytes of `v`. A type without a codec is a compile-time error that names it.
template <class T>
std::string encode(const T& v) {
  static_assert(Encodable<T>,
                "this type cannot cross a process boundary: give it nlohmann-json's to_json/from_json, "
                "or specialise cserve::Codec<T> with encode(const T&, std::string&) and decode(std::string_view)");
  std::string out;
  Codec<T>::encode(v, out);
  return out;
}

template <class T>
T decode(std::string_view bytes) {
  static_assert(Encodable<T>,
                "this type cannot cross a process boundary: give it nlohmann-json's to_json/from_json, "
                "or specialise cserve::Codec<T> with encode(const T&, std::string&) and decode(std::string_view)");
  return Codec<T>::decode(bytes);
}

}  // namespace cserve
