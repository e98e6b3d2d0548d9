// replica.hpp — one replica: an actor that owns one instance of the user's class.
//
// Every call into the user object (construction, handlers, reconfigure, destruction) is posted
// to the replica's own strand on the worker pool, so user code runs on worker threads only and
// never concurrently with itself. Routers reserve a slot with try_acquire() before handle() and
// give it back with release() after the completion.
//
// Lifecycle (driven by the controller, which owns the record of each replica):
//
//   created --start()--> constructing --ok--> serving --stop()--> destroyed
//                              |
//                              +--ctor threw--> failed (start's callback gets the error)
//
// Thread-safety: all member functions are safe from any thread. Callbacks run on worker threads.
#pragma once

#include "common/unique_function.hpp"
#include "common/worker_pool.hpp"

#include <cserve/deployment.hpp>
#include <cserve/http.hpp>
#include <cserve/replica_context.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <string>

namespace cserve {

class Replica : public std::enable_shared_from_this<Replica> {
 public:
  using Completion = UniqueFunction<void(Response)>;
  using Done = UniqueFunction<void(std::string error)>;  // empty error = success

  Replica(ReplicaContext context, std::unique_ptr<Strand> strand, detail::ReplicaFactory factory);

  const ReplicaContext& context() const { return context_; }
  const std::string& id() const { return context_.replica_id; }

  // Constructs the user object, then delivers `user_config` to reconfigure() when set.
  void start(std::optional<Json> user_config, Done done);
  // Delivers a new user_config to the running object.
  void reconfigure(Json user_config, Done done);
  // Destroys the user object after every call posted before it; later calls answer 503.
  void stop(UniqueFunction<void()> done);

  // Reserves a slot when fewer than `max_ongoing` calls are in flight.
  bool try_acquire(int max_ongoing);
  void release();
  int in_flight() const { return in_flight_.load(std::memory_order_acquire); }

  // Runs the user's handler; `done` gets its response, or the error response an exception became.
  void handle(Request req, Completion done);

 private:
  Response invoke(Request& req);

  const ReplicaContext context_;
  const std::unique_ptr<Strand> strand_;
  const detail::ReplicaFactory factory_;
  std::unique_ptr<detail::ReplicaCallable> callable_;  // touched on the strand only
  std::atomic<int> in_flight_{0};
};

}  // namespace cserve
