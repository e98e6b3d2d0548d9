// cserve/detail/resumer.hpp — where a suspended coroutine continues, and where a replica's
// deferred work runs. Inside a replica it is the replica's strand (so the replica never runs two
// of its coroutines at once); elsewhere there is none and a coroutine continues on the thread
// that completed what it awaited.
// Thread-safety: every member function is safe from any thread.
#pragma once

#include <cserve/detail/unique_function.hpp>

#include <chrono>
#include <memory>

namespace cserve::detail {

class Resumer {
 public:
  virtual ~Resumer() = default;
  // Runs `fn` on the replica's strand, with the replica's context.
  virtual void post(UniqueFunction<void()> fn) = 0;
  // Runs `fn` on the replica's strand once `delay` has passed.
  virtual void post_after(std::chrono::steady_clock::duration delay, UniqueFunction<void()> fn) = 0;
};

// The resumer of the replica whose code runs on this thread, or null.
std::shared_ptr<Resumer> current_resumer();

// True while replica code runs on this thread: blocking there would stall a worker thread.
bool in_replica();

}  // namespace cserve::detail
