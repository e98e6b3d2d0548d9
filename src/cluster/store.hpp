// store.hpp — the cluster's shared state behind one interface: a key-value store with revisions,
// leases, transactions and watches, as etcd v3 offers them (docs/cluster.md). EtcdStore speaks
// to a real etcd over gRPC; MemoryStore keeps the same contract in memory, for embedded mode and
// unit tests. Code above this interface (node agents, controller election) never sees which.
//
// Revisions: every change of the store gets the next revision; a read says the revision it saw,
// and a watch started at that revision + 1 misses nothing. Leases: keys put with a lease vanish
// together when it expires or is revoked. Transactions: compare-and-set on keys' revisions or
// values — what fences a deposed leader's writes.
// Thread-safety: every member function may be called from any thread.
#pragma once

#include <cserve/error.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cserve::cluster {

using Revision = std::int64_t;
using LeaseId = std::int64_t;

// Why a store operation failed: the store is unreachable, or refused the request.
class StoreError : public Error {
 public:
  enum class Kind {
    kUnavailable,   // no store member answered in time
    kCompacted,     // the revision asked for was compacted away: read again, watch from there
    kNoLease,       // the lease does not exist (expired or revoked)
    kRejected,      // the store refused the request (the message says why)
  };
  StoreError(Kind kind, const std::string& message)
      : Error(message, kind == Kind::kUnavailable ? ErrorCode::kUnavailable : ErrorCode::kInvalidArgument),
        kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

struct KeyValue {
  std::string key;
  std::string value;
  Revision create_revision = 0;
  Revision mod_revision = 0;
  std::int64_t version = 0;  // puts since the key was created
  LeaseId lease = 0;
};

struct Range {
  std::vector<KeyValue> kvs;  // in key order
  Revision revision = 0;      // the store's revision when read
};

struct Event {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  KeyValue kv;  // a delete carries the key and, as mod_revision, the revision of the delete
};

// A condition on one key; a transaction's `then` ops run when all of its conditions hold.
struct Compare {
  enum class Target { kVersion, kCreateRevision, kModRevision, kValue };
  enum class Result { kEqual, kNotEqual, kGreater, kLess };
  std::string key;
  Target target = Target::kModRevision;
  Result result = Result::kEqual;
  std::int64_t number = 0;  // the version or revision compared with
  std::string value;        // for kValue

  static Compare mod_revision_is(std::string key, Revision r) {
    return {std::move(key), Target::kModRevision, Result::kEqual, r, {}};
  }
  static Compare create_revision_is(std::string key, Revision r) {
    return {std::move(key), Target::kCreateRevision, Result::kEqual, r, {}};
  }
  static Compare missing(std::string key) { return create_revision_is(std::move(key), 0); }
  static Compare value_is(std::string key, std::string value) {
    return {std::move(key), Target::kValue, Result::kEqual, 0, std::move(value)};
  }
};

struct Op {
  enum class Kind { kPut, kDelete, kDeletePrefix };
  Kind kind = Kind::kPut;
  std::string key;
  std::string value;
  LeaseId lease = 0;

  static Op put(std::string key, std::string value, LeaseId lease = 0) {
    return {Kind::kPut, std::move(key), std::move(value), lease};
  }
  static Op erase(std::string key) { return {Kind::kDelete, std::move(key), {}, 0}; }
  static Op erase_prefix(std::string prefix) { return {Kind::kDeletePrefix, std::move(prefix), {}, 0}; }
};

struct TxnResult {
  bool succeeded = false;  // the conditions held and `then` ran (else `otherwise` ran)
  Revision revision = 0;   // the store's revision after the transaction
};

// What a watch delivers: events in revision order (those of one transaction together), or its
// end: kCompacted (its start revision is gone: read again and watch from the read's revision + 1)
// or kUnavailable (the store went away; the watch does not resume by itself).
struct WatchUpdate {
  std::vector<Event> events;
  std::optional<StoreError::Kind> ended;
  std::string why;  // when ended
};

// A running watch; destroying it cancels it (no callback runs after the destructor returns).
class Watch {
 public:
  virtual ~Watch() = default;
};

class Store {
 public:
  using WatchCallback = std::function<void(WatchUpdate)>;

  virtual ~Store() = default;

  virtual Range get(const std::string& key) = 0;
  virtual Range get_prefix(const std::string& prefix) = 0;
  // Returns the revision of the put. Throws StoreError kNoLease for an unknown lease.
  virtual Revision put(const std::string& key, const std::string& value, LeaseId lease = 0) = 0;
  // Returns how many keys went.
  virtual std::int64_t erase(const std::string& key) = 0;
  virtual std::int64_t erase_prefix(const std::string& prefix) = 0;
  virtual TxnResult txn(const std::vector<Compare>& when, const std::vector<Op>& then,
                        const std::vector<Op>& otherwise = {}) = 0;
  // Drops the history before `revision` (watches from before it end with kCompacted).
  virtual void compact(Revision revision) = 0;

  // A lease that expires `ttl` after its last renewal.
  virtual LeaseId grant_lease(std::chrono::seconds ttl) = 0;
  virtual void revoke_lease(LeaseId id) = 0;
  // Renews the lease: its TTL in seconds, or 0 when it no longer exists.
  virtual std::int64_t keep_alive(LeaseId id) = 0;

  // Events for keys under `prefix` from revision `from` on (inclusive). The callback runs on a
  // thread of the store's (MemoryStore: the writer's), one update at a time, and must not destroy
  // the watch.
  virtual std::unique_ptr<Watch> watch_prefix(const std::string& prefix, Revision from, WatchCallback callback) = 0;
};

// The end of the range of keys that start with `prefix` (etcd's range_end): the prefix with its
// last byte below 0xff raised by one; "\0" (every key) for an empty or all-0xff prefix.
std::string prefix_end(const std::string& prefix);

}  // namespace cserve::cluster
