// The Kubernetes manifests in deploy/kubernetes (docs/cluster.md) parse, hold what the docs say
// (a three-member etcd; cserve nodes with Services for HTTP and the admin API), and the cserve
// node's arguments work: run as written — with the cluster's addresses swapped for a test etcd
// and loopback, and $(VARS) filled in as Kubernetes would — a node joins and answers.
#include "support/etcd_server.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/wait.hpp"

#include <cserve/json.hpp>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <map>

namespace cserve::test {
namespace {

using namespace std::chrono_literals;

std::vector<YAML::Node> documents(const std::string& name) {
  return YAML::LoadAllFromFile(std::string(CSERVE_SOURCE_DIR) + "/deploy/kubernetes/" + name);
}

std::multiset<std::string> kinds(const std::vector<YAML::Node>& docs) {
  std::multiset<std::string> out;
  for (const auto& d : docs) {
    EXPECT_TRUE(d["apiVersion"] && d["metadata"]["name"]) << "every object has an apiVersion and a name";
    out.insert(d["kind"].as<std::string>());
  }
  return out;
}

TEST(KubernetesManifests, EtcdIsAThreeMemberStatefulSetBehindAHeadlessService) {
  const auto docs = documents("etcd.yaml");
  EXPECT_EQ(kinds(docs), (std::multiset<std::string>{"Service", "StatefulSet"}));
  for (const auto& d : docs) {
    if (d["kind"].as<std::string>() == "Service") EXPECT_EQ(d["spec"]["clusterIP"].as<std::string>(), "None");
    if (d["kind"].as<std::string>() == "StatefulSet") EXPECT_EQ(d["spec"]["replicas"].as<int>(), 3);
  }
}

TEST(KubernetesManifests, TheNodesArgumentsStartANodeThatJoinsTheCluster) {
  const auto docs = documents("cserve.yaml");
  EXPECT_EQ(kinds(docs), (std::multiset<std::string>{"DaemonSet", "Service", "Service"}));
  YAML::Node container;
  for (const auto& d : docs) {
    if (d["kind"].as<std::string>() == "DaemonSet") container = d["spec"]["template"]["spec"]["containers"][0];
  }
  ASSERT_TRUE(container) << "a DaemonSet with the cserve container";
  ASSERT_EQ(container["command"][0].as<std::string>(), "cserve");

  EtcdServer etcd;
  const std::map<std::string, std::string> env{{"$(POD_NAME)", "pod-a"}, {"$(POD_IP)", "127.0.0.1"}};
  std::vector<std::string> args;
  for (const auto& a : container["args"]) {
    std::string arg = a.as<std::string>();
    for (const auto& [var, value] : env) {
      for (auto at = arg.find(var); at != std::string::npos; at = arg.find(var)) arg.replace(at, var.size(), value);
    }
    // The cluster's addresses become the test's: its etcd, loopback, free ports.
    const std::string flag = arg.substr(0, arg.find('=') + 1);
    if (flag == "--etcd=") arg = flag + etcd.endpoint();
    if (flag == "--http-host=" || flag == "--admin-host=") arg = flag + "127.0.0.1";
    if (flag == "--http-port=" || flag == "--admin-port=") arg = flag + "0";
    args.push_back(arg);
  }
  ::setenv("CSERVE_ADMIN_TOKEN", "secret", 1);  // from the Secret, as the manifest says
  ChildProcess node(CSERVE_BINARY_FOR_TESTS, args);
  ::unsetenv("CSERVE_ADMIN_TOKEN");
  auto admin = node.wait_for_line("admin API on ", 30s);
  ASSERT_TRUE(admin) << "the node did not start with the manifest's arguments";
  HttpClient c(std::stoi(admin->substr(admin->rfind(':') + 1)));
  const HttpResult r = c.request("GET", "/api/serve/applications/", "", {{"Authorization", "Bearer secret"}});
  ASSERT_EQ(r.status, 200) << r.body;
  const Json s = Json::parse(r.body);
  ASSERT_EQ(s["nodes"].size(), 1u) << s.dump();
  EXPECT_EQ(s["nodes"][0]["node_id"], "pod-a");
  EXPECT_EQ(s["nodes"][0]["ip"], "127.0.0.1");
}

}  // namespace
}  // namespace cserve::test
