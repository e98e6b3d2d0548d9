#include "admin/admin_api.hpp"

#include "api/metrics_registry.hpp"

#include <boost/asio/ip/address.hpp>

namespace cserve {
namespace {

constexpr std::string_view kApplications = "/api/serve/applications";
constexpr std::string_view kBlobs = "/api/blobs/";

bool authorized(const Request& req, const std::string& token) {
  if (token.empty()) return true;
  auto h = req.header("Authorization");
  return h && *h == "Bearer " + token;
}

Response method_not_allowed(const Request& req, const std::string& allow) {
  Response r = error_response(405, "method " + req.method() + " is not allowed on " + req.path() +
                                       " (allowed: " + allow + ")",
                              req.request_id());
  r.headers.emplace_back("Allow", allow);
  return r;
}

}  // namespace

std::optional<Response> AdminApi::handle(const Request& req) const {
  if (!authorized(req, token_)) {
    Response r = error_response(401, "this admin API needs an 'Authorization: Bearer <token>' header",
                                req.request_id());
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  std::string_view path = req.path();
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  if (path == "/metrics") {
    if (req.method() != "GET" && req.method() != "HEAD") return method_not_allowed(req, "GET, HEAD");
    Response r = Response::text(MetricsRegistry::global().render());
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
  }
  if (path == kApplications) {
    if (req.method() == "GET" || req.method() == "HEAD") {
      Json out = to_json(hooks_.status());
      out["config"] = hooks_.config();
      return Response::json(out);
    }
    if (req.method() == "PUT") {
      Json config;
      try {
        config = Json::parse(req.body());
      } catch (const Json::exception& e) {
        return error_response(400, std::string("the body is not JSON: ") + e.what(), req.request_id());
      }
      try {
        hooks_.deploy(config);
      } catch (const Error& e) {
        return error_response(400, e.what(), req.request_id());
      }
      return Response::json(Json{{"accepted", true}});
    }
    if (req.method() == "DELETE") {
      hooks_.shutdown();
      return Response::json(Json{{"shutting_down", true}});
    }
    return method_not_allowed(req, "GET, HEAD, PUT, DELETE");
  }
  if (path.substr(0, kBlobs.size()) == kBlobs) {
    if (req.method() != "GET" && req.method() != "HEAD") return method_not_allowed(req, "GET, HEAD");
    const std::string sha(path.substr(kBlobs.size()));
    if (!hooks_.blob) return error_response(404, "this node is not in a cluster: it keeps no libraries", req.request_id());
    auto bytes = hooks_.blob(sha);
    if (!bytes) return error_response(404, "this node has no library blob " + sha, req.request_id());
    Response r;
    r.body = std::move(*bytes);
    r.content_type = "application/octet-stream";
    return r;
  }
  return error_response(404, "no admin endpoint at " + req.path() + " (try /metrics or " +
                                 std::string(kApplications) + "/)",
                        req.request_id());
}

std::optional<std::string> validate_admin(const AdminOptions& o) {
  if (!o.enabled) return std::nullopt;
  if (o.port < 0 || o.port > 65535) return "admin.port must be 0..65535";
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(o.host, ec);
  if (ec) return "admin.host '" + o.host + "' is not an IP address";
  if (!address.is_loopback() && o.token.empty()) {
    return "admin.token is required when admin.host (" + o.host + ") is not a loopback address";
  }
  return std::nullopt;
}

}  // namespace cserve
