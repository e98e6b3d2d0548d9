// deadline_timer.hpp — a connection's one timer, re-armed lazily: moving the deadline later is an
// assignment, and only an expiry (or a deadline earlier than the pending wait) touches the
// underlying timer, so the per-request cost of timeouts is a few stores.
// Thread-safety: bound to one I/O thread (its io_context's executor), like the connection.
#pragma once

#include "common/asio.hpp"

#include <cserve/detail/unique_function.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

namespace cserve {

class DeadlineTimer {
 public:
  using Clock = std::chrono::steady_clock;
  using Executor = asio::io_context::executor_type;

  // `on_expire` runs on the I/O thread when the deadline passes.
  DeadlineTimer(Executor executor, std::function<void()> on_expire);

  // Expire at `deadline` (replacing any earlier setting). `owner` is kept alive while a wait
  // is pending, so that on_expire may use it.
  void set(Clock::time_point deadline, const std::shared_ptr<void>& owner);
  void clear() { deadline_ = Clock::time_point::max(); }
  // Ends the pending wait now (the connection closes); nothing expires afterwards.
  void cancel();

 private:
  void wait_until(Clock::time_point at, const std::shared_ptr<void>& owner);
  void on_wait(const boost::system::error_code& ec, std::uint64_t generation, const std::shared_ptr<void>& owner);

  asio::basic_waitable_timer<Clock, asio::wait_traits<Clock>, Executor> timer_;
  const std::function<void()> on_expire_;
  Clock::time_point deadline_ = Clock::time_point::max();  // max: none
  bool waiting_ = false;                                   // a wait is pending...
  Clock::time_point waiting_until_;                        // ...until then
  std::uint64_t generation_ = 0;  // the pending wait's number; an older one completes as stale
  bool cancelled_ = false;
};

}  // namespace cserve
