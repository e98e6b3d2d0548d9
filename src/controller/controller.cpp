#include "controller/controller.hpp"

#include "common/logging.hpp"
#include "controller/autoscaling_policy.hpp"
#include "controller/rollout.hpp"

#include <cserve/error.hpp>

#include <algorithm>
#include <set>
#include <sstream>

namespace cserve {

struct Controller::ReplicaRecord {
  std::string id;
  std::string version_key;   // code version + resources: what a restart is needed to change
  std::string code_version;  // shown in status
  ReplicaState state = ReplicaState::PENDING;
  std::shared_ptr<Replica> replica;  // set once placed
  std::optional<Allocation> allocation;
  int config_generation = 0;  // the user_config generation the object has
  bool reconfiguring = false;
  TimePoint stop_started{};
  TimePoint next_drain_check{};
  bool stop_posted = false;
  // Health checks (RUNNING replicas only):
  TimePoint next_health_check{};
  bool health_pending = false;  // a check is posted and unanswered
  TimePoint health_started{};   // when it was posted (or last counted as timed out)
  int health_failures = 0;      // consecutive
  std::string health_error;     // the last failure
  // Written by worker-thread callbacks (under mu_), read by the tick:
  bool start_done = false;
  std::string start_error;
  bool stopped = false;
};

struct Controller::DeploymentRecord {
  detail::DeploymentDef def;  // the target
  std::string version_key;
  int config_generation = 0;
  std::shared_ptr<Router> router;
  std::vector<std::shared_ptr<ReplicaRecord>> replicas;  // creation order
  std::vector<std::string> published;                    // ids the router has
  bool republish = false;                                // limits changed since published
  DeploymentStatus status = DeploymentStatus::UPDATING;
  std::string message;
  int failures = 0;           // constructor failures of the target version
  bool started_once = false;  // a replica of the target version reached RUNNING
  bool failed = false;
  std::string last_error;
  std::string unplaceable;  // why a PENDING replica fit nowhere last tick ("" = none)
  bool deleting = false;
  AutoscalingState autoscaling;
  int autoscaled = -1;      // the autoscaler's replica count (-1: not autoscaled)
  int scale_direction = 0;  // +1 / -1 while the autoscaler's last change is being carried out
  std::string unhealthy;    // why a replica was last replaced for failing health checks
  int health_replacements = 0;
  DeploymentStatusTrigger trigger = DeploymentStatusTrigger::CONFIG_UPDATE_STARTED;
};

struct Controller::AppRecord {
  std::string name;
  std::string route_prefix;
  std::string ingress;
  std::map<std::string, DeploymentRecord> deployments;
  ApplicationStatus status = ApplicationStatus::DEPLOYING;
  std::string message;
  bool deleting = false;
};

namespace {

std::string version_key_of(const detail::DeploymentDef& def) {
  return def.code_version + "|" + describe(def.options.resources);
}

int target_replicas_of(const DeploymentOptions& o, int autoscaled) {
  return o.autoscaling_config ? autoscaled : o.num_replicas;
}

Router::Config router_config(const DeploymentOptions& o) {
  return {o.max_ongoing_requests, o.max_queued_requests};
}

int max_constructor_failures(int num_replicas) { return std::clamp(3 * num_replicas, 3, 20); }

// Consecutive failed health checks after which a replica is replaced (Ray's rule).
constexpr int kHealthCheckFailures = 3;

void validate_deployment(const detail::DeploymentDef& def) {
  const auto& o = def.options;
  auto fail = [&](const std::string& what) {
    throw ConfigError("deployment '" + o.name + "': " + what);
  };
  if (o.name.empty()) throw ConfigError("deployment name must not be empty");
  if (o.name.find_first_of("/#") != std::string::npos) fail("name must not contain '/' or '#'");
  if (o.num_replicas < 0) fail("num_replicas must be >= 0");
  if (o.max_ongoing_requests < 1) fail("max_ongoing_requests must be >= 1");
  if (o.max_queued_requests < -1) fail("max_queued_requests must be -1 (unbounded) or >= 0");
  if (!(o.graceful_shutdown_wait_loop_s > 0)) fail("graceful_shutdown_wait_loop_s must be > 0");
  if (!(o.graceful_shutdown_timeout_s >= 0)) fail("graceful_shutdown_timeout_s must be >= 0");
  if (!(o.health_check_period_s > 0)) fail("health_check_period_s must be > 0");
  if (!(o.health_check_timeout_s > 0)) fail("health_check_timeout_s must be > 0");
  if (auto e = validate_resources(o.resources); !e.empty()) fail(e);
  if (o.autoscaling_config) {
    if (auto e = validate_autoscaling(*o.autoscaling_config); !e.empty()) fail(e);
  }
  if (o.user_config && !def.has_reconfigure) {
    fail("user_config is set but " + def.type_name +
         " has no reconfigure(const cserve::Json&) to receive it");
  }
}

}  // namespace

std::string validate_route_prefix(const std::string& p) {
  if (p.empty() || p.front() != '/') return "route_prefix '" + p + "' must start with '/'";
  if (p.size() > 1 && p.back() == '/') return "route_prefix '" + p + "' must not end with '/'";
  if (p.find_first_of("{}?# ") != std::string::npos) {
    return "route_prefix '" + p + "' must not contain '{', '}', '?', '#' or spaces";
  }
  return "";
}

Controller::Controller(ControllerOptions options, WorkerPool& pool, const Clock& clock,
                       RoutesPublisher publish_routes)
    : options_(std::move(options)),
      pool_(pool),
      clock_(clock),
      publish_routes_(std::move(publish_routes)),
      free_(options_.nodes),
      rng_(std::random_device{}()),
      replica_starts_(MetricsRegistry::global().family(MetricType::kCounter,
                                                       "cserve_deployment_replica_starts_total",
                                                       "replicas started (restarts included)",
                                                       {"deployment", "application"})),
      health_check_failures_(MetricsRegistry::global().family(
          MetricType::kCounter, "cserve_deployment_health_check_failures_total",
          "health checks that raised or were not answered in time", {"deployment", "application"})) {
  collector_ = MetricsRegistry::global().add_collector(
      [this](std::vector<CollectedSample>& out) { collect_metrics(out); });
}

void Controller::collect_metrics(std::vector<CollectedSample>& out) const {
  std::lock_guard lock(mu_);
  for (const auto& [app_name, app] : apps_) {
    for (const auto& [name, d] : app->deployments) {
      const std::vector<std::pair<std::string, std::string>> dep{{"deployment", name}, {"application", app_name}};
      int running = 0;
      for (const auto& r : d.replicas) {
        if (r->state != ReplicaState::RUNNING) continue;
        ++running;
        auto labels = dep;
        labels.emplace_back("replica", r->id);
        out.push_back({"cserve_replica_processing_queries", "requests in flight on the replica",
                       MetricType::kGauge, labels, static_cast<double>(r->replica->in_flight())});
        out.push_back({"cserve_deployment_replica_healthy",
                       "1 while the replica passes its health checks, 0 after a failure",
                       MetricType::kGauge, labels, r->health_failures == 0 ? 1.0 : 0.0});
      }
      out.push_back({"cserve_deployment_queued_queries", "requests waiting in the deployment's queue",
                     MetricType::kGauge, dep, static_cast<double>(d.router->queued())});
      out.push_back({"cserve_deployment_target_replicas", "replicas the deployment should have",
                     MetricType::kGauge, dep,
                     static_cast<double>(d.deleting ? 0 : target_replicas_of(d.def.options, d.autoscaled))});
      out.push_back({"cserve_deployment_running_replicas", "replicas RUNNING", MetricType::kGauge, dep,
                     static_cast<double>(running)});
      if (d.def.options.autoscaling_config) {
        out.push_back({"cserve_autoscaling_target_replicas", "the autoscaler's replica count",
                       MetricType::kGauge, dep, static_cast<double>(d.autoscaled)});
        out.push_back({"cserve_autoscaling_current_replicas", "replicas RUNNING, as the autoscaler sees them",
                       MetricType::kGauge, dep, static_cast<double>(running)});
      }
    }
  }
}

Controller::~Controller() {
  MetricsRegistry::global().remove_collector(collector_);
  {
    std::lock_guard lock(mu_);
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
  std::unique_lock lock(mu_);
  while (!stop_) {
    tick_locked();
    wake_cv_.wait_for(lock, options_.loop_period, [this] { return stop_ || wake_; });
    wake_ = false;
  }
}

std::string Controller::new_replica_id(const std::string& deployment) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string id = deployment + "#";
  for (int i = 0; i < 6; ++i) id.push_back(kAlphabet[rng_() % (sizeof kAlphabet - 1)]);
  return id;
}

void Controller::set_target(DeploymentRecord& d, detail::DeploymentDef def) {
  std::string key = version_key_of(def);
  if (key != d.version_key) {
    d.failures = 0;
    d.started_once = false;
    d.last_error.clear();
  }
  d.failed = false;
  if (def.options.user_config != d.def.options.user_config) ++d.config_generation;
  if (const auto& a = def.options.autoscaling_config) {
    // The first deploy starts at initial_replicas; a redeploy keeps the current count within
    // the (new) bounds.
    d.autoscaled = d.autoscaled < 0 ? a->initial_replicas.value_or(a->min_replicas)
                                    : std::clamp(d.autoscaled, a->min_replicas, a->max_replicas);
  } else {
    d.autoscaled = -1;
    d.autoscaling = {};
  }
  d.scale_direction = 0;
  d.version_key = std::move(key);
  d.def = std::move(def);
  d.deleting = false;
  d.status = DeploymentStatus::UPDATING;
  d.trigger = DeploymentStatusTrigger::CONFIG_UPDATE_STARTED;
  d.unhealthy.clear();
  d.router->reopen();
  d.republish = true;  // the tick hands the router the new limits
}

namespace {
void validate_spec(const AppSpec& spec) {
  if (spec.name.empty()) throw ConfigError("application name must not be empty");
  if (auto e = validate_route_prefix(spec.route_prefix); !e.empty()) throw ConfigError(e);
  if (spec.deployments.empty()) throw ConfigError("application '" + spec.name + "' has no deployments");
  for (const auto& def : spec.deployments) validate_deployment(def);
}
}  // namespace

void Controller::deploy(AppSpec spec) {
  validate_spec(spec);
  std::lock_guard lock(mu_);
  for (const auto& [name, app] : apps_) {
    if (name != spec.name && !app->deleting && app->route_prefix == spec.route_prefix) {
      throw ConfigError("route_prefix '" + spec.route_prefix + "' is already used by application '" +
                        name + "'");
    }
  }
  apply_locked(std::move(spec));
  publish_routes_locked();
  wake();
  status_cv_.notify_all();
}

void Controller::deploy_all(std::vector<AppSpec> specs) {
  std::set<std::string> prefixes;
  for (const auto& spec : specs) {
    validate_spec(spec);
    if (!prefixes.insert(spec.route_prefix).second) {
      throw ConfigError("route_prefix '" + spec.route_prefix + "' is used by two applications");
    }
  }
  std::lock_guard lock(mu_);
  for (auto& [name, app] : apps_) {
    bool kept = std::any_of(specs.begin(), specs.end(), [&](const AppSpec& s) { return s.name == name; });
    if (kept || app->deleting) continue;
    app->deleting = true;
    app->status = ApplicationStatus::DELETING;
    for (auto& [dname, d] : app->deployments) d.deleting = true;
    CSERVE_LOG(kInfo, "controller") << "deleting application '" << name << "' (not in the config)";
  }
  for (auto& spec : specs) apply_locked(std::move(spec));
  publish_routes_locked();
  wake();
  status_cv_.notify_all();
}

void Controller::apply_locked(AppSpec spec) {
  auto& slot = apps_[spec.name];
  if (!slot) {
    slot = std::make_unique<AppRecord>();
    slot->name = spec.name;
  }
  AppRecord& app = *slot;
  app.route_prefix = spec.route_prefix;
  app.ingress = spec.deployments.front().options.name;
  app.deleting = false;
  app.status = ApplicationStatus::DEPLOYING;
  app.message.clear();

  for (auto& [name, d] : app.deployments) {
    bool kept = std::any_of(spec.deployments.begin(), spec.deployments.end(),
                            [&](const auto& def) { return def.options.name == name; });
    if (!kept) d.deleting = true;
  }
  for (auto& def : spec.deployments) {
    auto [it, created] = app.deployments.try_emplace(def.options.name);
    DeploymentRecord& d = it->second;
    if (created) {
      d.router = std::make_shared<Router>(def.options.name, router_config(def.options), rng_());
    }
    set_target(d, std::move(def));
  }
  CSERVE_LOG(kInfo, "controller") << "deploying application '" << app.name << "' at "
                                  << app.route_prefix;
}

void Controller::delete_app(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = apps_.find(name);
  if (it == apps_.end()) throw ConfigError("no application named '" + name + "'");
  AppRecord& app = *it->second;
  app.deleting = true;
  app.status = ApplicationStatus::DELETING;
  for (auto& [dname, d] : app.deployments) d.deleting = true;
  CSERVE_LOG(kInfo, "controller") << "deleting application '" << name << "'";
  publish_routes_locked();
  wake();
  status_cv_.notify_all();
}

void Controller::publish_routes_locked() {
  std::vector<RouteTable::Entry> entries;
  for (const auto& [name, app] : apps_) {
    if (app->deleting) continue;
    auto d = app->deployments.find(app->ingress);
    if (d == app->deployments.end()) continue;
    entries.push_back({app->route_prefix, name, d->second.router});
  }
  publish_routes_(std::make_shared<const RouteTable>(std::move(entries)));
}

void Controller::tick_locked() {
  const TimePoint now = clock_.now();
  for (auto app_it = apps_.begin(); app_it != apps_.end();) {
    AppRecord& app = *app_it->second;
    for (auto d_it = app.deployments.begin(); d_it != app.deployments.end();) {
      DeploymentRecord& d = d_it->second;
      reconcile_deployment(app, d, now);
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

void Controller::reconcile_deployment(AppRecord& app, DeploymentRecord& d, TimePoint now) {
  const auto& opts = d.def.options;
  // 1. Take in what the replicas reported.
  for (auto it = d.replicas.begin(); it != d.replicas.end();) {
    ReplicaRecord& r = **it;
    if (r.state == ReplicaState::STARTING && r.start_done) {
      if (r.start_error.empty()) {
        r.state = ReplicaState::RUNNING;
        r.next_health_check = now + seconds_to_duration(opts.health_check_period_s);
        if (r.version_key == d.version_key) d.started_once = true;
        CSERVE_LOG(kInfo, "controller") << "replica " << r.id << " of " << app.name << " is RUNNING";
      } else {
        CSERVE_LOG(kError, "controller") << "replica " << r.id << " of " << app.name
                                         << " failed to start: " << r.start_error;
        if (r.version_key == d.version_key) {
          ++d.failures;
          d.last_error = r.start_error;
          d.trigger = DeploymentStatusTrigger::REPLICA_STARTUP_FAILED;
        }
        if (r.allocation) apply_allocation(free_, *r.allocation, +1);
        it = d.replicas.erase(it);
        continue;
      }
    }
    if (r.stopped) {
      if (r.allocation) apply_allocation(free_, *r.allocation, +1);
      CSERVE_LOG(kInfo, "controller") << "replica " << r.id << " of " << app.name << " stopped";
      it = d.replicas.erase(it);
      continue;
    }
    ++it;
  }
  if (!d.failed && !d.started_once && d.failures >= max_constructor_failures(target_replicas_of(opts, d.autoscaled))) {
    d.failed = true;
    CSERVE_LOG(kError, "controller") << "deployment '" << opts.name << "' of " << app.name
                                     << " failed after " << d.failures << " attempts";
  }

  // 2. Follow the load, then plan starts and stops.
  if (opts.autoscaling_config && !d.deleting && !d.failed) autoscale_deployment(app, d, now);
  std::vector<ReplicaView> views;
  views.reserve(d.replicas.size());
  for (const auto& r : d.replicas) views.push_back({r->id, r->version_key, r->state});
  const int target = d.deleting ? 0 : target_replicas_of(opts, d.autoscaled);
  RolloutInput in{d.version_key, target, !d.failed, !d.unplaceable.empty()};
  RolloutPlan plan = plan_rollout(in, views);
  for (const auto& id : plan.to_stop) {
    auto it = std::find_if(d.replicas.begin(), d.replicas.end(), [&](auto& r) { return r->id == id; });
    if (it != d.replicas.end()) stop_replica(**it, now);
  }
  std::erase_if(d.replicas, [](const auto& r) { return r->state == ReplicaState::STOPPING && !r->replica; });
  for (int i = 0; i < plan.to_start; ++i) {
    auto r = std::make_shared<ReplicaRecord>();
    r->id = new_replica_id(opts.name);
    r->version_key = d.version_key;
    r->code_version = d.def.code_version;
    r->config_generation = d.config_generation;
    d.replicas.push_back(std::move(r));
  }

  // 3. Place what waits for resources.
  const std::string was_unplaceable = std::move(d.unplaceable);
  d.unplaceable.clear();
  for (const auto& r : d.replicas) {
    if (r->state != ReplicaState::PENDING) continue;
    PlacementResult placed = place(opts.resources, free_);
    if (!placed.allocation) {
      d.unplaceable = placed.reason;
      break;
    }
    apply_allocation(free_, *placed.allocation, -1);
    r->allocation = std::move(placed.allocation);
    start_replica(app, d, r);
  }
  if (!d.unplaceable.empty() && d.unplaceable != was_unplaceable) {
    CSERVE_LOG(kWarning, "controller") << "deployment '" << opts.name << "' of " << app.name
                                       << " has a replica waiting for resources: " << d.unplaceable;
  }

  // 4. Deliver a changed user_config in place (old-version replicas are on their way out).
  for (const auto& r : d.replicas) {
    if (r->state != ReplicaState::RUNNING || r->reconfiguring || r->version_key != d.version_key ||
        r->config_generation == d.config_generation || !opts.user_config) {
      continue;
    }
    r->reconfiguring = true;
    int generation = d.config_generation;
    r->replica->reconfigure(*opts.user_config, [this, r, generation](std::string error) {
      std::lock_guard lock(mu_);
      r->reconfiguring = false;
      if (error.empty()) {
        r->config_generation = generation;
      } else {
        CSERVE_LOG(kError, "controller") << "replica " << r->id << " reconfigure failed: " << error;
        r->config_generation = generation;  // not retried; the replica is replaced below
        r->start_error = error;
      }
      wake();
    });
  }
  for (const auto& r : d.replicas) {
    if (r->state == ReplicaState::RUNNING && !r->start_error.empty()) stop_replica(*r, now);
  }
  check_health(app, d, now);

  // 5. Publish before draining: a STOPPING replica must be out of the router before its
  //    in-flight count can be trusted to only fall.
  publish_replicas(d);

  // 6. Drain and stop.
  for (const auto& r : d.replicas) {
    if (r->state != ReplicaState::STOPPING || r->stop_posted || now < r->next_drain_check) continue;
    bool drained = r->replica->in_flight() == 0;
    bool timed_out = now - r->stop_started >= seconds_to_duration(opts.graceful_shutdown_timeout_s);
    if (!drained && !timed_out) {
      r->next_drain_check = now + seconds_to_duration(opts.graceful_shutdown_wait_loop_s);
      continue;
    }
    if (!drained) {
      CSERVE_LOG(kWarning, "controller") << "replica " << r->id << " stops with "
                                         << r->replica->in_flight()
                                         << " requests in flight (graceful_shutdown_timeout_s)";
    }
    r->stop_posted = true;
    r->replica->stop([this, r] {
      std::lock_guard lock(mu_);
      r->stopped = true;
      wake();
    });
  }
}

namespace {

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

void Controller::start_replica(const AppRecord& app, DeploymentRecord& d,
                               const std::shared_ptr<ReplicaRecord>& r) {
  ReplicaContext ctx{app.name, d.def.options.name, r->id, r->allocation->gpu_ids(),
                     d.def.options.resources};
  std::map<std::string, std::shared_ptr<Router>> routers;
  for (const auto& [name, dep] : app.deployments) routers.emplace(name, dep.router);
  Replica::Maker maker = [sinks = std::make_shared<AppSinks>(app.name, std::move(routers)),
                          make = d.def.factory] { return make(*sinks); };
  r->replica = std::make_shared<Replica>(std::move(ctx), pool_.make_strand(), std::move(maker));
  r->state = ReplicaState::STARTING;
  replica_starts_.series({d.def.options.name, app.name}).add(1);
  CSERVE_LOG(kInfo, "controller") << "starting replica " << r->id << " of " << app.name;
  r->replica->start(d.def.options.user_config, [this, r](std::string error) {
    std::lock_guard lock(mu_);
    r->start_done = true;
    r->start_error = std::move(error);
    wake();
  });
}

void Controller::stop_replica(ReplicaRecord& r, TimePoint now) {
  if (r.state == ReplicaState::STOPPING) return;
  r.state = ReplicaState::STOPPING;
  r.stop_started = now;
  r.next_drain_check = now;
}

void Controller::autoscale_deployment(const AppRecord& app, DeploymentRecord& d, TimePoint now) {
  double ongoing = static_cast<double>(d.router->queued());
  for (const auto& r : d.replicas) {
    if (r->state == ReplicaState::RUNNING) ongoing += r->replica->in_flight();
  }
  AutoscalingDecision decision = autoscale(*d.def.options.autoscaling_config, d.autoscaling, now,
                                           ongoing, d.autoscaled);
  if (decision.target == d.autoscaled) return;
  CSERVE_LOG(kInfo, "controller") << "autoscaling deployment '" << d.def.options.name << "' of "
                                  << app.name << " from " << d.autoscaled << " to "
                                  << decision.target << " replicas (ongoing requests: "
                                  << decision.average << " on average)";
  d.scale_direction = decision.target > d.autoscaled ? 1 : -1;
  d.trigger = DeploymentStatusTrigger::AUTOSCALING;
  d.autoscaled = decision.target;
}

void Controller::check_health(const AppRecord& app, DeploymentRecord& d, TimePoint now) {
  const auto& opts = d.def.options;
  const Duration timeout = seconds_to_duration(opts.health_check_timeout_s);
  for (auto it = d.replicas.begin(); it != d.replicas.end();) {
    const std::shared_ptr<ReplicaRecord>& r = *it;
    if (r->state != ReplicaState::RUNNING) {
      ++it;
      continue;
    }
    if (!r->health_pending && now >= r->next_health_check) {
      r->health_pending = true;
      r->health_started = now;
      Series* failures = &health_check_failures_.series({opts.name, app.name});
      r->replica->check_health([this, r, failures, period = opts.health_check_period_s](std::string error) {
        std::lock_guard lock(mu_);
        r->health_pending = false;
        r->next_health_check = clock_.now() + seconds_to_duration(period);
        if (error.empty()) {
          r->health_failures = 0;
        } else {
          ++r->health_failures;
          failures->add(1);
          r->health_error = "check_health() raised: " + error;
          CSERVE_LOG(kWarning, "controller") << "replica " << r->id << " failed a health check ("
                                             << r->health_failures << " in a row): " << error;
        }
        wake();
      });
    } else if (r->health_pending && now - r->health_started >= timeout) {
      // Unanswered: the replica's strand is stuck (a handler that never returns). Each
      // timeout counts once; the check stays posted and may still answer.
      ++r->health_failures;
      health_check_failures_.series({opts.name, app.name}).add(1);
      r->health_started = now;
      r->health_error = "no answer to a health check within health_check_timeout_s (" +
                        describe_seconds(opts.health_check_timeout_s) + ")";
      CSERVE_LOG(kWarning, "controller") << "replica " << r->id << ": " << r->health_error << " ("
                                         << r->health_failures << " in a row)";
    }
    if (r->health_failures < kHealthCheckFailures) {
      ++it;
      continue;
    }
    // Replace it: the rollout starts a new replica as soon as this one is not RUNNING.
    d.unhealthy = "replica " + r->id + " failed " + std::to_string(r->health_failures) +
                  " health checks in a row (" + r->health_error + ") and was replaced";
    ++d.health_replacements;
    d.trigger = DeploymentStatusTrigger::HEALTH_CHECK_FAILED;
    CSERVE_LOG(kError, "controller") << "deployment '" << opts.name << "' of " << app.name << ": "
                                     << d.unhealthy;
    if (!r->health_pending) {
      // It still answers: out of the router, it drains like any stopping replica.
      stop_replica(*r, now);
      ++it;
      continue;
    }
    // Stuck: it would never finish draining or stopping, so its record goes at once (out of the
    // router at the next publish) and its resources are free for the replacement.
    if (r->allocation) apply_allocation(free_, *r->allocation, +1);
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
  bool nothing_can_serve = routable.empty() && (d.failed || d.deleting);
  if (ids == d.published && !d.republish && !nothing_can_serve) return;
  d.published = std::move(ids);
  d.republish = false;
  d.router->update(std::move(routable), router_config(d.def.options));
  if (nothing_can_serve && d.failed) {
    d.router->close("deployment '" + d.def.options.name + "' failed to start: " + d.last_error);
  }
}

void Controller::update_statuses(AppRecord& app) {
  bool all_healthy = true;
  bool any_failed = false;
  bool any_unhealthy = false;
  std::string messages;
  for (auto& [name, d] : app.deployments) {
    const int target = target_replicas_of(d.def.options, d.autoscaled);
    int running_target = 0;
    int others = 0;
    for (const auto& r : d.replicas) {
      if (r->state == ReplicaState::RUNNING && r->version_key == d.version_key) {
        ++running_target;
      } else if (r->state != ReplicaState::STOPPING) {
        ++others;
      }
    }
    if (d.failed) {
      d.status = DeploymentStatus::DEPLOY_FAILED;
      d.trigger = DeploymentStatusTrigger::REPLICA_STARTUP_FAILED;
      d.message = "failed to start a replica " + std::to_string(d.failures) +
                  " times; last error: " + d.last_error;
    } else if (d.deleting) {
      d.status = DeploymentStatus::UPDATING;
      d.trigger = DeploymentStatusTrigger::DELETING;
      d.message = "deleting";
    } else if (running_target == target && others == 0) {
      if (d.scale_direction != 0) {
        d.trigger = d.scale_direction > 0 ? DeploymentStatusTrigger::UPSCALE_COMPLETED
                                          : DeploymentStatusTrigger::DOWNSCALE_COMPLETED;
      } else if (d.status != DeploymentStatus::HEALTHY) {
        d.trigger = d.status == DeploymentStatus::DOWNSCALING ? DeploymentStatusTrigger::DOWNSCALE_COMPLETED
                                                              : DeploymentStatusTrigger::CONFIG_UPDATE_COMPLETED;
      }
      d.status = DeploymentStatus::HEALTHY;
      d.message.clear();
      d.unhealthy.clear();
      d.scale_direction = 0;
    } else if (!d.unhealthy.empty()) {
      d.status = DeploymentStatus::UNHEALTHY;
      d.message = d.unhealthy + "; " + std::to_string(running_target) + " of " +
                  std::to_string(target) + " replicas running";
    } else if (d.scale_direction != 0) {
      d.status = d.scale_direction > 0 ? DeploymentStatus::UPSCALING : DeploymentStatus::DOWNSCALING;
      d.message = "autoscaling: " + std::to_string(running_target) + " of " + std::to_string(target) +
                  " replicas running";
    } else {
      d.status = running_target > target ? DeploymentStatus::DOWNSCALING : DeploymentStatus::UPDATING;
      d.message = std::to_string(running_target) + " of " + std::to_string(target) +
                  " replicas of the target version running";
      if (!d.unplaceable.empty()) d.message += "; waiting for resources: " + d.unplaceable;
      if (d.failures > 0) d.message += "; last start error: " + d.last_error;
    }
    if (d.status == DeploymentStatus::DEPLOY_FAILED) any_failed = true;
    if (d.status == DeploymentStatus::UNHEALTHY) any_unhealthy = true;
    // An application that runs stays RUNNING while the autoscaler adds or removes replicas.
    const bool autoscaling = d.scale_direction != 0 && (d.status == DeploymentStatus::UPSCALING ||
                                                        d.status == DeploymentStatus::DOWNSCALING);
    if (d.status != DeploymentStatus::HEALTHY && !(autoscaling && app.status == ApplicationStatus::RUNNING)) {
      all_healthy = false;
      if (!messages.empty()) messages += "; ";
      messages += "deployment '" + name + "': " + d.message;
    }
  }
  if (app.deleting) {
    app.status = ApplicationStatus::DELETING;
  } else if (any_failed) {
    app.status = ApplicationStatus::DEPLOY_FAILED;
  } else if (any_unhealthy && app.status == ApplicationStatus::RUNNING) {
    app.status = ApplicationStatus::UNHEALTHY;  // it was serving; a replica had to be replaced
  } else if (app.status == ApplicationStatus::UNHEALTHY && !all_healthy) {
    // stays UNHEALTHY until every deployment is healthy again
  } else {
    app.status = all_healthy ? ApplicationStatus::RUNNING : ApplicationStatus::DEPLOYING;
  }
  app.message = messages;
}

void Controller::wait_running(const std::string& name, std::optional<TimePoint> deadline) {
  std::unique_lock lock(mu_);
  auto done = [&] {
    auto it = apps_.find(name);
    if (it == apps_.end()) return true;
    auto s = it->second->status;
    return s == ApplicationStatus::RUNNING || s == ApplicationStatus::DEPLOY_FAILED ||
           s == ApplicationStatus::DELETING;
  };
  auto pred = [&] { return stop_ || done(); };
  if (deadline) {
    status_cv_.wait_until(lock, *deadline, pred);
  } else {
    status_cv_.wait(lock, pred);
  }
  auto it = apps_.find(name);
  if (it == apps_.end()) throw DeployError("application '" + name + "' was deleted while deploying");
  const AppRecord& app = *it->second;
  switch (app.status) {
    case ApplicationStatus::RUNNING:
      return;
    case ApplicationStatus::DEPLOY_FAILED:
      throw DeployError("application '" + name + "' is DEPLOY_FAILED: " + app.message);
    case ApplicationStatus::DELETING:
      throw DeployError("application '" + name + "' is being deleted");
    default:
      throw DeployError("application '" + name + "' is not RUNNING " +
                        (stop_ ? std::string("(the runtime is shutting down)")
                               : "in time; status " + std::string(to_string(app.status)) + ": " +
                                     app.message));
  }
}

void Controller::wait_deleted(const std::string& name) {
  std::unique_lock lock(mu_);
  status_cv_.wait(lock, [&] { return stop_ || apps_.find(name) == apps_.end(); });
}

ServeStatus Controller::status() const {
  std::lock_guard lock(mu_);
  ServeStatus out;
  for (const auto& [name, app] : apps_) {
    ApplicationStatusInfo a;
    a.name = name;
    a.route_prefix = app->route_prefix;
    a.ingress = app->ingress;
    a.status = app->status;
    a.message = app->message;
    for (const auto& [dname, d] : app->deployments) {
      DeploymentStatusInfo info;
      info.name = dname;
      info.status = d.status;
      info.status_trigger = d.trigger;
      info.message = d.message;
      info.health_check_replacements = d.health_replacements;
      info.target_replicas = d.deleting ? 0 : target_replicas_of(d.def.options, d.autoscaled);
      for (const auto& r : d.replicas) {
        info.replicas.push_back({r->id, r->state, r->code_version,
                                 r->allocation ? r->allocation->gpu_ids() : std::vector<int>{}});
      }
      a.deployments.emplace(dname, std::move(info));
    }
    out.applications.emplace(name, std::move(a));
  }
  return out;
}

Controller::Target Controller::target(const std::string& app,
                                      const std::optional<std::string>& deployment) const {
  std::lock_guard lock(mu_);
  auto a = apps_.find(app);
  if (a == apps_.end() || a->second->deleting) {
    throw ConfigError("no application named '" + app + "'");
  }
  const std::string& name = deployment.value_or(a->second->ingress);
  auto d = a->second->deployments.find(name);
  if (d == a->second->deployments.end() || d->second.deleting) {
    throw ConfigError("application '" + app + "' has no deployment '" + name + "'");
  }
  return {d->second.router, name, d->second.def.type_name};
}

void Controller::shutdown(Duration timeout) {
  std::unique_lock lock(mu_);
  if (stop_) return;
  for (auto& [name, app] : apps_) {
    app->deleting = true;
    for (auto& [dname, d] : app->deployments) d.deleting = true;
  }
  publish_routes_locked();
  wake();
  status_cv_.wait_for(lock, timeout, [&] { return apps_.empty(); });
  if (!apps_.empty()) {
    CSERVE_LOG(kWarning, "controller") << "shutdown: replicas still stopping after the timeout";
  }
  stop_ = true;
  wake_cv_.notify_all();
  status_cv_.notify_all();
  lock.unlock();
  if (thread_.joinable()) thread_.join();
}

}  // namespace cserve
