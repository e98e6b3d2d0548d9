// cserve/detail/call.hpp — one call into a deployment, type-erased, as routers queue and
// replicas run it. HTTP requests and handle calls are both Calls.
// Thread-safety: a Call is moved from thread to thread, never shared.
#pragma once

#include <cserve/detail/call_context.hpp>
#include <cserve/detail/unique_function.hpp>
#include <cserve/error.hpp>

#include <memory>
#include <string>

namespace cserve::detail {

class ReplicaCallable;

struct Call {
  // The request this call serves (never null): its id, deadline and cancellation. A call whose
  // context is cancelled is answered with reject(context->failure()) instead of running.
  std::shared_ptr<CallContext> context;
  // Runs on the chosen replica's strand with its user object. Must call `done` exactly once,
  // when the call has finished — at once, or later from a coroutine resumed on that strand.
  UniqueFunction<void(ReplicaCallable& target, UniqueFunction<void()> done)> run;
  // Answers the call when no replica will run it: kOverloaded (queue full), kUnavailable
  // (deployment gone or failed, replica stopped), kDeadlineExceeded or kCancelled. Called at most
  // once, and never after run.
  UniqueFunction<void(Failure)> reject;
};

// Where calls for one deployment go: its router. Handles hold one.
class CallSink {
 public:
  virtual ~CallSink() = default;
  virtual void submit(Call call) = 0;
};

}  // namespace cserve::detail
