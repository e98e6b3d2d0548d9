// lease_keeper.hpp — keeps a lease alive from a thread of its own: a renewal every third of the
// TTL; when the store says the lease is gone, or no renewal has succeeded for a whole TTL (the
// store unreachable: the lease has surely expired there), it calls `lost` once and stops. What
// the owner held under the lease (a node's registration, a leader's key) is gone then.
// Thread-safety: alive() from any thread; `lost` runs on the keeper's thread.
#pragma once

#include "cluster/store.hpp"

#include <cserve/detail/mutex.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

namespace cserve::cluster {

class LeaseKeeper {
 public:
  LeaseKeeper(Store& store, LeaseId lease, std::chrono::seconds ttl, std::function<void(const std::string& why)> lost);
  // Stops renewing (the lease then expires by itself unless revoked).
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  bool alive() const { return alive_.load(std::memory_order_acquire); }
  LeaseId lease() const { return lease_; }

 private:
  void run();

  Store& store_;
  const LeaseId lease_;
  const std::chrono::seconds ttl_;
  const std::function<void(const std::string&)> lost_;
  std::atomic<bool> alive_{true};
  detail::Mutex mu_;
  detail::CondVar stop_cv_;
  bool stopping_ CSERVE_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace cserve::cluster
