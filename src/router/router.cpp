#include "router/router.hpp"

#include <algorithm>
#include <utility>

namespace cserve {

Router::Router(std::string deployment, Config config, std::uint64_t seed) : deployment_(std::move(deployment)) {
  detail::MutexLock lock(mu_);
  config_ = config;
  rng_.seed(static_cast<unsigned>(seed | 1));
}

std::shared_ptr<Replica> Router::pick_locked(const std::string& model_id) {
  if (auto local = pick_among_locked(replicas_, model_id)) return local;
  return remote_.empty() ? nullptr : pick_among_locked(remote_, model_id);
}

std::shared_ptr<Replica> Router::pick_among_locked(const std::vector<std::shared_ptr<Replica>>& candidates,
                                                   const std::string& model_id) {
  if (!model_id.empty() && std::any_of(candidates.begin(), candidates.end(),
                                       [](const std::shared_ptr<Replica>& r) { return r->multiplexed(); })) {
    return pick_for_model_locked(candidates, model_id);
  }
  const std::size_t n = candidates.size();
  const int limit = config_.max_ongoing_requests;
  if (n == 0) return nullptr;
  if (n == 1) return candidates[0]->try_acquire(limit) ? candidates[0] : nullptr;
  // Power of two choices: the less loaded of two distinct random replicas.
  std::size_t a = rng_() % n;
  std::size_t b = rng_() % (n - 1);
  if (b >= a) ++b;
  if (candidates[b]->in_flight() < candidates[a]->in_flight()) std::swap(a, b);
  if (candidates[a]->try_acquire(limit)) return candidates[a];
  if (candidates[b]->try_acquire(limit)) return candidates[b];
  // Both were full: take any replica with a free slot before queueing.
  for (std::size_t i = 0; i < n; ++i) {
    auto& r = candidates[(a + i) % n];
    if (r->try_acquire(limit)) return r;
  }
  return nullptr;
}

std::shared_ptr<Replica> Router::pick_for_model_locked(const std::vector<std::shared_ptr<Replica>>& candidates,
                                                       const std::string& model_id) {
  const int limit = config_.max_ongoing_requests;
  // Ranks: replicas that hold the model first, then those holding the fewest models (where a
  // load costs the least); the less loaded first within a rank. Starting the scan at a random
  // replica breaks ties without favouring the first.
  struct Candidate {
    bool holds;
    std::size_t models;
    int in_flight;
    std::size_t index;
  };
  const std::size_t n = candidates.size();
  if (n == 0) return nullptr;
  std::vector<Candidate> ranked;
  ranked.reserve(n);
  const std::size_t start = rng_() % n;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t k = (start + i) % n;
    const auto& r = candidates[k];
    const bool holds = r->holds_model(model_id);
    ranked.push_back({holds, holds ? 0 : r->model_count(), r->in_flight(), k});
  }
  std::stable_sort(ranked.begin(), ranked.end(), [](const Candidate& x, const Candidate& y) {
    if (x.holds != y.holds) return x.holds;
    if (x.models != y.models) return x.models < y.models;
    return x.in_flight < y.in_flight;
  });
  for (const Candidate& c : ranked) {
    auto& r = candidates[c.index];
    if (!r->try_acquire(limit)) continue;
    r->expect_model(model_id);  // until the call finishes (dispatch's completion)
    return r;
  }
  return nullptr;
}

void Router::submit(detail::Call call) {
  const std::shared_ptr<detail::CallContext> context = call.context;
  if (context->cancelled()) return call.reject(context->failure());
  std::shared_ptr<Replica> replica;
  Failure rejection;
  std::uint64_t seq = 0;
  bool queued = false;
  {
    detail::MutexLock lock(mu_);
    if (closed_) {
      rejection = {ErrorCode::kUnavailable, closed_reason_};
    } else if (live_queued_ == 0 && (replica = pick_locked(context->multiplexed_model_id()))) {
      // dispatched below, outside the lock
    } else if (config_.max_queued_requests >= 0 &&
               live_queued_ >= static_cast<std::size_t>(config_.max_queued_requests)) {
      rejection = {ErrorCode::kOverloaded, "deployment '" + deployment_ + "' is overloaded: " +
                                               std::to_string(live_queued_) +
                                               " requests queued (max_queued_requests)"};
    } else {
      seq = next_seq_++;
      queue_.push_back(Queued{seq, std::move(call)});
      ++live_queued_;
      queued = true;
    }
  }
  if (replica) return dispatch(std::move(replica), std::move(call));
  if (queued) {
    // Queued: a cancellation takes it out of the queue (at once, if it came meanwhile). The
    // callback stays registered after dispatch and then finds nothing to drop.
    context->on_cancel([weak = weak_from_this(), seq] {
      if (auto self = weak.lock()) self->drop_cancelled(seq);
    });
    return;
  }
  call.reject(std::move(rejection));
}

void Router::drop_cancelled(std::uint64_t seq) {
  detail::Call call;
  {
    detail::MutexLock lock(mu_);
    auto it = std::lower_bound(queue_.begin(), queue_.end(), seq,
                               [](const Queued& q, std::uint64_t s) { return q.seq < s; });
    if (it == queue_.end() || it->seq != seq || !it->call.run) return;
    call = std::exchange(it->call, detail::Call{});
    --live_queued_;
    while (!queue_.empty() && !queue_.front().call.run) queue_.pop_front();
  }
  call.reject(call.context->failure());
}

void Router::dispatch(std::shared_ptr<Replica> replica, detail::Call call) {
  Replica* r = replica.get();
  auto context = call.context;
  r->execute(std::move(call), [self = shared_from_this(), replica = std::move(replica),
                               context = std::move(context), dispatched = std::chrono::steady_clock::now()] {
    replica->record_call(dispatched, *context);
    if (!context->multiplexed_model_id().empty()) replica->model_call_done(context->multiplexed_model_id());
    replica->release();
    self->drain();
  });
}

void Router::drain() {
  // Usually one call can go (a completion freed one slot): it needs no list.
  std::pair<std::shared_ptr<Replica>, detail::Call> first;
  std::vector<std::pair<std::shared_ptr<Replica>, detail::Call>> more;
  {
    detail::MutexLock lock(mu_);
    while (!queue_.empty()) {
      if (!queue_.front().call.run) {  // left by a cancelled call
        queue_.pop_front();
        continue;
      }
      auto replica = pick_locked(queue_.front().call.context->multiplexed_model_id());
      if (!replica) break;
      if (first.first) {
        more.emplace_back(std::move(replica), std::move(queue_.front().call));
      } else {
        first = {std::move(replica), std::move(queue_.front().call)};
      }
      queue_.pop_front();
      --live_queued_;
    }
  }
  if (first.first) dispatch(std::move(first.first), std::move(first.second));
  for (auto& [replica, call] : more) dispatch(std::move(replica), std::move(call));
}

void Router::update(std::vector<std::shared_ptr<Replica>> replicas, Config config) {
  std::shared_ptr<Router> local;
  {
    detail::MutexLock lock(mu_);
    replicas_ = std::move(replicas);
    config_ = config;
    local = local_;
    if (local) replicas = replicas_;
  }
  if (local) local->update(std::move(replicas), config);
  drain();
}

void Router::update_remote(std::vector<std::shared_ptr<Replica>> remote) {
  {
    detail::MutexLock lock(mu_);
    remote_ = std::move(remote);
  }
  drain();
}

std::shared_ptr<detail::CallSink> Router::local_sink() {
  detail::MutexLock lock(mu_);
  if (!local_) {
    local_ = std::make_shared<Router>(deployment_, config_, rng_());
    detail::MutexLock companion(local_->mu_);
    local_->replicas_ = replicas_;
    local_->closed_ = closed_;
    local_->closed_reason_ = closed_reason_;
  }
  return local_;
}

void Router::close(const std::string& reason) {
  std::deque<Queued> rejected;
  std::shared_ptr<Router> local;
  {
    detail::MutexLock lock(mu_);
    local = local_;
    closed_ = true;
    closed_reason_ = reason;
    rejected.swap(queue_);
    live_queued_ = 0;
  }
  for (auto& q : rejected) {
    if (q.call.run) q.call.reject({ErrorCode::kUnavailable, reason});
  }
  if (local) local->close(reason);
}

void Router::reopen() {
  std::shared_ptr<Router> local;
  {
    detail::MutexLock lock(mu_);
    closed_ = false;
    closed_reason_.clear();
    local = local_;
  }
  if (local) local->reopen();
}

std::size_t Router::queued() const {
  detail::MutexLock lock(mu_);
  return live_queued_;
}

double Router::local_load() const {
  std::shared_ptr<Router> local;
  double load = 0;
  {
    detail::MutexLock lock(mu_);
    load = static_cast<double>(live_queued_);
    for (const auto& r : replicas_) load += r->in_flight();
    local = local_;
  }
  if (local) load += static_cast<double>(local->queued());
  return load;
}

bool Router::serving() const {
  detail::MutexLock lock(mu_);
  auto accepting = [](const std::shared_ptr<Replica>& r) { return r->accepting(); };
  return !closed_ && (std::any_of(replicas_.begin(), replicas_.end(), accepting) ||
                      std::any_of(remote_.begin(), remote_.end(), accepting));
}

}  // namespace cserve
