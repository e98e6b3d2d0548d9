// cserve/detail/resumer.hpp — where a suspended coroutine continues. Inside a replica it is the
// replica's strand (so the replica never runs two of its coroutines at once); elsewhere there is
// none and a coroutine continues on the thread that completed what it awaited.
// Thread-safety: resume() is safe from any thread.
#pragma once

#include <coroutine>
#include <memory>

namespace cserve::detail {

class Resumer {
 public:
  virtual ~Resumer() = default;
  virtual void resume(std::coroutine_handle<> h) = 0;
};

// The resumer of the replica whose code runs on this thread, or null.
std::shared_ptr<Resumer> current_resumer();

// True while replica code runs on this thread: blocking there would stall a worker thread.
bool in_replica();

}  // namespace cserve::detail
