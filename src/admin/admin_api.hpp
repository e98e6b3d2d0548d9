// admin_api.hpp — the REST admin API and the metrics endpoint, served on the admin port
// (127.0.0.1:8265 by default) by an HttpProxy of its own, on its I/O thread.
//
//   GET    /metrics                   Prometheus text (every cserve_ metric and the user's)
//   GET    /api/serve/applications/   status and details of every application, and the config
//                                     last PUT ("config"; null when none)
//   PUT    /api/serve/applications/   the config as JSON: deploys its applications, deletes the
//                                     others; 200 at once, the work goes on (poll GET); 400 with
//                                     the field for an invalid config, which changes nothing
//   DELETE /api/serve/applications/   deletes every application and shuts the runtime down
//
// With a token set (required when the admin host is not a loopback address), every request
// must carry "Authorization: Bearer <token>"; others are answered 401.
// Thread-safety: handle() may run on several I/O threads at once; the hooks must allow that.
#pragma once

#include <cserve/http.hpp>
#include <cserve/serve.hpp>

#include <functional>
#include <optional>
#include <string>

namespace cserve {

struct AdminHooks {
  std::function<ServeStatus()> status;
  std::function<Json()> config;                  // the config last deployed, or null
  std::function<void(const Json& config)> deploy;  // throws ConfigError; must not block
  std::function<void()> shutdown;  // must not block: the work happens elsewhere
  // Cluster mode: the bytes of the library blob with this SHA-256 when this node has it (what
  // other nodes fetch, docs/cluster.md); unset in embedded mode.
  std::function<std::optional<std::string>(const std::string& sha256)> blob;
};

class AdminApi {
 public:
  AdminApi(std::string token, AdminHooks hooks) : token_(std::move(token)), hooks_(std::move(hooks)) {}
  // Always answers (the admin port has no routes of applications).
  std::optional<Response> handle(const Request& req) const;

 private:
  const std::string token_;
  const AdminHooks hooks_;
};

// nullopt when the admin options are valid, else a message naming the field.
std::optional<std::string> validate_admin(const AdminOptions& o);

}  // namespace cserve
