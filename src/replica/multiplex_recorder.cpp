// The replica side of cserve::Multiplexed (cserve/multiplex.hpp): its metrics, and the model ids
// routers see for the replica.
#include <cserve/multiplex.hpp>

#include "api/metrics_registry.hpp"
#include "replica/local_replica.hpp"
#include "replica/replica_scope.hpp"

#include <cserve/detail/call_context.hpp>

namespace cserve {

const std::string& get_multiplexed_model_id() {
  static const std::string kNone;
  const auto& call = detail::current_call();
  return call ? call->multiplexed_model_id() : kNone;
}

namespace detail {
namespace {

Series& series(MetricType type, const std::string& name, const std::string& help, const ReplicaContext& c,
               std::vector<double> bounds = {}) {
  return MetricsRegistry::global()
      .family(type, name, help, {"application", "deployment", "replica"}, std::move(bounds))
      .series({c.app_name, c.deployment, c.replica_id});
}

}  // namespace

struct MultiplexRecorder::Impl {
  std::weak_ptr<LocalReplica> replica;
  Series* requests;
  Series* hits;
  Series* loads;
  Series* load_failures;
  Series* unloads;
  Series* models;
  Series* load_latency_ms;
};

MultiplexRecorder::MultiplexRecorder() : impl_(std::make_unique<Impl>()) {
  std::shared_ptr<LocalReplica> replica = current_local_replica();
  if (!replica) throw Error("a Multiplexed is made in its deployment's code only (a member of the deployment's class)");
  const ReplicaContext& c = replica->context();
  impl_->replica = replica;
  impl_->requests = &series(MetricType::kCounter, "cserve_multiplexed_get_model_requests_total",
                            "models asked of a replica's Multiplexed (hits and misses)", c);
  impl_->hits = &series(MetricType::kCounter, "cserve_multiplexed_model_hits_total",
                        "models asked of a replica's Multiplexed that were loaded already", c);
  impl_->loads = &series(MetricType::kCounter, "cserve_multiplexed_model_loads_total",
                         "multiplexed model loads a replica finished (failed ones included)", c);
  impl_->load_failures = &series(MetricType::kCounter, "cserve_multiplexed_model_load_failures_total",
                                 "multiplexed model loads that threw", c);
  impl_->unloads = &series(MetricType::kCounter, "cserve_multiplexed_model_unloads_total",
                           "multiplexed models a replica unloaded to make room (LRU evictions)", c);
  impl_->models = &series(MetricType::kGauge, "cserve_multiplexed_models",
                          "multiplexed models a replica holds loaded now", c);
  impl_->load_latency_ms = &series(MetricType::kHistogram, "cserve_multiplexed_model_load_latency_ms",
                                   "time a multiplexed model's load took, in milliseconds", c, latency_ms_bounds());
  replica->set_models({});  // routers: this replica serves multiplexed models
}

MultiplexRecorder::~MultiplexRecorder() {
  impl_->models->set(0);
  if (auto r = impl_->replica.lock()) r->set_models({});
}

void MultiplexRecorder::requested(bool hit) {
  impl_->requests->add(1);
  if (hit) impl_->hits->add(1);
}

void MultiplexRecorder::loaded(std::chrono::steady_clock::duration took, bool ok) {
  impl_->loads->add(1);
  if (!ok) impl_->load_failures->add(1);
  impl_->load_latency_ms->observe(std::chrono::duration<double, std::milli>(took).count());
}

void MultiplexRecorder::unloaded() { impl_->unloads->add(1); }

void MultiplexRecorder::publish(std::vector<std::string> ids, std::size_t loaded) {
  impl_->models->set(static_cast<double>(loaded));
  if (auto r = impl_->replica.lock()) r->set_models(std::move(ids));
}

}  // namespace detail
}  // namespace cserve
