// The controller's loop and reconcile (see controller.hpp); target state in
// controller_target.cpp, statuses in controller_status.cpp, gauges in controller_metrics.cpp.
#include "controller/controller.hpp"

#include "common/logging.hpp"
#include "controller/controller_internal.hpp"
#include "controller/rollout.hpp"

#include <cserve/error.hpp>

#include <algorithm>
#include <cmath>

namespace cserve {
namespace {

HealthConfig health_config(const DeploymentOptions& o) { return {o.health_check_period_s, o.health_check_timeout_s}; }

// Constructor failures of the target version after which a deployment is DEPLOY_FAILED.
int max_constructor_failures(int num_replicas) { return std::clamp(3 * num_replicas, 3, 20); }

// The routers of one application, as a replica's constructor sees them (bound children become
// handles to these). A snapshot: the deployments of an application are fixed per deploy().
class AppSinks final : public detail::FactoryContext {
 public:
  AppSinks(std::string app, std::map<std::string, std::shared_ptr<Router>> routers)
      : app_(std::move(app)), routers_(std::move(routers)) {}
  std::shared_ptr<detail::CallSink> sink(const std::string& deployment) const override {
    auto it = routers_.find(deployment);
    if (it == routers_.end()) {
      throw ConfigError("application '" + app_ + "' has no deployment '" + deployment + "'");
    }
    return it->second;
  }

 private:
  std::string app_;
  std::map<std::string, std::shared_ptr<Router>> routers_;
};

}  // namespace

Controller::Controller(ControllerOptions options, ReplicaLauncher& launcher, const Clock& clock,
                       RoutesPublisher publish_routes)
    : options_(std::move(options)),
      launcher_(launcher),
      clock_(clock),
      publish_routes_(std::move(publish_routes)),
      replica_starts_(MetricsRegistry::global().family(MetricType::kCounter, "cserve_deployment_replica_starts_total",
                                                       "replicas started (restarts included)",
                                                       {"deployment", "application"})),
      replica_exits_(MetricsRegistry::global().family(MetricType::kCounter, "cserve_deployment_replica_exits_total",
                                                      "replicas whose worker process ended by itself (crash, "
                                                      "kill, exit) and were restarted",
                                                      {"deployment", "application"})),
      health_check_failures_(MetricsRegistry::global().family(
          MetricType::kCounter, "cserve_deployment_health_check_failures_total",
          "health checks that raised or were not answered in time", {"deployment", "application"})) {
  {
    detail::MutexLock lock(mu_);
    free_ = options_.nodes;
    rng_.seed(std::random_device{}());
  }
  collector_ = MetricsRegistry::global().add_collector(
      [this](std::vector<CollectedSample>& out) { collect_metrics(out); });
}

Controller::~Controller() {
  MetricsRegistry::global().remove_collector(collector_);
  {
    detail::MutexLock lock(mu_);
    stop_ = true;
  }
  wake_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Controller::start() { thread_ = std::thread([this] { loop(); }); }

void Controller::wake() {
  wake_ = true;
  wake_cv_.notify_one();
}

void Controller::loop() {
  detail::MutexLock lock(mu_);
  while (!stop_) {
    tick_locked();
    wake_cv_.wait_for(mu_, options_.loop_period, [this] {
      mu_.assert_held();
      return stop_ || wake_;
    });
    wake_ = false;
  }
}

void Controller::tick() {
  detail::MutexLock lock(mu_);
  tick_locked();
}

std::string Controller::new_replica_id(const std::string& deployment) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string id = deployment + "#";
  for (int i = 0; i < 6; ++i) id.push_back(kAlphabet[rng_() % (sizeof kAlphabet - 1)]);
  return id;
}

// ---- The tick ----------------------------------------------------------------------------------

void Controller::tick_locked() {
  const TimePoint now = clock_.now();
  for (auto app_it = apps_.begin(); app_it != apps_.end();) {
    AppRecord& app = *app_it->second;
    for (auto d_it = app.deployments.begin(); d_it != app.deployments.end();) {
      DeploymentRecord& d = d_it->second;
      reconcile(app, d, now);
      if (d.deleting && d.replicas.empty()) {
        d.router->close("application '" + app.name + "' no longer has deployment '" + d_it->first + "'");
        d_it = app.deployments.erase(d_it);
      } else {
        ++d_it;
      }
    }
    if (app.deleting && app.deployments.empty()) {
      CSERVE_LOG(kInfo, "controller") << "application '" << app.name << "' deleted";
      app_it = apps_.erase(app_it);
      continue;
    }
    update_statuses(app);
    ++app_it;
  }
  status_cv_.notify_all();
}

void Controller::reconcile(AppRecord& app, DeploymentRecord& d, TimePoint now) {
  // Observe.
  take_reports(app, d, now);
  // Decide and act.
  if (d.autoscaled && !d.deleting && !d.failed) autoscale(app, d, now);
  roll_out(d, now);
  place_pending(app, d, now);
  deliver_user_config(d, now);
  check_health(app, d, now);
  // Publish before draining: a STOPPING replica must be out of the router before its in-flight
  // count can be trusted to only fall.
  publish_replicas(d);
  drain_and_stop(d, now);
}

void Controller::release(ReplicaRecord& r) {
  if (r.allocation) apply_allocation(free_, *r.allocation, +1);
  r.allocation.reset();
}

void Controller::take_reports(const AppRecord& app, DeploymentRecord& d, TimePoint now) {
  for (auto it = d.replicas.begin(); it != d.replicas.end();) {
    ReplicaRecord& r = **it;
    if (r.state == ReplicaState::STARTING && r.started) {
      if (!r.started->failure) {
        r.state = ReplicaState::RUNNING;
        r.health = health_on_running(now, health_config(d.def.options));
        r.running_since = now;
        if (r.version_key == d.version_key) d.started_once = true;
        CSERVE_LOG(kInfo, "controller") << "replica " << r.id << " of " << app.name << " is RUNNING";
      } else {
        const std::string& error = r.started->failure->message;
        CSERVE_LOG(kError, "controller") << "replica " << r.id << " of " << app.name << " failed to start: " << error;
        if (r.version_key == d.version_key) {
          ++d.start_failures;
          d.last_start_error = error;
          d.verdict.trigger = DeploymentStatusTrigger::REPLICA_STARTUP_FAILED;
        }
        release(r);
        it = d.replicas.erase(it);
        continue;
      }
    }
    if (r.state == ReplicaState::RUNNING) {
      if (auto cause = r.replica->exit_cause()) {
        replica_exited(app, d, r, *cause, now);
        release(r);
        it = d.replicas.erase(it);
        continue;
      }
    }
    if (r.stopped) {
      release(r);
      CSERVE_LOG(kInfo, "controller") << "replica " << r.id << " of " << app.name << " stopped";
      it = d.replicas.erase(it);
      continue;
    }
    ++it;
  }
  const int target = d.autoscaled.value_or(d.def.options.num_replicas);
  if (!d.failed && !d.started_once && d.start_failures >= max_constructor_failures(target)) {
    d.failed = "failed to start a replica " + std::to_string(d.start_failures) +
               " times; last error: " + d.last_start_error.value_or("?");
    CSERVE_LOG(kError, "controller") << "deployment '" << d.def.options.name << "' of " << app.name
                                     << " failed after " << d.start_failures << " attempts";
  }
}

// A replica whose process ended by itself: its calls in flight have failed (kReplicaDied); it is
// replaced at once the first time, then with a backoff that doubles while replacements keep
// dying young (a crash loop), up to kMaxBackoff.
void Controller::replica_exited(const AppRecord& app, DeploymentRecord& d, const ReplicaRecord& r,
                                const Failure& cause, TimePoint now) {
  static constexpr auto kYoung = std::chrono::seconds(10);
  static constexpr double kFirstBackoffS = 0.5, kMaxBackoffS = 30;
  const bool young = r.running_since && now - *r.running_since < kYoung;
  d.crash_streak = young ? d.crash_streak + 1 : 1;
  ++d.replica_restarts;
  d.last_replica_exit = cause.message;
  replica_exits_.series({d.def.options.name, app.name}).add(1);
  double backoff_s = 0;
  if (d.crash_streak > 1) backoff_s = std::min(kMaxBackoffS, kFirstBackoffS * std::pow(2.0, d.crash_streak - 2));
  d.restart_after = now + seconds_to_duration(backoff_s);
  d.unhealthy = cause.message + "; it is replaced" +
                (backoff_s > 0 ? " in " + std::to_string(static_cast<int>(backoff_s * 1000)) + " ms (crash loop backoff)"
                               : std::string());
  d.verdict.trigger = DeploymentStatusTrigger::HEALTH_CHECK_FAILED;
  CSERVE_LOG(kError, "controller") << "deployment '" << d.def.options.name << "' of " << app.name << ": "
                                   << *d.unhealthy;
}

void Controller::autoscale(const AppRecord& app, DeploymentRecord& d, TimePoint now) {
  double ongoing = static_cast<double>(d.router->queued());
  for (const auto& r : d.replicas) {
    if (r->state == ReplicaState::RUNNING) ongoing += r->replica->in_flight();
  }
  const AutoscalingDecision decision =
      cserve::autoscale(*d.def.options.autoscaling_config, d.autoscaling, now, ongoing, *d.autoscaled);
  if (decision.target == *d.autoscaled) return;
  CSERVE_LOG(kInfo, "controller") << "autoscaling deployment '" << d.def.options.name << "' of " << app.name
                                  << " from " << *d.autoscaled << " to " << decision.target
                                  << " replicas (ongoing requests: " << decision.average << " on average)";
  d.scaling = decision.target > *d.autoscaled ? Scaling::kUp : Scaling::kDown;
  d.verdict.trigger = DeploymentStatusTrigger::AUTOSCALING;
  d.autoscaled = decision.target;
}

void Controller::roll_out(DeploymentRecord& d, TimePoint now) {
  std::vector<ReplicaView> views;
  views.reserve(d.replicas.size());
  for (const auto& r : d.replicas) views.push_back({r->id, r->version_key, r->state});
  const RolloutPlan plan =
      plan_rollout({d.version_key, d.target_replicas(), !d.failed, d.unplaceable.has_value()}, views);
  for (const auto& id : plan.to_stop) {
    auto it = std::find_if(d.replicas.begin(), d.replicas.end(), [&](auto& r) { return r->id == id; });
    if (it != d.replicas.end()) begin_stop(**it, now);
  }
  // A replica never placed has nothing to stop.
  std::erase_if(d.replicas, [](const auto& r) { return r->state == ReplicaState::STOPPING && !r->replica; });
  for (int i = 0; i < plan.to_start; ++i) {
    auto r = std::make_shared<ReplicaRecord>();
    r->id = new_replica_id(d.def.options.name);
    r->version_key = d.version_key;
    r->code_version = d.def.code_version;
    r->config_generation = d.config_generation;
    d.replicas.push_back(std::move(r));
  }
}

std::vector<Holding> Controller::holdings() const {
  std::vector<Holding> out;
  for (const auto& [app_name, app] : apps_) {
    for (const auto& [name, d] : app->deployments) {
      int current = 0;  // target-version replicas seen so far, oldest first
      for (const auto& r : d.replicas) {
        if (!r->allocation) continue;
        const bool of_target = r->version_key == d.version_key && r->state != ReplicaState::STOPPING;
        const bool surplus = of_target && ++current > d.target_replicas();
        out.push_back({app_name, name, *r->allocation, d.deleting || !of_target || surplus});
      }
    }
  }
  return out;
}

void Controller::place_pending(const AppRecord& app, DeploymentRecord& d, TimePoint now) {
  if (d.failed) return;
  if (d.restart_after && now < *d.restart_after) return;  // crash loop backoff
  std::optional<std::string> was_unplaceable = std::move(d.unplaceable);
  d.unplaceable.reset();
  for (const auto& r : d.replicas) {
    if (r->state != ReplicaState::PENDING) continue;
    PlacementResult placed = place(d.def.options.resources, free_);
    if (placed.allocation) {
      apply_allocation(free_, *placed.allocation, -1);
      r->allocation = std::move(placed.allocation);
      start_replica(app, d, r);
      continue;
    }
    d.unplaceable = placed.reason;
    // On fixed capacity, a replica the deployment's own target needs fails the deployment at
    // once when it can never fit; one the autoscaler asked for waits (the app serves meanwhile).
    if (options_.capacity == Capacity::kFixed && d.scaling == Scaling::kNone) {
      if (auto never = never_fits(d.def.options.resources, options_.nodes, free_, holdings())) {
        d.failed = "cannot be placed: " + *never +
                   ". This node's capacity is fixed: lower the deployments' num_replicas or resources, "
                   "or give the node more (ServeOptions::cpus/gpus/custom_resources, cserve start "
                   "--cpus/--gpus)";
        CSERVE_LOG(kError, "controller") << "deployment '" << d.def.options.name << "' of " << app.name << " "
                                         << *d.failed;
        d.unplaceable.reset();
      }
    }
    break;
  }
  if (d.unplaceable && d.unplaceable != was_unplaceable) {
    CSERVE_LOG(kWarning, "controller") << "deployment '" << d.def.options.name << "' of " << app.name
                                       << " has a replica waiting for resources: " << *d.unplaceable;
  }
}

void Controller::start_replica(const AppRecord& app, DeploymentRecord& d, const std::shared_ptr<ReplicaRecord>& r) {
  ReplicaContext ctx{app.name, d.def.options.name, r->id, r->allocation->gpu_ids(), d.def.options.resources};
  std::map<std::string, std::shared_ptr<Router>> routers;
  for (const auto& [name, dep] : app.deployments) routers.emplace(name, dep.router);
  r->replica = launcher_.make(std::move(ctx), d.def, std::make_shared<AppSinks>(app.name, std::move(routers)));
  r->state = ReplicaState::STARTING;
  replica_starts_.series({d.def.options.name, app.name}).add(1);
  CSERVE_LOG(kInfo, "controller") << "starting replica " << r->id << " of " << app.name;
  r->replica->start(d.def.options.user_config, [this, r](std::optional<Failure> failure) {
    detail::MutexLock lock(mu_);
    r->started = ReplicaRecord::Started{std::move(failure)};
    wake();
  });
}

void Controller::begin_stop(ReplicaRecord& r, TimePoint now) {
  if (r.state == ReplicaState::STOPPING) return;
  r.state = ReplicaState::STOPPING;
  r.stopping = ReplicaRecord::Stopping{now, now, false};
}

// A changed user_config goes to the target version's replicas in place (old-version replicas
// are on their way out); a replica whose reconfigure() threw is replaced.
void Controller::deliver_user_config(DeploymentRecord& d, TimePoint now) {
  const auto& config = d.def.options.user_config;
  for (const auto& r : d.replicas) {
    if (r->state != ReplicaState::RUNNING || r->reconfiguring || r->version_key != d.version_key ||
        r->config_generation == d.config_generation || !config) {
      continue;
    }
    r->reconfiguring = true;
    const int generation = d.config_generation;
    r->replica->reconfigure(*config, [this, r, generation](std::optional<Failure> failure) {
      detail::MutexLock lock(mu_);
      r->reconfiguring = false;
      r->config_generation = generation;  // a failure is not retried: the replica is replaced
      if (failure) {
        CSERVE_LOG(kError, "controller") << "replica " << r->id << " reconfigure failed: " << failure->message;
        r->reconfigure_failed = std::move(failure);
      }
      wake();
    });
  }
  for (const auto& r : d.replicas) {
    if (r->state == ReplicaState::RUNNING && r->reconfigure_failed) begin_stop(*r, now);
  }
}

void Controller::check_health(const AppRecord& app, DeploymentRecord& d, TimePoint now) {
  const auto& opts = d.def.options;
  const HealthConfig config = health_config(opts);
  for (auto it = d.replicas.begin(); it != d.replicas.end();) {
    const std::shared_ptr<ReplicaRecord>& r = *it;
    if (r->state != ReplicaState::RUNNING) {
      ++it;
      continue;
    }
    const HealthStep step = health_step(r->health, now, config);
    r->health = step.next;
    if (step.post_check) {
      Series* failures = &health_check_failures_.series({opts.name, app.name});
      r->replica->check_health([this, r, failures, config](std::optional<Failure> failure) {
        detail::MutexLock lock(mu_);
        std::optional<std::string> error;
        if (failure) error = failure->message;
        r->health = health_answered(r->health, error, clock_.now(), config);
        if (error) {
          failures->add(1);
          CSERVE_LOG(kWarning, "controller") << "replica " << r->id << " failed a health check ("
                                             << r->health.failures << " in a row): " << *error;
        }
        wake();
      });
    }
    if (step.timed_out) {
      health_check_failures_.series({opts.name, app.name}).add(1);
      CSERVE_LOG(kWarning, "controller") << "replica " << r->id << ": " << r->health.last_error << " ("
                                         << r->health.failures << " in a row)";
    }
    if (step.replace == Replacement::kNone) {
      ++it;
      continue;
    }
    // Replace it: the rollout starts a new replica as soon as this one is not RUNNING.
    d.unhealthy = "replica " + r->id + " failed " + std::to_string(r->health.failures) +
                  " health checks in a row (" + r->health.last_error + ") and was replaced";
    ++d.health_replacements;
    d.verdict.trigger = DeploymentStatusTrigger::HEALTH_CHECK_FAILED;
    CSERVE_LOG(kError, "controller") << "deployment '" << opts.name << "' of " << app.name << ": " << *d.unhealthy;
    if (step.replace == Replacement::kDrain) {  // it still answers: out of the router, it drains
      begin_stop(*r, now);
      ++it;
      continue;
    }
    // Stuck: it would never finish draining or stopping, so its record goes at once (out of the
    // router at the next publish) and its resources are free for the replacement.
    release(*r);
    r->replica->stop([] {});
    it = d.replicas.erase(it);
  }
}

void Controller::publish_replicas(DeploymentRecord& d) {
  std::vector<std::string> ids;
  std::vector<std::shared_ptr<Replica>> routable;
  for (const auto& r : d.replicas) {
    if (r->state == ReplicaState::RUNNING) {
      ids.push_back(r->id);
      routable.push_back(r->replica);
    }
  }
  const bool nothing_can_serve = routable.empty() && (d.failed || d.deleting);
  if (ids == d.published && !d.republish && !nothing_can_serve) return;
  d.published = std::move(ids);
  d.republish = false;
  d.router->update(std::move(routable), router_config(d.def.options));
  if (nothing_can_serve && d.failed) {
    d.router->close("deployment '" + d.def.options.name + "' failed: " + *d.failed);
  }
}

void Controller::drain_and_stop(DeploymentRecord& d, TimePoint now) {
  const auto& opts = d.def.options;
  for (const auto& r : d.replicas) {
    if (r->state != ReplicaState::STOPPING || r->stopping->stop_posted || now < r->stopping->next_drain_check) {
      continue;
    }
    const bool drained = r->replica->in_flight() == 0;
    const bool timed_out = now - r->stopping->since >= seconds_to_duration(opts.graceful_shutdown_timeout_s);
    if (!drained && !timed_out) {
      r->stopping->next_drain_check = now + seconds_to_duration(opts.graceful_shutdown_wait_loop_s);
      continue;
    }
    if (!drained) {
      CSERVE_LOG(kWarning, "controller") << "replica " << r->id << " stops with " << r->replica->in_flight()
                                         << " requests in flight (graceful_shutdown_timeout_s)";
    }
    r->stopping->stop_posted = true;
    r->replica->stop([this, r] {
      detail::MutexLock lock(mu_);
      r->stopped = true;
      wake();
    });
  }
}

}  // namespace cserve
