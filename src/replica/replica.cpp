#include "replica/replica.hpp"

#include "common/describe_exception.hpp"
#include "replica/replica_scope.hpp"

#include <algorithm>

namespace cserve {

Replica::Replica(ReplicaContext context)
    : context_(std::move(context)),
      log_fields_{context_.app_name, context_.deployment, context_.replica_id},
      requests_(MetricsRegistry::global()
                    .family(MetricType::kCounter, "cserve_deployment_request_counter_total",
                            "calls (HTTP requests and handle calls) a replica finished",
                            {"deployment", "replica", "application"})
                    .series({context_.deployment, context_.replica_id, context_.app_name})),
      latency_ms_(MetricsRegistry::global()
                      .family(MetricType::kHistogram, "cserve_deployment_processing_latency_ms",
                              "time a call spent in its replica, in milliseconds",
                              {"deployment", "replica", "application"}, latency_ms_bounds())
                      .series({context_.deployment, context_.replica_id, context_.app_name})) {}

bool Replica::try_acquire(int max_ongoing) {
  if (!accepting()) return false;
  int n = in_flight_.load(std::memory_order_relaxed);
  while (n < max_ongoing) {
    if (in_flight_.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel)) return true;
  }
  return false;
}

void Replica::record_call(std::chrono::steady_clock::time_point dispatched, const detail::CallContext& call) {
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - dispatched).count();
  requests_.add(1);
  latency_ms_.observe(ms);
  if (log::access_log()) {
    CSERVE_LOG(kInfo, "replica").fields(&log_fields_).request(call.request_id()) << "call finished in " << ms << " ms";
  }
}

void Replica::set_models(std::vector<std::string> ids) {
  std::function<void(const std::vector<std::string>&)> listener;
  {
    detail::MutexLock lock(models_mu_);
    models_ = ids;
    multiplexed_ = true;
    listener = models_listener_;
  }
  if (listener) listener(ids);
}

void Replica::expect_model(const std::string& id) {
  detail::MutexLock lock(models_mu_);
  if (multiplexed_) ++routed_models_[id];
}

void Replica::model_call_done(const std::string& id) {
  detail::MutexLock lock(models_mu_);
  auto it = routed_models_.find(id);
  if (it != routed_models_.end() && --it->second == 0) routed_models_.erase(it);
}

bool Replica::holds_model(std::string_view id) const {
  detail::MutexLock lock(models_mu_);
  return std::find(models_.begin(), models_.end(), id) != models_.end() ||
         routed_models_.find(std::string(id)) != routed_models_.end();
}

std::size_t Replica::model_count() const {
  detail::MutexLock lock(models_mu_);
  std::size_t n = models_.size();
  for (const auto& [id, calls] : routed_models_) {
    if (std::find(models_.begin(), models_.end(), id) == models_.end()) ++n;
  }
  return n;
}

bool Replica::multiplexed() const {
  detail::MutexLock lock(models_mu_);
  return multiplexed_;
}

std::vector<std::string> Replica::models() const {
  detail::MutexLock lock(models_mu_);
  return models_;
}

void Replica::on_models_changed(std::function<void(const std::vector<std::string>&)> listener) {
  detail::MutexLock lock(models_mu_);
  models_listener_ = std::move(listener);
}

Failure describe_handler_failure(const std::exception_ptr& error, std::string_view request_id,
                                 std::string_view what) {
  Failure f = failure_of(error);
  if (f.code != ErrorCode::kInternal) return f;
  const ReplicaContext* here = current_replica_context();
  const std::string where = here ? here->replica_id : std::string("replica");
  const std::string deployment = here ? here->deployment : std::string("?");
  CSERVE_LOG(kError, "replica") << where << " request " << request_id << " " << what
                                << " raised: " << describe_exception(error);
  f.message = "internal error in deployment '" + deployment + "' (request " + std::string(request_id) +
              "; see the replica's log)";
  return f;
}

}  // namespace cserve
