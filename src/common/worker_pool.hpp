// worker_pool.hpp — the threads that run replica code, and strands that serialise each
// replica's work on them (a replica is an actor: its calls never overlap).
//
// Scheduling: a strand with work is either in the pool's ready queue or running on one worker.
// A worker takes a ready strand and runs everything posted to it so far as one batch; work posted
// meanwhile waits for the next batch, for which the strand goes to the back of the ready queue —
// usually to be taken again at once by the same worker, with no other thread woken. A sleeping
// worker is woken only when a strand becomes ready and no awake worker is free to take it, so a
// busy replica costs no wake-ups beyond the first, and replicas still run in parallel. The one
// woken is a worker that last ran on the waking thread's CPU if one sleeps, else the last to
// sleep: the kernel usually runs a woken thread where it ran before, and a worker woken onto
// another busy CPU waits there (serving threads do not preempt, serving_thread.hpp) while the
// waker's CPU, soon idle, could have run it. (Asio's strands re-post themselves after every
// batch, which on a multi-threaded io_context wakes another thread each time.) bench/README.md
// measures both. Delayed work waits on one timer thread, which posts it to its strand when due.
//
// Thread-safety: make_strand() and the strands are safe from any thread. stop() runs what was
// posted (dropping delayed work not yet due), then joins the threads; call it once, from a
// thread that is not a worker.
#pragma once

#include "common/serving_thread.hpp"

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
  // `threads` workers and the timer thread, all started with `policy`.
  explicit WorkerPool(int threads, ThreadPolicy policy = {});
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  std::unique_ptr<Strand> make_strand();
  // Runs what was posted, then joins the threads.
  void stop();
  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
  std::vector<std::thread> threads_;
  std::thread timer_thread_;
};

}  // namespace cserve
