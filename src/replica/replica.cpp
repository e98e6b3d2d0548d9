#include "replica/replica.hpp"

#include "common/describe_exception.hpp"
#include "common/logging.hpp"

#include <cserve/error.hpp>

namespace cserve {
namespace {

thread_local Replica* t_replica = nullptr;

// Makes get_replica_context() and current_resumer() answer for `r` while its code runs here.
class ScopedReplica {
 public:
  explicit ScopedReplica(Replica* r) : saved_(t_replica), fields_(r ? &r->log_fields() : nullptr) {
    t_replica = r;
  }
  ~ScopedReplica() { t_replica = saved_; }
  ScopedReplica(const ScopedReplica&) = delete;
  ScopedReplica& operator=(const ScopedReplica&) = delete;

 private:
  Replica* saved_;
  log::ScopedFields fields_;  // log lines written here carry the replica's names
};

}  // namespace

const ReplicaContext& get_replica_context() {
  if (t_replica == nullptr) {
    throw Error("get_replica_context() called outside a replica's constructor, handler or hook");
  }
  return t_replica->context();
}

namespace detail {
std::shared_ptr<Resumer> current_resumer() {
  return t_replica ? t_replica->shared_from_this() : nullptr;
}
bool in_replica() { return t_replica != nullptr; }
void resume_outside_replica(std::coroutine_handle<> h) {
  ScopedReplica outside(nullptr);
  h.resume();
}
}  // namespace detail

Failure describe_handler_failure(const std::exception_ptr& error, std::string_view request_id,
                                 std::string_view what) {
  Failure f = failure_of(error);
  if (f.code != ErrorCode::kInternal) return f;
  const std::string where = t_replica ? t_replica->id() : std::string("replica");
  const std::string deployment = t_replica ? t_replica->context().deployment : std::string("?");
  CSERVE_LOG(kError, "replica") << where << " request " << request_id << " " << what
                                << " raised: " << describe_exception(error);
  f.message = "internal error in deployment '" + deployment + "' (request " + std::string(request_id) +
              "; see the replica's log)";
  return f;
}

Replica::Replica(ReplicaContext context, std::unique_ptr<Strand> strand, Maker maker)
    : context_(std::move(context)),
      log_fields_{context_.app_name, context_.deployment, context_.replica_id},
      strand_(std::move(strand)),
      maker_(std::move(maker)),
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

void Replica::record_call(std::chrono::steady_clock::time_point dispatched, const detail::CallContext& call) {
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - dispatched).count();
  requests_.add(1);
  latency_ms_.observe(ms);
  if (log::access_log()) {
    CSERVE_LOG(kInfo, "replica").fields(&log_fields_).request(call.request_id()) << "call finished in " << ms << " ms";
  }
}

void Replica::start(std::optional<Json> user_config, Done done) {
  strand_->post([self = shared_from_this(), config = std::move(user_config),
                 done = std::move(done)]() mutable {
    std::string error;
    {
      ScopedReplica scope(self.get());
      try {
        self->callable_ = self->maker_();
        if (config) self->callable_->reconfigure(*config);
      } catch (...) {
        error = describe_exception(std::current_exception());
        self->callable_.reset();
      }
    }
    done(std::move(error));
  });
}

void Replica::run_hook(UniqueFunction<void(detail::ReplicaCallable&)> hook, Done done) {
  strand_->post([self = shared_from_this(), hook = std::move(hook), done = std::move(done)]() mutable {
    std::string error;
    if (!self->callable_) {
      error = "replica is stopped";
    } else {
      ScopedReplica scope(self.get());
      try {
        hook(*self->callable_);
      } catch (...) {
        error = describe_exception(std::current_exception());
      }
    }
    done(std::move(error));
  });
}

void Replica::reconfigure(Json user_config, Done done) {
  run_hook([config = std::move(user_config)](detail::ReplicaCallable& c) { c.reconfigure(config); },
           std::move(done));
}

void Replica::check_health(Done done) {
  run_hook([](detail::ReplicaCallable& c) { c.check_health(); }, std::move(done));
}

void Replica::stop(UniqueFunction<void()> done) {
  strand_->post([self = shared_from_this(), done = std::move(done)]() mutable {
    {
      ScopedReplica scope(self.get());
      try {
        self->callable_.reset();
      } catch (...) {
        CSERVE_LOG(kError, "replica") << self->id() << ": destructor threw: "
                                      << describe_exception(std::current_exception());
      }
    }
    done();
  });
}

bool Replica::try_acquire(int max_ongoing) {
  int n = in_flight_.load(std::memory_order_relaxed);
  while (n < max_ongoing) {
    if (in_flight_.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel)) return true;
  }
  return false;
}

void Replica::release() { in_flight_.fetch_sub(1, std::memory_order_acq_rel); }

void Replica::execute(detail::Call call, UniqueFunction<void()> finished) {
  strand_->post([self = shared_from_this(), call = std::move(call),
                 finished = std::move(finished)]() mutable {
    if (!self->callable_) {
      call.reject({ErrorCode::kUnavailable, "replica " + self->id() + " is not serving"});
      finished();
      return;
    }
    if (call.context->cancelled()) {  // cancelled on its way here: never started
      call.reject(call.context->failure());
      finished();
      return;
    }
    ScopedReplica scope(self.get());
    detail::ScopedCall in_call(call.context);
    call.run(*self->callable_, std::move(finished));
  });
}

void Replica::post(UniqueFunction<void()> fn) {
  strand_->post([self = shared_from_this(), fn = std::move(fn)]() mutable {
    ScopedReplica scope(self.get());
    fn();
  });
}

void Replica::post_after(std::chrono::steady_clock::duration delay, UniqueFunction<void()> fn) {
  strand_->post_after(delay, [self = shared_from_this(), fn = std::move(fn)]() mutable {
    ScopedReplica scope(self.get());
    fn();
  });
}

}  // namespace cserve
