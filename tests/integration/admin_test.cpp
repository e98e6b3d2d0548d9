// The admin port: Prometheus /metrics (parsed strictly), the REST status and shutdown, tokens.
#include <cserve/cserve.hpp>
#include <cserve/metrics.hpp>

#include "support/http_client.hpp"
#include "support/local_serve.hpp"
#include "support/prometheus.hpp"
#include "support/wait.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

namespace cserve {
namespace {

using namespace std::chrono_literals;
using test::HttpClient;

class Scored {
 public:
  static void routes(Routes<Scored>& r) {
    r.get("/", &Scored::get).get("/boom", &Scored::boom).get("/wait", &Scored::wait);
  }
  Json get() {
    hits_.inc(1, {{"model", "m1"}});
    latency_.observe(3);
    return {{"ok", true}};
  }
  Json boom() { throw std::runtime_error("boom"); }
  Json wait() {
    std::unique_lock lock(mu);
    cv.wait(lock, [] { return open; });
    return {{"waited", true}};
  }
  static void set_open(bool v) {
    {
      std::lock_guard lock(mu);
      open = v;
    }
    cv.notify_all();
  }
  static inline std::mutex mu;
  static inline std::condition_variable cv;
  static inline bool open = true;

 private:
  metrics::Counter hits_{"admin_test_hits", "hits per model", {"model"}};
  metrics::Histogram latency_{"admin_test_latency_ms", "made-up latency", {1, 5, 10}, {}};
};

ServeOptions with_admin() {
  ServeOptions o;
  o.admin.enabled = true;
  o.admin.port = 0;
  return o;
}

TEST(Admin, MetricsParseAsPrometheusAndCountWhatHappened) {
  Scored::set_open(true);
  Serve serve = test::start_local(with_admin());
  serve.run(deployment<Scored>().max_ongoing_requests(1).max_queued_requests(0).bind(),
            {.name = "scored", .route_prefix = "/scored"});
  HttpClient client(serve.http_port());
  for (int i = 0; i < 3; ++i) ASSERT_EQ(client.get("/scored").status, 200);
  ASSERT_EQ(client.get("/scored/boom").status, 500);
  ASSERT_EQ(client.get("/nowhere").status, 404);
  // A full queue: one request waits in the replica, the next is answered 503 at once.
  Scored::set_open(false);
  auto waiting = std::async(std::launch::async, [&] { return HttpClient(serve.http_port()).get("/scored/wait"); });
  int status = 0;
  for (int i = 0; i < 200 && status != 503; ++i) {
    std::this_thread::sleep_for(10ms);
    status = HttpClient(serve.http_port()).get("/scored").status;
  }
  ASSERT_EQ(status, 503);
  Scored::set_open(true);
  ASSERT_EQ(waiting.get().status, 200);

  auto res = HttpClient(serve.admin_port()).get("/metrics");
  ASSERT_EQ(res.status, 200);
  EXPECT_NE(res.header("content-type").find("text/plain; version=0.0.4"), std::string::npos);
  test::PromText m = test::parse_prometheus(res.body);  // throws on anything malformed

  const std::map<std::string, std::string> app{{"application", "scored"}, {"route", "/scored"}};
  auto with = [&](std::map<std::string, std::string> extra) {
    extra.insert(app.begin(), app.end());
    return extra;
  };
  EXPECT_EQ(m.types.at("cserve_num_http_requests_total"), "counter");
  EXPECT_GE(m.value("cserve_num_http_requests_total", with({{"method", "GET"}, {"status_code", "200"}})), 4);
  EXPECT_EQ(m.value("cserve_num_http_requests_total", with({{"status_code", "500"}})), 1);
  EXPECT_GE(m.value("cserve_num_http_requests_total", with({{"status_code", "503"}})), 1);
  EXPECT_EQ(m.value("cserve_num_http_error_requests_total", with({{"error_code", "500"}})), 1);
  EXPECT_GE(m.sum("cserve_num_http_requests_total", {{"application", ""}, {"status_code", "404"}}), 1);
  EXPECT_EQ(m.types.at("cserve_http_request_latency_ms"), "histogram");
  EXPECT_GE(m.value("cserve_http_request_latency_ms_count", {{"application", "scored"}, {"status_code", "200"}}), 4);
  EXPECT_GE(m.value("cserve_http_request_latency_ms_bucket",
                    {{"application", "scored"}, {"status_code", "200"}, {"le", "+Inf"}}),
            4);
  const std::map<std::string, std::string> dep{{"application", "scored"}, {"deployment", "Scored"}};
  EXPECT_GE(m.sum("cserve_deployment_request_counter_total", dep), 5);
  EXPECT_GE(m.sum("cserve_deployment_processing_latency_ms_count", dep), 5);
  EXPECT_EQ(m.value("cserve_deployment_queued_queries", dep), 0);
  EXPECT_EQ(m.value("cserve_deployment_running_replicas", dep), 1);
  EXPECT_EQ(m.sum("cserve_deployment_replica_healthy", dep), 1);
  EXPECT_EQ(m.sum("cserve_deployment_replica_starts_total", dep), 1);
  EXPECT_EQ(m.value("cserve_num_ongoing_http_requests"), 0);
  // The user's metrics, tagged with where they were recorded.
  EXPECT_EQ(m.value("admin_test_hits", {{"model", "m1"}, {"application", "scored"}, {"deployment", "Scored"}}), 3);
  EXPECT_EQ(m.value("admin_test_latency_ms_bucket", {{"deployment", "Scored"}, {"le", "5"}}), 3);
}

TEST(Admin, ApplicationsEndpointShowsStatusAndDeleteShutsDown) {
  Serve serve = test::start_local(with_admin());
  serve.run(deployment<Scored>().bind(), {.name = "scored", .route_prefix = "/scored"});
  HttpClient admin(serve.admin_port());
  auto got = admin.get("/api/serve/applications/");
  ASSERT_EQ(got.status, 200) << got.body;
  Json j = Json::parse(got.body);
  EXPECT_EQ(j["applications"]["scored"]["status"], "RUNNING");
  EXPECT_EQ(j["applications"]["scored"]["deployments"]["Scored"]["status"], "HEALTHY");
  EXPECT_EQ(admin.request("POST", "/api/serve/applications/").status, 405);
  EXPECT_EQ(admin.get("/nope").status, 404);

  std::atomic<bool> waiting{false};
  std::atomic<bool> returned{false};
  std::thread waiter([&] {
    serve.wait([&] { waiting = true; });  // on_waiting: the signal handlers are in place
    returned = true;
  });
  ASSERT_TRUE(test::wait_until([&] { return waiting.load(); }));
  EXPECT_FALSE(returned.load()) << "wait() blocks until something asks it to stop";
  auto del = HttpClient(serve.admin_port()).request("DELETE", "/api/serve/applications/");
  EXPECT_EQ(del.status, 200);
  waiter.join();  // wait() returned: the runtime shut down
  EXPECT_TRUE(returned.load());
}

TEST(Admin, ATokenIsRequiredOffLoopbackAndCheckedWhenSet) {
  ServeOptions open = with_admin();
  open.admin.host = "0.0.0.0";
  try {
    test::start_local(open);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("admin.token"), std::string::npos) << e.what();
  }
  ServeOptions guarded = with_admin();
  guarded.admin.token = "s3cret";
  Serve serve = test::start_local(guarded);
  HttpClient admin(serve.admin_port());
  auto denied = admin.get("/metrics");
  EXPECT_EQ(denied.status, 401);
  EXPECT_EQ(denied.header("www-authenticate"), "Bearer");
  EXPECT_EQ(admin.request("GET", "/metrics", "", {{"Authorization", "Bearer wrong"}}).status, 401);
  EXPECT_EQ(admin.request("GET", "/metrics", "", {{"Authorization", "Bearer s3cret"}}).status, 200);
}

TEST(Admin, UserMetricsRejectUndeclaredTags) {
  metrics::Counter c("admin_test_checked", "", {"model"});
  EXPECT_THROW(c.inc(1, {{"other", "x"}}), ConfigError);
  EXPECT_THROW(c.inc(1), ConfigError);  // no value for "model"
  c.set_default_tags({{"model", "default"}});
  EXPECT_NO_THROW(c.inc(2));
  EXPECT_THROW(c.inc(-1), ConfigError);
  EXPECT_THROW(metrics::Gauge("admin_test_checked"), ConfigError);  // same name, other type
}

TEST(Admin, ABurstThatFillsTheQueueGets503sThatAreCountedAndLosesNothingElse) {
  Scored::set_open(false);  // /wait holds its slot until the test opens the gate
  Serve serve = test::start_local(with_admin());
  serve.run(deployment<Scored>().max_ongoing_requests(2).max_queued_requests(3).bind(),
            {.name = "burst", .route_prefix = "/burst"});
  auto scrape = [&] { return test::parse_prometheus(HttpClient(serve.admin_port()).get("/metrics").body); };
  auto count = [](const test::PromText& m, const char* code) {
    return m.sum("cserve_num_http_requests_total", {{"application", "burst"}, {"status_code", code}});
  };
  auto gauge = [&](const char* name) { return scrape().sum(name, {{"application", "burst"}}); };
  const auto before = scrape();

  std::vector<std::future<test::HttpResult>> replies;
  struct OpenAtExit {  // whatever happens, the held requests end before the futures are joined
    ~OpenAtExit() { Scored::set_open(true); }
  } open_at_exit;
  auto send = [&](int n) {
    for (int i = 0; i < n; ++i) {
      replies.push_back(std::async(std::launch::async, [&] { return HttpClient(serve.http_port()).get("/burst/wait"); }));
    }
  };
  send(2);  // both slots taken...
  ASSERT_TRUE(test::wait_until([&] { return gauge("cserve_replica_processing_queries") == 2; }));
  send(3);  // ...the queue full...
  ASSERT_TRUE(test::wait_until([&] { return gauge("cserve_deployment_queued_queries") == 3; }));
  send(19);  // ...and every later request of the burst answered 503 at once.
  for (std::size_t i = 5; i < replies.size(); ++i) {
    ASSERT_EQ(replies[i].wait_for(10s), std::future_status::ready) << "request " << i << " was not answered at once";
    auto res = replies[i].get();
    EXPECT_EQ(res.status, 503) << res.body;
    EXPECT_EQ(Json::parse(res.body)["code"], "OVERLOADED");
    EXPECT_NE(Json::parse(res.body)["error"].get<std::string>().find("max_queued_requests"), std::string::npos);
  }
  Scored::set_open(true);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(replies[i].get().status, 200) << "the held and queued ones lose nothing";
  const auto after = scrape();
  EXPECT_EQ(count(after, "503") - count(before, "503"), 19);
  EXPECT_EQ(count(after, "200") - count(before, "200"), 5);
  EXPECT_EQ(after.value("cserve_deployment_queued_queries", {{"application", "burst"}}), 0);
}

TEST(Admin, ABadConfigIsA400ThatNamesTheProblemAndChangesNothing) {
  Serve serve = test::start_local(with_admin());
  serve.run(deployment<Scored>().bind(), {.name = "scored", .route_prefix = "/scored"});
  HttpClient admin(serve.admin_port());
  auto put = [&](const std::string& body) { return admin.request("PUT", "/api/serve/applications/", body); };
  auto error = [](const test::HttpResult& r) { return Json::parse(r.body)["error"].get<std::string>(); };

  auto not_json = put("{nope");
  EXPECT_EQ(not_json.status, 400);
  EXPECT_NE(error(not_json).find("not JSON"), std::string::npos);
  auto unknown = put(R"({"applications": [{"name": "a", "import_path": "x.so:a", "replicas": 2}]})");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(error(unknown).find("applications[0].replicas: unknown key"), std::string::npos) << unknown.body;
  auto missing = put(R"({"applications": [{"name": "a", "import_path": "/nonexistent/lib.so:a"}]})");
  EXPECT_EQ(missing.status, 400);
  EXPECT_NE(error(missing).find("does not exist"), std::string::npos) << missing.body;
  // This test process links cserve statically: a library bound to libcserve.so is refused.
  Json other{{"applications", {{{"name", "c"}, {"import_path", std::string(CSERVE_EXAMPLES_DIR) + "/libcounter_app.so:counter"}}}}};
  auto foreign = put(other.dump());
  EXPECT_EQ(foreign.status, 400);
  EXPECT_NE(error(foreign).find("another copy of the cserve runtime"), std::string::npos) << foreign.body;

  // Nothing changed: the app still runs, no config was recorded.
  auto got = Json::parse(admin.get("/api/serve/applications/").body);
  EXPECT_EQ(got["applications"]["scored"]["status"], "RUNNING");
  EXPECT_TRUE(got["config"].is_null());
  EXPECT_EQ(HttpClient(serve.http_port()).get("/scored").status, 200);
}

}  // namespace
}  // namespace cserve
