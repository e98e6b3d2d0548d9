// controller.hpp — the reconcile loop: applications -> deployments -> replicas.
//
// deploy() and delete_app() only record the target state; every tick (and whenever a replica
// reports) the loop observes what replicas reported, decides with pure policies (rollout.hpp,
// placement.hpp, capacity.hpp, health_policy.hpp, autoscaling_policy.hpp, status_policy.hpp) and
// acts: it places and starts replicas, rolls versions over, drains and stops replicas, publishes
// each deployment's routable replicas to its router and the route table to the proxy, and
// derives the statuses. Errors in user code become statuses and log lines, never a crash.
//
// Application status:
//
//   deploy() --> DEPLOYING --all deployments HEALTHY--> RUNNING --deploy()--> DEPLOYING
//                    |                                    |
//                    +--a deployment failed--> DEPLOY_FAILED (old replicas, if any, keep serving)
//   delete_app() from any state --> DELETING --replicas stopped--> (gone)
//
// (records.hpp draws a replica's states.)
//
// Time comes from the injected Clock and replicas from the injected ReplicaLauncher, so tests
// drive the controller with a ManualClock and tick(), with no loop thread and no sleeps.
// Thread-safety: every public member function is safe from any thread. One mutex guards all
// state; it is never held while user code runs (replica work is posted elsewhere by the
// launcher's replicas) and replica callbacks take it themselves.
#pragma once

#include "api/metrics_registry.hpp"
#include "common/clock.hpp"
#include "controller/app_spec.hpp"
#include "controller/capacity.hpp"
#include "controller/records.hpp"
#include "replica/launcher.hpp"
#include "router/route_table.hpp"

#include <cserve/detail/mutex.hpp>
#include <cserve/status.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace cserve {

struct ControllerOptions {
  std::vector<NodeResources> nodes;
  Capacity capacity = Capacity::kFixed;  // embedded mode: the nodes are all there will be
  Duration loop_period = std::chrono::milliseconds(50);
};

class Controller {
 public:
  using RoutesPublisher = std::function<void(std::shared_ptr<const RouteTable>)>;

  // `launcher` and `clock` outlive the controller.
  Controller(ControllerOptions options, ReplicaLauncher& launcher, const Clock& clock, RoutesPublisher publish_routes);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Starts the loop thread, which ticks every loop_period and whenever a replica reports.
  void start();
  // One reconcile pass now (what the loop thread does each period; tests call it directly).
  void tick() CSERVE_EXCLUDES(mu_);

  // Validates `spec` and records it as the target; returns at once. Throws ConfigError.
  void deploy(AppSpec spec) CSERVE_EXCLUDES(mu_);
  // Makes `specs` the whole target: deploys each, deletes every other application. All are
  // validated first (ConfigError changes nothing); returns at once.
  void deploy_all(std::vector<AppSpec> specs) CSERVE_EXCLUDES(mu_);
  // Marks an application for deletion; returns at once. Throws ConfigError for an unknown name.
  void delete_app(const std::string& name) CSERVE_EXCLUDES(mu_);
  // Returns once `name` is RUNNING. Throws DeployError when it is DEPLOY_FAILED, deleted, or
  // not RUNNING by `deadline`.
  void wait_running(const std::string& name, std::optional<TimePoint> deadline) CSERVE_EXCLUDES(mu_);
  // Returns once `name` no longer exists.
  void wait_deleted(const std::string& name) CSERVE_EXCLUDES(mu_);
  ServeStatus status() const CSERVE_EXCLUDES(mu_);

  // The router of a deployment (the ingress when `deployment` is empty), for handles. Throws
  // ConfigError for an unknown application or deployment.
  struct Target {
    std::shared_ptr<Router> router;
    std::string deployment;
    std::string type_name;
  };
  Target target(const std::string& app, const std::optional<std::string>& deployment) const CSERVE_EXCLUDES(mu_);

  // How long requests in flight may take to finish at shutdown: the longest
  // graceful_shutdown_timeout_s among the deployments (zero when there are none).
  Duration drain_budget() const CSERVE_EXCLUDES(mu_);
  // Deletes every application, waits (at most `timeout`) for the replicas to stop, ends the loop.
  void shutdown(Duration timeout) CSERVE_EXCLUDES(mu_);

 private:
  void loop() CSERVE_EXCLUDES(mu_);
  void tick_locked() CSERVE_REQUIRES(mu_);
  void wake() CSERVE_REQUIRES(mu_);
  void apply_locked(AppSpec spec) CSERVE_REQUIRES(mu_);
  void set_target(DeploymentRecord& d, detail::DeploymentDef def) CSERVE_REQUIRES(mu_);
  void mark_deleting(AppRecord& app) CSERVE_REQUIRES(mu_);
  void publish_routes_locked() CSERVE_REQUIRES(mu_);

  // One deployment's reconcile, in order: observe, then decide and act.
  void reconcile(AppRecord& app, DeploymentRecord& d, TimePoint now) CSERVE_REQUIRES(mu_);
  void take_reports(const AppRecord& app, DeploymentRecord& d, TimePoint now) CSERVE_REQUIRES(mu_);
  void autoscale(const AppRecord& app, DeploymentRecord& d, TimePoint now) CSERVE_REQUIRES(mu_);
  void roll_out(DeploymentRecord& d, TimePoint now) CSERVE_REQUIRES(mu_);
  void place_pending(const AppRecord& app, DeploymentRecord& d, TimePoint now) CSERVE_REQUIRES(mu_);
  void replica_exited(const AppRecord& app, DeploymentRecord& d, const ReplicaRecord& r, const Failure& cause,
                      TimePoint now) CSERVE_REQUIRES(mu_);
  void deliver_user_config(DeploymentRecord& d, TimePoint now) CSERVE_REQUIRES(mu_);
  void check_health(const AppRecord& app, DeploymentRecord& d, TimePoint now) CSERVE_REQUIRES(mu_);
  void publish_replicas(DeploymentRecord& d) CSERVE_REQUIRES(mu_);
  void drain_and_stop(DeploymentRecord& d, TimePoint now) CSERVE_REQUIRES(mu_);
  void update_statuses(AppRecord& app) CSERVE_REQUIRES(mu_);

  void start_replica(const AppRecord& app, DeploymentRecord& d, const std::shared_ptr<ReplicaRecord>& r)
      CSERVE_REQUIRES(mu_);
  static void begin_stop(ReplicaRecord& r, TimePoint now);
  void release(ReplicaRecord& r) CSERVE_REQUIRES(mu_);
  std::vector<Holding> holdings() const CSERVE_REQUIRES(mu_);
  std::string new_replica_id(const std::string& deployment) CSERVE_REQUIRES(mu_);
  // The gauges read at each /metrics render: queues, ongoing requests, replica health, counts.
  void collect_metrics(std::vector<CollectedSample>& out) const CSERVE_EXCLUDES(mu_);

  // Constant after construction.
  const ControllerOptions options_;
  ReplicaLauncher& launcher_;
  const Clock& clock_;
  const RoutesPublisher publish_routes_;
  MetricFamily& replica_starts_;
  MetricFamily& replica_exits_;
  MetricFamily& health_check_failures_;
  std::uint64_t collector_ = 0;

  mutable detail::Mutex mu_;
  detail::CondVar wake_cv_;            // the loop waits here between ticks
  mutable detail::CondVar status_cv_;  // waiters for statuses
  bool wake_ CSERVE_GUARDED_BY(mu_) = false;
  bool stop_ CSERVE_GUARDED_BY(mu_) = false;
  std::vector<NodeResources> free_ CSERVE_GUARDED_BY(mu_);  // what is left on each node
  std::map<std::string, std::unique_ptr<AppRecord>> apps_ CSERVE_GUARDED_BY(mu_);
  std::minstd_rand rng_ CSERVE_GUARDED_BY(mu_);

  std::thread thread_;  // the loop; started by start(), joined by shutdown() or the destructor
};

}  // namespace cserve
