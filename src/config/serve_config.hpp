// serve_config.hpp — the declarative config (Ray Serve's schema, `import_path: lib.so:app`), read
// from YAML (the CLI) or JSON (the admin API's PUT), validated once, turned into applications.
//
//   http_options: {host: 127.0.0.1, port: 8000, request_timeout_s: 30}
//   logging_config: {log_level: INFO, encoding: JSON, enable_access_log: true}
//   applications:
//     - name: counter
//       route_prefix: /Counter
//       import_path: ./libcounter_app.so:counter
//       args: {start: 10}
//       deployments:
//         - name: Counter
//           num_replicas: 2          # or "auto"
//           user_config: {step: 1}
//
// Config overrides code: an option set here replaces the one the application's code chose.
// Errors name the field as a path (applications[0].deployments[1].num_replicas) and, for YAML,
// the file and line; unknown keys are errors that list the known ones.
// Thread-safety: plain values and functions.
#pragma once

#include <cserve/json.hpp>
#include <cserve/serve.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cserve {

struct AppConfig {
  std::string name;
  std::string route_prefix;  // default "/"
  std::string import_path;   // path/to/lib.so:application
  Json args = Json::object();
  Json deployments = Json::array();  // [{name, option: value, ...}], validated
};

struct ServeConfig {
  Json http_options = Json::object();    // validated; applied by start()
  Json grpc_options;                     // validated; null when the config has none (gRPC off)
  Json logging_config = Json::object();  // validated
  std::vector<AppConfig> applications;
  Json source;  // the whole config as JSON (what the admin API stores and `cserve config` shows)
};

// Parses and validates. Throws ConfigError("<source>:<line>: <path>: <what>").
ServeConfig parse_yaml_config(const std::string& text, const std::string& source_name);
// Throws ConfigError("<path>: <what>").
ServeConfig parse_json_config(const Json& config);

// The http_options, grpc_options and logging_config of `c` over `base`.
ServeOptions apply_runtime_options(const ServeConfig& c, ServeOptions base);

// Loads each application's library, runs its builder with its args and applies the deployment
// overrides. Throws ConfigError naming the application and the reason.
std::vector<std::pair<AppConfig, Application>> build_applications(const ServeConfig& c);

}  // namespace cserve
