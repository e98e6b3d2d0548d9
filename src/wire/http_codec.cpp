#include "wire/http_codec.hpp"

#include "wire/bytes.hpp"

#include <cserve/routes.hpp>

namespace cserve::wire {
namespace {

// Every field is a u32 length and its bytes; lists are a u32 count and their fields; the body is
// the rest of the payload, as it is. No field is parsed or re-encoded on either side.

Failure malformed(const char* what) { return {ErrorCode::kInvalidArgument, std::string("malformed ") + what}; }

void put_string(std::string& out, std::string_view s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}

void put_pairs(std::string& out, const std::vector<std::pair<std::string, std::string>>& pairs) {
  put_u32(out, static_cast<std::uint32_t>(pairs.size()));
  for (const auto& [k, v] : pairs) {
    put_string(out, k);
    put_string(out, v);
  }
}

std::size_t pairs_size(const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::size_t n = 4;
  for (const auto& [k, v] : pairs) n += 8 + k.size() + v.size();
  return n;
}

bool read_string(ByteReader& in, std::string& out) {
  auto n = in.u32();
  auto bytes = n ? in.bytes(*n) : std::nullopt;
  if (!bytes) return false;
  out.assign(*bytes);
  return true;
}

bool read_pairs(ByteReader& in, std::vector<std::pair<std::string, std::string>>& out) {
  auto n = in.u32();
  if (!n) return false;
  // Each pair takes at least 8 bytes: a count larger than what is left is a lie, refused before
  // anything is reserved.
  if (*n > in.rest().size() / 8) return false;
  out.reserve(*n);
  for (std::uint32_t i = 0; i < *n; ++i) {
    std::string k, v;
    if (!read_string(in, k) || !read_string(in, v)) return false;
    out.emplace_back(std::move(k), std::move(v));
  }
  return true;
}

}  // namespace

std::string encode_request(const Request& r) {
  std::string out;
  out.reserve(20 + r.method().size() + r.path().size() + r.full_path().size() + r.query_string().size() +
              r.request_id().size() + pairs_size(r.headers()) + pairs_size(r.path_params()) + r.body().size());
  put_string(out, r.method());
  put_string(out, r.path());
  put_string(out, r.full_path());
  put_string(out, r.query_string());
  put_string(out, r.request_id());
  put_pairs(out, r.headers());
  put_pairs(out, r.path_params());
  out += r.body();
  return out;
}

Decoded<Request> decode_request(std::string_view bytes) {
  ByteReader in(bytes);
  std::string method, path, full_path, query, request_id;
  Headers headers;
  std::vector<std::pair<std::string, std::string>> params;
  if (!read_string(in, method) || !read_string(in, path) || !read_string(in, full_path) || !read_string(in, query) ||
      !read_string(in, request_id) || !read_pairs(in, headers) || !read_pairs(in, params)) {
    return malformed("HTTP request: a field is cut short or longer than the payload");
  }
  Request r(std::move(method), std::move(path), std::move(query), std::move(headers), std::string(in.rest()));
  detail::RequestAccess::set_ids(r, std::move(full_path), std::move(request_id));
  detail::RequestAccess::set_path_params(r, std::move(params));
  return r;
}

std::string encode_response(const Response& r) {
  std::string out;
  out.reserve(12 + r.content_type.size() + pairs_size(r.headers) + r.body.size());
  put_u32(out, static_cast<std::uint32_t>(r.status));
  put_string(out, r.content_type);
  put_pairs(out, r.headers);
  out += r.body;
  return out;
}

Decoded<Response> decode_response(std::string_view bytes) {
  ByteReader in(bytes);
  Response r;
  auto status = in.u32();
  if (!status || !read_string(in, r.content_type) || !read_pairs(in, r.headers)) {
    return malformed("HTTP response: a field is cut short or longer than the payload");
  }
  if (*status < 100 || *status > 999) return malformed("HTTP response: status out of range");
  r.status = static_cast<int>(*status);
  r.body = std::string(in.rest());
  return r;
}

}  // namespace cserve::wire
