// controller.hpp — the reconcile loop: applications -> deployments -> replicas.
//
// deploy() and delete_app() only record the target state; every tick (and whenever a replica
// reports) the loop compares target with actual and repairs the difference: it places and
// starts replicas, rolls versions over (rollout.hpp), drains and stops replicas, publishes each
// deployment's routable replicas to its router and the route table to the proxy, and derives
// the statuses. Errors in user code become statuses and log lines, never a crash.
//
// Application status:
//
//   deploy() --> DEPLOYING --all deployments HEALTHY--> RUNNING --deploy()--> DEPLOYING
//                    |                                    |
//                    +--a deployment failed--> DEPLOY_FAILED (old replicas, if any, keep serving)
//   delete_app() from any state --> DELETING --replicas stopped--> (gone)
//
// Replica record (ReplicaState):
//
//   PENDING --placed--> STARTING --constructed--> RUNNING --stop--> STOPPING --drained--> (gone)
//      |                   +--constructor threw--> (gone; counted toward DEPLOY_FAILED)
//      +--stop--> (gone)                             |
//                          3 failed health checks ---+--> STOPPING (it answers: drains first)
//                                                    +--> (gone at once, if stuck: resources freed)
//
// Thread-safety: every public member function is safe from any thread. One mutex guards all
// state; it is never held while user code runs (replica work is posted to the worker pool).
#pragma once

#include "api/metrics_registry.hpp"
#include "common/clock.hpp"
#include "common/worker_pool.hpp"
#include "controller/placement.hpp"
#include "replica/replica.hpp"
#include "router/route_table.hpp"
#include "router/router.hpp"

#include <cserve/deployment.hpp>
#include <cserve/status.hpp>

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace cserve {

struct AppSpec {
  std::string name;
  std::string route_prefix;
  std::vector<detail::DeploymentDef> deployments;  // [0] is the ingress
};

// "" when `prefix` is a valid route_prefix ("/" or "/a/b"), else a message naming it.
std::string validate_route_prefix(const std::string& prefix);

struct ControllerOptions {
  std::vector<NodeResources> nodes;
  Duration loop_period = std::chrono::milliseconds(50);
};

class Controller {
 public:
  using RoutesPublisher = std::function<void(std::shared_ptr<const RouteTable>)>;

  Controller(ControllerOptions options, WorkerPool& pool, const Clock& clock,
             RoutesPublisher publish_routes);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Starts the loop thread.
  void start();
  // Validates `spec` and records it as the target; returns at once. Throws ConfigError.
  void deploy(AppSpec spec);
  // Makes `specs` the whole target: deploys each, deletes every other application. All are
  // validated first (ConfigError changes nothing); returns at once.
  void deploy_all(std::vector<AppSpec> specs);
  // Marks an application for deletion; returns at once. Throws ConfigError for an unknown name.
  void delete_app(const std::string& name);
  // Returns once `name` is RUNNING. Throws DeployError when it is DEPLOY_FAILED, deleted, or
  // not RUNNING by `deadline`.
  void wait_running(const std::string& name, std::optional<TimePoint> deadline);
  // Returns once `name` no longer exists.
  void wait_deleted(const std::string& name);
  ServeStatus status() const;

  // The router of a deployment (the ingress when `deployment` is empty), for handles. Throws
  // ConfigError for an unknown application or deployment.
  struct Target {
    std::shared_ptr<Router> router;
    std::string deployment;
    std::string type_name;
  };
  Target target(const std::string& app, const std::optional<std::string>& deployment) const;

  // Deletes every application, waits (at most `timeout`) for the replicas to stop, ends the loop.
  void shutdown(Duration timeout);

 private:
  struct ReplicaRecord;
  struct DeploymentRecord;
  struct AppRecord;

  void loop();
  void tick_locked();
  void reconcile_deployment(AppRecord& app, DeploymentRecord& d, TimePoint now);
  void start_replica(const AppRecord& app, DeploymentRecord& d,
                     const std::shared_ptr<ReplicaRecord>& r);
  static void stop_replica(ReplicaRecord& r, TimePoint now);
  // Samples the deployment's ongoing requests and lets the autoscaling policy move its target.
  void autoscale_deployment(const AppRecord& app, DeploymentRecord& d, TimePoint now);
  // Posts due health checks, counts failures and timeouts, replaces replicas that failed
  // kHealthCheckFailures checks in a row.
  void check_health(const AppRecord& app, DeploymentRecord& d, TimePoint now);
  void publish_replicas(DeploymentRecord& d);
  void publish_routes_locked();
  void update_statuses(AppRecord& app);
  void set_target(DeploymentRecord& d, detail::DeploymentDef def);
  void apply_locked(AppSpec spec);
  void wake();
  std::string new_replica_id(const std::string& deployment);
  // The gauges read at each /metrics render: queues, ongoing requests, replica health, counts.
  void collect_metrics(std::vector<CollectedSample>& out) const;

  const ControllerOptions options_;
  WorkerPool& pool_;
  const Clock& clock_;
  const RoutesPublisher publish_routes_;

  mutable std::mutex mu_;
  std::condition_variable wake_cv_;            // the loop waits here between ticks
  mutable std::condition_variable status_cv_;  // waiters for statuses
  bool wake_ = false;
  bool stop_ = false;
  std::vector<NodeResources> free_;            // what is left on each node
  std::map<std::string, std::unique_ptr<AppRecord>> apps_;
  std::minstd_rand rng_;
  MetricFamily& replica_starts_;
  MetricFamily& health_check_failures_;
  std::uint64_t collector_ = 0;
  std::thread thread_;
};

}  // namespace cserve
