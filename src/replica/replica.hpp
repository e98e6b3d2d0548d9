// replica.hpp — one replica as routers and the controller see it, wherever it runs: an actor that
// owns one instance of the user's class, with a bounded number of calls in flight.
//
// Routers reserve a slot with try_acquire() before execute() and give it back (release()) when
// the call reports finished; in-flight counts are read without a round trip. The controller
// drives the lifecycle:
//
//   created --start()--> constructing --ok--> serving --stop()--> stopped
//                              |
//                              +--constructor threw--> failed (start's callback gets the Failure)
//
// Implementations: LocalReplica (a strand of this process's worker pool, local_replica.hpp);
// replicas in worker processes come behind the wire protocol.
// Thread-safety: all member functions are safe from any thread. Callbacks may run on any thread.
#pragma once

#include "api/metrics_registry.hpp"
#include "common/logging.hpp"

#include <cserve/detail/call.hpp>
#include <cserve/detail/mutex.hpp>
#include <cserve/error.hpp>
#include <cserve/json.hpp>
#include <cserve/replica_context.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cserve {

using detail::UniqueFunction;

class Replica {
 public:
  // nullopt: success; else why the hook (constructor, reconfigure, check_health) failed.
  using Done = UniqueFunction<void(std::optional<Failure>)>;

  explicit Replica(ReplicaContext context);
  virtual ~Replica() = default;
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  const ReplicaContext& context() const { return context_; }
  const log::Fields& log_fields() const { return log_fields_; }
  const std::string& id() const { return context_.replica_id; }

  // Constructs the user object, then delivers `user_config` to reconfigure() when set.
  virtual void start(std::optional<Json> user_config, Done done) = 0;
  // Delivers a new user_config to the running object.
  virtual void reconfigure(Json user_config, Done done) = 0;
  // Runs the object's check_health() after the work queued before it (a replica that is stuck
  // never answers, which its caller's timeout turns into a failure).
  virtual void check_health(Done done) = 0;
  // Destroys the user object after every call posted before it; later calls are rejected
  // (kUnavailable). `done` runs later, on another thread, never inside stop() (its caller may
  // hold a lock that `done` takes).
  virtual void stop(UniqueFunction<void()> done) = 0;
  // Runs `call`; `finished` runs once it is done (a coroutine may finish long after it first
  // suspends). A call that cannot run is rejected, then `finished` runs.
  virtual void execute(detail::Call call, UniqueFunction<void()> finished) = 0;
  // Set once the replica ended by itself (its worker process died or exited): why. The
  // controller replaces such a replica. Replicas in this process never end by themselves.
  virtual std::optional<Failure> exit_cause() const { return std::nullopt; }
  // A worker process's resident memory and CPU time so far; nullopt for replicas in this process.
  struct ProcessUsage {
    double rss_bytes = 0;
    double cpu_seconds = 0;
  };
  virtual std::optional<ProcessUsage> usage() const { return std::nullopt; }

  // Reserves a slot when fewer than `max_ongoing` calls are in flight and the replica can still
  // take calls (one whose worker process died cannot: routers keep such calls queued for the
  // others, or for its replacement).
  bool try_acquire(int max_ongoing);
  // False once the replica can no longer run calls by itself (its worker process ended).
  virtual bool accepting() const { return true; }
  void release() { in_flight_.fetch_sub(1, std::memory_order_acq_rel); }
  int in_flight() const { return in_flight_.load(std::memory_order_acquire); }
  // Counts a finished call and its time since `dispatched` (deployment processing latency).
  // With access logs on, also logs it with its request id.
  void record_call(std::chrono::steady_clock::time_point dispatched, const detail::CallContext& call);

  // Multiplexed models (cserve/multiplex.hpp) this replica holds or is loading, as routers see
  // them: the set the replica's code reports when its Multiplexed is made and after each load
  // and eviction (set_models), and the models of the calls routed to it that have not finished
  // (expect_model when dispatched, model_call_done when finished) — a call's model is loaded, or
  // loading, by the time the call finishes, so concurrent first requests for one model go to the
  // same replica and a report that raced ahead of a queued call does not hide its model. A replica
  // that never reported serves no multiplexed models: expect_model ignores it (a model id sent to
  // an ordinary deployment is not remembered).
  void set_models(std::vector<std::string> ids) CSERVE_EXCLUDES(models_mu_);
  void expect_model(const std::string& id) CSERVE_EXCLUDES(models_mu_);
  void model_call_done(const std::string& id) CSERVE_EXCLUDES(models_mu_);
  bool holds_model(std::string_view id) const CSERVE_EXCLUDES(models_mu_);
  std::size_t model_count() const CSERVE_EXCLUDES(models_mu_);
  // The set the replica reported last.
  std::vector<std::string> models() const CSERVE_EXCLUDES(models_mu_);
  bool multiplexed() const CSERVE_EXCLUDES(models_mu_);
  // Called with the new set after each set_models (a worker process sends it to its parent).
  void on_models_changed(std::function<void(const std::vector<std::string>&)> listener) CSERVE_EXCLUDES(models_mu_);

 private:
  const ReplicaContext context_;
  const log::Fields log_fields_;  // views of context_
  std::atomic<int> in_flight_{0};
  Series& requests_;
  Series& latency_ms_;
  mutable detail::Mutex models_mu_;
  std::vector<std::string> models_ CSERVE_GUARDED_BY(models_mu_);                // reported
  std::map<std::string, int> routed_models_ CSERVE_GUARDED_BY(models_mu_);       // calls not finished
  bool multiplexed_ CSERVE_GUARDED_BY(models_mu_) = false;  // it has reported a model set
  std::function<void(const std::vector<std::string>&)> models_listener_ CSERVE_GUARDED_BY(models_mu_);
};

// What a handler's exception (other than HttpError, which is an answer) means for its caller:
// a cserve::Error's code and message; for anything else (or an Error with kInternal) kInternal
// with a message that names the deployment and the request id, the exception itself logged with
// the replica's and the request's ids. Call it in replica code.
Failure describe_handler_failure(const std::exception_ptr& error, std::string_view request_id,
                                 std::string_view what);

}  // namespace cserve
