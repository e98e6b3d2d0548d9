// worker_pool.hpp — the threads that run replica code, and strands that serialise each
// replica's work on them (a replica is an actor: its calls never overlap).
// Thread-safety: make_strand() and the strands are safe from any thread. stop() joins the threads;
// call it once, from a thread that is not a worker.
#pragma once

#include <cserve/detail/unique_function.hpp>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

namespace cserve {

using detail::UniqueFunction;

class Strand {
 public:
  virtual ~Strand() = default;
  // Runs `fn` on a worker thread, after every function posted to this strand before it, and
  // never at the same time as another function of this strand.
  virtual void post(UniqueFunction<void()> fn) = 0;
  // Runs `fn` on this strand once `delay` has passed (dropped if the pool stops first).
  virtual void post_after(std::chrono::steady_clock::duration delay, UniqueFunction<void()> fn) = 0;
};

class WorkerPool {
 public:
  explicit WorkerPool(int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  std::unique_ptr<Strand> make_strand();
  // Runs what was posted, then joins the threads.
  void stop();
  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  std::vector<std::thread> threads_;
};

}  // namespace cserve
