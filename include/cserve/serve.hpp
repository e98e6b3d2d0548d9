// cserve/serve.hpp — starting the runtime and running applications on it.
//
//   cserve::Serve serve = cserve::start({.http = {.host = "127.0.0.1", .port = 8000}});
//   serve.run(cserve::deployment<Counter>().bind(), {.route_prefix = "/Counter"});
//   serve.wait();   // until SIGINT or SIGTERM, then a graceful drain
//
// One Serve holds the controller, the HTTP proxy and every replica of this process.
// Thread-safety: every member function may be called from any thread.
#pragma once

#include <cserve/deployment.hpp>
#include <cserve/handle.hpp>
#include <cserve/status.hpp>

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cserve {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8000;                          // 0 = any free port (see Serve::http_port)
  // Threads that parse, route and write HTTP. Two: with one, on a small machine, it and the
  // worker running a busy replica end up taking turns on one CPU (bench/README.md).
  int io_threads = 2;
  std::size_t max_body_bytes = 10u << 20;   // a larger body answers 413
  std::size_t max_header_bytes = 16u << 10; // larger request headers answer 431
  double header_timeout_s = 10;             // from a request's first byte to its last header byte
  double body_timeout_s = 60;               // to read the whole body
  double keep_alive_timeout_s = 5;          // an idle keep-alive connection is closed after this
  // From a request's last byte to its answer's first; past it the answer is 408 and the request
  // is cancelled. None (Ray's default): no limit.
  std::optional<double> request_timeout_s;
};

// The admin API (REST + Prometheus /metrics; docs/operations.md). Off in the library by default
// (one per host and port); the cserve CLI turns it on at 127.0.0.1:8265.
struct AdminOptions {
  bool enabled = false;
  std::string host = "127.0.0.1";
  int port = 8265;    // 0 = any free port (see Serve::admin_port)
  std::string token;  // bearer token every request must carry; required off loopback
};

// The gRPC ingress (docs/grpc.md): the Open Inference Protocol's inference.GRPCInferenceService
// and the applications' own gRPC methods, on one port. Off unless enabled (in a config file:
// a grpc_options section turns it on).
struct GrpcOptions {
  bool enabled = false;
  std::string host = "127.0.0.1";
  int port = 9000;                            // 0 = any free port (see Serve::grpc_port)
  std::size_t max_message_bytes = 10u << 20;  // a larger request message: RESOURCE_EXHAUSTED
};

// Logs of the whole process (docs/operations.md). Unset fields keep what the environment says
// (CSERVE_LOG_LEVEL, CSERVE_LOG_ENCODING, CSERVE_ACCESS_LOG), else the defaults shown.
struct LoggingOptions {
  std::optional<std::string> log_level;   // DEBUG, INFO (default), WARNING, ERROR, OFF
  std::optional<std::string> encoding;    // TEXT (default) or JSON: one object per line
  std::optional<bool> enable_access_log;  // a line per request at the proxy and each replica; off
};

// Cluster mode (docs/cluster.md): with etcd endpoints the instance is one node of a cluster. It
// registers itself (name, address, resources) under a lease that lapses when the node dies or is
// cut off, stands as a controller candidate, and sees every other node. Without them (the
// default) everything stays in this process and no etcd is needed.
struct ClusterOptions {
  std::vector<std::string> etcd;  // etcd client URLs: "http://10.0.0.1:2379", ...
  std::string node_name;          // unique in the cluster; default: the host name
  std::string node_ip = "127.0.0.1";  // where the other nodes reach this one
  int lease_ttl_s = 10;           // a node silent this long is gone (its lease ends)
  int peer_port = 0;              // where other nodes send calls for this node's replicas (on node_ip); 0: any free port
};

struct ServeOptions {
  HttpOptions http;
  AdminOptions admin;
  GrpcOptions grpc;
  LoggingOptions logging;
  bool http_enabled = true;        // false: no proxy (handles only)
  int worker_threads = 0;          // threads running replica code; 0 = one per core (at least 2)
  // HTTP I/O, worker and timer threads scheduled as SCHED_BATCH (Linux): a thread that wakes does
  // not preempt the one running (docs/operations.md "Threads"). false: the default policy.
  bool batch_scheduling = true;
  std::optional<double> cpus;      // this node's CPUs for placement; default: the core count
  double gpus = 0;                 // this node's GPUs (ids 0..gpus-1)
  std::map<std::string, double> custom_resources;
  double control_loop_period_s = 0.05;  // how often the controller reconciles
  // Where replicas run when their deployment does not say (DeploymentOptions::isolation).
  Isolation isolation = Isolation::kThread;
  // The cserve executable that runs worker processes; empty: $CSERVE_WORKER_BINARY, else this
  // process when it is the cserve command.
  std::string worker_binary;
  ClusterOptions cluster;
};

struct RunOptions {
  std::string name = "default";             // the application's name
  std::optional<std::string> route_prefix;  // default: the ingress deployment's, else "/"
  std::optional<double> timeout_s;          // give up waiting for RUNNING after this
};

namespace detail {
class Runtime;
}

class Serve {
 public:
  explicit Serve(std::unique_ptr<detail::Runtime> runtime);
  Serve(Serve&&) noexcept;
  Serve& operator=(Serve&&) noexcept;
  ~Serve();  // shutdown()

  // Deploys (or redeploys) an application and returns once it is RUNNING, with a handle to its
  // ingress. Throws ConfigError for invalid options and DeployError when the app ends
  // DEPLOY_FAILED or `timeout_s` passes; in both cases other applications keep serving. A
  // redeploy is a rolling update; each deployment of a graph rolls only if it changed.
  template <class T>
  DeploymentHandle<T> run(const BoundDeployment<T>& app, const RunOptions& options = {}) {
    run(static_cast<const Application&>(app), options);
    return get_app_handle<T>(options.name);
  }
  void run(const Application& app, const RunOptions& options = {});

  // A handle to an application's ingress, or to any deployment of it. Throws ConfigError for an
  // unknown name, or when T is not the deployment's class. Without T: the untyped handle, which
  // calls methods by name with JSON (cserve/methods.hpp).
  template <class T = void>
  DeploymentHandle<T> get_app_handle(const std::string& app) const {
    return handle_for<T>(app, std::nullopt);
  }
  template <class T = void>
  DeploymentHandle<T> get_deployment_handle(const std::string& deployment,
                                            const std::string& app = "default") const {
    return handle_for<T>(app, deployment);
  }
  // Removes an application: its route goes at once, its replicas drain. Returns when gone.
  // Throws ConfigError for an unknown name.
  void delete_app(const std::string& name);
  ServeStatus status() const;
  // Blocks until SIGINT or SIGTERM (or shutdown() from another thread), then shuts down.
  // `on_waiting` runs once the signal handlers are in place — the moment to announce readiness
  // without a window in which a signal would kill the process instead of draining it.
  void wait(const std::function<void()>& on_waiting = {});
  // Stops accepting connections, finishes the requests in flight, stops every replica.
  // Idempotent.
  void shutdown();

  const std::string& http_host() const;
  int http_port() const;   // the bound port (useful with port 0)
  int admin_port() const;  // the admin API's bound port; 0 when it is off
  const std::string& grpc_host() const;
  int grpc_port() const;   // the gRPC ingress's bound port; 0 when it is off

 private:
  struct Target {
    std::shared_ptr<detail::CallSink> sink;
    std::string deployment;
    std::string type_name;
  };
  Target target(const std::string& app, const std::optional<std::string>& deployment) const;

  template <class T>
  DeploymentHandle<T> handle_for(const std::string& app, const std::optional<std::string>& deployment) const {
    Target t = target(app, deployment);
    if constexpr (!std::is_void_v<T>) {
      if (t.type_name != detail::full_type_name<T>()) {
        throw ConfigError("deployment '" + t.deployment + "' of application '" + app + "' is a " +
                          t.type_name + ", not a " + std::string(detail::full_type_name<T>()));
      }
    }
    return DeploymentHandle<T>(std::move(t.sink), std::move(t.deployment));
  }

  std::unique_ptr<detail::Runtime> runtime_;
};

// Starts the runtime in this process. Throws ConfigError for invalid options and Error when the
// HTTP port cannot be bound.
Serve start(const ServeOptions& options = {});

}  // namespace cserve
