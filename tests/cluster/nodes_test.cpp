// A cluster as a user runs it: a real etcd on a loopback port and three `cserve start` nodes on
// 127.0.0.1, 127.0.0.2 and 127.0.0.3 with a 2 s lease TTL, the seed's Counter deployed to one of
// them with `cserve deploy`. Every node lists all three with one controller leader; 6 replicas
// spread 2/2/2 and every proxy serves; one replica answers through every node's proxy, and a
// handle on one node reaches a replica on another; the library ships from the node that received
// the config to the others; a SIGKILLed node's replicas come back on the others; a
// SIGKILLed leader is replaced and no healthy replica restarts; etcd paused (SIGSTOP) for 10 s
// costs no request; a rolling redeploy across the nodes fails no request.
#include "cluster/blob_store.hpp"
#include "support/cli.hpp"
#include "support/etcd_server.hpp"
#include "support/http_client.hpp"
#include "support/load.hpp"
#include "support/process.hpp"
#include "support/wait.hpp"

#include <cserve/json.hpp>

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>
#include <thread>

namespace cserve::test {
namespace {

using namespace std::chrono_literals;

struct Node {
  std::string name;
  std::string ip;
  std::unique_ptr<ChildProcess> process;
  int http_port = 0;
  int admin_port = 0;
  std::string admin() const { return "http://" + ip + ":" + std::to_string(admin_port); }
};

// "...http://HOST:PORT" -> PORT.
int port_of(const std::string& line) { return std::stoi(line.substr(line.rfind(':') + 1)); }

// EXTRA: more options of the Counter deployment, as YAML lines ("        key: value\n").
std::string counter_config(const std::string& application, int replicas, const std::string& extra = "") {
  return "applications:\n  - name: counter\n    route_prefix: /Counter\n    import_path: " +
         std::string(CSERVE_EXAMPLES_DIR) + "/libcounter_app.so:" + application +
         "\n    deployments:\n      - name: Counter\n        num_replicas: " + std::to_string(replicas) + "\n" + extra;
}

class ClusterNodes : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("cserve-cluster-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    // Each node keeps the libraries it is given or fetches under blobs/<node> (fresh per test).
    ::setenv("CSERVE_BLOB_DIR", (dir_ / "blobs").c_str(), 1);
    for (int i = 1; i <= 3; ++i) start_node(i);
  }
  void TearDown() override {
    nodes_.clear();
    std::filesystem::remove_all(dir_);
  }

  void start_node(int i) {
    Node n;
    n.name = "node-" + std::to_string(i);
    n.ip = "127.0.0." + std::to_string(i);
    n.process = std::make_unique<ChildProcess>(
        CSERVE_BINARY_FOR_TESTS,
        std::vector<std::string>{"start", "--foreground", "--etcd", etcd_.endpoint(), "--node-name", n.name,
                                 "--node-ip", n.ip, "--http-host", n.ip, "--http-port", "0", "--admin-host", n.ip,
                                 "--admin-port", "0", "--lease-ttl-s", "2", "--cpus", "4"});
    auto http = n.process->wait_for_line("listening on ", 30s);
    auto admin = n.process->wait_for_line("admin API on ", 5s);
    ASSERT_TRUE(http && admin) << n.name << " did not start";
    n.http_port = port_of(*http);
    n.admin_port = port_of(*admin);
    nodes_.push_back(std::move(n));
  }

  // `cserve deploy` of the Counter (APPLICATION of libcounter_app.so) with REPLICAS through `to`.
  int deploy(const Node& to, const std::string& application, int replicas) {
    const auto path = dir_ / (application + std::to_string(replicas) + ".yaml");
    std::ofstream(path) << counter_config(application, replicas);
    ChildProcess cli(CSERVE_BINARY_FOR_TESTS, {"deploy", path.string(), "--address", to.admin(), "--timeout-s", "30"});
    return cli.wait_exit(40s).value_or(-1);
  }

  // `cserve deploy` of a config written to NAME through `to`.
  int deploy_yaml(const Node& to, const std::string& name, const std::string& yaml) {
    const auto path = dir_ / name;
    std::ofstream(path) << yaml;
    ChildProcess cli(CSERVE_BINARY_FOR_TESTS, {"deploy", path.string(), "--address", to.admin(), "--timeout-s", "30"});
    return cli.wait_exit(40s).value_or(-1);
  }
  // A config of one application of the cluster_app example library.
  static std::string cluster_app_config(const std::string& name, const std::string& prefix,
                                        const std::string& application, const std::string& deployments) {
    return "applications:\n  - name: " + name + "\n    route_prefix: " + prefix + "\n    import_path: " +
           std::string(CSERVE_EXAMPLES_DIR) + "/libcluster_app.so:" + application + "\n    deployments:\n" +
           deployments;
  }

  static Json status_of(const Node& n) {
    try {
      HttpClient c(n.admin_port, n.ip);
      return Json::parse(c.get("/api/serve/applications/").body);
    } catch (const std::exception&) {
      return Json::object();
    }
  }
  static std::set<std::string> names(const Json& status) {
    std::set<std::string> out;
    if (!status.contains("nodes")) return out;
    for (const auto& n : status["nodes"]) out.insert(n["node_id"].get<std::string>());
    return out;
  }
  static std::vector<std::string> leaders(const Json& status) {
    std::vector<std::string> out;
    if (!status.contains("nodes")) return out;
    for (const auto& n : status["nodes"]) {
      if (n["controller_leader"].get<bool>()) out.push_back(n["node_id"].get<std::string>());
    }
    return out;
  }
  // The ids of the RUNNING replicas of a deployment (the Counter's by default) on node `n`.
  static std::set<std::string> running(const Node& n, const std::string& app = "counter",
                                       const std::string& deployment = "Counter") {
    std::set<std::string> out;
    const Json s = status_of(n);
    if (!s.contains("applications") || !s["applications"].contains(app) ||
        !s["applications"][app]["deployments"].contains(deployment)) {
      return out;
    }
    for (const auto& r : s["applications"][app]["deployments"][deployment]["replicas"]) {
      if (r["state"] == "RUNNING") out.insert(r["replica_id"].get<std::string>());
    }
    return out;
  }
  bool spread(const std::vector<std::size_t>& counts) {
    for (std::size_t i = 0; i < counts.size(); ++i) {
      if (running(nodes_[i]).size() != counts[i]) return false;
    }
    return true;
  }
  std::size_t index_of(const std::string& name) const {
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      if (nodes_[i].name == name) return i;
    }
    return nodes_.size();
  }
  // Two connections of GET /Counter through the proxy of every node but `except`.
  std::vector<std::unique_ptr<LoadGenerator>> load_on_all(std::size_t except = 99) {
    std::vector<std::unique_ptr<LoadGenerator>> load;
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      if (i == except) continue;
      load.push_back(std::make_unique<LoadGenerator>(nodes_[i].http_port, "/Counter", 2, 60s, nodes_[i].ip));
      load.back()->start();
    }
    return load;
  }
  static void expect_no_failure(std::vector<std::unique_ptr<LoadGenerator>>& load, const char* why) {
    for (auto& l : load) {
      const LoadStats stats = l->stop();
      EXPECT_GT(stats.ok(), 0);
      EXPECT_EQ(stats.failed(), 0) << why;
    }
  }
  std::string leader() {
    std::vector<std::string> l;
    wait_until([&] { return (l = leaders(status_of(nodes_[0]))).size() == 1; }, 10s);
    return l.empty() ? "" : l[0];
  }

  EtcdServer etcd_;
  std::filesystem::path dir_;
  std::vector<Node> nodes_;
};

TEST_F(ClusterNodes, EveryNodeListsAllThreeWithOneControllerLeader) {
  ASSERT_EQ(nodes_.size(), 3u);
  const std::set<std::string> all{"node-1", "node-2", "node-3"};
  for (const Node& n : nodes_) {
    ASSERT_TRUE(wait_until([&] { return names(status_of(n)) == all && leaders(status_of(n)).size() == 1; }, 10s))
        << status_of(n).dump();
  }
  const Json s = status_of(nodes_[1]);
  EXPECT_FALSE(s.contains("cluster_warning")) << s.dump();
  for (const auto& n : s["nodes"]) {
    const std::string id = n["node_id"];
    EXPECT_EQ(n["ip"], "127.0.0." + id.substr(5));
    EXPECT_EQ(n["resources"]["CPU"], 4.0);
    EXPECT_FALSE(n["last_heartbeat_ms"].is_null());
  }
  // The CLI shows the same from any node.
  ChildProcess cli(CSERVE_BINARY_FOR_TESTS, {"status", "--address", nodes_[2].admin()});
  ASSERT_TRUE(cli.wait_for_line("nodes: 3", 10s));
  std::string shown;
  for (int i = 0; i < 3; ++i) shown += cli.wait_for_line("  node-", 5s).value_or("?") + "\n";
  EXPECT_NE(shown.find("node-2 at 127.0.0.2 (http " + std::to_string(nodes_[1].http_port)), std::string::npos) << shown;
  EXPECT_NE(shown.find("0 replicas; free CPU 4/4"), std::string::npos) << shown;
  EXPECT_NE(shown.find("controller leader"), std::string::npos) << shown;
  EXPECT_EQ(cli.wait_exit(10s), 0);
}

TEST_F(ClusterNodes, SixReplicasSpreadTwoTwoTwoAndEveryProxyServes) {
  ASSERT_EQ(nodes_.size(), 3u);
  ASSERT_EQ(deploy(nodes_[1], "counter", 6), 0);
  ASSERT_TRUE(wait_until([&] { return spread({2, 2, 2}); }, 20s)) << status_of(nodes_[0]).dump();
  for (const Node& n : nodes_) {
    HttpClient c(n.http_port, n.ip);
    const HttpResult r = c.get("/Counter");
    EXPECT_EQ(r.status, 200) << n.name << ": " << r.body;
    EXPECT_TRUE(Json::parse(r.body).contains("count")) << r.body;
  }
  // Every node shows the cluster's config and each node's replicas.
  const Json s = status_of(nodes_[2]);
  EXPECT_EQ(s["config"]["applications"][0]["deployments"][0]["num_replicas"], 6) << s.dump();
  ASSERT_TRUE(wait_until([&] {
    const Json now = status_of(nodes_[0]);
    for (const auto& n : now["nodes"]) {
      if (n["replicas"] != 2) return false;
    }
    return true;
  }, 10s)) << status_of(nodes_[0]).dump();
}

// Requests across nodes: the one replica of a deployment answers through every node's proxy
// (the two nodes without it send their requests to the node that has it).
TEST_F(ClusterNodes, OneReplicaAnswersThroughEveryNodesProxy) {
  ASSERT_EQ(nodes_.size(), 3u);
  ASSERT_EQ(deploy_yaml(nodes_[0], "who.yaml",
                        cluster_app_config("who", "/who", "who_answers", "      - name: Who\n        num_replicas: 1\n")),
            0);
  std::string replica;
  std::size_t holder = 3;
  ASSERT_TRUE(wait_until([&] {
    std::size_t placed = 0;
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      for (const std::string& id : running(nodes_[i], "who", "Who")) {
        replica = id;
        holder = i;
        ++placed;
      }
    }
    return placed == 1;
  }, 20s)) << status_of(nodes_[0]).dump();
  for (const Node& n : nodes_) {
    HttpClient c(n.http_port, n.ip);
    HttpResult r;
    ASSERT_TRUE(wait_until([&] { return (r = c.get("/who")).status == 200; }, 10s)) << n.name << ": " << r.body;
    EXPECT_EQ(Json::parse(r.body)["replica"], replica) << n.name;
  }
  // Under load through a node without the replica: every request answered there.
  const Node& without = nodes_[(holder + 1) % 3];
  LoadGenerator load(without.http_port, "/who", 8, 60s, without.ip);
  load.start();
  std::this_thread::sleep_for(2s);
  const LoadStats stats = load.stop();
  EXPECT_GT(stats.ok(), 0);
  EXPECT_EQ(stats.failed(), 0);
}

// A handle on one node reaches a replica on another: the relay (one replica per node) calls Who
// (one replica in all) through a handle.
TEST_F(ClusterNodes, HandlesOnOneNodeReachReplicasOnTheOthers) {
  ASSERT_EQ(nodes_.size(), 3u);
  ASSERT_EQ(deploy_yaml(nodes_[2], "relay.yaml",
                        cluster_app_config("relay", "/relay", "relay",
                                           "      - name: Relay\n        num_replicas: 3\n"
                                           "        max_replicas_per_node: 1\n"
                                           "      - name: Who\n        num_replicas: 1\n")),
            0);
  std::string who;  // the one Who replica, and the node it runs on
  std::size_t holder = 3;
  ASSERT_TRUE(wait_until([&] {
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      if (running(nodes_[i], "relay", "Relay").size() != 1) return false;
    }
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      for (const std::string& id : running(nodes_[i], "relay", "Who")) {
        who = id;
        holder = i;
      }
    }
    return holder < 3;
  }, 20s)) << status_of(nodes_[0]).dump();
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    HttpClient c(n.http_port, n.ip);
    HttpResult r;
    ASSERT_TRUE(wait_until([&] { return (r = c.get("/relay")).status == 200; }, 10s)) << n.name << ": " << r.body;
    const Json answer = Json::parse(r.body);
    EXPECT_TRUE(running(n, "relay", "Relay").count(answer["replica"].get<std::string>()))
        << n.name << "'s own relay answers: " << r.body;
    EXPECT_EQ(answer["next"]["replica"], who) << n.name << (i == holder ? " (same node)" : " (across nodes)");
  }
}

// Application code on every node without a shared filesystem: the library ships from the node
// that received the config; the others fetch it by its SHA-256 and run their own copies.
TEST_F(ClusterNodes, TheLibraryShipsFromTheNodeThatReceivedTheConfig) {
  ASSERT_EQ(nodes_.size(), 3u);
  // The library the config names exists at this path only while the deploy runs.
  const auto uploads = dir_ / "uploads";
  std::filesystem::create_directories(uploads);
  std::filesystem::copy_file(std::string(CSERVE_EXAMPLES_DIR) + "/libcounter_app.so", uploads / "libcounter_app.so");
  std::string bytes;
  {
    std::ifstream in(uploads / "libcounter_app.so", std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::string sha = cluster::sha256_hex(bytes);
  ASSERT_EQ(deploy_yaml(nodes_[1], "shipped.yaml",
                        "applications:\n  - name: counter\n    route_prefix: /Counter\n    import_path: " +
                            (uploads / "libcounter_app.so").string() +
                            ":counter\n    deployments:\n      - name: Counter\n        num_replicas: 3\n"),
            0);
  std::filesystem::remove_all(uploads);
  ASSERT_TRUE(wait_until([&] { return spread({1, 1, 1}); }, 20s)) << status_of(nodes_[0]).dump();
  for (const Node& n : nodes_) {
    const auto copy = dir_ / "blobs" / n.name / sha / "libcounter_app.so";
    EXPECT_TRUE(std::filesystem::exists(copy)) << n.name << " has no copy at " << copy;
    HttpClient c(n.http_port, n.ip);
    EXPECT_EQ(c.get("/Counter").status, 200) << n.name;
  }
  // The cluster's config names the code by content; a worker process or a restarted replica
  // loads the same copy.
  const Json s = status_of(nodes_[2]);
  EXPECT_EQ(s["config"]["applications"][0]["library_sha256"], sha) << s.dump();
  // Any node serves the blob to the others (through its admin API).
  HttpClient admin(nodes_[2].admin_port, nodes_[2].ip);
  const HttpResult blob = admin.get("/api/blobs/" + sha);
  EXPECT_EQ(blob.status, 200);
  EXPECT_EQ(blob.body.size(), bytes.size());
  EXPECT_EQ(admin.get("/api/blobs/" + cluster::sha256_hex("none")).status, 404);
}

TEST_F(ClusterNodes, ALibraryNoNodeHasIsRefusedNamingWhatEachNodeSaid) {
  ASSERT_EQ(nodes_.size(), 3u);
  const std::string missing = cluster::sha256_hex("a library nobody has");
  const auto path = dir_ / "missing.yaml";
  std::ofstream(path) << "applications:\n  - name: counter\n    route_prefix: /Counter\n    import_path: "
                      << CSERVE_EXAMPLES_DIR << "/libcounter_app.so:counter\n    library_sha256: " << missing
                      << "\n    deployments:\n      - name: Counter\n        num_replicas: 1\n";
  ASSERT_TRUE(wait_until([&] { return names(status_of(nodes_[0])).size() == 3; }, 10s)) << "node-1 sees the others";
  const CliResult r = run_cli("deploy " + path.string() + " --address " + nodes_[0].admin());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("node 'node-1' cannot get the library libcounter_app.so (sha256 " + missing + ")"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("node-2: HTTP 404 (this node has no library blob " + missing + ")"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("node-3: HTTP 404 (this node has no library blob " + missing + ")"), std::string::npos) << r.output;
}

// Autoscaling across nodes: the leader sums the load every node publishes and scales the
// deployment over the nodes; the requests through every proxy keep being answered meanwhile.
TEST_F(ClusterNodes, TheLeaderAutoscalesADeploymentOverTheNodesFromTheirLoad) {
  ASSERT_EQ(nodes_.size(), 3u);
  const std::string yaml = std::string("applications:\n  - name: sleepy\n    route_prefix: /sleepy\n    import_path: ") +
                           CSERVE_TEST_APPS +
                           ":sleepy\n    deployments:\n      - name: Sleepy\n        autoscaling_config:\n"
                           "          min_replicas: 1\n          max_replicas: 6\n"
                           "          target_ongoing_requests: 1\n          look_back_period_s: 1\n"
                           "          upscale_delay_s: 0\n          downscale_delay_s: 600\n";
  ASSERT_EQ(deploy_yaml(nodes_[0], "sleepy.yaml", yaml), 0);
  auto total = [&] {
    std::size_t n = 0, on = 0;
    for (const Node& node : nodes_) {
      const std::size_t here = running(node, "sleepy", "Sleepy").size();
      n += here;
      on += here > 0;
    }
    return std::pair{n, on};
  };
  ASSERT_TRUE(wait_until([&] { return total().first == 1; }, 20s)) << status_of(nodes_[0]).dump();
  for (const Node& n : nodes_) {  // every node has the route (the others apply their share a moment later)
    HttpClient c(n.http_port, n.ip);
    ASSERT_TRUE(wait_until([&] { return c.get("/sleepy?ms=1").status == 200; }, 10s)) << n.name;
  }
  // Six requests at a time, each taking 300 ms, through the three proxies.
  std::vector<std::unique_ptr<LoadGenerator>> load;
  for (const Node& n : nodes_) {
    load.push_back(std::make_unique<LoadGenerator>(n.http_port, "/sleepy?ms=300", 2, 60s, n.ip));
    load.back()->start();
  }
  ASSERT_TRUE(wait_until([&] { return total().first >= 4 && total().second >= 2; }, 30s))
      << "replicas " << total().first << " on " << total().second << " nodes: " << status_of(nodes_[0]).dump();
  for (auto& l : load) {
    const LoadStats stats = l->stop();
    EXPECT_GT(stats.ok(), 0);
    std::string statuses;
    for (const auto& [status, n] : stats.by_status) statuses += " " + std::to_string(status) + ": " + std::to_string(n);
    EXPECT_EQ(stats.failed(), 0) << statuses << "; connection errors " << stats.connection_errors;
  }
}

TEST_F(ClusterNodes, AKilledNodesReplicasComeBackOnTheOthersAndTheirClientsSeeNoFailure) {
  ASSERT_EQ(nodes_.size(), 3u);
  ASSERT_EQ(deploy(nodes_[0], "counter", 6), 0);
  ASSERT_TRUE(wait_until([&] { return spread({2, 2, 2}); }, 20s));
  const std::size_t victim = (index_of(leader()) + 1) % 3;  // not the leader: that is the next test
  auto load = load_on_all(victim);
  const std::set<std::string> before_a = running(nodes_[(victim + 1) % 3]);
  nodes_[victim].process->signal(SIGKILL);
  std::vector<std::size_t> want{3, 3, 3};
  want[victim] = 0;
  nodes_[victim].admin_port = 0;  // gone: its status reads as empty
  ASSERT_TRUE(wait_until([&] {
    return running(nodes_[(victim + 1) % 3]).size() == 3 && running(nodes_[(victim + 2) % 3]).size() == 3;
  }, 20s)) << status_of(nodes_[(victim + 1) % 3]).dump();
  const std::set<std::string> after_a = running(nodes_[(victim + 1) % 3]);
  for (const std::string& id : before_a) EXPECT_TRUE(after_a.count(id)) << id << " restarted";
  expect_no_failure(load, "a surviving proxy serves from its own replicas throughout");
}

TEST_F(ClusterNodes, AKilledLeaderIsReplacedWithinTheTtlAndNoHealthyReplicaRestarts) {
  ASSERT_EQ(nodes_.size(), 3u);
  ASSERT_EQ(deploy(nodes_[2], "counter", 6), 0);
  ASSERT_TRUE(wait_until([&] { return spread({2, 2, 2}); }, 20s));
  const std::size_t old = index_of(leader());
  ASSERT_LT(old, 3u);
  const Node& a = nodes_[(old + 1) % 3];
  const Node& b = nodes_[(old + 2) % 3];
  const std::set<std::string> a_before = running(a), b_before = running(b);
  LoadGenerator load(a.http_port, "/Counter", 2, 60s, a.ip);
  load.start();
  nodes_[old].process->signal(SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(wait_until([&] {
    const auto l = leaders(status_of(a));
    return l.size() == 1 && l[0] != nodes_[old].name;
  }, 10s)) << status_of(a).dump();
  EXPECT_LT(std::chrono::steady_clock::now() - killed, 3500ms) << "the TTL (2 s) and a status read or two";
  // The new leader moves the dead node's two replicas; the survivors' replicas stay as they were.
  ASSERT_TRUE(wait_until([&] { return running(a).size() == 3 && running(b).size() == 3; }, 20s));
  const std::set<std::string> a_after = running(a), b_after = running(b);
  for (const std::string& id : a_before) EXPECT_TRUE(a_after.count(id)) << id << " restarted";
  for (const std::string& id : b_before) EXPECT_TRUE(b_after.count(id)) << id << " restarted";
  const LoadStats stats = load.stop();
  EXPECT_EQ(stats.failed(), 0);
  EXPECT_GT(stats.ok(), 0);
}

TEST_F(ClusterNodes, APausedEtcdCostsNoRequestAndTheNodesComeBackWithTheSameReplicas) {
  ASSERT_EQ(nodes_.size(), 3u);
  ASSERT_EQ(deploy(nodes_[0], "counter", 6), 0);
  ASSERT_TRUE(wait_until([&] { return spread({2, 2, 2}); }, 20s));
  std::vector<std::set<std::string>> before;
  for (const Node& n : nodes_) before.push_back(running(n));
  auto load = load_on_all();
  etcd_.pause();
  std::this_thread::sleep_for(10s);  // five times the 2 s TTL: every lease lapses meanwhile
  // Status keeps going on the last snapshot, with a warning once a node notices.
  ASSERT_TRUE(wait_until([&] { return status_of(nodes_[0]).contains("cluster_warning"); }, 10s));
  EXPECT_EQ(names(status_of(nodes_[0])).size(), 3u);
  etcd_.resume();
  for (const Node& n : nodes_) {
    ASSERT_TRUE(wait_until([&] {
      const Json s = status_of(n);
      return !s.contains("cluster_warning") && s["nodes"].size() == 3 && leaders(s).size() == 1;
    }, 15s)) << status_of(n).dump();
  }
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(running(nodes_[i]), before[i]) << nodes_[i].name;
  expect_no_failure(load, "every node serves from its own replicas while etcd is away");
}

TEST_F(ClusterNodes, ANodeCutOffPastItsLeaseIsReplacedAndStopsItsOrphansWhenItComesBack) {
  ASSERT_EQ(nodes_.size(), 3u);
  ASSERT_EQ(deploy(nodes_[0], "counter", 6), 0);
  ASSERT_TRUE(wait_until([&] { return spread({2, 2, 2}); }, 20s));
  const std::size_t cut = (index_of(leader()) + 1) % 3;
  nodes_[cut].process->signal(SIGSTOP);  // a partition: it neither renews nor hears anything
  const std::size_t a = (cut + 1) % 3, b = (cut + 2) % 3;
  ASSERT_TRUE(wait_until([&] { return running(nodes_[a]).size() == 3 && running(nodes_[b]).size() == 3; }, 20s))
      << status_of(nodes_[a]).dump();
  nodes_[cut].process->signal(SIGCONT);
  // It finds its lease gone, registers again, and runs what the cluster now gives it: nothing.
  ASSERT_TRUE(wait_until([&] { return running(nodes_[cut]).empty() && names(status_of(nodes_[cut])).size() == 3; },
                         20s))
      << status_of(nodes_[cut]).dump();
  EXPECT_EQ(running(nodes_[a]).size(), 3u);
  EXPECT_EQ(running(nodes_[b]).size(), 3u);
}

TEST_F(ClusterNodes, ReplicasThatFitOnNoNodeAreNamedInEveryNodesStatus) {
  ASSERT_EQ(nodes_.size(), 3u);
  // 4 CPUs on each of 3 nodes hold 12: the 13th waits (nodes may join), and the application with it.
  const auto path = dir_ / "thirteen.yaml";
  std::ofstream(path) << counter_config("counter", 13);
  ChildProcess cli(CSERVE_BINARY_FOR_TESTS, {"deploy", path.string(), "--address", nodes_[0].admin(), "--timeout-s", "3"});
  EXPECT_TRUE(cli.wait_for_line("counter: DEPLOYING", 10s));
  EXPECT_EQ(cli.wait_exit(20s), 1) << "deploy gives up after its timeout";
  ASSERT_TRUE(wait_until([&] { return spread({4, 4, 4}); }, 20s));
  for (const Node& n : nodes_) {
    ASSERT_TRUE(wait_until([&] {
      const Json s = status_of(n);
      return s.contains("cluster_warning") &&
             s["cluster_warning"].get<std::string>().find(
                 "deployment 'Counter' of application 'counter': 1 of 13 replicas fit on no node") != std::string::npos &&
             s["applications"]["counter"]["status"] == "DEPLOYING";
    }, 10s)) << status_of(n).dump();
  }
}

TEST_F(ClusterNodes, MaxReplicasPerNodeCapsEveryNodesShare) {
  ASSERT_EQ(nodes_.size(), 3u);
  const auto path = dir_ / "capped.yaml";
  std::ofstream(path) << counter_config("counter", 4, "        max_replicas_per_node: 1\n");
  ChildProcess cli(CSERVE_BINARY_FOR_TESTS, {"deploy", path.string(), "--address", nodes_[1].admin(), "--no-wait"});
  ASSERT_EQ(cli.wait_exit(30s), 0);
  ASSERT_TRUE(wait_until([&] { return spread({1, 1, 1}); }, 20s)) << status_of(nodes_[0]).dump();
  ASSERT_TRUE(wait_until([&] {
    const Json s = status_of(nodes_[2]);
    return s.contains("cluster_warning") &&
           s["cluster_warning"].get<std::string>().find("max_replicas_per_node (1)") != std::string::npos;
  }, 10s)) << status_of(nodes_[2]).dump();
}

TEST_F(ClusterNodes, ARollingRedeployAcrossTheNodesFailsNoRequest) {
  ASSERT_EQ(nodes_.size(), 3u);
  ASSERT_EQ(deploy(nodes_[0], "counter", 6), 0);
  ASSERT_TRUE(wait_until([&] { return spread({2, 2, 2}); }, 20s));
  std::vector<std::set<std::string>> before;
  for (const Node& n : nodes_) before.push_back(running(n));
  auto load = load_on_all();
  ASSERT_EQ(deploy(nodes_[1], "counter_routes", 6), 0);  // a new class: every replica rolls over
  for (std::size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(wait_until([&] {
      const auto now = running(nodes_[i]);
      if (now.size() != 2) return false;
      for (const auto& id : now) {
        if (before[i].count(id)) return false;
      }
      return true;
    }, 30s)) << status_of(nodes_[i]).dump();
  }
  expect_no_failure(load, "a rolling update must fail no request");
  HttpClient c(nodes_[2].http_port, nodes_[2].ip);
  EXPECT_EQ(c.get("/Counter/incr").status, 200) << "the new version serves its routes on every node";
}

}  // namespace
}  // namespace cserve::test

namespace cserve::test {
namespace {

TEST(ClusterRun, CserveRunOnANodeDeploysItsTargetToTheCluster) {
  EtcdServer etcd;
  ChildProcess node(CSERVE_BINARY_FOR_TESTS,
                    {"run", std::string(CSERVE_EXAMPLES_DIR) + "/libcounter_app.so:counter", "--etcd", etcd.endpoint(),
                     "--node-name", "solo", "--http-port", "0", "--admin-port", "0", "--lease-ttl-s", "2"});
  EXPECT_TRUE(node.wait_for_line("deployed to the cluster: 1 application(s)", 30s));
  auto http = node.wait_for_line("listening on ", 10s);
  ASSERT_TRUE(http);
  HttpClient c(port_of(*http));
  EXPECT_TRUE(wait_until([&] { return c.get("/").status == 200; }, 10s)) << "its share: the one replica";
}

}  // namespace
}  // namespace cserve::test
