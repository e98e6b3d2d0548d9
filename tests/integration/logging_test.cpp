// Logs: JSON and text lines carry the application, deployment, replica and request id; with
// access logs on, a request's id is in the log of every hop it took.
#include <cserve/cserve.hpp>

#include "support/http_client.hpp"
#include "support/local_serve.hpp"

#include "common/logging.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <vector>

namespace cserve {
namespace {

class Child {
 public:
  int operator()(int x) {
    log_info("child handling " + std::to_string(x));
    return x + 1;
  }
};

class Front {
 public:
  explicit Front(DeploymentHandle<Child> child) : child_(std::move(child)) {}
  Task<Json> operator()(const Request&) {
    log_info("front handling");
    int y = co_await child_.remote(41);
    co_return Json{{"y", y}};
  }

 private:
  DeploymentHandle<Child> child_;
};

// Captures every log line for one test, and puts the process's logging back afterwards.
class CapturedLogs : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_level_ = log::level();
    log::set_sink([this](std::string_view line) {
      std::lock_guard lock(mu_);
      lines_.emplace_back(line);
    });
  }
  void TearDown() override {
    log::set_sink({});
    log::set_level(saved_level_);
    log::set_encoding(log::Encoding::kText);
    log::set_access_log(false);
  }
  std::vector<std::string> lines() {
    std::lock_guard lock(mu_);
    return lines_;
  }

 private:
  log::Level saved_level_;
  std::mutex mu_;
  std::vector<std::string> lines_;
};

using Logging = CapturedLogs;

TEST_F(Logging, EveryHopOfARequestLogsItsIdAsJson) {
  ServeOptions o;
  o.logging.log_level = "INFO";
  o.logging.encoding = "JSON";
  o.logging.enable_access_log = true;
  std::string id;
  {
    Serve serve = test::start_local(o);
    serve.run(deployment<Front>().bind(deployment<Child>().bind()), {.name = "graph", .route_prefix = "/g"});
    auto r = test::HttpClient(serve.http_port()).get("/g");
    ASSERT_EQ(r.status, 200);
    id = r.header("x-request-id");
    ASSERT_FALSE(id.empty());
  }  // shut down: every line is written
  bool proxy = false, front_access = false, child_access = false, front_user = false, child_user = false;
  for (const auto& line : lines()) {
    Json j = Json::parse(line);  // every line is one JSON object
    ASSERT_TRUE(j.contains("time") && j.contains("level") && j.contains("message")) << line;
    if (j.value("request_id", "") != id) continue;
    const std::string component = j["component"];
    const std::string deployment = j.value("deployment", "");
    const std::string message = j["message"];
    if (component == "proxy" && message.find("GET /g 200") == 0) proxy = true;
    if (component == "replica" && deployment == "Front") front_access = true;
    if (component == "replica" && deployment == "Child") child_access = true;
    if (component == "user" && deployment == "Front" && message == "front handling") front_user = true;
    if (component == "user" && deployment == "Child" && message == "child handling 41") {
      child_user = true;
      EXPECT_EQ(j["application"], "graph");
      EXPECT_EQ(j["replica"].get<std::string>().rfind("Child#", 0), 0u);
    }
  }
  EXPECT_TRUE(proxy) << "no proxy access line with the request id";
  EXPECT_TRUE(front_access) << "no access line of the ingress replica";
  EXPECT_TRUE(child_access) << "no access line of the downstream replica";
  EXPECT_TRUE(front_user);
  EXPECT_TRUE(child_user);
}

TEST_F(Logging, TextLinesNameTheReplicaAndRequest) {
  ServeOptions o;
  o.logging.log_level = "INFO";
  std::string id;
  {
    Serve serve = test::start_local(o);
    serve.run(deployment<Front>().bind(deployment<Child>().bind()), {.name = "graph", .route_prefix = "/g"});
    auto r = test::HttpClient(serve.http_port()).get("/g");
    ASSERT_EQ(r.status, 200);
    id = r.header("x-request-id");
    ASSERT_FALSE(id.empty()) << "a line would match an empty id anywhere";
  }
  bool found = false;
  for (const auto& line : lines()) {
    if (line.find("child handling 41") == std::string::npos) continue;
    found = true;
    EXPECT_NE(line.find(" INFO [user] app=graph deployment=Child replica=Child#"), std::string::npos) << line;
    EXPECT_NE(line.find("request_id=" + id), std::string::npos) << line;
  }
  EXPECT_TRUE(found);
}

TEST_F(Logging, InvalidLoggingOptionsAreConfigErrors) {
  ServeOptions o;
  o.logging.encoding = "XML";
  EXPECT_THROW(test::start_local(o), ConfigError);
  o.logging.encoding.reset();
  o.logging.log_level = "LOUD";
  EXPECT_THROW(test::start_local(o), ConfigError);
}

}  // namespace
}  // namespace cserve
