// memory_store.hpp — the Store contract in memory: one process's cluster state (embedded mode)
// and the store unit tests run against. Revisions, leases (expiring by a Clock), transactions,
// history for watches from a past revision, and compaction behave as etcd's do.
// Thread-safety: every member function may be called from any thread. Watch callbacks run on the
// store's own delivery thread, in revision order.
#pragma once

#include "cluster/store.hpp"
#include "common/clock.hpp"

#include <cserve/detail/mutex.hpp>

#include <deque>
#include <map>
#include <set>
#include <thread>

namespace cserve::cluster {

class MemoryStore final : public Store {
 public:
  // Leases expire by `clock` (which must outlive the store): checked at every operation and
  // every 50 ms of real time by the delivery thread.
  explicit MemoryStore(const Clock& clock);
  ~MemoryStore() override;

  Range get(const std::string& key) override;
  Range get_prefix(const std::string& prefix) override;
  Revision put(const std::string& key, const std::string& value, LeaseId lease = 0) override;
  std::int64_t erase(const std::string& key) override;
  std::int64_t erase_prefix(const std::string& prefix) override;
  TxnResult txn(const std::vector<Compare>& when, const std::vector<Op>& then,
                const std::vector<Op>& otherwise = {}) override;
  void compact(Revision revision) override;
  LeaseId grant_lease(std::chrono::seconds ttl) override;
  void revoke_lease(LeaseId id) override;
  std::int64_t keep_alive(LeaseId id) override;
  std::unique_ptr<Watch> watch_prefix(const std::string& prefix, Revision from, WatchCallback callback) override;

  // Expires the leases whose time has come now (tests with a ManualClock call it after advancing).
  void expire_leases() CSERVE_EXCLUDES(mu_);

 private:
  struct Lease {
    std::chrono::seconds ttl;
    TimePoint expires;
    std::set<std::string> keys;
  };
  struct Watcher;
  class MemoryWatch;

  // The changes of one revision, applied under mu_; their events are queued for the watchers.
  void apply_locked(const std::vector<Op>& ops) CSERVE_REQUIRES(mu_);
  void put_locked(const std::string& key, const std::string& value, LeaseId lease, std::vector<Event>& out)
      CSERVE_REQUIRES(mu_);
  void erase_locked(const std::string& key, std::vector<Event>& out) CSERVE_REQUIRES(mu_);
  void expire_locked() CSERVE_REQUIRES(mu_);
  void revoke_locked(LeaseId id) CSERVE_REQUIRES(mu_);
  bool holds_locked(const Compare& c) const CSERVE_REQUIRES(mu_);
  void publish_locked(std::vector<Event> events) CSERVE_REQUIRES(mu_);
  void deliver_loop();

  const Clock& clock_;
  mutable detail::Mutex mu_;
  Revision revision_ CSERVE_GUARDED_BY(mu_) = 1;  // an empty etcd is at revision 1
  Revision compacted_ CSERVE_GUARDED_BY(mu_) = 0;
  std::map<std::string, KeyValue> kvs_ CSERVE_GUARDED_BY(mu_);
  std::vector<Event> history_ CSERVE_GUARDED_BY(mu_);  // every event after compacted_
  std::map<LeaseId, Lease> leases_ CSERVE_GUARDED_BY(mu_);
  LeaseId next_lease_ CSERVE_GUARDED_BY(mu_) = 0x1000;
  std::map<std::uint64_t, std::shared_ptr<Watcher>> watchers_ CSERVE_GUARDED_BY(mu_);
  std::uint64_t next_watcher_ CSERVE_GUARDED_BY(mu_) = 1;
  // (watcher, update) pairs waiting for the delivery thread.
  std::deque<std::pair<std::shared_ptr<Watcher>, WatchUpdate>> outbox_ CSERVE_GUARDED_BY(mu_);
  bool stopping_ CSERVE_GUARDED_BY(mu_) = false;
  detail::CondVar wake_;
  std::thread delivery_;
};

}  // namespace cserve::cluster
