// local_replica.hpp — a replica in this process: every call into the user object (construction,
// calls, coroutine resumptions, reconfigure, destruction) is posted to the replica's own strand
// on the worker pool, so user code runs on worker threads only and never concurrently with
// itself. It is the Resumer that coroutines suspended in its code resume on.
// Thread-safety: all member functions are safe from any thread; callbacks run on worker threads.
#pragma once

#include "common/worker_pool.hpp"
#include "replica/replica.hpp"

#include <cserve/detail/callable.hpp>
#include <cserve/detail/resumer.hpp>

#include <functional>
#include <memory>

namespace cserve {

class LocalReplica final : public Replica,
                           public detail::Resumer,
                           public std::enable_shared_from_this<LocalReplica> {
 public:
  // Builds the user object (runs the user's constructor); called on the strand.
  using Maker = std::function<std::unique_ptr<detail::ReplicaCallable>()>;

  LocalReplica(ReplicaContext context, std::unique_ptr<Strand> strand, Maker maker);

  void start(std::optional<Json> user_config, Done done) override;
  void reconfigure(Json user_config, Done done) override;
  void check_health(Done done) override;
  void stop(UniqueFunction<void()> done) override;
  void execute(detail::Call call, UniqueFunction<void()> finished) override;

  // detail::Resumer: runs deferred work and coroutine resumptions on the replica's strand.
  void post(UniqueFunction<void()> fn) override;
  void post_after(std::chrono::steady_clock::duration delay, UniqueFunction<void()> fn) override;

 private:
  // Runs `hook` on the user object on the strand; `done` gets nullopt or what it threw.
  void run_hook(UniqueFunction<void(detail::ReplicaCallable&)> hook, Done done);

  const std::unique_ptr<Strand> strand_;
  const Maker maker_;
  std::unique_ptr<detail::ReplicaCallable> callable_;  // touched on the strand only
};

}  // namespace cserve
