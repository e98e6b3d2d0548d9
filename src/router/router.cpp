#include "router/router.hpp"

#include <utility>

namespace cserve {

Router::Router(std::string deployment, Config config, std::uint64_t seed)
    : deployment_(std::move(deployment)), config_(config), rng_(static_cast<unsigned>(seed | 1)) {}

std::shared_ptr<Replica> Router::pick_locked() {
  const std::size_t n = replicas_.size();
  const int limit = config_.max_ongoing_requests;
  if (n == 0) return nullptr;
  if (n == 1) return replicas_[0]->try_acquire(limit) ? replicas_[0] : nullptr;
  // Power of two choices: the less loaded of two distinct random replicas.
  std::size_t a = rng_() % n;
  std::size_t b = rng_() % (n - 1);
  if (b >= a) ++b;
  if (replicas_[b]->in_flight() < replicas_[a]->in_flight()) std::swap(a, b);
  if (replicas_[a]->try_acquire(limit)) return replicas_[a];
  if (replicas_[b]->try_acquire(limit)) return replicas_[b];
  // Both were full: take any replica with a free slot before queueing.
  for (std::size_t i = 0; i < n; ++i) {
    auto& r = replicas_[(a + i) % n];
    if (r->try_acquire(limit)) return r;
  }
  return nullptr;
}

void Router::submit(detail::Call call) {
  std::shared_ptr<Replica> replica;
  std::string rejection;
  {
    std::lock_guard lock(mu_);
    if (closed_) {
      rejection = closed_reason_;
    } else if (queue_.empty() && (replica = pick_locked())) {
      // dispatched below, outside the lock
    } else if (config_.max_queued_requests >= 0 &&
               queue_.size() >= static_cast<std::size_t>(config_.max_queued_requests)) {
      rejection = "deployment '" + deployment_ + "' is overloaded: " + std::to_string(queue_.size()) +
                  " requests queued (max_queued_requests)";
    } else {
      queue_.push_back(std::move(call));
      return;
    }
  }
  if (replica) {
    dispatch(std::move(replica), std::move(call));
  } else {
    call.reject(503, std::move(rejection));
  }
}

void Router::dispatch(std::shared_ptr<Replica> replica, detail::Call call) {
  Replica* r = replica.get();
  r->execute(std::move(call), [self = shared_from_this(), replica = std::move(replica)] {
    replica->release();
    self->drain();
  });
}

void Router::drain() {
  std::vector<std::pair<std::shared_ptr<Replica>, detail::Call>> ready;
  {
    std::lock_guard lock(mu_);
    while (!queue_.empty()) {
      auto replica = pick_locked();
      if (!replica) break;
      ready.emplace_back(std::move(replica), std::move(queue_.front()));
      queue_.pop_front();
    }
  }
  for (auto& [replica, call] : ready) dispatch(std::move(replica), std::move(call));
}

void Router::update(std::vector<std::shared_ptr<Replica>> replicas, Config config) {
  {
    std::lock_guard lock(mu_);
    replicas_ = std::move(replicas);
    config_ = config;
  }
  drain();
}

void Router::close(const std::string& reason) {
  std::deque<detail::Call> rejected;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    closed_reason_ = reason;
    rejected.swap(queue_);
  }
  for (auto& call : rejected) call.reject(503, reason);
}

void Router::reopen() {
  std::lock_guard lock(mu_);
  closed_ = false;
  closed_reason_.clear();
}

std::size_t Router::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

}  // namespace cserve
