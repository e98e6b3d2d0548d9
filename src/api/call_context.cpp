#include <cserve/detail/call_context.hpp>

#include "api/request_id.hpp"

#include <cserve/error.hpp>

namespace cserve::detail {
namespace {
thread_local const std::shared_ptr<CallContext>* t_call = nullptr;
const std::shared_ptr<CallContext> kNoCall;
}  // namespace

std::shared_ptr<CallContext> CallContext::child_of(const std::shared_ptr<CallContext>& parent) {
  if (!parent) return std::make_shared<CallContext>(std::string());
  auto child = std::make_shared<CallContext>(parent->request_id(), parent->deadline_);
  std::weak_ptr<CallContext> weak = child;
  std::weak_ptr<CallContext> weak_parent = parent;
  std::uint64_t token = parent->on_cancel([weak, weak_parent] {
    auto c = weak.lock();
    auto p = weak_parent.lock();
    if (c && p) c->cancel(p->reason());
  });
  // The child unregisters from its parent when it ends, so a long-lived parent does not collect
  // the callbacks of every call it ever made.
  child->parent_ = parent;
  child->parent_token_ = token;
  return child;
}

const std::string& CallContext::request_id() const {
  std::call_once(id_once_, [this] {
    if (request_id_.empty()) request_id_ = make_request_id();
  });
  return request_id_;
}

CallContext::~CallContext() {
  if (auto p = parent_.lock()) p->forget(parent_token_);
}

void CallContext::cancel(CancelReason why) {
  if (why == CancelReason::kNone) why = CancelReason::kCancelled;
  CancelReason expected = CancelReason::kNone;
  if (!reason_.compare_exchange_strong(expected, why, std::memory_order_acq_rel)) return;
  std::vector<std::pair<std::uint64_t, UniqueFunction<void()>>> callbacks;
  {
    MutexLock lock(mu_);
    callbacks.swap(callbacks_);
  }
  for (auto& [token, fn] : callbacks) fn();
}

std::uint64_t CallContext::on_cancel(UniqueFunction<void()> fn) {
  {
    MutexLock lock(mu_);
    if (!cancelled()) {
      callbacks_.emplace_back(next_token_, std::move(fn));
      return next_token_++;
    }
  }
  fn();
  return 0;
}

void CallContext::forget(std::uint64_t token) {
  if (token == 0) return;
  UniqueFunction<void()> dropped;  // destroyed outside the lock
  MutexLock lock(mu_);
  for (auto it = callbacks_.begin(); it != callbacks_.end(); ++it) {
    if (it->first == token) {
      dropped = std::move(it->second);
      callbacks_.erase(it);
      break;
    }
  }
}

std::string CallContext::describe() const {
  switch (reason()) {
    case CancelReason::kNone:
      return "request " + request_id() + " is running";
    case CancelReason::kCancelled:
      return "request " + request_id() + " was cancelled";
    case CancelReason::kDisconnected:
      return "request " + request_id() + " was cancelled: the client disconnected";
    case CancelReason::kTimedOut:
      return "request " + request_id() + " timed out (request_timeout_s)";
  }
  return "request " + request_id();
}

std::exception_ptr CallContext::error() const { return to_exception(failure()); }

Failure CallContext::failure() const {
  return {reason() == CancelReason::kTimedOut ? ErrorCode::kDeadlineExceeded : ErrorCode::kCancelled,
          describe()};
}

const std::shared_ptr<CallContext>& current_call() { return t_call ? *t_call : kNoCall; }

ScopedCall::ScopedCall(const std::shared_ptr<CallContext>& context) : saved_(t_call) { t_call = &context; }
ScopedCall::~ScopedCall() { t_call = saved_; }

}  // namespace cserve::detail
