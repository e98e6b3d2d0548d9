// The Store contract, checked the same way against MemoryStore and a real etcd (Debian's
// etcd-server, started by the test on a loopback port): revisions, transactions as fences,
// leases, watches in order, from the past, and after compaction.
#include "cluster/backends.hpp"

#include "support/wait.hpp"

#include <gtest/gtest.h>

#include <mutex>

namespace cserve::cluster {
namespace {

using namespace std::chrono_literals;
using namespace test_support;

template <class B>
class StoreContract : public ::testing::Test {
 protected:
  void SetUp() override { backend_ = B::make(); }
  Store& store() { return *backend_.store; }
  Backend backend_;
};

TYPED_TEST_SUITE(StoreContract, Backends, BackendNames);

TYPED_TEST(StoreContract, PutsGetsAndDeletesCarryRevisions) {
  Store& s = this->store();
  const Revision r1 = s.put("nodes/a", "1");
  Range got = s.get("nodes/a");
  ASSERT_EQ(got.kvs.size(), 1u);
  EXPECT_EQ(got.kvs[0].value, "1");
  EXPECT_EQ(got.kvs[0].create_revision, r1);
  EXPECT_EQ(got.kvs[0].mod_revision, r1);
  EXPECT_EQ(got.kvs[0].version, 1);
  EXPECT_EQ(got.revision, r1);
  const Revision r2 = s.put("nodes/a", "2");
  EXPECT_GT(r2, r1);
  got = s.get("nodes/a");
  EXPECT_EQ(got.kvs[0].create_revision, r1);
  EXPECT_EQ(got.kvs[0].mod_revision, r2);
  EXPECT_EQ(got.kvs[0].version, 2);
  s.put("nodes/b", "x");
  s.put("nodesX", "outside the prefix");
  Range all = s.get_prefix("nodes/");
  ASSERT_EQ(all.kvs.size(), 2u);
  EXPECT_EQ(all.kvs[0].key, "nodes/a");
  EXPECT_EQ(all.kvs[1].key, "nodes/b");
  EXPECT_TRUE(s.get("missing").kvs.empty());
  EXPECT_EQ(s.erase("nodes/a"), 1);
  EXPECT_EQ(s.erase("nodes/a"), 0);
  EXPECT_EQ(s.erase_prefix("nodes/"), 1);
  EXPECT_TRUE(s.get_prefix("nodes/").kvs.empty());
  EXPECT_EQ(s.get("nodesX").kvs.size(), 1u);
}

TYPED_TEST(StoreContract, TransactionsAreCompareAndSetAndFenceStaleWriters) {
  Store& s = this->store();
  // Create-if-missing: the first wins, the second runs its `otherwise`.
  TxnResult first = s.txn({Compare::missing("leader")}, {Op::put("leader", "node-1")}, {});
  EXPECT_TRUE(first.succeeded);
  TxnResult second = s.txn({Compare::missing("leader")}, {Op::put("leader", "node-2")}, {Op::put("lost/node-2", "1")});
  EXPECT_FALSE(second.succeeded);
  EXPECT_EQ(s.get("leader").kvs[0].value, "node-1");
  EXPECT_EQ(s.get("lost/node-2").kvs.size(), 1u);
  // A write fenced on the leader key's revision succeeds while the key is unchanged ...
  const Revision term = s.get("leader").kvs[0].mod_revision;
  EXPECT_TRUE(s.txn({Compare::mod_revision_is("leader", term)}, {Op::put("apps/a", "v1")}).succeeded);
  // ... and is refused once another leader rewrote it, changing nothing.
  s.put("leader", "node-3");
  EXPECT_FALSE(s.txn({Compare::mod_revision_is("leader", term)}, {Op::put("apps/a", "stale")}).succeeded);
  EXPECT_EQ(s.get("apps/a").kvs[0].value, "v1");
  // Several ops at one revision; a value comparison.
  TxnResult both = s.txn({Compare::value_is("leader", "node-3")}, {Op::put("x/1", "a"), Op::put("x/2", "b"), Op::erase("apps/a")});
  EXPECT_TRUE(both.succeeded);
  EXPECT_EQ(s.get("x/1").kvs[0].mod_revision, s.get("x/2").kvs[0].mod_revision);
  EXPECT_TRUE(s.get("apps/a").kvs.empty());
  EXPECT_FALSE(s.txn({Compare::value_is("nothing-here", "")}, {Op::put("y", "1")}).succeeded)
      << "a value comparison on a missing key does not hold";
  try {
    s.txn({}, {Op::put("dup", "1"), Op::put("dup", "2")});
    ADD_FAILURE() << "a transaction that writes a key twice was accepted";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), StoreError::Kind::kRejected);
    EXPECT_NE(std::string(e.what()).find("duplicate key"), std::string::npos) << e.what();
  }
}

TYPED_TEST(StoreContract, KeysWithALeaseGoWithIt) {
  Store& s = this->store();
  const LeaseId lease = s.grant_lease(5s);
  s.put("replicas/r1", "a", lease);
  s.put("replicas/r2", "b", lease);
  s.put("apps/keep", "c");
  EXPECT_GT(s.keep_alive(lease), 0);
  EXPECT_EQ(s.get("replicas/r1").kvs[0].lease, lease);
  s.revoke_lease(lease);
  EXPECT_TRUE(s.get_prefix("replicas/").kvs.empty());
  EXPECT_EQ(s.get("apps/keep").kvs.size(), 1u);
  EXPECT_EQ(s.keep_alive(lease), 0) << "a revoked lease cannot be renewed";
  try {
    s.put("replicas/r3", "x", lease);
    ADD_FAILURE() << "a put with a revoked lease was accepted";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), StoreError::Kind::kNoLease) << e.what();
  }
}

TYPED_TEST(StoreContract, ALeaseThatIsNotRenewedExpires) {
  Store& s = this->store();
  const LeaseId lease = s.grant_lease(2s);
  s.put("nodes/n1", "up", lease);
  EXPECT_TRUE(test::wait_until([&] { return s.get("nodes/n1").kvs.empty(); }, 10s)) << "the key outlived its lease";
  EXPECT_EQ(s.keep_alive(lease), 0);
}

TYPED_TEST(StoreContract, WatchesDeliverEveryChangeInOrderFromTheRevisionAsked) {
  Store& s = this->store();
  s.put("w/0", "before");
  const Revision after_read = s.get_prefix("w/").revision;
  Seen seen;
  auto watch = s.watch_prefix("w/", after_read + 1, seen.callback());
  s.put("w/1", "a");
  s.put("elsewhere", "not watched");
  s.put("w/1", "b");
  s.erase("w/1");
  s.txn({}, {Op::put("w/2", "x"), Op::put("w/3", "y")});
  ASSERT_TRUE(test::wait_until([&] { return seen.count() >= 5; }, 10s)) << seen.count();
  auto events = seen.all();
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0].kv.value, "a");
  EXPECT_EQ(events[1].kv.value, "b");
  EXPECT_EQ(events[2].type, Event::Type::kDelete);
  EXPECT_EQ(events[2].kv.key, "w/1");
  EXPECT_EQ(events[3].kv.key, "w/2");
  EXPECT_EQ(events[3].kv.mod_revision, events[4].kv.mod_revision) << "one transaction, one revision";
  for (std::size_t i = 1; i < events.size(); ++i) EXPECT_GE(events[i].kv.mod_revision, events[i - 1].kv.mod_revision);

  // A watch from a past revision replays what happened since.
  Seen replay;
  auto again = s.watch_prefix("w/", after_read + 1, replay.callback());
  ASSERT_TRUE(test::wait_until([&] { return replay.count() >= 5; }, 10s)) << replay.count();
  EXPECT_EQ(replay.all()[0].kv.value, "a");

  // Cancelled: nothing more arrives.
  watch.reset();
  s.put("w/4", "after the cancel");
  ASSERT_TRUE(test::wait_until([&] { return replay.count() >= 6; }, 10s));
  EXPECT_EQ(seen.count(), 5u);
}

TYPED_TEST(StoreContract, AWatchFromACompactedRevisionEndsAndSaysSo) {
  Store& s = this->store();
  const Revision early = s.put("c/1", "a");
  s.put("c/1", "b");
  const Revision late = s.put("c/1", "c");
  s.compact(late);
  Seen seen;
  auto watch = s.watch_prefix("c/", early, seen.callback());
  ASSERT_TRUE(test::wait_until([&] { return seen.has_ended(); }, 10s));
  EXPECT_EQ(*seen.ended, StoreError::Kind::kCompacted);
  EXPECT_NE(seen.why.find("compacted"), std::string::npos) << seen.why;
  // The compact revision itself is kept: a watch from there starts with its event.
  Seen at_compaction;
  auto from_late = s.watch_prefix("c/", late, at_compaction.callback());
  ASSERT_TRUE(test::wait_until([&] { return at_compaction.count() == 1; }, 10s));
  EXPECT_EQ(at_compaction.all()[0].kv.value, "c");
  EXPECT_FALSE(at_compaction.has_ended());
  // What a watcher does then: read again, and watch from after the read.
  Range now = s.get_prefix("c/");
  EXPECT_EQ(now.kvs[0].value, "c");
  Seen fresh;
  auto rewatch = s.watch_prefix("c/", now.revision + 1, fresh.callback());
  s.put("c/1", "d");
  ASSERT_TRUE(test::wait_until([&] { return fresh.count() == 1; }, 10s));
  EXPECT_EQ(fresh.all()[0].kv.value, "d");
}

TEST(MemoryStore, LeasesExpireByItsClock) {
  ManualClock clock;
  MemoryStore s(clock);
  const LeaseId lease = s.grant_lease(10s);
  s.put("k", "v", lease);
  clock.advance(9s);
  EXPECT_EQ(s.keep_alive(lease), 10);
  clock.advance(9s);
  s.expire_leases();
  EXPECT_EQ(s.get("k").kvs.size(), 1u) << "renewed 9 s ago: still alive";
  clock.advance(2s);
  s.expire_leases();
  EXPECT_TRUE(s.get("k").kvs.empty());
}

TEST(EtcdStore, AnUnreachableEtcdIsAnUnavailableErrorNamingIt) {
  const int port = test::free_port();
  EtcdStore s(EtcdOptions{{"http://127.0.0.1:" + std::to_string(port)}, 500ms});
  try {
    s.get("anything");
    ADD_FAILURE() << "a get with no etcd answered";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), StoreError::Kind::kUnavailable);
    EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
    EXPECT_NE(std::string(e.what()).find("etcd range"), std::string::npos) << e.what();
  }
}

TEST(EtcdStore, EndpointsAreCheckedAndBecomeOneChannelTarget) {
  EXPECT_EQ(parse_etcd_endpoints("http://127.0.0.1:2379,127.0.0.2:2379").size(), 2u);
  EXPECT_EQ(EtcdStore(EtcdOptions{{"http://127.0.0.1:2379", "127.0.0.2:2379/"}}).target(),
            "ipv4:127.0.0.1:2379,127.0.0.2:2379");
  EXPECT_EQ(EtcdStore(EtcdOptions{{"http://etcd.local:2379"}}).target(), "dns:///etcd.local:2379");
  EXPECT_THROW(parse_etcd_endpoints(""), ConfigError);
  EXPECT_THROW(parse_etcd_endpoints("http://127.0.0.1"), ConfigError);
  EXPECT_THROW(parse_etcd_endpoints("https://127.0.0.1:2379"), ConfigError);
  EXPECT_THROW(EtcdStore(EtcdOptions{{"a.example:1", "b.example:2"}}), ConfigError);
}

TEST(EtcdStore, CallsWaitOutAPausedEtcdOrFailWithinTheirDeadline) {
  test::EtcdServer etcd;
  EtcdStore s(EtcdOptions{{etcd.endpoint()}, 1000ms});
  s.put("k", "v");
  etcd.pause();
  try {
    s.get("k");
    ADD_FAILURE() << "a stopped etcd answered";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), StoreError::Kind::kUnavailable) << e.what();
  }
  etcd.resume();
  EXPECT_TRUE(test::wait_until([&] {
    try {
      return s.get("k").kvs.size() == 1;
    } catch (const StoreError&) {
      return false;
    }
  }, 10s));
}

TEST(Keys, PrefixEndIsTheFirstKeyPastThePrefix) {
  EXPECT_EQ(prefix_end("a"), "b");
  EXPECT_EQ(prefix_end("nodes/"), "nodes0");
  EXPECT_EQ(prefix_end(std::string("a\xff", 2)), "b");
  EXPECT_EQ(prefix_end(""), std::string(1, '\0'));
}

}  // namespace
}  // namespace cserve::cluster
