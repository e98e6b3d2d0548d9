// Leader election and fencing on the Store, against MemoryStore and a real etcd: one leader;
// a deposed leader's writes refused; the lead passing on when the leader's lease ends; a lease
// kept alive by its keeper, and lost when the store stops answering.
#include "cluster/backends.hpp"
#include "cluster/election.hpp"
#include "cluster/lease_keeper.hpp"

#include "support/wait.hpp"

#include <gtest/gtest.h>

#include <atomic>

namespace cserve::cluster {
namespace {

using namespace std::chrono_literals;
using namespace test_support;

template <class B>
class ElectionContract : public ::testing::Test {
 protected:
  void SetUp() override { backend_ = B::make(); }
  Store& store() { return *backend_.store; }
  Backend backend_;
};
TYPED_TEST_SUITE(ElectionContract, Backends, BackendNames);

TYPED_TEST(ElectionContract, OneCandidateLeadsAndADeposedLeaderCannotWrite) {
  Store& s = this->store();
  const LeaseId la = s.grant_lease(10s), lb = s.grant_lease(10s);
  Election a(s, "election/controller", "node-a", la);
  Election b(s, "election/controller", "node-b", lb);
  auto term_a = a.try_lead();
  ASSERT_TRUE(term_a);
  EXPECT_FALSE(b.try_lead());
  EXPECT_EQ(a.try_lead(), term_a) << "asking again while leading: the same term";
  EXPECT_EQ(b.leader()->id, "node-a");
  EXPECT_TRUE(a.fenced(*term_a, {Op::put("apps/x", "from a")}));
  EXPECT_FALSE(b.fenced(*term_a, {Op::put("apps/x", "from b")})) << "b does not lead";

  // a's node dies: its lease goes, and with it the lead.
  s.revoke_lease(la);
  auto term_b = b.try_lead();
  ASSERT_TRUE(term_b);
  EXPECT_GT(*term_b, *term_a);
  // a, not knowing yet, writes with its old term: refused, nothing changes.
  EXPECT_FALSE(a.fenced(*term_a, {Op::put("apps/x", "stale write")}));
  EXPECT_EQ(s.get("apps/x").kvs[0].value, "from a");
  EXPECT_TRUE(b.fenced(*term_b, {Op::put("apps/x", "from b")}));

  // Resigning passes the lead on; resigning an old term does nothing.
  a.resign(*term_a);
  EXPECT_EQ(b.leader()->id, "node-b");
  b.resign(*term_b);
  EXPECT_FALSE(b.leader());
  // a's node comes back with a new lease and leads again, in a new term.
  Election back(s, "election/controller", "node-a", s.grant_lease(10s));
  auto term_back = back.try_lead();
  ASSERT_TRUE(term_back);
  EXPECT_GT(*term_back, *term_b);
}

TYPED_TEST(ElectionContract, AKeptLeaseOutlivesItsTtlAndAStoppedKeeperLetsItExpire) {
  Store& s = this->store();
  const LeaseId lease = s.grant_lease(2s);
  s.put("nodes/n1", "up", lease);
  std::atomic<bool> lost{false};
  {
    LeaseKeeper keeper(s, lease, 2s, [&](const std::string&) { lost = true; });
    std::this_thread::sleep_for(3500ms);  // past the TTL: only the renewals keep it
    EXPECT_EQ(s.get("nodes/n1").kvs.size(), 1u);
    EXPECT_TRUE(keeper.alive());
  }
  EXPECT_FALSE(lost.load());
  EXPECT_TRUE(test::wait_until([&] { return s.get("nodes/n1").kvs.empty(); }, 10s));
}

TYPED_TEST(ElectionContract, AKeeperReportsALeaseTheStoreNoLongerHas) {
  Store& s = this->store();
  const LeaseId lease = s.grant_lease(3s);
  std::atomic<bool> lost{false};
  std::string why;
  std::mutex mu;
  LeaseKeeper keeper(s, lease, 3s, [&](const std::string& w) {
    std::lock_guard lock(mu);
    why = w;
    lost = true;
  });
  s.revoke_lease(lease);
  ASSERT_TRUE(test::wait_until([&] { return lost.load(); }, 10s));
  EXPECT_FALSE(keeper.alive());
  std::lock_guard lock(mu);
  EXPECT_NE(why.find("is gone"), std::string::npos) << why;
}

TEST(LeaseKeeper, AStoreThatStopsAnsweringCostsTheLeaseAfterItsTtl) {
  test::EtcdServer etcd;
  EtcdStore s(EtcdOptions{{etcd.endpoint()}, 500ms});
  const LeaseId lease = s.grant_lease(2s);
  std::atomic<bool> lost{false};
  std::string why;
  std::mutex mu;
  LeaseKeeper keeper(s, lease, 2s, [&](const std::string& w) {
    std::lock_guard lock(mu);
    why = w;
    lost = true;
  });
  etcd.pause();
  EXPECT_TRUE(test::wait_until([&] { return lost.load(); }, 10s)) << "the keeper kept believing in its lease";
  etcd.resume();
  std::lock_guard lock(mu);
  EXPECT_NE(why.find("no renewal of lease"), std::string::npos) << why;
}

}  // namespace
}  // namespace cserve::cluster
