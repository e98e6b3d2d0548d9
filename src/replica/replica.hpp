// replica.hpp — one replica: an actor that owns one instance of the user's class.
//
// Every call into the user object (construction, calls, coroutine resumptions, reconfigure,
// destruction) is posted to the replica's own strand on the worker pool, so user code runs on
// worker threads only and never concurrently with itself. Routers reserve a slot with
// try_acquire() before execute() and give it back when the call reports done.
//
// Lifecycle (driven by the controller, which owns the record of each replica):
//
//   created --start()--> constructing --ok--> serving --stop()--> destroyed
//                              |
//                              +--ctor threw--> failed (start's callback gets the error)
//
// Thread-safety: all member functions are safe from any thread. Callbacks run on worker threads.
#pragma once

#include "api/metrics_registry.hpp"
#include "common/logging.hpp"
#include "common/worker_pool.hpp"

#include <cserve/deployment.hpp>
#include <cserve/detail/call.hpp>
#include <cserve/detail/resumer.hpp>
#include <cserve/http.hpp>
#include <cserve/replica_context.hpp>

#include <atomic>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace cserve {

class Replica : public detail::Resumer, public std::enable_shared_from_this<Replica> {
 public:
  using Done = UniqueFunction<void(std::string error)>;  // empty error = success
  // Builds the user object (runs the user's constructor); called on the strand.
  using Maker = std::function<std::unique_ptr<detail::ReplicaCallable>()>;

  Replica(ReplicaContext context, std::unique_ptr<Strand> strand, Maker maker);

  const ReplicaContext& context() const { return context_; }
  const log::Fields& log_fields() const { return log_fields_; }
  const std::string& id() const { return context_.replica_id; }

  // Constructs the user object, then delivers `user_config` to reconfigure() when set.
  void start(std::optional<Json> user_config, Done done);
  // Delivers a new user_config to the running object.
  void reconfigure(Json user_config, Done done);
  // Runs the object's check_health() on the strand (after the work queued before it: a replica
  // whose strand is stuck never answers, which its caller's timeout turns into a failure).
  void check_health(Done done);
  // Destroys the user object after every call posted before it; later calls are rejected (503).
  void stop(UniqueFunction<void()> done);

  // Reserves a slot when fewer than `max_ongoing` calls are in flight.
  bool try_acquire(int max_ongoing);
  void release();
  int in_flight() const { return in_flight_.load(std::memory_order_acquire); }
  // Counts a finished call and its time since `dispatched` (deployment processing latency).
  // With access logs on, also logs it with its request id.
  void record_call(std::chrono::steady_clock::time_point dispatched, const detail::CallContext& call);

  // Runs `call` on the strand; `finished` runs once the call is done (a coroutine may finish
  // long after it first suspends).
  void execute(detail::Call call, UniqueFunction<void()> finished);

  // detail::Resumer: runs deferred work and coroutine resumptions on the replica's strand.
  void post(UniqueFunction<void()> fn) override;
  void post_after(std::chrono::steady_clock::duration delay, UniqueFunction<void()> fn) override;

 private:
  // Runs `hook` on the user object on the strand; `done` gets "" or what it threw.
  void run_hook(UniqueFunction<void(detail::ReplicaCallable&)> hook, Done done);

  const ReplicaContext context_;
  const log::Fields log_fields_;  // views of context_
  const std::unique_ptr<Strand> strand_;
  const Maker maker_;
  std::unique_ptr<detail::ReplicaCallable> callable_;  // touched on the strand only
  std::atomic<int> in_flight_{0};
  Series& requests_;
  Series& latency_ms_;
};

// What a handler's exception (other than HttpError, which is an answer) means for its caller:
// a cserve::Error's code and message; for anything else (or an Error with kInternal) kInternal
// with a message that names the deployment and the request id, the exception itself logged with
// the replica's and the request's ids. Call it on the replica's strand.
Failure describe_handler_failure(const std::exception_ptr& error, std::string_view request_id,
                                 std::string_view what);

}  // namespace cserve
