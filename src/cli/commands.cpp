#include "cli/commands.hpp"

#include "cli/admin_client.hpp"
#include "config/app_loader.hpp"
#include "config/serve_config.hpp"

#include <cserve/error.hpp>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace cserve::cli {
namespace {

namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot read '" + path + "'");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool is_config_path(const std::string& t) {
  return t.ends_with(".yaml") || t.ends_with(".yml") || t.ends_with(".json");
}

std::string absolute_import_path(const std::string& import_path, const fs::path& base) {
  auto colon = import_path.rfind(':');
  if (colon == std::string::npos) return import_path;
  fs::path lib = import_path.substr(0, colon);
  if (lib.is_relative()) lib = fs::absolute(base / lib).lexically_normal();
  return lib.string() + import_path.substr(colon);
}

// "not reachable" in words a person can act on.
int unreachable(const AdminClient& c, const AdminReply& r, std::ostream& err) {
  err << "no cserve instance answers at " << c.address() << " (" << r.error
      << "); start one with `cserve start`\n";
  return 1;
}

std::string error_of(const AdminReply& r) {
  try {
    return Json::parse(r.body).value("error", r.body);
  } catch (...) {
    return r.body;
  }
}

std::string format_amount(double v) {
  std::ostringstream o;
  o << v;
  return o.str();
}

// Cluster mode: a line per node (embedded mode has one node, the process itself: not shown).
void print_nodes(const Json& s, std::ostream& out) {
  if (!s.contains("nodes")) return;
  bool cluster = s.contains("cluster_warning");
  for (const auto& n : s["nodes"]) cluster = cluster || !n["last_heartbeat_ms"].is_null();
  if (!cluster) return;
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  out << "nodes: " << s["nodes"].size() << "\n";
  for (const auto& n : s["nodes"]) {
    out << "  " << n["node_id"].get<std::string>() << " at " << n["ip"].get<std::string>() << " (http "
        << n["http_port"].get<int>() << ", admin " << n["admin_port"].get<int>() << "): " << n["replicas"].get<int>()
        << " replicas; free";
    const char* sep = " ";
    for (const auto& [name, total] : n["resources"].items()) {
      const double free = n["available"].value(name, 0.0);
      out << sep << name << " " << format_amount(free) << "/" << format_amount(total.get<double>());
      sep = ", ";
    }
    if (!n["last_heartbeat_ms"].is_null()) {
      const double ago = static_cast<double>(now_ms - n["last_heartbeat_ms"].get<std::int64_t>()) / 1000.0;
      out << "; heartbeat " << format_amount(std::max(0.0, std::round(ago * 10) / 10)) << " s ago";
    }
    if (n["controller_leader"].get<bool>()) out << "; controller leader";
    out << "\n";
  }
  if (s.contains("cluster_warning")) out << "warning: " << s["cluster_warning"].get<std::string>() << "\n";
}

void print_status(const Json& s, std::ostream& out) {
  const Json& apps = s["applications"];
  if (apps.empty()) out << "no applications\n";
  for (const auto& [name, a] : apps.items()) {
    out << name << ": " << a["status"].get<std::string>() << " at " << a["route_prefix"].get<std::string>();
    if (!a["message"].get<std::string>().empty()) out << " (" << a["message"].get<std::string>() << ")";
    out << "\n";
    for (const auto& [dname, d] : a["deployments"].items()) {
      int running = 0;
      for (const auto& r : d["replicas"]) running += r["state"] == "RUNNING";
      out << "  " << dname << ": " << d["status"].get<std::string>() << ", " << running << "/"
          << d["target_replicas"].get<int>() << " replicas running";
      if (!d["message"].get<std::string>().empty()) out << " (" << d["message"].get<std::string>() << ")";
      out << "\n";
    }
  }
  print_nodes(s, out);
}

// Starts the runtime for `start` and `run`; Error/ConfigError propagate.
Serve start_runtime(ServeOptions o) {
  o.admin.enabled = true;
  return cserve::start(o);
}

void announce(const Serve& s, const ServeOptions& o, std::ostream& out) {
  // An admin API bound to every address is reached at loopback from here.
  const std::string admin_host = o.admin.host == "0.0.0.0" ? "127.0.0.1" : o.admin.host;
  out << "listening on http://" << s.http_host() << ":" << s.http_port() << "\n"
      << "admin API on http://" << admin_host << ":" << s.admin_port() << "\n";
  if (s.grpc_port() != 0) out << "gRPC on " << s.grpc_host() << ":" << s.grpc_port() << "\n";
  out.flush();
}

void emit_json(YAML::Emitter& y, const Json& j) {
  if (j.is_object()) {
    y << YAML::BeginMap;
    for (const auto& [k, v] : j.items()) {
      y << YAML::Key << k << YAML::Value;
      emit_json(y, v);
    }
    y << YAML::EndMap;
  } else if (j.is_array()) {
    y << YAML::BeginSeq;
    for (const auto& v : j) emit_json(y, v);
    y << YAML::EndSeq;
  } else if (j.is_string()) {
    y << j.get<std::string>();
  } else if (j.is_null()) {
    y << YAML::Null;
  } else {
    y << j.dump();
  }
}

}  // namespace

Json read_config(const std::string& path) {
  ServeConfig c = parse_yaml_config(read_file(path), path);
  Json j = c.source;
  fs::path base = fs::path(path).parent_path();
  for (auto& app : j["applications"]) {
    app["import_path"] = absolute_import_path(app["import_path"].get<std::string>(), base);
  }
  return j;
}

int start(const StartArgs& a, std::ostream& out, std::ostream& err) {
  if (a.foreground) {
    Serve s = start_runtime(a.options);
    s.wait([&] { announce(s, a.options, out); });  // once SIGTERM drains instead of killing
    return 0;
  }
  int ready[2];
  if (pipe(ready) != 0) {
    err << "cannot create a pipe: " << std::strerror(errno) << "\n";
    return 1;
  }
  out.flush();
  pid_t pid = fork();
  if (pid < 0) {
    err << "cannot fork: " << std::strerror(errno) << "\n";
    return 1;
  }
  if (pid == 0) {  // the instance: a session of its own, output to the log file
    close(ready[0]);
    setsid();
    int log = open(a.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, 0);
    if (log >= 0) {
      dup2(log, 1);
      dup2(log, 2);
    }
    std::string report;
    int code = 0;
    try {
      Serve s = start_runtime(a.options);
      const std::string admin_host = a.options.admin.host == "0.0.0.0" ? "127.0.0.1" : a.options.admin.host;
      report = "ok http://" + s.http_host() + ":" + std::to_string(s.http_port()) + " http://" + admin_host + ":" +
               std::to_string(s.admin_port()) +
               (s.grpc_port() != 0 ? " " + s.grpc_host() + ":" + std::to_string(s.grpc_port()) : std::string()) + "\n";
      s.wait([&] {  // ready once SIGTERM drains instead of killing
        (void)!write(ready[1], report.data(), report.size());
        close(ready[1]);
      });
    } catch (const std::exception& e) {
      report = std::string("error ") + e.what() + "\n";
      (void)!write(ready[1], report.data(), report.size());
      code = 1;
    }
    std::_Exit(code);  // no atexit work of the parent's copy
  }
  close(ready[1]);
  std::string report;
  char buf[512];
  ssize_t n;
  while ((n = read(ready[0], buf, sizeof buf)) > 0) {
    report.append(buf, static_cast<std::size_t>(n));
    if (report.find('\n') != std::string::npos) break;
  }
  close(ready[0]);
  if (report.rfind("ok ", 0) != 0) {
    err << "cserve start failed: " << (report.empty() ? "the instance exited" : report.substr(6));
    waitpid(pid, nullptr, 0);
    return 1;
  }
  std::istringstream words(report.substr(3));
  std::string http_url, admin_url, grpc_address;
  words >> http_url >> admin_url >> grpc_address;
  out << "cserve is running (pid " << pid << "): HTTP on " << http_url << ", admin API on " << admin_url
      << (grpc_address.empty() ? std::string() : ", gRPC on " + grpc_address) << ", log in " << a.log_file << "\n";
  return 0;
}

int run(const RunArgs& a, std::ostream& out, std::ostream& /*err: errors propagate to main*/) {
  ServeConfig config;
  if (is_config_path(a.target)) {
    config = parse_json_config(read_config(a.target));
  } else {
    Json args = Json::parse(a.args_json);
    if (!args.is_object()) throw ConfigError("--args must be a JSON object");
    Json app{{"name", "default"}, {"route_prefix", "/"}, {"import_path", absolute_import_path(a.target, fs::current_path())},
             {"args", args}};
    config = parse_json_config(Json{{"applications", Json::array({app})}});
  }
  auto apps = build_applications(config);  // before starting anything: errors cost nothing
  const ServeOptions options = apply_runtime_options(config, a.options);
  Serve s = start_runtime(options);
  if (!options.cluster.etcd.empty()) {
    // A cluster node: the config becomes the cluster's target, as `cserve deploy` makes it.
    const std::string admin_host = options.admin.host == "0.0.0.0" ? "127.0.0.1" : options.admin.host;
    AdminClient self("http://" + admin_host + ":" + std::to_string(s.admin_port()), options.admin.token);
    const AdminReply put = self.call("PUT", "/api/serve/applications/", config.source.dump());
    if (put.status != 200) throw Error("the cluster did not take the config: " + error_of(put), ErrorCode::kUnavailable);
    out << "deployed to the cluster: " << config.applications.size() << " application(s)\n";
  } else {
    for (auto& [cfg, app] : apps) {
      out << "deploying " << cfg.name << " at " << cfg.route_prefix << "\n";
      out.flush();
      s.run(app, {.name = cfg.name, .route_prefix = cfg.route_prefix});
    }
  }
  s.wait([&] { announce(s, options, out); });  // once SIGTERM drains instead of killing
  return 0;
}

int deploy(const DeployArgs& a, std::ostream& out, std::ostream& err) {
  Json config = read_config(a.config_path);  // an invalid config fails here; nothing is sent
  AdminClient client(a.endpoint.address, a.endpoint.token);
  AdminReply put = client.call("PUT", "/api/serve/applications/", config.dump());
  if (put.status == 0) return unreachable(client, put, err);
  if (put.status != 200) {
    err << "deploy rejected (" << put.status << "): " << error_of(put) << "\n";
    return 1;
  }
  out << "config sent to " << client.address() << "\n";
  if (!a.wait) return 0;
  std::map<std::string, std::string> shown;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(a.timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    AdminReply got = client.call("GET", "/api/serve/applications/");
    if (got.status != 200) return unreachable(client, got, err);
    Json s = Json::parse(got.body);
    bool all_running = true;
    for (const auto& app : config["applications"]) {
      const std::string name = app["name"];
      const Json& info = s["applications"].contains(name) ? s["applications"][name] : Json();
      std::string st = info.is_null() ? "NOT_STARTED" : info["status"].get<std::string>();
      if (shown[name] != st) {
        out << name << ": " << st << "\n";
        out.flush();
        shown[name] = st;
      }
      if (st == "DEPLOY_FAILED") {
        err << "application '" << name << "' failed to deploy: " << info["message"].get<std::string>() << "\n";
        return 1;
      }
      all_running = all_running && st == "RUNNING";
    }
    if (all_running) {
      out << "all applications are RUNNING\n";
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  err << "timed out after " << a.timeout_s << " s waiting for the applications to be RUNNING\n";
  return 1;
}

namespace {
// GET /api/serve/applications/ as JSON, or nullopt after saying on `err` why not.
std::optional<Json> fetch_applications(const AdminClient& client, const char* what, std::ostream& err) {
  AdminReply got = client.call("GET", "/api/serve/applications/");
  if (got.status == 0) {
    unreachable(client, got, err);
    return std::nullopt;
  }
  if (got.status != 200) {
    err << what << " failed (" << got.status << "): " << error_of(got) << "\n";
    return std::nullopt;
  }
  return Json::parse(got.body);
}
}  // namespace

int status(const Endpoint& e, std::ostream& out, std::ostream& err) {
  AdminClient client(e.address, e.token);
  auto s = fetch_applications(client, "status", err);
  if (!s) return 1;
  print_status(*s, out);
  return 0;
}

int config(const Endpoint& e, std::ostream& out, std::ostream& err) {
  AdminClient client(e.address, e.token);
  auto s = fetch_applications(client, "config", err);
  if (!s) return 1;
  const Json& c = (*s)["config"];
  if (c.is_null()) {
    err << "no config has been deployed to " << client.address() << "\n";
    return 0;
  }
  YAML::Emitter y;
  emit_json(y, c);
  out << y.c_str() << "\n";
  return 0;
}

int shutdown(const Endpoint& e, std::ostream& out, std::ostream& err) {
  AdminClient client(e.address, e.token);
  AdminReply del = client.call("DELETE", "/api/serve/applications/");
  if (del.status == 0) return unreachable(client, del, err);
  if (del.status != 200) {
    err << "shutdown failed (" << del.status << "): " << error_of(del) << "\n";
    return 1;
  }
  for (int i = 0; i < 600; ++i) {  // until the instance stops answering (at most a minute)
    if (client.call("GET", "/api/serve/applications/", "", std::chrono::seconds(2)).status == 0) {
      out << "cserve at " << client.address() << " shut down\n";
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  err << "the instance did not stop within a minute\n";
  return 1;
}

int build(const BuildArgs& a, std::ostream& out, std::ostream& err) {
  Json apps = Json::array();
  for (const auto& target : a.targets) {
    std::vector<std::string> names;
    std::string lib = target;
    auto colon = target.rfind(':');
    if (colon != std::string::npos && !target.ends_with(".so")) {
      lib = target.substr(0, colon);
      names.push_back(target.substr(colon + 1));
    } else {
      names = list_applications(lib);
    }
    for (const auto& name : names) {
      Application app = load_application(lib + ":" + name, Json::object());
      Json deployments = Json::array();
      for (const auto& d : app.deployments()) {
        const auto& o = d.options;
        Json dj{{"name", o.name}, {"max_ongoing_requests", o.max_ongoing_requests}};
        if (o.autoscaling_config) {
          const auto& c = *o.autoscaling_config;
          dj["autoscaling_config"] = {{"min_replicas", c.min_replicas}, {"max_replicas", c.max_replicas},
                                      {"target_ongoing_requests", c.target_ongoing_requests}};
        } else {
          dj["num_replicas"] = o.num_replicas;
        }
        if (o.user_config) dj["user_config"] = *o.user_config;
        if (o.isolation) dj["isolation"] = *o.isolation == Isolation::kProcess ? "process" : "thread";
        if (o.model_name) dj["model_name"] = *o.model_name;
        deployments.push_back(std::move(dj));
      }
      std::string prefix = app.ingress().options.route_prefix.value_or("/" + name);
      apps.push_back({{"name", name},
                      {"route_prefix", prefix},
                      {"import_path", absolute_import_path(lib + ":" + name, fs::current_path())},
                      {"args", Json::object()},
                      {"deployments", deployments}});
    }
  }
  YAML::Emitter y;
  emit_json(y, Json{{"applications", apps}});
  std::string text = std::string("# written by cserve build\n") + y.c_str() + "\n";
  if (a.output.empty()) {
    out << text;
  } else {
    std::ofstream f(a.output);
    if (!(f << text)) {
      err << "cannot write '" << a.output << "'\n";
      return 1;
    }
    out << "wrote " << a.output << " (" << apps.size() << " application(s))\n";
  }
  return 0;
}

}  // namespace cserve::cli
