// runtime.hpp — one process's cserve: worker pool, controller and HTTP proxy, wired together.
// Serve (the public API) is a thin owner of a Runtime.
//
// Lifecycle:  start() --> serving --shutdown()--> stopped
//   shutdown order: the proxy drains (stops accepting, finishes answers), the controller stops
//   every replica gracefully, the worker pool joins (every completion has run), then the proxy's
//   I/O threads join. Each component outlives the threads that call into it.
// Thread-safety: every member function is safe from any thread.
#pragma once

#include "common/clock.hpp"
#include "common/gpu_metrics.hpp"
#include "common/worker_pool.hpp"
#include "admin/admin_api.hpp"
#include "controller/controller.hpp"
#include "grpc/grpc_ingress.hpp"
#include "proxy/http_proxy.hpp"
#include "replica/launcher.hpp"
#include "runtime/cluster_membership.hpp"
#include "runtime/cluster_routing.hpp"
#include "runtime/library_shipping.hpp"

#include <cserve/detail/mutex.hpp>
#include <cserve/serve.hpp>

#include <atomic>
#include <memory>

namespace boost::asio {
class io_context;
}

namespace cserve::detail {

class Runtime {
 public:
  explicit Runtime(ServeOptions options);
  ~Runtime();

  void run(const Application& app, const RunOptions& options);
  void delete_app(const std::string& name);
  ServeStatus status() const;
  Controller::Target target(const std::string& app, const std::optional<std::string>& deployment) const {
    return controller_->target(app, deployment);
  }
  void wait(const std::function<void()>& on_waiting);
  void shutdown();
  // Deletes every application now and makes wait() return (then it shuts down); never blocks.
  void request_shutdown();
  // Deploys a declarative config: its applications (built from their libraries), and deletes
  // every other application. Validates and builds everything first: a ConfigError changes
  // nothing. Returns without waiting for RUNNING. In cluster mode the config becomes the
  // cluster's target, and this node runs the share the leader gives it.
  void deploy_config(const Json& config);
  Json deployed_config() const;

  // Gives each deployment without an isolation option the instance's default, and refuses
  // process isolation where a worker cannot build the deployment. Throws ConfigError.
  std::vector<DeploymentDef> resolve_isolation(std::vector<DeploymentDef> defs) const;
  const std::string& http_host() const { return options_.http.host; }
  const std::string& grpc_host() const { return options_.grpc.host; }
  int http_port() const { return proxy_ ? proxy_->port() : 0; }
  int admin_port() const { return admin_ ? admin_->port() : 0; }
  int grpc_port() const { return grpc_ ? grpc_->port() : 0; }

 private:
  ClusterMembership* cluster() const { return cluster_.load(std::memory_order_acquire); }
  void join_cluster();
  // What deploy_config() does in embedded mode, and what a cluster node does with its share.
  void deploy_local(const Json& config);
  // What a config asks of the cluster (loads its libraries). Throws ConfigError.
  std::vector<Demand> cluster_demands(const Json& config) const;

  // Constant after construction (the components are made by the constructor and live until the
  // destructor; shutdown() stops them in order).
  const ServeOptions options_;
  SteadyClock clock_;
  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<LocalLauncher> local_launcher_;
  std::unique_ptr<ReplicaLauncher> launcher_;  // threads or worker processes, per deployment
  std::unique_ptr<HttpProxy> proxy_;
  std::unique_ptr<GrpcIngress> grpc_;
  std::unique_ptr<Controller> controller_;
  std::unique_ptr<AdminApi> admin_api_;
  std::unique_ptr<HttpProxy> admin_;
  std::unique_ptr<GpuMetrics> gpu_metrics_;  // set when NVML is present
  // Cluster mode only; last, so that they go first. Joined after the admin API serves (the node's
  // record has its port), so readers go through cluster(), which sees it once it is whole.
  std::unique_ptr<LibraryShipping> shipping_;  // made by the constructor (the admin API serves its blobs)
  std::unique_ptr<ClusterRouting> routing_;  // made before the membership (its port is in the record)
  std::unique_ptr<ClusterMembership> cluster_owned_;
  std::atomic<ClusterMembership*> cluster_{nullptr};

  Mutex mu_;
  bool shut_down_ CSERVE_GUARDED_BY(mu_) = false;
  bool shutdown_requested_ CSERVE_GUARDED_BY(mu_) = false;
  boost::asio::io_context* waiting_ CSERVE_GUARDED_BY(mu_) = nullptr;  // the io_context wait() runs, while it runs

  mutable Mutex config_mu_;
  Json deployed_config_ CSERVE_GUARDED_BY(config_mu_);  // null until a config is deployed
};

}  // namespace cserve::detail
