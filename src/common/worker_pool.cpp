#include "common/worker_pool.hpp"

#include <cserve/detail/mutex.hpp>

#include <sched.h>

#include <algorithm>
#include <deque>
#include <map>

namespace cserve {
namespace {

using Clock = std::chrono::steady_clock;

// One strand's work. `scheduled`: in the ready queue or running (its work is someone's to run).
struct StrandState {
  std::vector<UniqueFunction<void()>> pending;
  bool scheduled = false;
};

}  // namespace

struct WorkerPool::Impl {
  explicit Impl(int n) : threads(n) {}

  void post(const std::shared_ptr<StrandState>& strand, UniqueFunction<void()> fn) {
    detail::MutexLock lock(mu);
    strand->pending.push_back(std::move(fn));
    if (strand->scheduled) return;  // the worker running it (or about to) takes this too
    strand->scheduled = true;
    ready.push_back(strand);
    wake_if_needed();
  }

  // A strand became ready: wake a sleeper unless an awake worker is free to take it. The sleeper
  // that last ran on this CPU, if any, else the last to sleep (its caches are the warmest).
  void wake_if_needed() CSERVE_REQUIRES(mu) {
    const int free_awake = threads - static_cast<int>(sleepers.size()) - busy;
    if (free_awake >= static_cast<int>(ready.size()) || sleepers.empty()) return;
    const int cpu = sched_getcpu();
    auto it = std::find_if(sleepers.rbegin(), sleepers.rend(), [cpu](const Sleeper* s) { return s->cpu == cpu; });
    Sleeper* s = it != sleepers.rend() ? *it : sleepers.back();
    std::erase(sleepers, s);
    s->woken = true;
    s->cv.notify_one();
  }

  void run_worker() {
    std::vector<UniqueFunction<void()>> batch;
    mu.lock();
    while (true) {
      if (ready.empty()) {
        if (stopping) break;
        Sleeper me;
        me.cpu = sched_getcpu();
        sleepers.push_back(&me);
        me.cv.wait(mu, [&] {
          mu.assert_held();
          return me.woken || stopping;
        });
        if (!me.woken) std::erase(sleepers, &me);
        continue;
      }
      std::shared_ptr<StrandState> strand = std::move(ready.front());
      ready.pop_front();
      batch.swap(strand->pending);
      ++busy;
      if (!ready.empty()) wake_if_needed();
      mu.unlock();
      for (auto& fn : batch) fn();
      batch.clear();  // destroys what the functions held, outside the lock
      mu.lock();
      --busy;
      if (strand->pending.empty()) {
        strand->scheduled = false;
      } else {
        ready.push_back(std::move(strand));  // its next batch, after the strands already waiting
      }
    }
    mu.unlock();
  }

  void post_after(const std::shared_ptr<StrandState>& strand, Clock::duration delay, UniqueFunction<void()> fn) {
    detail::MutexLock lock(timers_mu);
    if (timers_stopping) return;  // the pool is going away: deferred work is dropped
    const Clock::time_point due = Clock::now() + delay;
    const bool earliest = timers.empty() || due < timers.begin()->first;
    timers.emplace(due, Timer{strand, std::move(fn)});
    if (earliest) timers_changed.notify_one();
  }

  void run_timers() {
    timers_mu.lock();
    while (!timers_stopping) {
      if (timers.empty()) {
        timers_changed.wait(timers_mu, [&] {
          timers_mu.assert_held();
          return timers_stopping || !timers.empty();
        });
        continue;
      }
      const Clock::time_point due = timers.begin()->first;
      if (Clock::now() < due) {
        timers_changed.wait_until(timers_mu, due, [&] {
          timers_mu.assert_held();
          return timers_stopping || timers.empty() || timers.begin()->first < due;
        });
        continue;
      }
      Timer t = std::move(timers.begin()->second);
      timers.erase(timers.begin());
      timers_mu.unlock();
      post(t.strand, std::move(t.fn));
      timers_mu.lock();
    }
    timers_mu.unlock();
  }

  const int threads;

  // A worker waiting for work, on a condition variable of its own so that a wake picks which.
  struct Sleeper {
    detail::CondVar cv;
    int cpu = -1;        // where it ran last
    bool woken = false;  // taken off `sleepers` by the waker
  };

  detail::Mutex mu;
  std::deque<std::shared_ptr<StrandState>> ready CSERVE_GUARDED_BY(mu);
  std::vector<Sleeper*> sleepers CSERVE_GUARDED_BY(mu);  // the last to sleep at the back
  int busy CSERVE_GUARDED_BY(mu) = 0;      // workers running a batch
  bool stopping CSERVE_GUARDED_BY(mu) = false;

  struct Timer {
    std::shared_ptr<StrandState> strand;
    UniqueFunction<void()> fn;
  };
  detail::Mutex timers_mu;
  detail::CondVar timers_changed;
  std::multimap<Clock::time_point, Timer> timers CSERVE_GUARDED_BY(timers_mu);
  bool timers_stopping CSERVE_GUARDED_BY(timers_mu) = false;
};

namespace {

class PoolStrand final : public Strand {
 public:
  explicit PoolStrand(std::shared_ptr<WorkerPool::Impl> pool)
      : pool_(std::move(pool)), state_(std::make_shared<StrandState>()) {}
  void post(UniqueFunction<void()> fn) override { pool_->post(state_, std::move(fn)); }
  void post_after(Clock::duration delay, UniqueFunction<void()> fn) override {
    pool_->post_after(state_, delay, std::move(fn));
  }

 private:
  const std::shared_ptr<WorkerPool::Impl> pool_;
  // Shared with the ready queue and pending timers, which may outlive this handle.
  const std::shared_ptr<StrandState> state_;
};

}  // namespace

WorkerPool::WorkerPool(int threads, ThreadPolicy policy) : impl_(std::make_shared<Impl>(threads)) {
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([impl = impl_, policy] {
      start_serving_thread("cserve-worker", policy);
      impl->run_worker();
    });
  }
  timer_thread_ = std::thread([impl = impl_, policy] {
    start_serving_thread("cserve-timers", policy);
    impl->run_timers();
  });
}

WorkerPool::~WorkerPool() { stop(); }

std::unique_ptr<Strand> WorkerPool::make_strand() { return std::make_unique<PoolStrand>(impl_); }

void WorkerPool::stop() {
  std::multimap<Clock::time_point, Impl::Timer> dropped;
  {
    detail::MutexLock lock(impl_->timers_mu);
    impl_->timers_stopping = true;
    dropped.swap(impl_->timers);
  }
  impl_->timers_changed.notify_all();
  if (timer_thread_.joinable()) timer_thread_.join();
  dropped.clear();
  {
    detail::MutexLock lock(impl_->mu);
    impl_->stopping = true;
    for (Impl::Sleeper* s : impl_->sleepers) s->cv.notify_one();
  }
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

}  // namespace cserve
