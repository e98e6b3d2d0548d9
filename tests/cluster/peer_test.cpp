// Calls between nodes without the rest of a cluster: a node's peer port (PeerServer) in front of
// a router with a real replica, and another "node"'s router holding a stand-in (PeerReplica) that
// reaches it over a real TCP connection on loopback (PeerLink). Typed calls, calls by name and
// streams cross and come back; a deployment the node does not have is named in the error; when
// the peer goes away the calls fail with kUnavailable and the stand-in takes no more, and once a
// peer listens again on the same port the link connects again by itself.
#include "common/asio.hpp"
#include "common/worker_pool.hpp"
#include "peer/peer_link.hpp"
#include "peer/peer_replica.hpp"
#include "peer/peer_server.hpp"
#include "replica/launcher.hpp"
#include "router/router.hpp"
#include "support/wait.hpp"

#include <cserve/cserve.hpp>

#include <gtest/gtest.h>

#include <future>
#include <thread>

namespace cserve {
namespace {

using namespace std::chrono_literals;

class Echo {
 public:
  // Typed calls reach another process (here: another node) by these names.
  static void methods(Methods<Echo>& m) {
    m.add("add", &Echo::add).add("where", &Echo::where).add("count", &Echo::count).add("slow", &Echo::slow);
  }
  int add(int a, int b) { return a + b; }
  std::string where() { return get_replica_context().replica_id; }
  Stream<int> count(int n) {
    for (int i = 1; i <= n; ++i) co_yield i;
  }
  Task<int> slow(int ms) {
    co_await sleep_for(std::chrono::milliseconds(ms));
    co_return ms;
  }
};

// Echo is bound to no other deployment.
struct NoChildren final : detail::FactoryContext {
  std::shared_ptr<detail::CallSink> sink(const std::string& name) const override {
    throw ConfigError("no deployment " + name);
  }
};

class Peers : public ::testing::Test {
 protected:
  void SetUp() override {
    io_thread_ = std::thread([this] {
      auto guard = asio::make_work_guard(io_);
      io_.run();
    });
    const Application app = deployment<Echo>().name("Echo").bind();
    replica_ = launcher_.make(ReplicaContext{"app", "Echo", "Echo#b1", {}, {}}, app.deployments().at(0),
                              std::make_shared<NoChildren>());
    std::promise<std::optional<Failure>> started;
    replica_->start(std::nullopt, [&](std::optional<Failure> f) { started.set_value(std::move(f)); });
    ASSERT_FALSE(started.get_future().get());
    target_->update({replica_}, {});
    listen(0);
    link_ = std::make_shared<PeerLink>(io_, "node-b", "127.0.0.1", port_);
    link_->start();
    ASSERT_TRUE(test::wait_until([&] { return link_->connected(); }, 5s));
    caller_->update_remote({std::make_shared<PeerReplica>("app", "Echo", link_)});
  }
  void TearDown() override {
    link_->close();
    if (server_) server_->stop();
    replica_->stop([] {});
    asio::post(io_, [this] { io_.stop(); });  // after what the closes posted
    io_thread_.join();
    server_.reset();
  }

  // Node b's peer port, in front of its router for app/Echo.
  void listen(int port) {
    server_ = std::make_unique<PeerServer>(io_, "127.0.0.1", port,
                                           [target = target_](const std::string& app, const std::string& deployment) {
                                             if (app != "app" || deployment != "Echo") {
                                               throw Error("node 'node-b' has no deployment '" + deployment +
                                                               "' of application '" + app + "'",
                                                           ErrorCode::kNotFound);
                                             }
                                             return target->local_sink();
                                           });
    port_ = server_->port();
  }

  WorkerPool pool_{2};
  LocalLauncher launcher_{pool_};
  asio::io_context io_{1};
  std::thread io_thread_;
  std::shared_ptr<Replica> replica_;
  std::shared_ptr<Router> target_ = std::make_shared<Router>("Echo", Router::Config{}, 1);  // on node b
  std::shared_ptr<Router> caller_ = std::make_shared<Router>("Echo", Router::Config{}, 2);  // on node a: no replica
  std::unique_ptr<PeerServer> server_;
  int port_ = 0;
  std::shared_ptr<PeerLink> link_;
};

TEST_F(Peers, TypedCallsCallsByNameAndStreamsCrossToTheOtherNode) {
  DeploymentHandle<Echo> h(caller_, "Echo");
  EXPECT_EQ(h.method(&Echo::add).remote(2, 3).result(5s), 5);
  EXPECT_EQ(h.method(&Echo::where).remote().result(5s), "Echo#b1");
  DeploymentHandle<> by_name(caller_, "Echo");
  EXPECT_EQ(by_name.method("add").remote(40, 2).result(5s), 42);
  auto stream = h.method(&Echo::count).remote(3);
  std::vector<int> items;
  while (auto i = stream.next().result(5s)) items.push_back(*i);
  EXPECT_EQ(items, (std::vector<int>{1, 2, 3}));
  // Many at once: the stand-in holds at most max_ongoing_requests there; the rest wait here.
  std::vector<DeploymentResponse<int>> calls;
  for (int i = 0; i < 20; ++i) calls.push_back(h.method(&Echo::add).remote(i, 1));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(calls[i].result(5s), i + 1);
}

TEST_F(Peers, ADeploymentTheNodeDoesNotHaveIsNamedInTheError) {
  auto other = std::make_shared<Router>("Nope", Router::Config{}, 3);
  other->update_remote({std::make_shared<PeerReplica>("app", "Nope", link_)});
  DeploymentHandle<> h(other, "Nope");
  try {
    h.method("add").remote(1, 2).result(5s);
    ADD_FAILURE() << "a call to a deployment the node does not have succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("node 'node-b' has no deployment 'Nope'"), std::string::npos) << e.what();
  }
}

TEST_F(Peers, WhenThePeerGoesAwayItsCallsFailAndTheLinkComesBackWithIt) {
  DeploymentHandle<Echo> h(caller_, "Echo");
  auto in_flight = h.method(&Echo::slow).remote(3000);
  ASSERT_TRUE(test::wait_until([&] { return replica_->in_flight() == 1; }, 5s));
  server_->stop();  // node b's peer port closes: the connection ends
  try {
    in_flight.result(5s);
    ADD_FAILURE() << "a call on a closed connection succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
    EXPECT_NE(std::string(e.what()).find("the connection to node 'node-b'"), std::string::npos) << e.what();
  }
  ASSERT_TRUE(test::wait_until([&] { return !link_->connected(); }, 5s));
  // Meanwhile a call waits in this node's router (the stand-in takes none) ...
  auto waiting = h.method(&Echo::add).remote(1, 1);
  // ... until node b listens again on its port and the link connects by itself; the node's
  // routing (cluster_routing.hpp) then hands the router its stand-ins again, which dispatches it.
  ASSERT_TRUE(test::wait_until([&] { return replica_->in_flight() == 0; }, 5s));
  listen(port_);
  ASSERT_TRUE(test::wait_until([&] { return link_->connected(); }, 10s));
  caller_->update_remote({std::make_shared<PeerReplica>("app", "Echo", link_)});
  EXPECT_EQ(waiting.result(10s), 2);
}

}  // namespace
}  // namespace cserve
