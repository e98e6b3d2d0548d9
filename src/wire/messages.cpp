#include "wire/messages.hpp"

#include "wire/bytes.hpp"

#include <utility>

namespace cserve::wire {
namespace {

Failure malformed(const std::string& what) { return {ErrorCode::kInvalidArgument, "malformed " + what}; }

// A MessagePack map, or why the bytes are not one.
Decoded<Json> map_of(std::string_view bytes, const char* what) {
  Json j = Json::from_msgpack(bytes.begin(), bytes.end(), /*strict=*/true, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return malformed(std::string(what) + ": not a MessagePack map");
  return j;
}

bool is_int(const Json& j) { return j.is_number_integer(); }

}  // namespace

std::string encode_hello(const Hello& h) {
  Json j{{"protocol", kProtocol}, {"version", h.version}, {"max_frame_bytes", h.max_frame_bytes},
         {"role", h.role}, {"pid", h.pid}};
  std::string out;
  Json::to_msgpack(j, out);
  return out;
}

Decoded<Hello> decode_hello(std::string_view payload) {
  auto m = map_of(payload, "HELLO");
  if (auto* f = std::get_if<Failure>(&m)) return *f;
  const Json& j = std::get<Json>(m);
  if (!j.contains("protocol") || j["protocol"] != kProtocol) return malformed("HELLO: not the cserve wire protocol");
  if (!j.contains("version") || !is_int(j["version"])) return malformed("HELLO: no version");
  Hello h;
  h.version = j["version"].get<int>();
  if (h.version != kVersion) {
    return Failure{ErrorCode::kInvalidArgument, "wire protocol version " + std::to_string(h.version) +
                                                    " is not spoken here (version " + std::to_string(kVersion) + ")"};
  }
  if (!j.contains("max_frame_bytes") || !j["max_frame_bytes"].is_number_unsigned()) {
    return malformed("HELLO: no max_frame_bytes");
  }
  h.max_frame_bytes = j["max_frame_bytes"].get<std::uint64_t>();
  if (j.contains("role") && j["role"].is_string()) h.role = j["role"].get<std::string>();
  if (j.contains("pid") && is_int(j["pid"])) h.pid = j["pid"].get<std::int64_t>();
  return h;
}

namespace {
constexpr std::pair<CallKind, std::string_view> kKindNames[] = {{CallKind::kValue, "value"},
                                                                 {CallKind::kTyped, "typed"},
                                                                 {CallKind::kStream, "stream"},
                                                                 {CallKind::kTypedStream, "typed_stream"},
                                                                 {CallKind::kHttp, "http"}};

std::optional<CallKind> kind_named(std::string_view name) {
  for (const auto& [kind, n] : kKindNames) {
    if (n == name) return kind;
  }
  return std::nullopt;
}
}  // namespace

std::string_view to_string(CallKind kind) {
  for (const auto& [k, n] : kKindNames) {
    if (k == kind) return n;
  }
  return "?";
}

std::string encode_call(const CallHeader& h, const std::vector<std::string>& arguments) {
  Json j{{"deployment", h.deployment}, {"method", h.method}, {"request_id", h.request_id},
         {"kind", to_string(h.kind)},
         {"credits", h.credits}};
  if (h.deadline_ms) j["deadline_ms"] = *h.deadline_ms;
  if (!h.multiplexed_model_id.empty()) j["multiplexed_model_id"] = h.multiplexed_model_id;
  if (!h.application.empty()) j["application"] = h.application;
  std::string header;
  Json::to_msgpack(j, header);
  std::string out;
  put_u32(out, static_cast<std::uint32_t>(header.size()));
  out += header;
  put_u32(out, static_cast<std::uint32_t>(arguments.size()));
  for (const auto& a : arguments) {
    put_u32(out, static_cast<std::uint32_t>(a.size()));
    out += a;
  }
  return out;
}

Decoded<Call> decode_call(std::string_view payload) {
  ByteReader r(payload);
  auto header_length = r.u32();
  if (!header_length) return malformed("CALL: no header length");
  auto header_bytes = r.bytes(*header_length);
  if (!header_bytes) return malformed("CALL: header longer than the frame");
  auto m = map_of(*header_bytes, "CALL header");
  if (auto* f = std::get_if<Failure>(&m)) return *f;
  const Json& j = std::get<Json>(m);
  Call c;
  for (auto [key, field] : {std::pair{"deployment", &c.header.deployment}, std::pair{"method", &c.header.method},
                            std::pair{"request_id", &c.header.request_id}}) {
    if (!j.contains(key) || !j[key].is_string()) return malformed(std::string("CALL header: no ") + key);
    *field = j[key].get<std::string>();
  }
  if (!j.contains("kind") || !j["kind"].is_string()) return malformed("CALL header: no kind");
  const std::string kind = j["kind"].get<std::string>();
  auto known = kind_named(kind);
  if (!known) return malformed("CALL header: unknown kind '" + kind + "'");
  c.header.kind = *known;
  if (j.contains("deadline_ms")) {
    if (!is_int(j["deadline_ms"])) return malformed("CALL header: deadline_ms is not an integer");
    c.header.deadline_ms = j["deadline_ms"].get<std::int64_t>();
  }
  if (j.contains("credits")) {
    if (!j["credits"].is_number_unsigned() || j["credits"].get<std::uint64_t>() > UINT32_MAX) {
      return malformed("CALL header: credits is not a u32");
    }
    c.header.credits = j["credits"].get<std::uint32_t>();
  }
  if (j.contains("multiplexed_model_id")) {
    if (!j["multiplexed_model_id"].is_string()) return malformed("CALL header: multiplexed_model_id is not a string");
    c.header.multiplexed_model_id = j["multiplexed_model_id"].get<std::string>();
  }
  if (j.contains("application")) {
    if (!j["application"].is_string()) return malformed("CALL header: application is not a string");
    c.header.application = j["application"].get<std::string>();
  }
  auto count = r.u32();
  if (!count) return malformed("CALL: no argument count");
  // Each argument takes at least its 4-byte length: a count the frame cannot hold is refused
  // before anything is reserved for it.
  if (*count > r.rest().size() / 4) return malformed("CALL: more arguments than the frame holds");
  c.arguments.reserve(*count);
  for (std::uint32_t i = 0; i < *count; ++i) {
    auto length = r.u32();
    if (!length) return malformed("CALL: argument " + std::to_string(i + 1) + " has no length");
    auto bytes = r.bytes(*length);
    if (!bytes) return malformed("CALL: argument " + std::to_string(i + 1) + " is longer than the frame");
    c.arguments.push_back(*bytes);
  }
  if (!r.empty()) return malformed("CALL: bytes after the last argument");
  return c;
}

std::string encode_error(const Failure& f) {
  std::string out;
  Json::to_msgpack(Json{{"code", static_cast<int>(f.code)}, {"message", f.message}}, out);
  return out;
}

Decoded<RemoteError> decode_error(std::string_view payload) {
  auto m = map_of(payload, "ERROR");
  if (auto* f = std::get_if<Failure>(&m)) return *f;
  const Json& j = std::get<Json>(m);
  if (!j.contains("code") || !is_int(j["code"])) return malformed("ERROR: no code");
  if (!j.contains("message") || !j["message"].is_string()) return malformed("ERROR: no message");
  const std::int64_t code = j["code"].get<std::int64_t>();
  if (code < static_cast<int>(ErrorCode::kInvalidArgument) || code > static_cast<int>(ErrorCode::kTooLarge)) {
    return malformed("ERROR: unknown code " + std::to_string(code));
  }
  return RemoteError{Failure{static_cast<ErrorCode>(code), j["message"].get<std::string>()}};
}

}  // namespace cserve::wire
