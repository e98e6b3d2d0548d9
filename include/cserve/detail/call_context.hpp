// cserve/detail/call_context.hpp — what travels with one request through every hop: its id,
// its deadline, and its cancellation.
//
// The proxy makes a root context per HTTP request (cancelled when the client goes away or
// request_timeout_s passes); a handle call made while a request is being handled gets a child
// of that request's context, so downstream calls share the request id and are cancelled with
// it. Routers drop cancelled calls from their queues, replicas do not start them, and every
// cserve awaitable (responses, streams, sleep_for) resumes its coroutine with the context's
// error at the next suspension point.
//
// The context of the code running now is a thread-local that replicas set around each call
// and each coroutine resumption (ScopedCall).
// Thread-safety: every member function is safe from any thread; callbacks run outside the lock.
#pragma once

#include <cserve/detail/mutex.hpp>
#include <cserve/detail/unique_function.hpp>
#include <cserve/error.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace cserve::detail {

enum class CancelReason : int { kNone = 0, kCancelled, kDisconnected, kTimedOut };

class CallContext {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit CallContext(std::string request_id, TimePoint deadline = TimePoint::max())
      : request_id_(std::move(request_id)), deadline_(deadline) {}
  ~CallContext();
  CallContext(const CallContext&) = delete;
  CallContext& operator=(const CallContext&) = delete;

  // A context for a call made on behalf of `parent` (may be null: then a fresh root with a new
  // request id): same request id and deadline, cancelled when the parent is.
  static std::shared_ptr<CallContext> child_of(const std::shared_ptr<CallContext>& parent);

  // The id, made on first use for a root handle call (most are never logged).
  const std::string& request_id() const;
  TimePoint deadline() const { return deadline_; }
  // The multiplexed model the request asks for (the serve_multiplexed_model_id header, a handle's
  // options); empty for none. Set by whoever makes the context, before the call is submitted;
  // children do not inherit it (a handle call names its model in its own options).
  const std::string& multiplexed_model_id() const { return multiplexed_model_id_; }
  void set_multiplexed_model_id(std::string id) { multiplexed_model_id_ = std::move(id); }
  bool cancelled() const { return reason_.load(std::memory_order_acquire) != CancelReason::kNone; }
  CancelReason reason() const { return reason_.load(std::memory_order_acquire); }

  // Cancels this context and its children (the first reason wins); runs the callbacks once.
  void cancel(CancelReason why);

  // Runs `fn` when the context is cancelled (at once, on this thread, if it already is).
  // Returns a token for forget(); 0 when `fn` already ran.
  std::uint64_t on_cancel(UniqueFunction<void()> fn);
  // Drops a callback that is no longer wanted (no-op once it ran).
  void forget(std::uint64_t token);

  // What a cancelled call fails with: TimeoutError for the deadline, else CancelledError.
  std::exception_ptr error() const;
  // What a call of a cancelled context fails with: kDeadlineExceeded or kCancelled, described.
  Failure failure() const;
  std::string describe() const;

 private:
  mutable std::once_flag id_once_;
  mutable std::string request_id_;  // empty until request_id() makes one
  const TimePoint deadline_;
  std::string multiplexed_model_id_;
  std::atomic<CancelReason> reason_{CancelReason::kNone};
  Mutex mu_;
  std::uint64_t next_token_ CSERVE_GUARDED_BY(mu_) = 1;
  std::vector<std::pair<std::uint64_t, UniqueFunction<void()>>> callbacks_ CSERVE_GUARDED_BY(mu_);
  std::weak_ptr<CallContext> parent_;  // a child unregisters from its parent when it ends
  std::uint64_t parent_token_ = 0;
};

// The context of the call whose code runs on this thread, or null.
const std::shared_ptr<CallContext>& current_call();

// Makes `context` current on this thread for a scope. `context` must outlive the scope.
class ScopedCall {
 public:
  explicit ScopedCall(const std::shared_ptr<CallContext>& context);
  ~ScopedCall();
  ScopedCall(const ScopedCall&) = delete;
  ScopedCall& operator=(const ScopedCall&) = delete;

 private:
  const std::shared_ptr<CallContext>* saved_;
};

}  // namespace cserve::detail
