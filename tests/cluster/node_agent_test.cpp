// A node's membership, against MemoryStore and a real etcd: the prefix mirror (watch from the
// read's revision + 1; read again when that revision was compacted away), node records, and the
// node agent — registration under a lease, heartbeats carrying usage, one name per live node,
// one controller leader and the lead passing on, a lost lease reported and registered again.
#include "cluster/backends.hpp"
#include "cluster/node_agent.hpp"
#include "cluster/prefix_mirror.hpp"

#include "support/wait.hpp"

#include <cserve/json.hpp>

#include <gtest/gtest.h>

#include <atomic>

namespace cserve::cluster {
namespace {

using namespace std::chrono_literals;
using namespace test_support;

TEST(NodeRecord, RoundTripsThroughItsJson) {
  NodeRecord r{"node-1", "127.0.0.2", 8000, 8265, 41234, 42, {{"CPU", 2}, {"GPU", 1}, {"tpu", 4}}, {{"CPU", 1.5}}, 3,
               {{"counter", {{"Counter", 2}, {"Idle", 0}}}}, {{"counter", {{"Counter", 7.5}}}}, 1000, 2000};
  const NodeRecord back = decode_node(encode(r));
  EXPECT_EQ(back.id, "node-1");
  EXPECT_EQ(back.ip, "127.0.0.2");
  EXPECT_EQ(back.http_port, 8000);
  EXPECT_EQ(back.admin_port, 8265);
  EXPECT_EQ(back.pid, 42);
  EXPECT_EQ(back.resources, r.resources);
  EXPECT_EQ(back.available, r.available);
  EXPECT_EQ(back.replicas, 3);
  EXPECT_EQ(back.peer_port, 41234);
  EXPECT_EQ(back.serving, r.serving);
  EXPECT_EQ(back.load, r.load);
  EXPECT_EQ(back.heartbeat_ms, 2000);
  // A record without what it serves (a node that takes no calls from others) reads as serving nothing.
  Json old = Json::parse(encode(r));
  old.erase("peer_port");
  old.erase("serving");
  old.erase("load");
  const NodeRecord plain = decode_node(old.dump());
  EXPECT_EQ(plain.peer_port, 0);
  EXPECT_TRUE(plain.serving.empty());
  EXPECT_TRUE(plain.load.empty());
}

TEST(NodeRecord, ANonRecordIsRefusedWithWhatIsWrong) {
  try {
    decode_node(R"({"id": "n"})");
    FAIL() << "decoded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a node record"), std::string::npos) << e.what();
  }
  EXPECT_THROW(decode_node("not json"), Error);
}

TEST(NodeRecord, NodeNamesAreKeySafe) {
  EXPECT_FALSE(invalid_node_id("node-1.rack_2"));
  EXPECT_TRUE(invalid_node_id(""));
  EXPECT_TRUE(invalid_node_id("a/b"));
  EXPECT_TRUE(invalid_node_id("has space"));
  EXPECT_TRUE(invalid_node_id(std::string(64, 'a')));
}

// A store whose first prefix read is overtaken before its watch starts: one more key is written
// and the history compacted past the read, as happens when a reader is slow and etcd compacts.
class CompactingStore final : public Store {
 public:
  explicit CompactingStore(Store& inner) : inner_(inner) {}
  Range get(const std::string& key) override { return inner_.get(key); }
  Range get_prefix(const std::string& prefix) override {
    Range r = inner_.get_prefix(prefix);
    if (!overtaken_.exchange(true)) {
      inner_.put(prefix + "late", "written after the read");
      inner_.compact(inner_.put(prefix + "late", "and changed"));  // the read's revision + 1 is gone
    }
    return r;
  }
  Revision put(const std::string& k, const std::string& v, LeaseId l = 0) override { return inner_.put(k, v, l); }
  std::int64_t erase(const std::string& k) override { return inner_.erase(k); }
  std::int64_t erase_prefix(const std::string& p) override { return inner_.erase_prefix(p); }
  TxnResult txn(const std::vector<Compare>& w, const std::vector<Op>& t, const std::vector<Op>& o = {}) override {
    return inner_.txn(w, t, o);
  }
  void compact(Revision r) override { inner_.compact(r); }
  LeaseId grant_lease(std::chrono::seconds ttl) override { return inner_.grant_lease(ttl); }
  void revoke_lease(LeaseId id) override { inner_.revoke_lease(id); }
  std::int64_t keep_alive(LeaseId id) override { return inner_.keep_alive(id); }
  std::unique_ptr<Watch> watch_prefix(const std::string& p, Revision from, WatchCallback cb) override {
    return inner_.watch_prefix(p, from, std::move(cb));
  }

 private:
  Store& inner_;
  std::atomic<bool> overtaken_{false};
};

template <class B>
class Membership : public ::testing::Test {
 protected:
  void SetUp() override { backend_ = B::make(); }
  Store& store() { return *backend_.store; }

  static NodeAgentOptions node(const std::string& id, std::function<NodeUsage()> usage = {}) {
    NodeAgentOptions o;
    o.record.id = id;
    o.record.ip = "127.0.0.1";
    o.record.resources = {{"CPU", 2}, {"GPU", 0}};
    o.ttl = 2s;
    o.usage = std::move(usage);
    return o;
  }
  static bool lists(const NodeAgent& a, const std::vector<std::string>& ids) {
    std::vector<std::string> seen;
    for (const auto& n : a.nodes()) seen.push_back(n.id);
    return seen == ids;
  }

  Backend backend_;
};
TYPED_TEST_SUITE(Membership, Backends, BackendNames);

TYPED_TEST(Membership, AMirrorFollowsPutsAndDeletesUnderItsPrefix) {
  Store& s = this->store();
  s.put("nodes/a", "1");
  s.put("other/x", "not mirrored");
  std::atomic<int> changes{0};
  PrefixMirror m(s, "nodes/", [&](const PrefixMirror::Snapshot&) { ++changes; });
  ASSERT_TRUE(test::wait_until([&] { return m.synced(); }, 10s));
  EXPECT_EQ(m.snapshot().size(), 1u);
  s.put("nodes/b", "2");
  s.put("nodes/a", "3");
  s.erase("nodes/b");
  ASSERT_TRUE(test::wait_until([&] {
    auto snap = m.snapshot();
    return snap.size() == 1 && snap.count("nodes/a") && snap["nodes/a"].value == "3" && changes >= 4;
  }, 10s));
  EXPECT_EQ(m.reads(), 1);
  EXPECT_FALSE(m.problem());
}

TYPED_TEST(Membership, AMirrorWhoseWatchRevisionWasCompactedReadsAgainAndMissesNothing) {
  CompactingStore s(this->store());
  s.put("nodes/a", "1");
  PrefixMirror m(s, "nodes/", {}, 50ms);
  // The first read missed nodes/late and its revision is gone: the watch ends, the mirror reads again.
  ASSERT_TRUE(test::wait_until([&] { return m.synced() && m.snapshot().count("nodes/late") == 1; }, 10s));
  EXPECT_EQ(m.reads(), 2);
  s.put("nodes/c", "after");
  ASSERT_TRUE(test::wait_until([&] { return m.snapshot().count("nodes/c") == 1; }, 10s));
}

TYPED_TEST(Membership, NodesRegisterUnderTheirLeasesAndSeeEachOther) {
  Store& s = this->store();
  std::atomic<int> replicas{0};
  NodeAgent a(s, this->node("a", [&] { return NodeUsage{{{"CPU", 1}, {"GPU", 0}}, replicas.load()}; }));
  NodeAgent b(s, this->node("b"));
  NodeAgent c(s, this->node("c"));
  ASSERT_TRUE(a.wait_registered(10s));
  ASSERT_TRUE(b.wait_registered(10s));
  ASSERT_TRUE(c.wait_registered(10s));
  ASSERT_TRUE(test::wait_until([&] { return this->lists(b, {"a", "b", "c"}); }, 10s));
  Range r = s.get("nodes/a");
  ASSERT_EQ(r.kvs.size(), 1u);
  EXPECT_NE(r.kvs[0].lease, 0) << "a node's record lives under its lease";
  // Heartbeats carry what is free and how many replicas run; a node without usage offers everything.
  replicas = 3;
  ASSERT_TRUE(test::wait_until([&] {
    for (const auto& n : c.nodes()) {
      if (n.id == "a" && n.replicas == 3 && n.available.at("CPU") == 1) return true;
    }
    return false;
  }, 10s));
  for (const auto& n : a.nodes()) {
    if (n.id == "b") {
      EXPECT_EQ(n.available, n.resources);
    }
  }
  // A node that stops leaves at once (its lease revoked), not a TTL later.
  b.stop();
  EXPECT_EQ(b.state(), NodeAgent::State::kStopped);
  EXPECT_TRUE(s.get("nodes/b").kvs.empty());
  ASSERT_TRUE(test::wait_until([&] { return this->lists(a, {"a", "c"}); }, 10s));
}

TYPED_TEST(Membership, ANameHeldByALiveNodeIsNotTakenUntilThatNodeLeaves) {
  Store& s = this->store();
  auto first = std::make_unique<NodeAgent>(s, this->node("same"));
  ASSERT_TRUE(first->wait_registered(10s));
  auto options = this->node("same");
  options.record.ip = "127.0.0.9";
  NodeAgent second(s, options);
  EXPECT_FALSE(second.wait_registered(1500ms));
  ASSERT_TRUE(second.problem());
  EXPECT_NE(second.problem()->find("'same' is held by a live node (at 127.0.0.1"), std::string::npos)
      << *second.problem();
  first.reset();  // leaves: the name is free
  ASSERT_TRUE(second.wait_registered(10s)) << second.problem().value_or("");
  ASSERT_TRUE(test::wait_until([&] {
    auto nodes = second.nodes();
    return nodes.size() == 1 && nodes[0].ip == "127.0.0.9";
  }, 10s));
}

TYPED_TEST(Membership, OneNodeLeadsTheControllersAndTheLeadPassesOnWhenItLeaves) {
  Store& s = this->store();
  std::vector<std::unique_ptr<NodeAgent>> agents;
  for (const char* id : {"a", "b", "c"}) agents.push_back(std::make_unique<NodeAgent>(s, this->node(id)));
  auto leaders = [&] {
    int n = 0;
    for (const auto& a : agents) n += a && a->leading();
    return n;
  };
  ASSERT_TRUE(test::wait_until([&] { return leaders() == 1; }, 10s));
  std::string first;
  for (auto& a : agents) {
    if (a->leading()) {
      first = a->id();
      a.reset();
      break;
    }
  }
  // The others watch the election key: one of them leads well within the TTL, and each
  // survivor's view of the leader (its mirror of the key, which may lag the winner's own
  // state by a watch event) names the new one.
  auto everyone_sees_a_new_leader = [&] {
    for (const auto& a : agents) {
      if (a && a->leader().value_or(first) == first) return false;
    }
    return true;
  };
  ASSERT_TRUE(test::wait_until([&] { return leaders() == 1 && everyone_sees_a_new_leader(); }, 1500ms));
}

TYPED_TEST(Membership, ALostLeaseIsReportedAndTheNodeRegistersAgain) {
  Store& s = this->store();
  std::atomic<int> lost{0};
  auto options = this->node("a");
  options.on_lost = [&](const std::string&) { ++lost; };
  NodeAgent a(s, options);
  ASSERT_TRUE(a.wait_registered(10s));
  const LeaseId first = s.get("nodes/a").kvs.at(0).lease;
  s.revoke_lease(first);  // as if the node had been cut off past its TTL
  ASSERT_TRUE(test::wait_until([&] { return lost == 1; }, 10s));
  ASSERT_TRUE(test::wait_until([&] {
    Range r = s.get("nodes/a");
    return a.state() == NodeAgent::State::kRegistered && r.kvs.size() == 1 && r.kvs[0].lease != first;
  }, 10s));
  EXPECT_EQ(a.lease_losses(), 1);
  ASSERT_TRUE(test::wait_until([&] { return a.leading(); }, 10s)) << "it stands for leader again";
}

}  // namespace
}  // namespace cserve::cluster
