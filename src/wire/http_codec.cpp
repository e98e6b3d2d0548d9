#include "wire/http_codec.hpp"

#include "wire/bytes.hpp"

#include <cserve/routes.hpp>

namespace cserve::wire {
namespace {

Failure malformed(const char* what) { return {ErrorCode::kInvalidArgument, std::string("malformed ") + what}; }

Json pairs(const std::vector<std::pair<std::string, std::string>>& v) {
  Json out = Json::array();
  for (const auto& [k, val] : v) out.push_back(Json::array({k, val}));
  return out;
}

bool read_pairs(const Json& j, std::vector<std::pair<std::string, std::string>>& out) {
  if (!j.is_array()) return false;
  for (const auto& p : j) {
    if (!p.is_array() || p.size() != 2 || !p[0].is_string() || !p[1].is_string()) return false;
    out.emplace_back(p[0].get<std::string>(), p[1].get<std::string>());
  }
  return true;
}

bool read_string(const Json& j, const char* key, std::string& out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return false;
  out = it->get<std::string>();
  return true;
}

// u32 length, a MessagePack map (everything but the body), then the body's raw bytes: a body is
// copied once and never re-encoded.
std::string with_body(const Json& meta, const std::string& body) {
  std::string m;
  Json::to_msgpack(meta, m);
  std::string out;
  out.reserve(4 + m.size() + body.size());
  put_u32(out, static_cast<std::uint32_t>(m.size()));
  out += m;
  out += body;
  return out;
}

// The map and the body, or why the bytes are not that.
Decoded<std::pair<Json, std::string_view>> split(std::string_view bytes, const char* what) {
  ByteReader in(bytes);
  auto n = in.u32();
  auto meta = n ? in.bytes(*n) : std::nullopt;
  if (!meta) return malformed(what);
  Json j = Json::from_msgpack(meta->begin(), meta->end(), /*strict=*/true, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return malformed(what);
  return std::pair<Json, std::string_view>(std::move(j), in.rest());
}

}  // namespace

std::string encode_request(const Request& r) {
  Json j{{"method", r.method()},         {"path", r.path()},     {"full_path", r.full_path()},
         {"query", r.query_string()},    {"headers", pairs(r.headers())},
         {"request_id", r.request_id()}, {"params", pairs(r.path_params())}};
  return with_body(j, r.body());
}

Decoded<Request> decode_request(std::string_view bytes) {
  auto m = split(bytes, "HTTP request: not a MessagePack map and a body");
  if (auto* f = std::get_if<Failure>(&m)) return *f;
  const auto& [j, raw_body] = std::get<std::pair<Json, std::string_view>>(m);
  std::string method, path, full_path, query, request_id;
  Headers headers;
  std::vector<std::pair<std::string, std::string>> params;
  if (!read_string(j, "method", method) || !read_string(j, "path", path) || !read_string(j, "full_path", full_path) ||
      !read_string(j, "query", query) || !read_string(j, "request_id", request_id) || !j.contains("headers") ||
      !read_pairs(j["headers"], headers) || !j.contains("params") || !read_pairs(j["params"], params)) {
    return malformed("HTTP request: a field is missing or has the wrong type");
  }
  Request r(std::move(method), std::move(path), std::move(query), std::move(headers), std::string(raw_body));
  detail::RequestAccess::set_ids(r, std::move(full_path), std::move(request_id));
  detail::RequestAccess::set_path_params(r, std::move(params));
  return r;
}

std::string encode_response(const Response& r) {
  Json j{{"status", r.status}, {"content_type", r.content_type}, {"headers", pairs(r.headers)}};
  return with_body(j, r.body);
}

Decoded<Response> decode_response(std::string_view bytes) {
  auto m = split(bytes, "HTTP response: not a MessagePack map and a body");
  if (auto* f = std::get_if<Failure>(&m)) return *f;
  const auto& [j, raw_body] = std::get<std::pair<Json, std::string_view>>(m);
  Response r;
  if (!j.contains("status") || !j["status"].is_number_integer() || !read_string(j, "content_type", r.content_type) ||
      !j.contains("headers") || !read_pairs(j["headers"], r.headers)) {
    return malformed("HTTP response: a field is missing or has the wrong type");
  }
  r.body = std::string(raw_body);
  r.status = j["status"].get<int>();
  if (r.status < 100 || r.status > 999) return malformed("HTTP response: status out of range");
  return r;
}

}  // namespace cserve::wire
