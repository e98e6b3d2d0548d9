#include "wire/http_codec.hpp"

#include <cserve/routes.hpp>

namespace cserve::wire {
namespace {

Failure malformed(const char* what) { return {ErrorCode::kInvalidArgument, std::string("malformed ") + what}; }

Json binary(const std::string& bytes) { return Json::binary(std::vector<std::uint8_t>(bytes.begin(), bytes.end())); }

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

bool read_binary(const Json& j, const char* key, std::string& out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_binary()) return false;
  const auto& b = it->get_binary();
  out.assign(b.begin(), b.end());
  return true;
}

Decoded<Json> map_of(std::string_view bytes, const char* what) {
  Json j = Json::from_msgpack(bytes.begin(), bytes.end(), /*strict=*/true, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return malformed(what);
  return j;
}

}  // namespace

std::string encode_request(const Request& r) {
  Json j{{"method", r.method()},         {"path", r.path()},     {"full_path", r.full_path()},
         {"query", r.query_string()},    {"headers", pairs(r.headers())}, {"body", binary(r.body())},
         {"request_id", r.request_id()}, {"params", pairs(r.path_params())}};
  std::string out;
  Json::to_msgpack(j, out);
  return out;
}

Decoded<Request> decode_request(std::string_view bytes) {
  auto m = map_of(bytes, "HTTP request: not a MessagePack map");
  if (auto* f = std::get_if<Failure>(&m)) return *f;
  const Json& j = std::get<Json>(m);
  std::string method, path, full_path, query, body, request_id;
  Headers headers;
  std::vector<std::pair<std::string, std::string>> params;
  if (!read_string(j, "method", method) || !read_string(j, "path", path) || !read_string(j, "full_path", full_path) ||
      !read_string(j, "query", query) || !read_string(j, "request_id", request_id) || !read_binary(j, "body", body) ||
      !j.contains("headers") || !read_pairs(j["headers"], headers) || !j.contains("params") ||
      !read_pairs(j["params"], params)) {
    return malformed("HTTP request: a field is missing or has the wrong type");
  }
  Request r(std::move(method), std::move(path), std::move(query), std::move(headers), std::move(body));
  detail::RequestAccess::set_ids(r, std::move(full_path), std::move(request_id));
  detail::RequestAccess::set_path_params(r, std::move(params));
  return r;
}

std::string encode_response(const Response& r) {
  Json j{{"status", r.status}, {"content_type", r.content_type}, {"headers", pairs(r.headers)}, {"body", binary(r.body)}};
  std::string out;
  Json::to_msgpack(j, out);
  return out;
}

Decoded<Response> decode_response(std::string_view bytes) {
  auto m = map_of(bytes, "HTTP response: not a MessagePack map");
  if (auto* f = std::get_if<Failure>(&m)) return *f;
  const Json& j = std::get<Json>(m);
  Response r;
  if (!j.contains("status") || !j["status"].is_number_integer() || !read_string(j, "content_type", r.content_type) ||
      !read_binary(j, "body", r.body) || !j.contains("headers") || !read_pairs(j["headers"], r.headers)) {
    return malformed("HTTP response: a field is missing or has the wrong type");
  }
  r.status = j["status"].get<int>();
  if (r.status < 100 || r.status > 999) return malformed("HTTP response: status out of range");
  return r;
}

}  // namespace cserve::wire
