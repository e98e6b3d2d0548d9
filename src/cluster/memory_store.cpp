#include "cluster/memory_store.hpp"

#include <algorithm>

namespace cserve::cluster {

std::string prefix_end(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

namespace {

bool under(const std::string& key, const std::string& prefix) { return key.compare(0, prefix.size(), prefix) == 0; }

template <class T>
bool compare(const T& have, const T& want, Compare::Result r) {
  switch (r) {
    case Compare::Result::kEqual: return have == want;
    case Compare::Result::kNotEqual: return have != want;
    case Compare::Result::kGreater: return have > want;
    case Compare::Result::kLess: return have < want;
  }
  return false;
}

}  // namespace

struct MemoryStore::Watcher {
  std::string prefix;
  WatchCallback callback;
  detail::Mutex deliver_mu;  // held while its callback runs; the watch's destructor waits on it
  bool alive CSERVE_GUARDED_BY(deliver_mu) = true;
};

class MemoryStore::MemoryWatch final : public Watch {
 public:
  MemoryWatch(MemoryStore& store, std::uint64_t id, std::shared_ptr<Watcher> w)
      : store_(store), id_(id), watcher_(std::move(w)) {}
  ~MemoryWatch() override {
    {
      detail::MutexLock lock(watcher_->deliver_mu);
      watcher_->alive = false;
    }
    detail::MutexLock lock(store_.mu_);
    store_.watchers_.erase(id_);
  }

 private:
  MemoryStore& store_;
  const std::uint64_t id_;
  const std::shared_ptr<Watcher> watcher_;
};

MemoryStore::MemoryStore(const Clock& clock) : clock_(clock) { delivery_ = std::thread([this] { deliver_loop(); }); }

MemoryStore::~MemoryStore() {
  {
    detail::MutexLock lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  delivery_.join();
}

void MemoryStore::deliver_loop() {
  for (;;) {
    std::pair<std::shared_ptr<Watcher>, WatchUpdate> next;
    {
      detail::MutexLock lock(mu_);
      wake_.wait_for(mu_, std::chrono::milliseconds(50), [this] {
        mu_.assert_held();
        return stopping_ || !outbox_.empty();
      });
      if (stopping_) return;
      expire_locked();
      if (outbox_.empty()) continue;
      next = std::move(outbox_.front());
      outbox_.pop_front();
    }
    detail::MutexLock lock(next.first->deliver_mu);
    if (next.first->alive) next.first->callback(std::move(next.second));
  }
}

void MemoryStore::publish_locked(std::vector<Event> events) {
  if (events.empty()) return;
  history_.insert(history_.end(), events.begin(), events.end());
  for (auto& [id, w] : watchers_) {
    WatchUpdate u;
    for (const auto& e : events) {
      if (under(e.kv.key, w->prefix)) u.events.push_back(e);
    }
    if (!u.events.empty()) outbox_.emplace_back(w, std::move(u));
  }
  wake_.notify_all();
}

void MemoryStore::expire_locked() {
  const TimePoint now = clock_.now();
  std::vector<LeaseId> expired;
  for (const auto& [id, lease] : leases_) {
    if (lease.expires <= now) expired.push_back(id);
  }
  for (LeaseId id : expired) revoke_locked(id);
}

void MemoryStore::expire_leases() {
  detail::MutexLock lock(mu_);
  expire_locked();
}

void MemoryStore::revoke_locked(LeaseId id) {
  auto it = leases_.find(id);
  if (it == leases_.end()) return;
  const std::set<std::string> keys = std::move(it->second.keys);
  leases_.erase(it);
  if (keys.empty()) return;
  ++revision_;
  std::vector<Event> events;
  for (const auto& k : keys) erase_locked(k, events);
  publish_locked(std::move(events));
}

void MemoryStore::put_locked(const std::string& key, const std::string& value, LeaseId lease, std::vector<Event>& out) {
  KeyValue& kv = kvs_[key];
  if (kv.create_revision == 0) {
    kv.key = key;
    kv.create_revision = revision_;
    kv.version = 0;
  }
  if (kv.lease != 0 && kv.lease != lease) {
    if (auto l = leases_.find(kv.lease); l != leases_.end()) l->second.keys.erase(key);
  }
  kv.value = value;
  kv.mod_revision = revision_;
  ++kv.version;
  kv.lease = lease;
  if (lease != 0) leases_.at(lease).keys.insert(key);
  out.push_back({Event::Type::kPut, kv});
}

void MemoryStore::erase_locked(const std::string& key, std::vector<Event>& out) {
  auto it = kvs_.find(key);
  if (it == kvs_.end()) return;
  if (it->second.lease != 0) {
    if (auto l = leases_.find(it->second.lease); l != leases_.end()) l->second.keys.erase(key);
  }
  KeyValue gone;
  gone.key = key;
  gone.mod_revision = revision_;
  out.push_back({Event::Type::kDelete, std::move(gone)});
  kvs_.erase(it);
}

// Checks every op before any applies (an unknown lease, a key changed twice), so that a refused
// transaction changes nothing.
void MemoryStore::apply_locked(const std::vector<Op>& ops) {
  std::set<std::string> touched;
  for (const Op& op : ops) {
    if (op.kind == Op::Kind::kPut && op.lease != 0 && !leases_.count(op.lease)) {
      throw StoreError(StoreError::Kind::kNoLease, "requested lease not found");
    }
    if (op.kind != Op::Kind::kDeletePrefix && !touched.insert(op.key).second) {
      throw StoreError(StoreError::Kind::kRejected, "duplicate key given in txn request");
    }
  }
  std::vector<Event> events;
  ++revision_;
  for (const Op& op : ops) {
    switch (op.kind) {
      case Op::Kind::kPut: put_locked(op.key, op.value, op.lease, events); break;
      case Op::Kind::kDelete: erase_locked(op.key, events); break;
      case Op::Kind::kDeletePrefix: {
        std::vector<std::string> keys;
        for (auto it = kvs_.lower_bound(op.key); it != kvs_.end() && under(it->first, op.key); ++it) {
          keys.push_back(it->first);
        }
        for (const auto& k : keys) erase_locked(k, events);
        break;
      }
    }
  }
  if (events.empty()) {
    --revision_;  // nothing changed: no new revision (as etcd)
    return;
  }
  publish_locked(std::move(events));
}

Range MemoryStore::get(const std::string& key) {
  detail::MutexLock lock(mu_);
  expire_locked();
  Range r{{}, revision_};
  if (auto it = kvs_.find(key); it != kvs_.end()) r.kvs.push_back(it->second);
  return r;
}

Range MemoryStore::get_prefix(const std::string& prefix) {
  detail::MutexLock lock(mu_);
  expire_locked();
  Range r{{}, revision_};
  for (auto it = kvs_.lower_bound(prefix); it != kvs_.end() && under(it->first, prefix); ++it) r.kvs.push_back(it->second);
  return r;
}

Revision MemoryStore::put(const std::string& key, const std::string& value, LeaseId lease) {
  detail::MutexLock lock(mu_);
  expire_locked();
  apply_locked({Op::put(key, value, lease)});
  return revision_;
}

std::int64_t MemoryStore::erase(const std::string& key) {
  detail::MutexLock lock(mu_);
  expire_locked();
  const std::int64_t had = kvs_.count(key) ? 1 : 0;
  apply_locked({Op::erase(key)});
  return had;
}

std::int64_t MemoryStore::erase_prefix(const std::string& prefix) {
  detail::MutexLock lock(mu_);
  expire_locked();
  std::int64_t n = 0;
  for (auto it = kvs_.lower_bound(prefix); it != kvs_.end() && under(it->first, prefix); ++it) ++n;
  apply_locked({Op::erase_prefix(prefix)});
  return n;
}

bool MemoryStore::holds_locked(const Compare& c) const {
  auto it = kvs_.find(c.key);
  const KeyValue none;
  const KeyValue& kv = it == kvs_.end() ? none : it->second;
  switch (c.target) {
    case Compare::Target::kVersion: return compare(kv.version, c.number, c.result);
    case Compare::Target::kCreateRevision: return compare(kv.create_revision, c.number, c.result);
    case Compare::Target::kModRevision: return compare(kv.mod_revision, c.number, c.result);
    case Compare::Target::kValue:
      // etcd: a value comparison with a missing key is false, whatever the operator.
      return it != kvs_.end() && compare(kv.value, c.value, c.result);
  }
  return false;
}

TxnResult MemoryStore::txn(const std::vector<Compare>& when, const std::vector<Op>& then, const std::vector<Op>& otherwise) {
  detail::MutexLock lock(mu_);
  expire_locked();
  const bool ok = std::all_of(when.begin(), when.end(), [&](const Compare& c) {
    mu_.assert_held();
    return holds_locked(c);
  });
  apply_locked(ok ? then : otherwise);
  return {ok, revision_};
}

void MemoryStore::compact(Revision revision) {
  detail::MutexLock lock(mu_);
  if (revision <= compacted_) {
    throw StoreError(StoreError::Kind::kCompacted, "mvcc: required revision has been compacted");
  }
  if (revision > revision_) throw StoreError(StoreError::Kind::kRejected, "mvcc: required revision is a future revision");
  compacted_ = revision;
  history_.erase(std::remove_if(history_.begin(), history_.end(),
                                [&](const Event& e) { return e.kv.mod_revision < revision; }),
                 history_.end());
}

LeaseId MemoryStore::grant_lease(std::chrono::seconds ttl) {
  if (ttl.count() < 1) throw StoreError(StoreError::Kind::kRejected, "a lease's TTL is at least 1 s");
  detail::MutexLock lock(mu_);
  const LeaseId id = next_lease_++;
  leases_[id] = Lease{ttl, clock_.now() + ttl, {}};
  return id;
}

void MemoryStore::revoke_lease(LeaseId id) {
  detail::MutexLock lock(mu_);
  expire_locked();
  if (!leases_.count(id)) throw StoreError(StoreError::Kind::kNoLease, "requested lease not found");
  revoke_locked(id);
}

std::int64_t MemoryStore::keep_alive(LeaseId id) {
  detail::MutexLock lock(mu_);
  expire_locked();
  auto it = leases_.find(id);
  if (it == leases_.end()) return 0;
  it->second.expires = clock_.now() + it->second.ttl;
  return it->second.ttl.count();
}

std::unique_ptr<Watch> MemoryStore::watch_prefix(const std::string& prefix, Revision from, WatchCallback callback) {
  auto w = std::make_shared<Watcher>();
  w->prefix = prefix;
  w->callback = std::move(callback);
  detail::MutexLock lock(mu_);
  const std::uint64_t id = next_watcher_++;
  if (from > 0 && from < compacted_) {  // as etcd: the compact revision itself is still there
    WatchUpdate end;
    end.ended = StoreError::Kind::kCompacted;
    end.why = "required revision " + std::to_string(from) + " has been compacted (compacted up to " +
              std::to_string(compacted_) + ")";
    outbox_.emplace_back(w, std::move(end));
    wake_.notify_all();
    return std::make_unique<MemoryWatch>(*this, id, w);  // not registered: it has ended
  }
  if (from > 0) {
    WatchUpdate past;
    for (const auto& e : history_) {
      if (e.kv.mod_revision >= from && under(e.kv.key, prefix)) past.events.push_back(e);
    }
    if (!past.events.empty()) {
      outbox_.emplace_back(w, std::move(past));
      wake_.notify_all();
    }
  }
  watchers_[id] = w;
  return std::make_unique<MemoryWatch>(*this, id, w);
}

}  // namespace cserve::cluster
