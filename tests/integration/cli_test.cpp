// The seed's flow from a terminal, with the real cserve binary: start, deploy the first Counter,
// curl it, deploy the routed Counter under load (no failed request), the seed's transcript,
// status, an invalid config (rejected, naming the field; nothing changes), config, shutdown.
#include <cserve/json.hpp>

#include "support/cli.hpp"
#include "support/http_client.hpp"
#include "support/oip_client.hpp"
#include "support/load.hpp"
#include "support/process.hpp"
#include "support/wait.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

namespace cserve {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

test::CliResult cli(const std::string& args) { return test::run_cli(args); }

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("cserve_cli_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    const std::string lib = std::string(CSERVE_EXAMPLES_DIR) + "/libcounter_app.so";
    write("counter.yaml", "applications:\n  - name: counter\n    route_prefix: /Counter\n    import_path: " + lib +
                              ":counter\n");
    write("routes.yaml", "applications:\n  - name: counter\n    route_prefix: /Counter\n    import_path: " + lib +
                             ":counter_routes\n");
    write("bad.yaml", "applications:\n  - name: counter\n    route_prefix: /Counter\n    import_path: " + lib +
                          ":counter_routes\n    deployments:\n      - name: Counter\n        num_replicas: -1\n");
  }
  void TearDown() override {
    if (!admin_.empty()) cli("shutdown --address " + admin_);
    fs::remove_all(dir_);
  }
  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
  std::string admin_;
};

TEST_F(Cli, StartServesGrpcWhenAskedAndABusyGrpcPortIsAClearError) {
  auto started = cli("start --http-port 0 --admin-port 0 --grpc-port 0 --log-file " + path("cserve.log"));
  ASSERT_EQ(started.code, 0) << started.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(started.output, m,
                                std::regex("admin API on (http://127\\.0\\.0\\.1:\\d+), gRPC on 127\\.0\\.0\\.1:(\\d+)")))
      << started.output;
  admin_ = m[1];
  const std::string grpc_port = m[2];
  EXPECT_EQ(test::run_oip_client(std::stoi(grpc_port), Json::array({{{"op", "server_live"}}})),
            Json::parse(R"([{"code": "OK", "live": true}])"));
  auto busy = cli("start --http-port 0 --admin-port 0 --grpc-port " + grpc_port + " --log-file " + path("second.log"));
  EXPECT_EQ(busy.code, 1);
  EXPECT_NE(busy.output.find("cserve start failed: cannot serve gRPC on 127.0.0.1:" + grpc_port), std::string::npos)
      << busy.output;
}

TEST_F(Cli, TheSeedsFlowFromATerminal) {
  auto started = cli("start --http-port 0 --admin-port 0 --log-file " + path("cserve.log"));
  ASSERT_EQ(started.code, 0) << started.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(started.output, m,
                                std::regex("HTTP on http://127\\.0\\.0\\.1:(\\d+), admin API on (http://127\\.0\\.0\\.1:\\d+)")))
      << started.output;
  const int http_port = std::stoi(m[1]);
  admin_ = m[2];
  const std::string at = " --address " + admin_;

  // A second instance on the same HTTP port fails with a message instead of running half-started.
  auto busy = cli("start --http-port " + std::to_string(http_port) + " --admin-port 0 --log-file " +
                  path("second.log"));
  EXPECT_EQ(busy.code, 1);
  EXPECT_NE(busy.output.find("cserve start failed: cannot listen on 127.0.0.1:" + std::to_string(http_port)),
            std::string::npos)
      << busy.output;

  auto first = cli("deploy " + path("counter.yaml") + at);
  ASSERT_EQ(first.code, 0) << first.output;
  EXPECT_NE(first.output.find("counter: RUNNING"), std::string::npos) << first.output;
  test::HttpClient client(http_port);
  EXPECT_EQ(Json::parse(client.get("/Counter").body), (Json{{"count", 1}}));
  EXPECT_EQ(Json::parse(client.get("/Counter").body), (Json{{"count", 2}}));

  {  // the routed Counter rolls in while clients keep calling
    test::LoadGenerator load(http_port, "/Counter", 8);
    load.start();
    ASSERT_TRUE(test::wait_until([&] { return load.responses_so_far() >= 50; }));
    auto second = cli("deploy " + path("routes.yaml") + at);
    EXPECT_EQ(second.code, 0) << second.output;
    const long at_deploy = load.responses_so_far();
    ASSERT_TRUE(test::wait_until([&] { return load.responses_so_far() >= at_deploy + 50; }));  // on the new version
    auto stats = load.stop();
    EXPECT_GT(stats.ok(), 0);
    EXPECT_EQ(stats.failed(), 0) << "a rolling update must fail no request";
  }
  EXPECT_EQ(Json::parse(client.get("/Counter/").body), (Json{{"count", 0}}));
  EXPECT_EQ(Json::parse(client.get("/Counter/incr").body), (Json{{"count", 1}}));
  EXPECT_EQ(Json::parse(client.get("/Counter/incr").body), (Json{{"count", 2}}));
  EXPECT_EQ(Json::parse(client.get("/Counter/decr").body), (Json{{"count", 1}}));

  auto status = cli("status" + at);
  EXPECT_EQ(status.code, 0);
  EXPECT_NE(status.output.find("counter: RUNNING at /Counter"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("Counter: HEALTHY, 1/1 replicas running"), std::string::npos) << status.output;

  auto bad = cli("deploy " + path("bad.yaml") + at);
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.output.find("bad.yaml:7: applications[0].deployments[0].num_replicas: must be >= 0"),
            std::string::npos)
      << bad.output;
  EXPECT_EQ(Json::parse(client.get("/Counter/").body), (Json{{"count", 1}})) << "the running app was touched";

  auto config = cli("config" + at);
  EXPECT_EQ(config.code, 0);
  EXPECT_NE(config.output.find("counter_routes"), std::string::npos) << config.output;

  auto down = cli("shutdown" + at);
  EXPECT_EQ(down.code, 0) << down.output;
  admin_.clear();
  EXPECT_EQ(cli("status --address " + std::string(m[2])).code, 1);
}

TEST_F(Cli, ErrorsAreMessagesAndExitCodes) {
  EXPECT_EQ(cli("--help").code, 0);
  EXPECT_EQ(cli("deploy --help").code, 0);
  EXPECT_EQ(cli("frobnicate").code, 2);
  auto nobody = cli("status --address http://127.0.0.1:1");
  EXPECT_EQ(nobody.code, 1);
  EXPECT_NE(nobody.output.find("no cserve instance answers"), std::string::npos) << nobody.output;
  auto missing = cli("run " + path("nope.so:app") + " --http-port 0 --admin-port 0");
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.output.find("does not exist"), std::string::npos) << missing.output;
  auto no_app = cli("run " + std::string(CSERVE_EXAMPLES_DIR) + "/libcounter_app.so:nope --http-port 0 --admin-port 0");
  EXPECT_EQ(no_app.code, 1);
  EXPECT_NE(no_app.output.find("has no application 'nope' (it has: counter, counter_routes)"), std::string::npos)
      << no_app.output;
  auto foreign = cli("run " + std::string(CSERVE_TEST_LIBS_DIR) + "/libforeign_abi_app.so:app --http-port 0 --admin-port 0");
  EXPECT_EQ(foreign.code, 1);
  EXPECT_NE(foreign.output.find("was built against an incompatible cserve (cserve-abi-0"), std::string::npos)
      << foreign.output;
  // The node's capacity is what --cpus says: an application that can never fit fails at once.
  write("two.yaml", "applications:\n  - name: counter\n    route_prefix: /Counter\n    import_path: " +
                        std::string(CSERVE_EXAMPLES_DIR) +
                        "/libcounter_app.so:counter\n    deployments:\n      - name: Counter\n        num_replicas: 2\n");
  auto too_big = cli("run " + path("two.yaml") + " --cpus 1 --http-port 0 --admin-port 0");
  EXPECT_EQ(too_big.code, 1);
  EXPECT_NE(too_big.output.find("cannot be placed: needs {CPU: 1} per replica; node 'local' has {CPU: 1"),
            std::string::npos)
      << too_big.output;
  auto bad_resources = cli("run " + path("two.yaml") + " --resources '{\"tpu\": \"x\"}'");
  EXPECT_EQ(bad_resources.code, 2);
  EXPECT_NE(bad_resources.output.find("--resources: must be a JSON object of numbers"), std::string::npos)
      << bad_resources.output;
  auto not_cserve = cli("run /bin/true:app --http-port 0 --admin-port 0");
  EXPECT_EQ(not_cserve.code, 1);
  EXPECT_NE(not_cserve.output.find("cannot load"), std::string::npos) << not_cserve.output;
}

TEST_F(Cli, BuildWritesAConfigThatRuns) {
  auto built = cli("build " + std::string(CSERVE_EXAMPLES_DIR) + "/libcounter_app.so -o " + path("built.yaml"));
  ASSERT_EQ(built.code, 0) << built.output;
  std::ifstream in(path("built.yaml"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("name: counter_routes"), std::string::npos) << text;
  EXPECT_NE(text.find("import_path: "), std::string::npos) << text;

  test::ChildProcess run(CSERVE_BINARY, {"run", path("built.yaml"), "--http-port", "0", "--admin-port", "0"});
  int port = run.wait_for_port();
  ASSERT_GT(port, 0);
  test::HttpClient client(port);
  EXPECT_EQ(client.get("/counter").status, 200);
  EXPECT_EQ(Json::parse(client.get("/counter_routes/incr").body), (Json{{"count", 1}}));
  run.signal(SIGINT);  // Ctrl-C tears it down
  EXPECT_EQ(run.wait_exit(30s), 0);
}

}  // namespace
}  // namespace cserve
