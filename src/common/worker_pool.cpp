#include "common/worker_pool.hpp"

#include "common/asio.hpp"

#include <optional>

namespace cserve {

struct WorkerPool::Impl {
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{io.get_executor()};
};

namespace {

class AsioStrand final : public Strand {
 public:
  explicit AsioStrand(asio::io_context& io) : strand_(asio::make_strand(io)) {}
  void post(UniqueFunction<void()> fn) override { asio::post(strand_, std::move(fn)); }
  void post_after(std::chrono::steady_clock::duration delay, UniqueFunction<void()> fn) override {
    auto timer = std::make_shared<asio::steady_timer>(strand_, delay);
    timer->async_wait([timer, fn = std::move(fn)](const boost::system::error_code&) mutable { fn(); });
  }

 private:
  asio::strand<asio::io_context::executor_type> strand_;
};

}  // namespace

WorkerPool::WorkerPool(int threads) : impl_(std::make_unique<Impl>()) {
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this] { impl_->io.run(); });
  }
}

WorkerPool::~WorkerPool() { stop(); }

std::unique_ptr<Strand> WorkerPool::make_strand() { return std::make_unique<AsioStrand>(impl_->io); }

void WorkerPool::post(UniqueFunction<void()> fn) { asio::post(impl_->io, std::move(fn)); }

void WorkerPool::stop() {
  impl_->work.reset();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

}  // namespace cserve
