// Nodes of a cluster as a user runs them: a real etcd on a loopback port and three `cserve run`
// processes (the seed's Counter) on 127.0.0.1, 127.0.0.2 and 127.0.0.3 with a 2 s lease TTL.
// Every node's status lists all three with one controller leader; a SIGKILLed node drops out
// within its TTL and the lead passes on; a paused etcd (SIGSTOP) costs no request, and after
// SIGCONT the nodes are registered again, once each.
#include "support/etcd_server.hpp"
#include "support/http_client.hpp"
#include "support/load.hpp"
#include "support/process.hpp"
#include "support/wait.hpp"

#include <cserve/json.hpp>

#include <gtest/gtest.h>

#include <csignal>
#include <memory>
#include <set>

namespace cserve::test {
namespace {

using namespace std::chrono_literals;

struct Node {
  std::string name;
  std::string ip;
  std::unique_ptr<ChildProcess> process;
  int http_port = 0;
  int admin_port = 0;
};

// "...http://HOST:PORT" -> PORT.
int port_of(const std::string& line) { return std::stoi(line.substr(line.rfind(':') + 1)); }

class ClusterNodes : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 1; i <= 3; ++i) start_node(i);
  }

  void start_node(int i) {
    Node n;
    n.name = "node-" + std::to_string(i);
    n.ip = "127.0.0." + std::to_string(i);
    n.process = std::make_unique<ChildProcess>(
        CSERVE_BINARY_FOR_TESTS,
        std::vector<std::string>{"run", std::string(CSERVE_EXAMPLES_DIR) + "/libcounter_app.so:counter", "--etcd",
                                 etcd_.endpoint(), "--node-name", n.name, "--node-ip", n.ip, "--http-host", n.ip,
                                 "--http-port", "0", "--admin-host", n.ip, "--admin-port", "0", "--lease-ttl-s", "2",
                                 "--cpus", "2"});
    auto http = n.process->wait_for_line("listening on ", 30s);
    auto admin = n.process->wait_for_line("admin API on ", 5s);
    ASSERT_TRUE(http && admin) << n.name << " did not start";
    n.http_port = port_of(*http);
    n.admin_port = port_of(*admin);
    nodes_.push_back(std::move(n));
  }

  static Json status_of(const Node& n) {
    HttpClient c(n.admin_port, n.ip);
    return Json::parse(c.get("/api/serve/applications/").body);
  }
  static std::set<std::string> names(const Json& status) {
    std::set<std::string> out;
    for (const auto& n : status["nodes"]) out.insert(n["node_id"].get<std::string>());
    return out;
  }
  static std::vector<std::string> leaders(const Json& status) {
    std::vector<std::string> out;
    for (const auto& n : status["nodes"]) {
      if (n["controller_leader"].get<bool>()) out.push_back(n["node_id"].get<std::string>());
    }
    return out;
  }

  EtcdServer etcd_;
  std::vector<Node> nodes_;
};

TEST_F(ClusterNodes, EveryNodeListsAllThreeWithOneControllerLeader) {
  ASSERT_EQ(nodes_.size(), 3u);
  const std::set<std::string> all{"node-1", "node-2", "node-3"};
  for (const Node& n : nodes_) {
    ASSERT_TRUE(wait_until([&] { return names(status_of(n)) == all; }, 10s)) << status_of(n).dump();
    ASSERT_TRUE(wait_until([&] { return leaders(status_of(n)).size() == 1; }, 10s)) << status_of(n).dump();
  }
  // Heartbeats (every third of the TTL) carry each node's replicas and free resources.
  auto all_running = [&] {
    const Json now = status_of(nodes_[1]);
    for (const auto& n : now["nodes"]) {
      if (n["replicas"] != 1) return false;
    }
    return true;
  };
  ASSERT_TRUE(wait_until(all_running, 10s)) << status_of(nodes_[1]).dump();
  const Json s = status_of(nodes_[1]);
  EXPECT_FALSE(s.contains("cluster_warning")) << s.dump();
  for (const auto& n : s["nodes"]) {
    const std::string id = n["node_id"];
    const std::string ip = "127.0.0." + id.substr(5);
    EXPECT_EQ(n["ip"], ip);
    EXPECT_EQ(n["resources"]["CPU"], 2.0);
    EXPECT_EQ(n["replicas"], 1) << "each node runs its Counter: " << s.dump();
    EXPECT_EQ(n["available"]["CPU"], 1.0);
    EXPECT_FALSE(n["last_heartbeat_ms"].is_null());
  }
  // The CLI shows the same from any node.
  ChildProcess cli(CSERVE_BINARY_FOR_TESTS,
                   {"status", "--address", "http://127.0.0.3:" + std::to_string(nodes_[2].admin_port)});
  ASSERT_TRUE(cli.wait_for_line("nodes: 3", 10s));
  std::string shown;
  for (int i = 0; i < 3; ++i) shown += cli.wait_for_line("  node-", 5s).value_or("?") + "\n";
  EXPECT_NE(shown.find("node-2 at 127.0.0.2 (http " + std::to_string(nodes_[1].http_port)), std::string::npos) << shown;
  EXPECT_NE(shown.find("1 replicas; free CPU 1/2"), std::string::npos) << shown;
  EXPECT_NE(shown.find("controller leader"), std::string::npos) << shown;
  EXPECT_EQ(cli.wait_exit(10s), 0);
}

TEST_F(ClusterNodes, AKilledNodeDropsOutWithinItsTtlAndTheLeadPassesOn) {
  ASSERT_EQ(nodes_.size(), 3u);
  std::vector<std::string> lead;
  ASSERT_TRUE(wait_until([&] { return (lead = leaders(status_of(nodes_[0]))).size() == 1; }, 10s));
  std::size_t victim = 0;
  while (nodes_[victim].name != lead[0]) ++victim;
  const Node& survivor = nodes_[(victim + 1) % 3];
  nodes_[victim].process->signal(SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(wait_until([&] {
    const Json s = status_of(survivor);
    const auto l = leaders(s);
    return names(s).size() == 2 && !names(s).count(lead[0]) && l.size() == 1;
  }, 10s)) << status_of(survivor).dump();
  const auto took = std::chrono::steady_clock::now() - killed;
  EXPECT_LT(took, 2s + 1500ms) << "the TTL (2 s), the store's expiry sweep and a status read";
}

TEST_F(ClusterNodes, APausedEtcdCostsNoRequestAndTheNodesRegisterAgainOnceEach) {
  ASSERT_EQ(nodes_.size(), 3u);
  for (const Node& n : nodes_) {
    ASSERT_TRUE(wait_until([&] { return names(status_of(n)).size() == 3; }, 10s));
  }
  std::vector<std::unique_ptr<LoadGenerator>> load;
  for (const Node& n : nodes_) {
    load.push_back(std::make_unique<LoadGenerator>(n.http_port, "/Counter", 2, 60s, n.ip));
    load.back()->start();
  }
  etcd_.pause();
  std::this_thread::sleep_for(5s);  // past the 2 s TTL: every lease lapses meanwhile
  // The data plane and status keep going on the last snapshot, with a warning once a node notices.
  ASSERT_TRUE(wait_until([&] { return status_of(nodes_[0]).contains("cluster_warning"); }, 10s));
  EXPECT_EQ(names(status_of(nodes_[0])).size(), 3u);
  etcd_.resume();
  for (const Node& n : nodes_) {
    ASSERT_TRUE(wait_until([&] {
      const Json s = status_of(n);
      return !s.contains("cluster_warning") && names(s).size() == 3 && leaders(s).size() == 1 &&
             s["nodes"].size() == 3;
    }, 15s)) << status_of(n).dump();
  }
  long served = 0;
  for (auto& l : load) {
    LoadStats stats = l->stop();
    EXPECT_EQ(stats.failed(), 0);
    served += stats.ok();
  }
  EXPECT_GT(served, 0);
}

}  // namespace
}  // namespace cserve::test
