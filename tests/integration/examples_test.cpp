// The examples as a user runs them: real processes, real signals, real sockets.
#include <cserve/json.hpp>

#include "support/http_client.hpp"
#include "support/load.hpp"
#include "support/process.hpp"
#include "support/wait.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <thread>

namespace cserve {
namespace {

using test::ChildProcess;
using test::HttpClient;
using namespace std::chrono_literals;

std::string example(const std::string& name) { return std::string(CSERVE_EXAMPLES_DIR) + "/" + name; }

TEST(Examples, CounterCountsAndStopsOnSigterm) {
  ChildProcess p(example("counter"), {"--host", "127.0.0.1", "--port", "0"});
  int port = p.wait_for_port();
  ASSERT_GT(port, 0);
  HttpClient client(port);
  EXPECT_EQ(Json::parse(client.get("/Counter").body), (Json{{"count", 1}}));
  EXPECT_EQ(Json::parse(client.get("/Counter").body), (Json{{"count", 2}}));
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(30s), 0);
}

TEST(Examples, CounterRejectsABadCommandLine) {
  ChildProcess p(example("counter"), {"--port", "http"});
  EXPECT_EQ(p.wait_exit(10s), 2);
}

TEST(Examples, PortInUseIsAnErrorNotACrash) {
  ChildProcess first(example("counter"), {"--port", "0"});
  int port = first.wait_for_port();
  ASSERT_GT(port, 0);
  ChildProcess second(example("counter"), {"--port", std::to_string(port)});
  EXPECT_EQ(second.wait_exit(30s), 1);  // "cannot listen on 127.0.0.1:PORT: ..." on stderr
  EXPECT_EQ(HttpClient(port).get("/Counter").status, 200);
}

TEST(Examples, CounterRoutesFollowsTheSeedTranscript) {
  ChildProcess p(example("counter_routes"), {"--port", "0"});
  int port = p.wait_for_port();
  ASSERT_GT(port, 0);
  HttpClient client(port);
  EXPECT_EQ(Json::parse(client.get("/Counter/").body), (Json{{"count", 0}}));
  EXPECT_EQ(Json::parse(client.get("/Counter/incr").body), (Json{{"count", 1}}));
  EXPECT_EQ(Json::parse(client.get("/Counter/decr").body), (Json{{"count", 0}}));
  EXPECT_EQ(client.get("/Counter").status, 200);
  p.signal(SIGINT);
  EXPECT_EQ(p.wait_exit(30s), 0);
}

TEST(Examples, EnsembleServesHttpAndAHandle) {
  ChildProcess p(example("ensemble"), {"--port", "0"});
  auto handle_line = p.wait_for_line("handle: ", 20s);
  ASSERT_TRUE(handle_line);
  EXPECT_NE(handle_line->find(R"("a":3.0)"), std::string::npos) << *handle_line;
  EXPECT_NE(handle_line->find(R"("b":6.0)"), std::string::npos) << *handle_line;
  int port = p.wait_for_port();
  ASSERT_GT(port, 0);
  HttpClient client(port);
  auto r = client.request("POST", "/predict", "[1, 2, 6]");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Json::parse(r.body), (Json{{"a", 3.0}, {"b", 6.0}, {"mean", 4.5}}));
  EXPECT_EQ(client.request("POST", "/predict", "[]").status, 400);          // from a child
  EXPECT_EQ(client.request("POST", "/predict", "{\"x\": 1}").status, 400);  // from the ingress
  EXPECT_EQ(client.request("POST", "/predict", "not json").status, 400);
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(30s), 0);
}

TEST(Examples, BatchingGathersConcurrentRequests) {
  ChildProcess p(example("batching"), {"--port", "0", "--max-batch-size", "16"});
  int port = p.wait_for_port();
  ASSERT_GT(port, 0);
  Json input = Json::array();
  for (int i = 0; i < 512; ++i) input.push_back(0.001 * i);
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int c = 0; c < 16; ++c) {
    clients.emplace_back([&] {
      HttpClient client(port);
      for (int i = 0; i < 10; ++i) {
        auto r = client.request("POST", "/model", input.dump());
        if (r.status == 200 && Json::parse(r.body).size() == 8) ++ok;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 160);
  auto stats = Json::parse(HttpClient(port).get("/model/stats").body);
  EXPECT_EQ(stats["inputs"], 160);
  EXPECT_GT(stats["mean_batch_size"].get<double>(), 1.0) << stats.dump();
  EXPECT_EQ(HttpClient(port).request("POST", "/model", "[1, 2]").status, 400);
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(30s), 0);
}

TEST(Examples, EmbedHandleServesFromTheUsersOwnServer) {
  ChildProcess p(example("embed_handle"), {"--port", "0"});
  int port = p.wait_for_port();
  ASSERT_GT(port, 0);
  HttpClient client(port);
  auto r = client.get("/greet?name=Ada");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.rfind("Hello, Ada! (from Greeter#", 0), 0u) << r.body;
  EXPECT_EQ(client.get("/other").status, 404);
}

TEST(Examples, StreamingSendsTokensAsTheyAreMade) {
  ChildProcess p(example("streaming"), {"--port", "0"});
  int port = p.wait_for_port();
  ASSERT_GT(port, 0);
  HttpClient client(port);
  auto r = client.get("/tokens?n=4&delay_ms=1");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("transfer-encoding"), "chunked");
  EXPECT_EQ(r.body, "the quick brown fox\n");
  EXPECT_EQ(client.get("/tokens?n=zero").status, 400);
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(30s), 0);
}

TEST(Examples, QuickstartRollsOverUnderLoadWithNoFailedRequest) {
  ChildProcess p(example("quickstart"), {"--port", "0"});
  int port = p.wait_for_port();
  ASSERT_GT(port, 0);
  EXPECT_EQ(Json::parse(HttpClient(port).get("/Counter").body), (Json{{"count", 1}}));

  test::LoadGenerator load(port, "/Counter", 64, 120s);
  load.start();
  ASSERT_TRUE(test::wait_until([&] { return load.responses_so_far() >= 500; }, 60s));
  p.signal(SIGHUP);
  ASSERT_TRUE(p.wait_for_line("redeployed", 60s));
  // The load stays on while the old replica drains (its first drain check finds requests in
  // flight; the next comes graceful_shutdown_wait_loop_s = 2 s later) and stops.
  long at_redeploy = load.responses_so_far();
  ASSERT_TRUE(p.wait_for_line("the old version has stopped", 60s));
  // And on, with the new version alone.
  const long at_stop = load.responses_so_far();
  ASSERT_TRUE(test::wait_until([&] { return load.responses_so_far() >= at_stop + 200; }, 60s));
  auto stats = load.stop();

  EXPECT_GT(stats.responses, at_redeploy + 200);
  EXPECT_EQ(stats.connection_errors, 0);
  EXPECT_EQ(stats.failed(), 0) << "non-200 responses: " << stats.responses - stats.ok();

  // The new version serves the seed's transcript, from zero.
  HttpClient client(port);
  EXPECT_EQ(Json::parse(client.get("/Counter/").body), (Json{{"count", 0}}));
  EXPECT_EQ(Json::parse(client.get("/Counter/incr").body), (Json{{"count", 1}}));
  EXPECT_EQ(Json::parse(client.get("/Counter/decr").body), (Json{{"count", 0}}));
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(30s), 0);
}

}  // namespace
}  // namespace cserve
