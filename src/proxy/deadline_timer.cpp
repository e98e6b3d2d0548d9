#include "proxy/deadline_timer.hpp"

namespace cserve {

DeadlineTimer::DeadlineTimer(Executor executor, std::function<void()> on_expire)
    : timer_(executor), on_expire_(std::move(on_expire)) {}

void DeadlineTimer::set(Clock::time_point deadline, const std::shared_ptr<void>& owner) {
  deadline_ = deadline;
  if (cancelled_ || (waiting_ && waiting_until_ <= deadline)) return;
  wait_until(deadline, owner);
}

void DeadlineTimer::cancel() {
  cancelled_ = true;
  clear();
  boost::system::error_code ignored;
  timer_.cancel(ignored);
}

void DeadlineTimer::wait_until(Clock::time_point at, const std::shared_ptr<void>& owner) {
  waiting_ = true;
  waiting_until_ = at;
  const std::uint64_t generation = ++generation_;
  timer_.expires_at(at);
  timer_.async_wait([this, generation, owner](const boost::system::error_code& ec) {
    on_wait(ec, generation, owner);
  });
}

void DeadlineTimer::on_wait(const boost::system::error_code& ec, std::uint64_t generation,
                            const std::shared_ptr<void>& owner) {
  if (generation != generation_) return;  // replaced by an earlier deadline
  waiting_ = false;
  if (ec || cancelled_ || deadline_ == Clock::time_point::max()) return;
  if (Clock::now() < deadline_) return wait_until(deadline_, owner);  // moved later meanwhile
  deadline_ = Clock::time_point::max();
  on_expire_();
}

}  // namespace cserve
