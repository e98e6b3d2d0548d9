// Request, Response and error bodies.
#include <cserve/http.hpp>

#include <cserve/routes.hpp>

#include <strings.h>

namespace cserve {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes and, in query strings, '+' as space. Malformed escapes are kept as is.
std::string url_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      int hi = hex_value(s[i + 1]);
      int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

}  // namespace

namespace detail {
std::string decode_path_segment(std::string_view s) { return url_decode(s, false); }
}  // namespace detail

Request::Request(std::string method, std::string path, std::string query, Headers headers,
                 std::string body)
    : method_(std::move(method)),
      path_(std::move(path)),
      full_path_(path_),
      query_(std::move(query)),
      headers_(std::move(headers)),
      body_(std::move(body)) {
  if (path_.empty() || path_.front() != '/') path_.insert(path_.begin(), '/');
}

std::optional<std::string> Request::query(std::string_view key) const {
  std::string_view q = query_;
  while (!q.empty()) {
    auto amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    auto eq = pair.find('=');
    std::string_view k = pair.substr(0, eq);
    if (url_decode(k, true) == key) {
      return eq == std::string_view::npos ? std::string{} : url_decode(pair.substr(eq + 1), true);
    }
  }
  return std::nullopt;
}

std::optional<std::string_view> Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers_) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  }
  return std::nullopt;
}

Json Request::json() const {
  Json value = Json::parse(body_, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    throw HttpError(400, body_.empty() ? "request body is empty; expected JSON"
                                       : "request body is not valid JSON");
  }
  return value;
}

const std::string& Request::path_param(std::string_view name) const {
  for (const auto& [k, v] : params_) {
    if (k == name) return v;
  }
  throw HttpError(500, "handler asked for path parameter '" + std::string(name) +
                           "', which its route does not have");
}

Response Response::json(const Json& value, int status) {
  Response r;
  r.status = status;
  r.body = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  return r;
}

Response Response::text(std::string body, int status) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = "text/plain; charset=utf-8";
  return r;
}

ErrorCode HttpError::code_for_status(int status) {
  switch (status) {
    case 404: return ErrorCode::kNotFound;
    case 408: return ErrorCode::kDeadlineExceeded;
    case 413: return ErrorCode::kTooLarge;
    case 499: return ErrorCode::kCancelled;
    case 503: return ErrorCode::kUnavailable;
    default: return status >= 400 && status < 500 ? ErrorCode::kInvalidArgument : ErrorCode::kInternal;
  }
}

Response error_response(int status, std::string_view message, std::string_view request_id) {
  return Response::json(Json{{"error", message}, {"request_id", request_id}}, status);
}

namespace detail {

HttpError route_miss(const RouteMatcher::Match& m, const Request& req) {
  if (m.kind == RouteMatcher::Match::Kind::kMethodNotAllowed) {
    return HttpError(405, "method " + req.method() + " not allowed for " + req.full_path(),
                     {{"Allow", m.allow}});
  }
  return HttpError(404, "no route for " + req.method() + " " + req.full_path());
}

}  // namespace detail
}  // namespace cserve
