#include "config/serve_config.hpp"

#include "config/app_loader.hpp"

#include <cserve/error.hpp>

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <functional>
#include <set>

namespace cserve {
namespace {

using Lines = std::map<std::string, int>;  // path -> 1-based line (YAML only)

// ---- YAML -> JSON, remembering where each path came from ----------------------------------

Json scalar_to_json(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  if (n.Tag() == "!") return s;  // quoted: always a string
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  try {
    std::size_t used = 0;
    long long i = std::stoll(s, &used);
    if (used == s.size()) return i;
  } catch (...) {
  }
  try {
    std::size_t used = 0;
    double d = std::stod(s, &used);
    if (used == s.size() && std::isfinite(d)) return d;
  } catch (...) {
  }
  return s;
}

Json yaml_to_json(const YAML::Node& n, const std::string& path, Lines& lines) {
  lines[path] = n.Mark().line + 1;
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      return scalar_to_json(n);
    case YAML::NodeType::Sequence: {
      Json out = Json::array();
      for (std::size_t i = 0; i < n.size(); ++i) {
        out.push_back(yaml_to_json(n[i], path + "[" + std::to_string(i) + "]", lines));
      }
      return out;
    }
    case YAML::NodeType::Map: {
      Json out = Json::object();
      for (const auto& kv : n) {
        std::string key = kv.first.as<std::string>();
        std::string child = path.empty() ? key : path + "." + key;
        lines[child] = kv.first.Mark().line + 1;
        out[key] = yaml_to_json(kv.second, child, lines);
        lines[child] = kv.first.Mark().line + 1;  // the key's line, not the value's
      }
      return out;
    }
  }
  return nullptr;
}

// ---- validation ----------------------------------------------------------------------------

class Checker {
 public:
  Checker(const Lines* lines, std::string source) : lines_(lines), source_(std::move(source)) {}

  [[noreturn]] void fail(const std::string& path, const std::string& what) const {
    std::string where;
    if (lines_) {
      auto it = lines_->find(path);
      where = source_ + ":" + (it != lines_->end() ? std::to_string(it->second) : "?") + ": ";
    }
    throw ConfigError(where + (path.empty() ? std::string("config") : path) + ": " + what);
  }

  void object(const Json& j, const std::string& path, const std::set<std::string>& known) const {
    if (!j.is_object()) fail(path, "must be a mapping");
    for (const auto& [k, v] : j.items()) {
      if (known.count(k)) continue;
      std::string list;
      for (const auto& n : known) list += (list.empty() ? "" : ", ") + n;
      fail(child(path, k), "unknown key '" + k + "' (known: " + list + ")");
    }
  }
  void number(const Json& j, const std::string& path, double min, bool integer = false) const {
    if (!j.is_number() || (integer && !j.is_number_integer())) {
      fail(path, integer ? "must be an integer" : "must be a number");
    }
    if (j.get<double>() < min) {
      fail(path, "must be >= " + (min == std::floor(min) ? std::to_string(static_cast<long long>(min)) : Json(min).dump()));
    }
  }
  void string(const Json& j, const std::string& path) const {
    if (!j.is_string() || j.get<std::string>().empty()) fail(path, "must be a non-empty string");
  }
  void boolean(const Json& j, const std::string& path) const {
    if (!j.is_boolean()) fail(path, "must be true or false");
  }
  static std::string child(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

 private:
  const Lines* lines_;
  std::string source_;
};

void check_http(const Checker& c, const Json& j) {
  const std::string p = "http_options";
  c.object(j, p, {"host", "port", "request_timeout_s", "keep_alive_timeout_s"});
  if (j.contains("host")) c.string(j["host"], p + ".host");
  if (j.contains("port")) {
    c.number(j["port"], p + ".port", 0, true);
    if (j["port"].get<long long>() > 65535) c.fail(p + ".port", "must be <= 65535");
  }
  if (j.contains("request_timeout_s")) c.number(j["request_timeout_s"], p + ".request_timeout_s", 0);
  if (j.contains("keep_alive_timeout_s")) c.number(j["keep_alive_timeout_s"], p + ".keep_alive_timeout_s", 0);
}

void check_grpc(const Checker& c, const Json& j) {
  const std::string p = "grpc_options";
  c.object(j, p, {"host", "port", "max_message_bytes"});
  if (j.contains("host")) c.string(j["host"], p + ".host");
  if (j.contains("port")) {
    c.number(j["port"], p + ".port", 0, true);
    if (j["port"].get<long long>() > 65535) c.fail(p + ".port", "must be <= 65535");
  }
  if (j.contains("max_message_bytes")) {
    c.number(j["max_message_bytes"], p + ".max_message_bytes", 1, true);
    if (j["max_message_bytes"].get<double>() > 2147483647.0) c.fail(p + ".max_message_bytes", "must be <= 2147483647");
  }
}

void check_logging(const Checker& c, const Json& j, const std::string& p) {
  c.object(j, p, {"log_level", "encoding", "enable_access_log"});
  if (j.contains("log_level")) {
    c.string(j["log_level"], p + ".log_level");
    static const std::set<std::string> levels{"DEBUG", "INFO", "WARNING", "ERROR", "OFF"};
    if (!levels.count(j["log_level"].get<std::string>())) {
      c.fail(p + ".log_level", "must be DEBUG, INFO, WARNING, ERROR or OFF");
    }
  }
  if (j.contains("encoding")) {
    c.string(j["encoding"], p + ".encoding");
    auto e = j["encoding"].get<std::string>();
    if (e != "TEXT" && e != "JSON") c.fail(p + ".encoding", "must be TEXT or JSON");
  }
  if (j.contains("enable_access_log")) c.boolean(j["enable_access_log"], p + ".enable_access_log");
}

void check_autoscaling(const Checker& c, const Json& j, const std::string& p) {
  c.object(j, p, {"min_replicas", "max_replicas", "initial_replicas", "target_ongoing_requests",
                  "look_back_period_s", "upscale_delay_s", "downscale_delay_s",
                  "downscale_to_zero_delay_s", "upscaling_factor", "downscaling_factor"});
  for (const char* k : {"min_replicas", "max_replicas", "initial_replicas"}) {
    if (j.contains(k)) c.number(j[k], c.child(p, k), 0, true);
  }
  for (const char* k : {"target_ongoing_requests", "look_back_period_s", "upscale_delay_s",
                        "downscale_delay_s", "downscale_to_zero_delay_s", "upscaling_factor",
                        "downscaling_factor"}) {
    if (j.contains(k)) c.number(j[k], c.child(p, k), 0);
  }
}

void check_deployment(const Checker& c, const Json& j, const std::string& p) {
  c.object(j, p, {"name", "num_replicas", "max_ongoing_requests", "max_queued_requests", "user_config",
                  "autoscaling_config", "graceful_shutdown_wait_loop_s", "graceful_shutdown_timeout_s",
                  "health_check_period_s", "health_check_timeout_s", "ray_actor_options", "isolation",
                  "model_name", "max_replicas_per_node"});
  if (!j.contains("name")) c.fail(p, "a deployment needs a name");
  c.string(j["name"], p + ".name");
  if (j.contains("num_replicas") && !(j["num_replicas"].is_string() && j["num_replicas"] == "auto")) {
    if (j["num_replicas"].is_string()) c.fail(p + ".num_replicas", "must be an integer >= 0 or \"auto\"");
    c.number(j["num_replicas"], p + ".num_replicas", 0, true);
  }
  if (j.contains("max_ongoing_requests")) c.number(j["max_ongoing_requests"], p + ".max_ongoing_requests", 1, true);
  if (j.contains("max_replicas_per_node")) c.number(j["max_replicas_per_node"], p + ".max_replicas_per_node", 1, true);
  if (j.contains("max_queued_requests")) c.number(j["max_queued_requests"], p + ".max_queued_requests", -1, true);
  for (const char* k : {"graceful_shutdown_wait_loop_s", "graceful_shutdown_timeout_s", "health_check_period_s",
                        "health_check_timeout_s"}) {
    if (j.contains(k)) c.number(j[k], c.child(p, k), 0);
  }
  if (j.contains("autoscaling_config")) check_autoscaling(c, j["autoscaling_config"], p + ".autoscaling_config");
  if (j.contains("isolation") && j["isolation"] != "thread" && j["isolation"] != "process") {
    c.fail(p + ".isolation", "must be \"thread\" or \"process\"");
  }
  if (j.contains("model_name")) {
    c.string(j["model_name"], p + ".model_name");
    if (j["model_name"].is_string()) {
      const std::string m = j["model_name"].get<std::string>();
      if (m.empty() || m.find('/') != std::string::npos) c.fail(p + ".model_name", "must be a name without '/'");
    }
  }
  if (j.contains("ray_actor_options")) {
    const auto& r = j["ray_actor_options"];
    const std::string rp = p + ".ray_actor_options";
    c.object(r, rp, {"num_cpus", "num_gpus", "memory", "resources"});
    if (r.contains("memory")) c.number(r["memory"], rp + ".memory", 0);
    if (r.contains("num_cpus")) c.number(r["num_cpus"], rp + ".num_cpus", 0);
    if (r.contains("num_gpus")) c.number(r["num_gpus"], rp + ".num_gpus", 0);
    if (r.contains("resources")) {
      if (!r["resources"].is_object()) c.fail(rp + ".resources", "must be a mapping of name: amount");
      for (const auto& [k, v] : r["resources"].items()) c.number(v, rp + ".resources." + k, 0);
    }
  }
}

ServeConfig check(const Json& root, const Checker& c) {
  c.object(root, "", {"http_options", "grpc_options", "logging_config", "applications"});
  ServeConfig out;
  out.source = root;
  if (root.contains("http_options")) {
    check_http(c, root["http_options"]);
    out.http_options = root["http_options"];
  }
  if (root.contains("grpc_options")) {
    check_grpc(c, root["grpc_options"]);
    out.grpc_options = root["grpc_options"];
  }
  if (root.contains("logging_config")) {
    check_logging(c, root["logging_config"], "logging_config");
    out.logging_config = root["logging_config"];
  }
  if (!root.contains("applications")) c.fail("applications", "is required (a list of applications)");
  const Json& apps = root["applications"];
  if (!apps.is_array()) c.fail("applications", "must be a list");
  std::set<std::string> names, prefixes;
  for (std::size_t i = 0; i < apps.size(); ++i) {
    const std::string p = "applications[" + std::to_string(i) + "]";
    const Json& a = apps[i];
    c.object(a, p, {"name", "route_prefix", "import_path", "args", "deployments", "library_sha256"});
    AppConfig app;
    if (!a.contains("name")) c.fail(p, "an application needs a name");
    c.string(a["name"], p + ".name");
    app.name = a["name"];
    if (!names.insert(app.name).second) c.fail(p + ".name", "application '" + app.name + "' appears twice");
    if (!a.contains("import_path")) c.fail(p, "an application needs an import_path (lib.so:application)");
    c.string(a["import_path"], p + ".import_path");
    app.import_path = a["import_path"];
    if (app.import_path.rfind(':') == std::string::npos) {
      c.fail(p + ".import_path", "must be 'path/to/library.so:application'");
    }
    if (a.contains("library_sha256")) {  // written by the cluster node that received the config
      const bool hex = a["library_sha256"].is_string() && a["library_sha256"].get<std::string>().size() == 64 &&
                       a["library_sha256"].get<std::string>().find_first_not_of("0123456789abcdef") == std::string::npos;
      if (!hex) c.fail(p + ".library_sha256", "must be the SHA-256 of the library: 64 lowercase hex digits");
    }
    app.route_prefix = "/";
    if (a.contains("route_prefix")) {
      c.string(a["route_prefix"], p + ".route_prefix");
      app.route_prefix = a["route_prefix"];
      if (app.route_prefix.front() != '/') c.fail(p + ".route_prefix", "must start with '/'");
    }
    if (!prefixes.insert(app.route_prefix).second) {
      c.fail(p + ".route_prefix", "route_prefix '" + app.route_prefix + "' is used by two applications");
    }
    if (a.contains("args")) {
      if (!a["args"].is_object()) c.fail(p + ".args", "must be a mapping");
      app.args = a["args"];
    }
    if (a.contains("deployments")) {
      if (!a["deployments"].is_array()) c.fail(p + ".deployments", "must be a list");
      for (std::size_t k = 0; k < a["deployments"].size(); ++k) {
        check_deployment(c, a["deployments"][k], p + ".deployments[" + std::to_string(k) + "]");
      }
      app.deployments = a["deployments"];
    }
    out.applications.push_back(std::move(app));
  }
  return out;
}

void apply_override(DeploymentOptions& o, const Json& d) {
  if (d.contains("num_replicas")) {
    if (d["num_replicas"].is_string()) {
      o.autoscaling_config = auto_num_replicas();
    } else {
      o.num_replicas = d["num_replicas"].get<int>();
      o.autoscaling_config.reset();
    }
  }
  if (d.contains("max_ongoing_requests")) o.max_ongoing_requests = d["max_ongoing_requests"];
  if (d.contains("max_replicas_per_node")) o.max_replicas_per_node = d["max_replicas_per_node"].get<int>();
  if (d.contains("max_queued_requests")) o.max_queued_requests = d["max_queued_requests"];
  if (d.contains("user_config")) o.user_config = d["user_config"];
  if (d.contains("graceful_shutdown_wait_loop_s")) o.graceful_shutdown_wait_loop_s = d["graceful_shutdown_wait_loop_s"];
  if (d.contains("graceful_shutdown_timeout_s")) o.graceful_shutdown_timeout_s = d["graceful_shutdown_timeout_s"];
  if (d.contains("health_check_period_s")) o.health_check_period_s = d["health_check_period_s"];
  if (d.contains("health_check_timeout_s")) o.health_check_timeout_s = d["health_check_timeout_s"];
  if (d.contains("isolation")) o.isolation = d["isolation"] == "process" ? Isolation::kProcess : Isolation::kThread;
  if (d.contains("model_name")) o.model_name = d["model_name"].get<std::string>();
  if (d.contains("autoscaling_config")) {
    const Json& a = d["autoscaling_config"];
    AutoscalingConfig c = o.autoscaling_config.value_or(AutoscalingConfig{});
    if (a.contains("min_replicas")) c.min_replicas = a["min_replicas"];
    if (a.contains("max_replicas")) c.max_replicas = a["max_replicas"];
    if (a.contains("initial_replicas")) c.initial_replicas = a["initial_replicas"].get<int>();
    if (a.contains("target_ongoing_requests")) c.target_ongoing_requests = a["target_ongoing_requests"];
    if (a.contains("look_back_period_s")) c.look_back_period_s = a["look_back_period_s"];
    if (a.contains("upscale_delay_s")) c.upscale_delay_s = a["upscale_delay_s"];
    if (a.contains("downscale_delay_s")) c.downscale_delay_s = a["downscale_delay_s"];
    if (a.contains("downscale_to_zero_delay_s")) c.downscale_to_zero_delay_s = a["downscale_to_zero_delay_s"].get<double>();
    if (a.contains("upscaling_factor")) c.upscaling_factor = a["upscaling_factor"];
    if (a.contains("downscaling_factor")) c.downscaling_factor = a["downscaling_factor"];
    o.autoscaling_config = c;
  }
  if (d.contains("ray_actor_options")) {
    const Json& r = d["ray_actor_options"];
    if (r.contains("num_cpus")) o.resources.cpus = r["num_cpus"];
    if (r.contains("num_gpus")) o.resources.gpus = r["num_gpus"];
    if (r.contains("memory")) o.resources.memory = r["memory"];
    if (r.contains("resources")) {
      for (const auto& [k, v] : r["resources"].items()) o.resources.custom[k] = v.get<double>();
    }
  }
}

}  // namespace

ServeConfig parse_yaml_config(const std::string& text, const std::string& source_name) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(source_name + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg);
  }
  Lines lines;
  Json j = yaml_to_json(root, "", lines);
  if (j.is_null()) j = Json::object();
  return check(j, Checker(&lines, source_name));
}

ServeConfig parse_json_config(const Json& config) { return check(config, Checker(nullptr, "")); }

ServeOptions apply_runtime_options(const ServeConfig& c, ServeOptions base) {
  const Json& h = c.http_options;
  if (h.contains("host")) base.http.host = h["host"];
  if (h.contains("port")) base.http.port = h["port"];
  if (h.contains("request_timeout_s")) base.http.request_timeout_s = h["request_timeout_s"].get<double>();
  if (h.contains("keep_alive_timeout_s")) base.http.keep_alive_timeout_s = h["keep_alive_timeout_s"];
  if (c.grpc_options.is_object()) {  // the section turns gRPC on
    const Json& g = c.grpc_options;
    base.grpc.enabled = true;
    if (g.contains("host")) base.grpc.host = g["host"];
    if (g.contains("port")) base.grpc.port = g["port"];
    if (g.contains("max_message_bytes")) base.grpc.max_message_bytes = g["max_message_bytes"].get<std::size_t>();
  }
  const Json& l = c.logging_config;
  if (l.contains("log_level")) base.logging.log_level = l["log_level"].get<std::string>();
  if (l.contains("encoding")) base.logging.encoding = l["encoding"].get<std::string>();
  if (l.contains("enable_access_log")) base.logging.enable_access_log = l["enable_access_log"].get<bool>();
  return base;
}

std::vector<std::pair<AppConfig, Application>> build_applications(const ServeConfig& c) {
  std::vector<std::pair<AppConfig, Application>> out;
  for (std::size_t i = 0; i < c.applications.size(); ++i) {
    const AppConfig& a = c.applications[i];
    Application app = load_application(a.import_path, a.args);
    std::vector<detail::DeploymentDef> defs = app.deployments();
    for (std::size_t k = 0; k < a.deployments.size(); ++k) {
      const Json& d = a.deployments[k];
      const std::string name = d["name"];
      auto it = std::find_if(defs.begin(), defs.end(), [&](const auto& def) { return def.options.name == name; });
      if (it == defs.end()) {
        std::string known;
        for (const auto& def : defs) known += (known.empty() ? "" : ", ") + def.options.name;
        throw ConfigError("applications[" + std::to_string(i) + "].deployments[" + std::to_string(k) +
                          "].name: application '" + a.name + "' has no deployment '" + name +
                          "' (it has: " + known + ")");
      }
      apply_override(it->options, d);
    }
    out.emplace_back(a, Application(std::move(defs)));
  }
  return out;
}

}  // namespace cserve
