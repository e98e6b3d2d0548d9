#include "cluster/lease_keeper.hpp"

namespace cserve::cluster {

LeaseKeeper::LeaseKeeper(Store& store, LeaseId lease, std::chrono::seconds ttl,
                         std::function<void(const std::string&)> lost)
    : store_(store), lease_(lease), ttl_(ttl), lost_(std::move(lost)) {
  thread_ = std::thread([this] { run(); });
}

LeaseKeeper::~LeaseKeeper() {
  {
    detail::MutexLock lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  thread_.join();
}

void LeaseKeeper::run() {
  const auto period = std::chrono::duration_cast<std::chrono::milliseconds>(ttl_) / 3;
  auto last_renewal = std::chrono::steady_clock::now();
  std::string why;
  for (;;) {
    {
      detail::MutexLock lock(mu_);
      if (stop_cv_.wait_for(mu_, period, [this] {
            mu_.assert_held();
            return stopping_;
          })) {
        return;
      }
    }
    try {
      if (store_.keep_alive(lease_) > 0) {
        last_renewal = std::chrono::steady_clock::now();
        continue;
      }
      why = "the store says lease " + std::to_string(lease_) + " is gone (expired or revoked)";
    } catch (const StoreError& e) {
      if (std::chrono::steady_clock::now() - last_renewal < ttl_) continue;  // retry until a TTL has passed
      why = "no renewal of lease " + std::to_string(lease_) + " for " + std::to_string(ttl_.count()) +
            " s (its TTL): " + e.what();
    }
    alive_.store(false, std::memory_order_release);
    lost_(why);
    return;
  }
}

}  // namespace cserve::cluster
