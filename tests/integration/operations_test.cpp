// Operating cserve as a user does, with the real binary: declarative configs deployed into a
// running instance, libraries that cannot serve, the admin token from the environment, and a
// graceful drain on SIGTERM.
#include <cserve/json.hpp>

#include "support/cli.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/prometheus.hpp"
#include "support/wait.hpp"

#include "common/asio.hpp"

#include <gtest/gtest.h>

#include <array>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <map>
#include <string>

namespace cserve {
namespace {

using namespace std::chrono_literals;
using test::CliInstance;
using test::HttpClient;
using test::run_cli;

const std::string kCounterLib = std::string(CSERVE_EXAMPLES_DIR) + "/libcounter_app.so";
const std::string kTestApps = std::string(CSERVE_TEST_LIBS_DIR) + "/libtest_apps.so";

// applications: [{name, route_prefix, import_path}], as YAML.
std::string config(const std::vector<std::array<std::string, 3>>& apps, const std::string& extra = "") {
  std::string y = extra + "applications:\n";
  for (const auto& [name, prefix, import_path] : apps) {
    y += "  - name: " + name + "\n    route_prefix: " + prefix + "\n    import_path: " + import_path + "\n";
  }
  return y;
}

int port_of(const std::string& url) { return std::stoi(url.substr(url.rfind(':') + 1)); }

// The instance's status, from its admin API.
Json status_of(const CliInstance& instance) {
  return Json::parse(HttpClient(port_of(instance.admin)).get("/api/serve/applications/").body)["applications"];
}

// Replica ids of every application, to see what a deploy restarted.
std::map<std::string, std::string> replica_ids(const Json& applications) {
  std::map<std::string, std::string> ids;
  for (const auto& [app, info] : applications.items()) {
    for (const auto& [dep, d] : info["deployments"].items()) {
      for (const auto& r : d["replicas"]) ids[app + "/" + dep] += r["replica_id"].get<std::string>() + " ";
    }
  }
  return ids;
}

TEST(Configs, AConfigIsTheWholeTargetAndDeployingItTwiceChangesNothing) {
  CliInstance instance;
  ASSERT_TRUE(instance.started()) << instance.output;
  const std::string both = instance.write(
      "both.yaml", config({{"one", "/one", kCounterLib + ":counter"}, {"two", "/two", kCounterLib + ":counter"}}));
  auto first = run_cli("deploy " + both + instance.at());
  ASSERT_EQ(first.code, 0) << first.output;
  HttpClient client(instance.http_port);
  EXPECT_EQ(Json::parse(client.get("/one").body), (Json{{"count", 1}}));
  EXPECT_EQ(Json::parse(client.get("/two").body), (Json{{"count", 1}}));
  const auto ids = replica_ids(status_of(instance));

  auto again = run_cli("deploy " + both + instance.at());
  ASSERT_EQ(again.code, 0) << again.output;
  EXPECT_EQ(replica_ids(status_of(instance)), ids) << "the same config restarted replicas";
  EXPECT_EQ(Json::parse(client.get("/one").body), (Json{{"count", 2}})) << "state was lost";

  // A config without "two": "two" is deleted, "one" is untouched.
  const std::string only_one = instance.write("one.yaml", config({{"one", "/one", kCounterLib + ":counter"}}));
  auto third = run_cli("deploy " + only_one + instance.at());
  ASSERT_EQ(third.code, 0) << third.output;
  ASSERT_TRUE(test::wait_until([&] { return !status_of(instance).contains("two"); }));
  EXPECT_EQ(client.get("/two").status, 404);
  EXPECT_EQ(Json::parse(client.get("/one").body), (Json{{"count", 3}}));
  EXPECT_EQ(replica_ids(status_of(instance)).at("one/Counter"), ids.at("one/Counter"));
}

TEST(Configs, ImportPathsAreRelativeToTheConfigFile) {
  CliInstance instance;
  ASSERT_TRUE(instance.started()) << instance.output;
  std::filesystem::create_directories(instance.dir / "conf" / "lib");
  std::filesystem::create_symlink(kCounterLib, instance.dir / "conf" / "lib" / "libcounter_app.so");
  const std::string path = instance.write("conf/app.yaml", config({{"rel", "/rel", "./lib/libcounter_app.so:counter"}}));
  // Deployed from another directory: the path is taken from the file's place, not ours.
  auto r = run_cli("deploy " + path + instance.at());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(HttpClient(instance.http_port).get("/rel").status, 200);
}

TEST(Configs, ARunningInstanceRefusesOtherHttpOptionsAndKeepsServing) {
  CliInstance instance;
  ASSERT_TRUE(instance.started()) << instance.output;
  auto ok = run_cli("deploy " + instance.write("a.yaml", config({{"a", "/a", kCounterLib + ":counter"}})) + instance.at());
  ASSERT_EQ(ok.code, 0) << ok.output;
  const std::string other_port = std::to_string(instance.http_port == 65000 ? 65001 : 65000);
  auto moved = run_cli("deploy " +
                       instance.write("moved.yaml", config({{"b", "/b", kCounterLib + ":counter"}},
                                                           "http_options:\n  port: " + other_port + "\n")) +
                       instance.at());
  EXPECT_EQ(moved.code, 1);
  EXPECT_NE(moved.output.find("http_options: host and port cannot change on a running instance"), std::string::npos)
      << moved.output;
  EXPECT_EQ(HttpClient(instance.http_port).get("/a").status, 200);
  EXPECT_FALSE(status_of(instance).contains("b"));
}

TEST(Configs, DeployWaitsForRunningReportsFailuresAndTimesOut) {
  CliInstance instance;
  ASSERT_TRUE(instance.started()) << instance.output;
  // --no-wait returns once the instance accepted the config.
  auto slow = instance.write("slow.yaml", config({{"slow", "/slow", kTestApps + ":slow_start"}}) );
  auto no_wait = run_cli("deploy --no-wait " + slow + instance.at());
  EXPECT_EQ(no_wait.code, 0) << no_wait.output;
  EXPECT_NE(no_wait.output.find("config sent to"), std::string::npos) << no_wait.output;
  EXPECT_EQ(no_wait.output.find("RUNNING"), std::string::npos) << no_wait.output;
  // A start that takes longer than --timeout-s: exit status 1, saying so.
  const std::string slower = instance.write(
      "slower.yaml", "applications:\n  - name: slower\n    route_prefix: /slower\n    import_path: " + kTestApps +
                         ":slow_start\n    args:\n      seconds: 3\n");
  auto timed_out = run_cli("deploy --timeout-s 0.3 " + slower + instance.at());
  EXPECT_EQ(timed_out.code, 1);
  EXPECT_NE(timed_out.output.find("timed out after 0.3 s waiting for the applications to be RUNNING"),
            std::string::npos)
      << timed_out.output;
  // A constructor that always throws: DEPLOY_FAILED, exit status 1 with its message.
  auto failing = run_cli("deploy " + instance.write("bad.yaml", config({{"bad", "/bad", kTestApps + ":bad_constructor"}})) +
                         instance.at());
  EXPECT_EQ(failing.code, 1);
  EXPECT_NE(failing.output.find("application 'bad' failed to deploy"), std::string::npos) << failing.output;
  EXPECT_NE(failing.output.find("model file missing"), std::string::npos) << failing.output;
}

TEST(Configs, LibrariesThatCannotServeAreRefusedWithTheirReasonAndTheInstanceServesOn) {
  CliInstance instance;
  ASSERT_TRUE(instance.started()) << instance.output;
  auto ok = run_cli("deploy " + instance.write("a.yaml", config({{"a", "/a", kCounterLib + ":counter"}})) + instance.at());
  ASSERT_EQ(ok.code, 0) << ok.output;
  const std::string libs = CSERVE_TEST_LIBS_DIR;
  const std::vector<std::pair<std::string, std::string>> refused = {
      {libs + "/libforeign_abi_app.so:app", "was built against an incompatible cserve"},
      {libs + "/libplain_lib.so:app", "is not a cserve application library (it defines no CSERVE_APPLICATION)"},
      {kTestApps + ":throwing_builder", "builder failed on purpose"},
  };
  for (const auto& [import_path, reason] : refused) {
    auto r = run_cli("deploy " + instance.write("x.yaml", config({{"a", "/a", kCounterLib + ":counter"}, {"x", "/x", import_path}})) +
                     instance.at());
    EXPECT_EQ(r.code, 1) << import_path;
    EXPECT_NE(r.output.find("deploy rejected (400)"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(reason), std::string::npos) << r.output;
    EXPECT_EQ(HttpClient(instance.http_port).get("/a").status, 200) << "the instance stopped serving";
    EXPECT_FALSE(status_of(instance).contains("x"));
  }
}

#ifdef CSERVE_SHIPPED_CONFIGS_DIR
// The configs in examples/counter_app name the release build's library by a path relative to
// themselves; this test runs in the release build, where that library is.
TEST(Configs, TheShippedExampleConfigsDeployAndRollOver) {
  CliInstance instance;
  ASSERT_TRUE(instance.started()) << instance.output;
  const std::string dir = CSERVE_SHIPPED_CONFIGS_DIR;
  auto first = run_cli("deploy " + dir + "/counter.yaml" + instance.at());
  ASSERT_EQ(first.code, 0) << first.output;
  HttpClient client(instance.http_port);
  EXPECT_EQ(Json::parse(client.get("/Counter").body), (Json{{"count", 1}}));
  auto second = run_cli("deploy " + dir + "/counter_routes.yaml" + instance.at());
  ASSERT_EQ(second.code, 0) << second.output;
  EXPECT_EQ(Json::parse(client.get("/Counter/incr").body), (Json{{"count", 1}}));
}
#endif

TEST(Admin, TheTokenComesFromTheEnvironment) {
  CliInstance instance("--token from-env");
  ASSERT_TRUE(instance.started()) << instance.output;
  auto without = run_cli("status" + instance.at());
  EXPECT_EQ(without.code, 1);
  EXPECT_NE(without.output.find("401"), std::string::npos) << without.output;
  auto with_env = run_cli("CSERVE_ADMIN_TOKEN=from-env status" + instance.at());
  EXPECT_EQ(with_env.code, 0) << with_env.output;
  auto wrong = run_cli("CSERVE_ADMIN_TOKEN=wrong status" + instance.at());
  EXPECT_EQ(wrong.code, 1) << wrong.output;
  // The instance's own shutdown needs the token too.
  EXPECT_EQ(run_cli("CSERVE_ADMIN_TOKEN=from-env shutdown" + instance.at()).code, 0);
  instance.admin.clear();
}

// ---- Drain -------------------------------------------------------------------------------------

struct RunningApp {
  explicit RunningApp(const std::string& args_json)
      : process(CSERVE_BINARY, {"run", kTestApps + ":sleepy", "--http-port", "0", "--admin-port", "0", "--args", args_json}) {
    port = process.wait_for_port();
    if (auto line = process.wait_for_line("admin API on", 20s)) admin_port = port_of(*line);
  }
  double ongoing() const {
    return test::parse_prometheus(HttpClient(admin_port).get("/metrics").body).sum("cserve_num_ongoing_http_requests");
  }
  test::ChildProcess process;
  int port = -1;
  int admin_port = -1;
};

bool connection_refused(int port) {
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  boost::system::error_code ec;
  s.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)}, ec);
  return ec == asio::error::connection_refused;
}

// Bytes that arrived at the server's end of the connection from `client_port` to `server_port`
// and that it has not read yet (the rx_queue of /proc/net/tcp); -1 when there is no such socket.
long unread_by_server(int server_port, int client_port) {
  std::ifstream tcp("/proc/net/tcp");
  std::string line;
  std::getline(tcp, line);  // the heading
  char want[32];
  std::snprintf(want, sizeof want, ":%04X", server_port);
  char peer[32];
  std::snprintf(peer, sizeof peer, ":%04X", client_port);
  while (std::getline(tcp, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues;
    fields >> slot >> local >> remote >> state >> queues;
    if (local.size() < 5 || remote.size() < 5) continue;
    if (local.substr(local.size() - 5) != want || remote.substr(remote.size() - 5) != peer) continue;
    return std::stol(queues.substr(queues.find(':') + 1), nullptr, 16);
  }
  return -1;
}

// Everything the server sends until it closes the connection.
std::string read_all(asio::ip::tcp::socket& s) {
  std::string out;
  char buf[4096];
  for (boost::system::error_code ec; !ec;) {
    const std::size_t n = s.read_some(asio::buffer(buf), ec);
    out.append(buf, n);
  }
  return out;
}

TEST(Drain, SigtermFinishesRequestsInFlightRefusesNewConnectionsAndAnswers503ToHealthChecks) {
  RunningApp app("{}");
  ASSERT_GT(app.port, 0);
  ASSERT_GT(app.admin_port, 0);
  asio::io_context io;
  asio::ip::tcp::socket busy(io), late(io);
  busy.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(app.port)});
  late.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(app.port)});
  asio::write(busy, asio::buffer(std::string("GET /?ms=2000 HTTP/1.1\r\nHost: x\r\n\r\n")));
  asio::write(late, asio::buffer(std::string("GET /-/healthz HTTP/1.1\r\nHost: x\r\n")));  // not finished yet
  ASSERT_TRUE(test::wait_until([&] { return app.ongoing() == 1; })) << "the slow request is in flight";
  // The server has read the unfinished health check: that connection is busy reading, not idle.
  ASSERT_TRUE(test::wait_until([&] { return unread_by_server(app.port, late.local_endpoint().port()) == 0; }));

  app.process.signal(SIGTERM);
  ASSERT_TRUE(test::wait_until([&] { return connection_refused(app.port); })) << "new connections are refused";
  asio::write(late, asio::buffer(std::string("\r\n")));  // a health check read during the drain
  const std::string health = read_all(late);
  EXPECT_EQ(test::first_status(health), 503) << health;
  EXPECT_NE(health.find("draining"), std::string::npos) << health;
  const std::string answer = read_all(busy);
  EXPECT_EQ(test::first_status(answer), 200) << answer;
  EXPECT_NE(answer.find(R"({"slept_ms":2000})"), std::string::npos) << "the request in flight finished: " << answer;
  EXPECT_EQ(app.process.wait_exit(30s), 0);
}

TEST(Drain, GracefulShutdownTimeoutBoundsARequestThatWouldTakeLonger) {
  RunningApp app(R"({"graceful_shutdown_timeout_s": 1})");
  ASSERT_GT(app.port, 0);
  asio::io_context io;
  asio::ip::tcp::socket stuck(io);
  stuck.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(app.port)});
  asio::write(stuck, asio::buffer(std::string("GET /?ms=120000 HTTP/1.1\r\nHost: x\r\n\r\n")));
  ASSERT_TRUE(test::wait_until([&] { return app.ongoing() == 1; }));
  app.process.signal(SIGTERM);
  // Cut at about 1 s, not after the two minutes the request wanted (nor at another timeout).
  EXPECT_EQ(app.process.wait_exit(20s), 0);
  EXPECT_EQ(test::first_status(read_all(stuck)), 0) << "its connection was closed without an answer";
}

// ---- Logs from the environment -----------------------------------------------------------------

TEST(LoggingEnvironment, VariablesChooseLevelEncodingAndAccessLogs) {
  test::ChildProcess p("/bin/sh", {"-c", "CSERVE_LOG_LEVEL=info CSERVE_LOG_ENCODING=json CSERVE_ACCESS_LOG=1 exec " +
                                             std::string(CSERVE_BINARY) + " run " + kTestApps +
                                             ":sleepy --http-port 0 --admin-port 0 2>&1"});
  const int port = p.wait_for_port();
  ASSERT_GT(port, 0);
  auto r = HttpClient(port).get("/?ms=1");
  ASSERT_EQ(r.status, 200);
  const std::string id = r.header("x-request-id");
  ASSERT_FALSE(id.empty());
  bool access = false;
  while (auto line = p.wait_for_line("{", 10s)) {  // JSON lines only
    Json j = Json::parse(*line);
    if (j.value("component", "") == "proxy" && j.value("request_id", "") == id &&
        j.value("message", "").rfind("GET /?ms=1 200", 0) == 0) {
      access = true;
      break;
    }
  }
  EXPECT_TRUE(access) << "no JSON access line for request " << id;
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(30s), 0);
}

}  // namespace
}  // namespace cserve
