#include "runtime/runtime.hpp"

#include "common/asio.hpp"
#include "common/logging.hpp"
#include "worker/process_launcher.hpp"

#include <cserve/error.hpp>

#include <algorithm>
#include <cmath>
#include "config/serve_config.hpp"

#include <unistd.h>

#include <csignal>

namespace cserve::detail {
namespace {

void validate(const ServeOptions& o) {
  auto positive = [](double v) { return std::isfinite(v) && v > 0; };
  if (o.http.port < 0 || o.http.port > 65535) throw ConfigError("http.port must be 0..65535");
  if (o.http.io_threads < 1) throw ConfigError("http.io_threads must be >= 1");
  if (o.http.max_body_bytes == 0) throw ConfigError("http.max_body_bytes must be > 0");
  if (o.http.max_header_bytes < 256) throw ConfigError("http.max_header_bytes must be >= 256");
  if (!positive(o.http.header_timeout_s)) throw ConfigError("http.header_timeout_s must be > 0");
  if (!positive(o.http.body_timeout_s)) throw ConfigError("http.body_timeout_s must be > 0");
  if (!positive(o.http.keep_alive_timeout_s)) throw ConfigError("http.keep_alive_timeout_s must be > 0");
  if (o.http.request_timeout_s && !positive(*o.http.request_timeout_s)) {
    throw ConfigError("http.request_timeout_s must be > 0 (or unset: no limit)");
  }
  if (o.worker_threads < 0) throw ConfigError("worker_threads must be >= 0 (0 = one per core)");
  if (o.cpus && !(std::isfinite(*o.cpus) && *o.cpus >= 0)) throw ConfigError("cpus must be >= 0");
  if (!(std::isfinite(o.gpus) && o.gpus >= 0 && o.gpus == std::floor(o.gpus))) {
    throw ConfigError("gpus must be a whole number >= 0");
  }
  for (const auto& [name, v] : o.custom_resources) {
    if (!(std::isfinite(v) && v >= 0)) throw ConfigError("custom_resources[" + name + "] must be >= 0");
  }
  if (!positive(o.control_loop_period_s)) throw ConfigError("control_loop_period_s must be > 0");
  if (auto e = validate_cluster(o.cluster)) throw ConfigError(*e);
  if (auto e = validate_admin(o.admin)) throw ConfigError(*e);
  if (o.grpc.port < 0 || o.grpc.port > 65535) throw ConfigError("grpc.port must be 0..65535");
  if (o.grpc.max_message_bytes == 0 || o.grpc.max_message_bytes > (1u << 31) - 1) {
    throw ConfigError("grpc.max_message_bytes must be 1..2147483647");
  }
  if (o.grpc.enabled && o.http_enabled && o.grpc.port != 0 && o.grpc.port == o.http.port &&
      o.grpc.host == o.http.host) {
    throw ConfigError("grpc.port " + std::to_string(o.grpc.port) + " is the HTTP port: give gRPC a port of its own");
  }
  log::Level level;
  if (o.logging.log_level && !log::parse_level(*o.logging.log_level, level)) {
    throw ConfigError("logging.log_level must be DEBUG, INFO, WARNING, ERROR or OFF, got '" +
                      *o.logging.log_level + "'");
  }
  log::Encoding encoding;
  if (o.logging.encoding && !log::parse_encoding(*o.logging.encoding, encoding)) {
    throw ConfigError("logging.encoding must be TEXT or JSON, got '" + *o.logging.encoding + "'");
  }
}

void apply_logging(const LoggingOptions& o) {
  log::Level level;
  if (o.log_level && log::parse_level(*o.log_level, level)) log::set_level(level);
  log::Encoding encoding;
  if (o.encoding && log::parse_encoding(*o.encoding, encoding)) log::set_encoding(encoding);
  if (o.enable_access_log) log::set_access_log(*o.enable_access_log);
}

int cores() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

NodeResources local_node(const ServeOptions& o) {
  NodeResources n;
  n.node_id = o.cluster.etcd.empty() ? "local" : node_name(o.cluster);
  n.cpus = o.cpus.value_or(static_cast<double>(cores()));
  n.gpus.assign(static_cast<std::size_t>(o.gpus), 1.0);
  n.custom = o.custom_resources;
  return n;
}

}  // namespace

Runtime::Runtime(ServeOptions options) : options_(std::move(options)) {
  validate(options_);
  apply_logging(options_.logging);
  const ThreadPolicy policy{.batch_scheduling = options_.batch_scheduling};
  pool_ = std::make_unique<WorkerPool>(
      options_.worker_threads > 0 ? options_.worker_threads : std::max(2, cores()), policy);
  if (options_.http_enabled) {
    proxy_ = std::make_unique<HttpProxy>(options_.http, HttpProxy::LocalHandler{}, true, policy);
    proxy_->start();
  }
  if (options_.grpc.enabled) {
    grpc_ = std::make_unique<GrpcIngress>(options_.grpc);
    grpc_->start();
  }
  local_launcher_ = std::make_unique<LocalLauncher>(*pool_);
  launcher_ = std::make_unique<IsolatingLauncher>(
      *local_launcher_, options_.worker_binary.empty() ? default_worker_binary() : options_.worker_binary);
  ControllerOptions copts;
  copts.nodes.push_back(local_node(options_));
  copts.loop_period = seconds_to_duration(options_.control_loop_period_s);
  controller_ = std::make_unique<Controller>(
      std::move(copts), *launcher_, clock_,
      [proxy = proxy_.get(), grpc = grpc_.get()](std::shared_ptr<const RouteTable> t) {
        if (grpc) grpc->set_routes(t);
        if (proxy) proxy->set_routes(std::move(t));
      });
  controller_->start();
  std::string no_nvml;
  if (auto nvml = NvmlReader::open("libnvidia-ml.so.1", &no_nvml)) {
    gpu_metrics_ = std::make_unique<GpuMetrics>(std::move(nvml));
  } else if (options_.gpus > 0) {
    CSERVE_LOG(kInfo, "runtime") << "no GPU metrics: " << no_nvml;
  }
  if (!options_.cluster.etcd.empty()) {
    const std::string self = node_name(options_.cluster);
    shipping_ = std::make_unique<LibraryShipping>(self, default_blob_dir(self), options_.admin.token, [this] {
      ClusterMembership* c = cluster();
      return c ? c->nodes() : std::vector<cluster::NodeRecord>{};
    });
  }
  if (options_.admin.enabled) {
    AdminHooks hooks{[this] { return status(); }, [this] { return deployed_config(); },
                     [this](const Json& c) { deploy_config(c); }, [this] { request_shutdown(); }};
    if (shipping_) hooks.blob = [this](const std::string& sha256) { return shipping_->blob(sha256); };
    admin_api_ = std::make_unique<AdminApi>(options_.admin.token, std::move(hooks));
    HttpOptions h;
    h.host = options_.admin.host;
    h.port = options_.admin.port;
    h.io_threads = 1;  // the admin API is not on the request path
    admin_ = std::make_unique<HttpProxy>(
        h, [api = admin_api_.get()](const Request& r) { return api->handle(r); }, /*record_metrics=*/false,
        ThreadPolicy{.batch_scheduling = options_.batch_scheduling});
    admin_->start();
  }
  if (!options_.cluster.etcd.empty()) {
    try {
      join_cluster();
    } catch (...) {
      shutdown();
      throw;
    }
  }
}

void Runtime::join_cluster() {
  cluster::NodeRecord record;
  record.id = node_name(options_.cluster);
  record.ip = options_.cluster.node_ip;
  record.http_port = http_port();
  record.admin_port = admin_port();
  record.pid = ::getpid();
  record.resources = amounts(local_node(options_));
  ClusterRoutingHooks routing;
  routing.serving = [this] {
    Serving serving;
    for (const auto& [app, a] : controller_->status().applications) {
      for (const auto& [name, d] : a.deployments) {
        serving[app][name] = static_cast<int>(std::count_if(d.replicas.begin(), d.replicas.end(), [](const auto& r) {
          return r.state == ReplicaState::RUNNING;
        }));
      }
    }
    return serving;
  };
  routing.nodes = [this] {
    ClusterMembership* c = cluster();
    return c ? c->nodes() : std::vector<cluster::NodeRecord>{};
  };
  routing.router = [this](const std::string& app, const std::string& deployment) -> std::shared_ptr<Router> {
    try {
      return controller_->target(app, deployment).router;
    } catch (const ConfigError&) {
      return nullptr;
    }
  };
  routing.publish = [this] {
    if (ClusterMembership* c = cluster()) c->refresh();
  };
  routing_ = std::make_unique<ClusterRouting>(record.id, options_.cluster.node_ip, options_.cluster.peer_port,
                                              std::move(routing));
  record.peer_port = routing_->peer_port();
  auto usage = [this] {
    cluster::NodeUsage u;
    const ServeStatus s = controller_->status();
    if (!s.nodes.empty()) {
      u.available = s.nodes.front().available;
      u.replicas = s.nodes.front().replicas;
    }
    u.serving = routing_->serving();
    u.load = routing_->load();
    return u;
  };
  ClusterControl::Hooks hooks{[this](const Json& config) { return cluster_demands(shipping_->localize(config)); },
                              [this](const Json& config) { deploy_local(shipping_->localize(config)); }};
  cluster_owned_ = std::make_unique<ClusterMembership>(options_.cluster, std::move(record), usage, std::move(hooks));
  cluster_.store(cluster_owned_.get(), std::memory_order_release);
}

std::vector<DeploymentDef> Runtime::resolve_isolation(std::vector<DeploymentDef> defs) const {
  for (auto& d : defs) {
    if (!d.options.isolation) d.options.isolation = options_.isolation;
    if (*d.options.isolation != Isolation::kProcess) continue;
    if (!d.origin) {
      throw ConfigError("deployment '" + d.options.name +
                        "' has isolation 'process', which needs its application in a library "
                        "(CSERVE_APPLICATION) that worker processes load: deploy it with `cserve run`, "
                        "`cserve deploy` or a config, or give it isolation 'thread'");
    }
  }
  return defs;
}

void Runtime::deploy_config(const Json& config) {
  if (options_.cluster.etcd.empty()) return deploy_local(config);
  ClusterMembership* c = cluster();
  if (!c) throw Error("this node is still joining the cluster; try again", ErrorCode::kUnavailable);
  // The libraries go into this node's blob store and the config names them by content, so that
  // the other nodes fetch them from here; everything is loaded and checked before the cluster
  // sees it.
  const Json shipped = shipping_->ship(parse_json_config(config).source);
  cluster_demands(shipping_->localize(shipped));
  c->submit(shipped);
}

std::vector<Demand> Runtime::cluster_demands(const Json& config) const {
  std::vector<Demand> out;
  for (auto& [cfg, app] : build_applications(parse_json_config(config))) {
    for (const DeploymentDef& def : resolve_isolation(app.deployments())) {
      const auto& autoscaling = def.options.autoscaling_config;
      const int replicas =
          autoscaling ? autoscaling->initial_replicas.value_or(autoscaling->min_replicas) : def.options.num_replicas;
      out.push_back({{cfg.name, def.options.name}, replicas, def.options.resources, def.options.max_replicas_per_node,
                     autoscaling});
    }
  }
  return out;
}

void Runtime::deploy_local(const Json& config) {
  ServeConfig parsed = parse_json_config(config);
  const Json& h = parsed.http_options;
  if ((h.contains("host") && h["host"] != options_.http.host) ||
      (h.contains("port") && h["port"] != 0 && h["port"] != http_port())) {
    throw ConfigError("http_options: host and port cannot change on a running instance (it serves " +
                      options_.http.host + ":" + std::to_string(http_port()) + ")");
  }
  const Json& g = parsed.grpc_options;
  if (g.is_object() && (!grpc_ || (g.contains("host") && g["host"] != options_.grpc.host) ||
                        (g.contains("port") && g["port"] != 0 && g["port"] != grpc_port()))) {
    throw ConfigError(grpc_ ? "grpc_options: host and port cannot change on a running instance (it serves gRPC on " +
                                  options_.grpc.host + ":" + std::to_string(grpc_port()) + ")"
                            : "grpc_options: this instance was started without gRPC; restart it with grpc_options");
  }
  auto apps = build_applications(parsed);  // loads and builds everything before changing anything
  std::vector<AppSpec> specs;
  for (auto& [cfg, app] : apps) {
    AppSpec spec;
    spec.name = cfg.name;
    spec.route_prefix = cfg.route_prefix;
    spec.deployments = resolve_isolation(app.deployments());
    specs.push_back(std::move(spec));
  }
  controller_->deploy_all(std::move(specs));
  MutexLock lock(config_mu_);
  deployed_config_ = parsed.source;
}

Json Runtime::deployed_config() const {
  if (ClusterMembership* c = cluster()) return c->config();
  MutexLock lock(config_mu_);
  return deployed_config_;
}

void Runtime::request_shutdown() {
  for (const auto& [name, app] : controller_->status().applications) {
    try {
      controller_->delete_app(name);
    } catch (const ConfigError&) {
      // deleted meanwhile
    }
  }
  MutexLock lock(mu_);
  shutdown_requested_ = true;
  if (waiting_) waiting_->stop();
}

Runtime::~Runtime() { shutdown(); }

void Runtime::run(const Application& app, const RunOptions& options) {
  if (!options_.cluster.etcd.empty()) {
    throw ConfigError("application '" + options.name +
                      "': in cluster mode every node loads the application from its library: deploy it "
                      "with a config (`cserve deploy`, `cserve run config.yaml`), not serve.run()");
  }
  AppSpec spec;
  spec.name = options.name;
  spec.route_prefix = options.route_prefix.value_or(app.ingress().options.route_prefix.value_or("/"));
  spec.deployments = resolve_isolation(app.deployments());
  std::optional<TimePoint> deadline;
  if (options.timeout_s) {
    if (!(*options.timeout_s >= 0)) throw ConfigError("timeout_s must be >= 0");
    deadline = std::chrono::steady_clock::now() + seconds_to_duration(*options.timeout_s);
  }
  controller_->deploy(std::move(spec));
  controller_->wait_running(options.name, deadline);
}

void Runtime::delete_app(const std::string& name) {
  controller_->delete_app(name);
  controller_->wait_deleted(name);
}

ServeStatus Runtime::status() const {
  ServeStatus s = controller_->status();
  s.http_host = options_.http.host;
  s.http_port = http_port();
  for (NodeStatusInfo& n : s.nodes) {
    n.ip = options_.cluster.etcd.empty() ? options_.http.host : options_.cluster.node_ip;
    n.http_port = http_port();
    n.admin_port = admin_port();
  }
  if (ClusterMembership* c = cluster()) c->fill(s);
  return s;
}

void Runtime::wait(const std::function<void()>& on_waiting) {
  asio::io_context io(1);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([](const boost::system::error_code& ec, int signo) {
    if (!ec) {
      CSERVE_LOG(kInfo, "serve") << "received signal " << signo << "; shutting down";
    }
  });
  {
    MutexLock lock(mu_);
    if (shut_down_) return;
    if (shutdown_requested_) io.stop();
    waiting_ = &io;
  }
  if (on_waiting) on_waiting();
  io.run();
  {
    MutexLock lock(mu_);
    waiting_ = nullptr;
  }
  shutdown();
}

void Runtime::shutdown() {
  {
    MutexLock lock(mu_);
    if (shut_down_) return;
    shut_down_ = true;
    if (waiting_) waiting_->stop();
  }
  if (ClusterMembership* c = cluster()) c->stop();  // leaves the cluster first: its lease revoked
  // Long enough for every replica's graceful_shutdown_timeout_s (Ray's default 20 s) to apply.
  const Duration timeout = std::chrono::seconds(30);
  // Requests in flight get as long as the deployments' graceful_shutdown_timeout_s allows; those
  // still running then are cancelled, so that their coroutines unwind before replicas stop.
  if (proxy_) proxy_->drain(controller_->drain_budget());
  if (grpc_) grpc_->stop(controller_->drain_budget());
  // Other nodes stopped sending here when the node left; what they sent before had the drain.
  if (routing_) routing_->stop();
  controller_->shutdown(timeout);
  pool_->stop();
  if (proxy_) proxy_->stop();
  if (admin_) admin_->stop();  // last: it reads the controller's status until here
  log::flush();
}

}  // namespace cserve::detail

namespace cserve {

Serve::Serve(std::unique_ptr<detail::Runtime> runtime) : runtime_(std::move(runtime)) {}
Serve::Serve(Serve&&) noexcept = default;
Serve& Serve::operator=(Serve&&) noexcept = default;
Serve::~Serve() {
  if (runtime_) runtime_->shutdown();
}

void Serve::run(const Application& app, const RunOptions& options) { runtime_->run(app, options); }
void Serve::delete_app(const std::string& name) { runtime_->delete_app(name); }
ServeStatus Serve::status() const { return runtime_->status(); }
Serve::Target Serve::target(const std::string& app, const std::optional<std::string>& deployment) const {
  auto t = runtime_->target(app, deployment);
  return {std::move(t.router), std::move(t.deployment), std::move(t.type_name)};
}
void Serve::wait(const std::function<void()>& on_waiting) { runtime_->wait(on_waiting); }
void Serve::shutdown() { runtime_->shutdown(); }
const std::string& Serve::http_host() const { return runtime_->http_host(); }
const std::string& Serve::grpc_host() const { return runtime_->grpc_host(); }
int Serve::http_port() const { return runtime_->http_port(); }
int Serve::admin_port() const { return runtime_->admin_port(); }
int Serve::grpc_port() const { return runtime_->grpc_port(); }

Serve start(const ServeOptions& options) {
  return Serve(std::make_unique<detail::Runtime>(options));
}

}  // namespace cserve
