#include "common/worker_pool.hpp"

#include "common/asio.hpp"

#include <cserve/detail/mutex.hpp>

#include <optional>
#include <set>

namespace cserve {

struct WorkerPool::Impl {
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{io.get_executor()};
  // Pending post_after timers, so that stop() need not wait for them to expire.
  detail::Mutex timers_mu;
  std::set<std::shared_ptr<asio::steady_timer>> timers CSERVE_GUARDED_BY(timers_mu);
  bool stopping CSERVE_GUARDED_BY(timers_mu) = false;
};

namespace {

class AsioStrand final : public Strand {
 public:
  explicit AsioStrand(WorkerPool::Impl& pool) : pool_(pool), strand_(asio::make_strand(pool.io)) {}
  void post(UniqueFunction<void()> fn) override { asio::post(strand_, std::move(fn)); }
  void post_after(std::chrono::steady_clock::duration delay, UniqueFunction<void()> fn) override {
    auto timer = std::make_shared<asio::steady_timer>(strand_, delay);
    {
      detail::MutexLock lock(pool_.timers_mu);
      if (pool_.stopping) return;  // the pool is going away: deferred work is dropped
      pool_.timers.insert(timer);
    }
    timer->async_wait([&pool = pool_, timer, fn = std::move(fn)](const boost::system::error_code& ec) mutable {
      {
        detail::MutexLock lock(pool.timers_mu);
        pool.timers.erase(timer);
      }
      if (!ec) fn();
    });
  }

 private:
  WorkerPool::Impl& pool_;
  asio::strand<asio::io_context::executor_type> strand_;
};

}  // namespace

WorkerPool::WorkerPool(int threads) : impl_(std::make_unique<Impl>()) {
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this] { impl_->io.run(); });
  }
}

WorkerPool::~WorkerPool() { stop(); }

std::unique_ptr<Strand> WorkerPool::make_strand() { return std::make_unique<AsioStrand>(*impl_); }

void WorkerPool::stop() {
  {
    detail::MutexLock lock(impl_->timers_mu);
    impl_->stopping = true;
    for (const auto& t : impl_->timers) t->cancel();
  }
  impl_->work.reset();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

}  // namespace cserve
