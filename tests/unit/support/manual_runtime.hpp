// manual_runtime.hpp — replicas with no threads, for unit tests: every strand posts to one task
// queue that the test runs explicitly (run_all), and a launcher makes LocalReplicas on it.
// Delayed work (post_after) runs when the queue is run, as if its delay had passed.
// Thread-safety: single-threaded by design.
#pragma once

#include "replica/launcher.hpp"
#include "replica/local_replica.hpp"

#include <deque>
#include <memory>

namespace cserve::test {

struct TaskQueue {
  std::deque<UniqueFunction<void()>> tasks;
  void run_all() {
    while (!tasks.empty()) run_one();
  }
  void run_one() {
    auto t = std::move(tasks.front());
    tasks.pop_front();
    t();
  }
};

class QueueStrand final : public Strand {
 public:
  explicit QueueStrand(std::shared_ptr<TaskQueue> q) : q_(std::move(q)) {}
  void post(UniqueFunction<void()> fn) override { q_->tasks.push_back(std::move(fn)); }
  void post_after(std::chrono::steady_clock::duration, UniqueFunction<void()> fn) override {
    q_->tasks.push_back(std::move(fn));
  }

 private:
  std::shared_ptr<TaskQueue> q_;
};

class QueueLauncher final : public ReplicaLauncher {
 public:
  explicit QueueLauncher(std::shared_ptr<TaskQueue> q) : q_(std::move(q)) {}
  std::shared_ptr<Replica> make(ReplicaContext context, const detail::DeploymentDef& def,
                                std::shared_ptr<const detail::FactoryContext> sinks) override {
    ++made;
    LocalReplica::Maker maker = [sinks = std::move(sinks), make = def.factory] { return make(*sinks); };
    return std::make_shared<LocalReplica>(std::move(context), std::make_unique<QueueStrand>(q_), std::move(maker));
  }
  int made = 0;

 private:
  std::shared_ptr<TaskQueue> q_;
};

}  // namespace cserve::test
