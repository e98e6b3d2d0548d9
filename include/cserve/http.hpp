// cserve/http.hpp — what a handler sees of an HTTP request and what it returns.
//
// Request: the method, the path below the application's route prefix, the query, headers, body
// and path parameters of one request. Response: a status, headers and a body. HttpError: thrown
// by user code to answer with a status of its choosing.
// Thread-safety: plain values. A replica gets its own Request; nothing else touches it.
#pragma once

#include <cserve/error.hpp>
#include <cserve/json.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cserve {

using Headers = std::vector<std::pair<std::string, std::string>>;

namespace detail {
struct RequestAccess;
}

class Request {
 public:
  Request() = default;
  // `path` is the path below the route prefix (it always starts with '/'); `query` is the raw
  // query string without the '?'.
  Request(std::string method, std::string path, std::string query = {}, Headers headers = {},
          std::string body = {});

  const std::string& method() const { return method_; }
  const std::string& path() const { return path_; }
  // The path as the client sent it, route prefix included, without the query.
  const std::string& full_path() const { return full_path_; }
  const std::string& query_string() const { return query_; }
  // The decoded value of the first query parameter `key`, if present.
  std::optional<std::string> query(std::string_view key) const;
  const Headers& headers() const { return headers_; }
  // The first header named `name` (case-insensitive), if present.
  std::optional<std::string_view> header(std::string_view name) const;
  const std::string& body() const { return body_; }
  // The body parsed as JSON. Throws HttpError(400) when it is not valid JSON.
  Json json() const;
  // A parameter captured by a route pattern such as "/items/{id}". Throws HttpError(500) for a
  // name the matched pattern does not have (a programming error in the handler).
  const std::string& path_param(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& path_params() const { return params_; }
  // The id of this request: the client's X-Request-Id, or one cserve made.
  const std::string& request_id() const { return request_id_; }

 private:
  friend struct detail::RequestAccess;
  std::string method_;
  std::string path_;
  std::string full_path_;
  std::string query_;
  Headers headers_;
  std::string body_;
  std::string request_id_;
  std::vector<std::pair<std::string, std::string>> params_;
};

struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  Headers headers;  // extra headers; Content-Type and Content-Length are set by cserve

  static Response json(const Json& value, int status = 200);
  static Response text(std::string body, int status = 200);
};

// Throw from a handler to answer with `status` and a JSON body {"error": message, ...}. Through a
// handle it is a cserve::Error whose code() follows the status (404 kNotFound, 408
// kDeadlineExceeded, 413 kTooLarge, 503 kUnavailable, other 4xx kInvalidArgument, else kInternal).
class HttpError : public Error {
 public:
  HttpError(int status, const std::string& message, Headers headers = {})
      : Error(message, code_for_status(status)), status_(status), headers_(std::move(headers)) {}
  int status() const { return status_; }
  const Headers& headers() const { return headers_; }
  // The reason code an error status stands for (404 kNotFound, 503 kUnavailable, other 4xx
  // kInvalidArgument, other 5xx kInternal, ...).
  static ErrorCode code_for_status(int status);

 private:

  int status_;
  Headers headers_;
};

// The JSON error body cserve uses for every error response: {"error": ..., "request_id": ...}.
Response error_response(int status, std::string_view message, std::string_view request_id);

}  // namespace cserve
