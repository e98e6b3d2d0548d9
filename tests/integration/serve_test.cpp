// The in-process runtime through its public API and real HTTP on loopback.
#include <cserve/cserve.hpp>

#include "support/http_client.hpp"
#include "support/load.hpp"
#include "support/local_serve.hpp"
#include "support/wait.hpp"

#include <gtest/gtest.h>

#include <sched.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <thread>

namespace cserve {
namespace {

using test::HttpClient;
using test::start_local;

class Counter {
 public:
  Json operator()(const Request&) { return {{"count", ++count_}}; }

 private:
  int count_ = 0;
};

class RoutedCounter {
 public:
  static void routes(Routes<RoutedCounter>& r) {
    r.get("/", &RoutedCounter::get).get("/incr", &RoutedCounter::incr).get("/decr", &RoutedCounter::decr);
    r.post("/echo", &RoutedCounter::echo);
  }
  Json get() { return {{"count", count_}}; }
  Json incr() { return {{"count", ++count_}}; }
  Json decr() { return {{"count", --count_}}; }
  Json echo(const Request& req) { return req.json(); }

 private:
  int count_ = 0;
};

std::atomic<int> g_constructions{0};
struct Tracked {
  Tracked() { ++g_constructions; }
  Json operator()() { return get_replica_context().replica_id; }
};

struct Thrower {
  Json operator()(const Request& req) {
    if (req.path() == "/boom") throw std::runtime_error("kaboom");
    if (req.path() == "/teapot") throw HttpError(418, "short and stout");
    return "fine";
  }
};

std::atomic<int> g_bad_constructions{0};
struct BadConstructor {
  BadConstructor() {
    ++g_bad_constructions;
    throw std::runtime_error("model file missing");
  }
  Json operator()() { return "never"; }
};

// Serves its version; the version "broken" cannot be constructed.
class Versioned {
 public:
  explicit Versioned(std::string v) : v_(std::move(v)) {
    if (v_ == "broken") throw std::runtime_error("cannot load weights of version broken");
  }
  Json operator()() { return v_; }

 private:
  std::string v_;
};

struct Gpu {
  Json operator()() { return get_replica_context().gpu_ids; }
};

struct Configurable {
  void reconfigure(const Json& c) { threshold_ = c.at("threshold").get<int>(); }
  Json operator()() { return {{"threshold", threshold_}, {"replica", get_replica_context().replica_id}}; }

 private:
  int threshold_ = 0;
};

// Blocks every call until the test opens the gate.
struct Gate {
  static std::mutex mu;
  static std::condition_variable cv;
  static bool open;
  static std::atomic<int> entered;
  Json operator()() {
    ++entered;
    std::unique_lock lock(mu);
    cv.wait(lock, [] { return open; });
    return "through";
  }
  static void set(bool o) {
    {
      std::lock_guard lock(mu);
      open = o;
    }
    cv.notify_all();
  }
};
std::mutex Gate::mu;
std::condition_variable Gate::cv;
bool Gate::open = false;
std::atomic<int> Gate::entered{0};

Json hello(const Request& req) { return {{"hello", req.query("name").value_or("world")}}; }

std::set<std::string> replica_ids(const Serve& serve, const std::string& app, const std::string& dep) {
  std::set<std::string> ids;
  const ServeStatus status = serve.status();
  for (const auto& r : status.applications.at(app).deployments.at(dep).replicas) {
    if (r.state == ReplicaState::RUNNING) ids.insert(r.replica_id);
  }
  return ids;
}

TEST(Serve, CounterCountsOverHttp) {
  Serve serve = start_local();
  serve.run(deployment<Counter>().bind(), {.route_prefix = "/Counter"});
  HttpClient client(serve.http_port());
  auto first = client.get("/Counter");
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.header("content-type"), "application/json");
  EXPECT_EQ(Json::parse(first.body), (Json{{"count", 1}}));
  EXPECT_FALSE(first.header("x-request-id").empty());
  EXPECT_EQ(Json::parse(client.get("/Counter").body), (Json{{"count", 2}}));
  auto mine = client.request("GET", "/Counter", "", {{"X-Request-Id", "my-id-42"}});
  EXPECT_EQ(mine.header("x-request-id"), "my-id-42");
  auto status = serve.status();
  EXPECT_EQ(status.applications.at("default").status, ApplicationStatus::RUNNING);
  EXPECT_EQ(status.applications.at("default").deployments.at("Counter").status, DeploymentStatus::HEALTHY);
}

TEST(Serve, RoutedCounterFollowsTheSeedTranscript) {
  Serve serve = start_local();
  serve.run(deployment<RoutedCounter>().name("Counter").bind(), {.route_prefix = "/Counter"});
  HttpClient client(serve.http_port());
  EXPECT_EQ(client.get("/Counter/").body, R"({"count":0})");
  EXPECT_EQ(client.get("/Counter/incr").body, R"({"count":1})");
  EXPECT_EQ(client.get("/Counter/decr").body, R"({"count":0})");
  auto no_slash = client.get("/Counter");
  EXPECT_EQ(no_slash.status, 200);  // the "/" route, no redirect
  EXPECT_EQ(no_slash.body, R"({"count":0})");
}

TEST(Serve, RouteMissesAnswerJsonErrors) {
  Serve serve = start_local();
  serve.run(deployment<RoutedCounter>().bind(), {.route_prefix = "/c"});
  HttpClient client(serve.http_port());
  auto unknown_app = client.get("/nothing-here");
  EXPECT_EQ(unknown_app.status, 404);
  EXPECT_TRUE(Json::parse(unknown_app.body).contains("error"));
  auto unknown_route = client.get("/c/nope");
  EXPECT_EQ(unknown_route.status, 404);
  auto body = Json::parse(unknown_route.body);
  EXPECT_EQ(body["request_id"], unknown_route.header("x-request-id"));
  auto wrong_method = client.request("DELETE", "/c/incr");
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_EQ(wrong_method.header("allow"), "GET");
  auto bad_json = client.request("POST", "/c/echo", "{oops", {{"Content-Type", "application/json"}});
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_NE(Json::parse(bad_json.body)["error"].get<std::string>().find("not valid JSON"), std::string::npos);
  auto good_json = client.request("POST", "/c/echo", R"({"a":[1,2]})");
  EXPECT_EQ(good_json.status, 200);
  EXPECT_EQ(Json::parse(good_json.body), (Json{{"a", {1, 2}}}));
}

TEST(Serve, HandlerExceptionsBecomeErrorsAndTheReplicaServesOn) {
  Serve serve = start_local();
  serve.run(deployment<Thrower>().bind(), {.route_prefix = "/t"});
  HttpClient client(serve.http_port());
  auto boom = client.get("/t/boom");
  EXPECT_EQ(boom.status, 500);
  auto id = boom.header("x-request-id");
  auto body = Json::parse(boom.body);
  EXPECT_EQ(body["request_id"], id);
  EXPECT_NE(body["error"].get<std::string>().find(id), std::string::npos);
  auto teapot = client.get("/t/teapot");
  EXPECT_EQ(teapot.status, 418);
  EXPECT_EQ(Json::parse(teapot.body)["error"], "short and stout");
  EXPECT_EQ(client.get("/t/ok").body, R"("fine")");
}

TEST(Serve, ConstructorFailureIsDeployFailedAndOtherAppsServe) {
  g_bad_constructions = 0;
  Serve serve = start_local();
  serve.run(deployment<Counter>().bind(), {.name = "good", .route_prefix = "/good"});
  try {
    serve.run(deployment<BadConstructor>().bind(), {.name = "bad", .route_prefix = "/bad"});
    FAIL() << "expected DeployError";
  } catch (const DeployError& e) {
    EXPECT_NE(std::string(e.what()).find("model file missing"), std::string::npos) << e.what();
  }
  auto status = serve.status();
  const auto& bad = status.applications.at("bad");
  EXPECT_EQ(bad.status, ApplicationStatus::DEPLOY_FAILED);
  EXPECT_NE(bad.message.find("model file missing"), std::string::npos);
  EXPECT_EQ(bad.deployments.at("BadConstructor").status, DeploymentStatus::DEPLOY_FAILED);
  EXPECT_EQ(bad.deployments.at("BadConstructor").status_trigger, DeploymentStatusTrigger::REPLICA_STARTUP_FAILED);
  // min(3 x num_replicas, 20) attempts, at least 3: exactly 3 here, then no more.
  EXPECT_EQ(g_bad_constructions.load(), 3);
  HttpClient client(serve.http_port());
  EXPECT_EQ(client.get("/good").body, R"({"count":1})");
  auto failed = client.get("/bad");
  EXPECT_EQ(failed.status, 503);  // answered at once, not left hanging
  EXPECT_NE(failed.body.find("model file missing"), std::string::npos);
  // A fixed redeploy recovers the app.
  serve.run(deployment<Counter>().name("BadConstructor").bind(), {.name = "bad", .route_prefix = "/bad"});
  EXPECT_EQ(client.get("/bad").body, R"({"count":1})");
}

TEST(Serve, ARedeployWhoseConstructorThrowsLeavesTheOldVersionServingUnderLoad) {
  Serve serve = start_local();
  serve.run(deployment<Versioned>().num_replicas(2).bind("v1"), {.name = "app", .route_prefix = "/v"});
  test::LoadGenerator load(serve.http_port(), "/v", 4);
  load.start();
  ASSERT_TRUE(test::wait_until([&] { return load.responses_so_far() >= 50; }));
  try {
    serve.run(deployment<Versioned>().num_replicas(2).bind("broken"), {.name = "app", .route_prefix = "/v"});
    FAIL() << "expected DeployError";
  } catch (const DeployError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot load weights of version broken"), std::string::npos) << e.what();
  }
  const long at_failure = load.responses_so_far();
  ASSERT_TRUE(test::wait_until([&] { return load.responses_so_far() >= at_failure + 50; }));
  auto stats = load.stop();
  EXPECT_EQ(stats.failed(), 0) << "the old version must serve on";
  EXPECT_EQ(HttpClient(serve.http_port()).get("/v").body, "\"v1\"");
  auto d = serve.status().applications.at("app").deployments.at("Versioned");
  EXPECT_EQ(d.status, DeploymentStatus::DEPLOY_FAILED);
  int running = 0;
  for (const auto& r : d.replicas) running += r.state == ReplicaState::RUNNING;
  EXPECT_EQ(running, 2);
}

TEST(Serve, AReconfigureThatThrowsFailsTheDeployWithItsError) {
  Serve serve = start_local();
  try {
    serve.run(deployment<Configurable>().user_config({{"threshold", "high"}}).bind(), {.route_prefix = "/c"});
    FAIL() << "expected DeployError";
  } catch (const DeployError& e) {
    EXPECT_NE(std::string(e.what()).find("type must be number"), std::string::npos) << e.what();
  }
  // The same deployment with a user_config its reconfigure() accepts runs.
  serve.run(deployment<Configurable>().user_config({{"threshold", 3}}).bind(), {.route_prefix = "/c"});
  EXPECT_EQ(Json::parse(HttpClient(serve.http_port()).get("/c").body)["threshold"], 3);
}

TEST(Serve, ChangingNumReplicasRestartsNoSurvivor) {
  g_constructions = 0;
  Serve serve = start_local();
  auto dep = [](int n) { return deployment<Tracked>().num_replicas(n).resources({.cpus = 0.5}).bind(); };
  serve.run(dep(1), {.route_prefix = "/t"});
  auto one = replica_ids(serve, "default", "Tracked");
  ASSERT_EQ(one.size(), 1u);
  serve.run(dep(4), {.route_prefix = "/t"});
  auto four = replica_ids(serve, "default", "Tracked");
  ASSERT_EQ(four.size(), 4u);
  EXPECT_TRUE(std::includes(four.begin(), four.end(), one.begin(), one.end()));
  serve.run(dep(2), {.route_prefix = "/t"});
  auto two = replica_ids(serve, "default", "Tracked");
  ASSERT_EQ(two.size(), 2u);
  EXPECT_TRUE(std::includes(four.begin(), four.end(), two.begin(), two.end()));
  EXPECT_EQ(g_constructions.load(), 4);
  // Traffic reaches only the survivors.
  HttpClient client(serve.http_port());
  for (int i = 0; i < 20; ++i) {
    auto id = Json::parse(client.get("/t").body).get<std::string>();
    EXPECT_TRUE(two.count(id)) << id;
  }
}

TEST(Serve, RedeployWithAnotherClassRollsReplicasAndResetsState) {
  Serve serve = start_local();
  serve.run(deployment<Counter>().graceful_shutdown_wait_loop_s(0.05).bind(), {.route_prefix = "/Counter"});
  HttpClient client(serve.http_port());
  EXPECT_EQ(client.get("/Counter").body, R"({"count":1})");
  EXPECT_EQ(client.get("/Counter").body, R"({"count":2})");
  auto before = replica_ids(serve, "default", "Counter");
  serve.run(deployment<RoutedCounter>().name("Counter").bind(), {.route_prefix = "/Counter"});
  auto after = replica_ids(serve, "default", "Counter");
  ASSERT_EQ(after.size(), 1u);
  EXPECT_NE(*before.begin(), *after.begin());
  EXPECT_EQ(client.get("/Counter/").body, R"({"count":0})");
  EXPECT_EQ(client.get("/Counter/incr").body, R"({"count":1})");
}

// Found by a user on a 2-core machine: three deployments with default resources (1 CPU each, as
// in Ray) made serve.run wait forever. Embedded mode cannot grow: it fails fast, naming the
// deployment, what it needs, what the node has and who holds it; the admin API says the same.
struct Leaf {
  Json operator()(const Request&) { return "leaf"; }
};
class Root {
 public:
  Root(DeploymentHandle<Leaf> a, DeploymentHandle<Leaf> b) : a_(std::move(a)), b_(std::move(b)) {}
  Json operator()(const Request&) { return "root"; }

 private:
  DeploymentHandle<Leaf> a_, b_;
};

TEST(Serve, AGraphThatCannotFitOnAFixedNodeFailsFastSayingWhy) {
  ServeOptions o;
  o.cpus = 2;
  o.admin.enabled = true;
  o.admin.port = 0;
  Serve serve = start_local(o);
  auto app = deployment<Root>().bind(deployment<Leaf>().name("A").bind(), deployment<Leaf>().name("B").bind());
  const auto started = std::chrono::steady_clock::now();
  std::string message;
  try {
    serve.run(app, {.name = "graph", .route_prefix = "/graph"});  // no timeout: it must not wait
    FAIL() << "expected DeployError";
  } catch (const DeployError& e) {
    message = e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(20)) << "it failed, but slowly";
  // Two of the three are placed; the third needs a CPU nobody will give back.
  const ServeStatus status = serve.status();
  const auto& graph = status.applications.at("graph");
  EXPECT_EQ(graph.status, ApplicationStatus::DEPLOY_FAILED);
  std::vector<std::string> failed, placed;
  for (const auto& [name, d] : graph.deployments) {
    (d.status == DeploymentStatus::DEPLOY_FAILED ? failed : placed).push_back(name);
  }
  ASSERT_EQ(failed.size(), 1u) << message;
  ASSERT_EQ(placed.size(), 2u);
  for (const std::string& part : std::vector<std::string>{
           "DEPLOY_FAILED", "deployment '" + failed[0] + "': cannot be placed", "needs {CPU: 1} per replica",
        "node 'local' has {CPU: 2, GPU: 0} in all and {CPU: 0, GPU: 0} free",
        "deployment '" + placed[0] + "' of application 'graph' (1 replica, CPU 1)",
        "deployment '" + placed[1] + "' of application 'graph' (1 replica, CPU 1)", "capacity is fixed"}) {
    EXPECT_NE(message.find(part), std::string::npos) << "missing '" << part << "' in: " << message;
  }
  EXPECT_EQ(message.find(placed[0] + "': 0 of 1"), std::string::npos) << "the others' progress is noise: " << message;
  // The admin API (what `cserve status` shows) says the same.
  auto admin = Json::parse(HttpClient(serve.admin_port()).get("/api/serve/applications/").body);
  const std::string failed_message =
      admin["applications"]["graph"]["deployments"][failed[0]]["message"].get<std::string>();
  EXPECT_NE(failed_message.find("held by deployment '" + placed[0] + "' of application 'graph'"), std::string::npos)
      << failed_message;
  // Deleting the graph gives its CPUs back: the same graph with smaller replicas runs.
  serve.delete_app("graph");
  auto small = deployment<Root>().resources({.cpus = 0.5}).bind(
      deployment<Leaf>().name("A").resources({.cpus = 0.5}).bind(),
      deployment<Leaf>().name("B").resources({.cpus = 0.5}).bind());
  serve.run(small, {.name = "graph", .route_prefix = "/graph"});
  EXPECT_EQ(HttpClient(serve.http_port()).get("/graph").body, "\"root\"");
}

TEST(Serve, AReplicaLargerThanTheNodeFailsFast) {
  Serve serve = start_local({.cpus = 2});
  try {
    serve.run(deployment<Counter>().resources({.cpus = 4}).bind(), {.route_prefix = "/big"});
    FAIL() << "expected DeployError";
  } catch (const DeployError& e) {
    EXPECT_NE(std::string(e.what()).find("needs {CPU: 4} per replica"), std::string::npos) << e.what();
  }
  auto d = serve.status().applications.at("default").deployments.at("Counter");
  ASSERT_EQ(d.replicas.size(), 1u);
  EXPECT_EQ(d.replicas[0].state, ReplicaState::PENDING);
  EXPECT_EQ(d.status, DeploymentStatus::DEPLOY_FAILED);
  serve.delete_app("default");
  EXPECT_TRUE(serve.status().applications.empty());
}

TEST(Serve, GpuIdsReachTheReplicaContext) {
  Serve serve = start_local({.gpus = 2});
  serve.run(deployment<Gpu>().num_replicas(3).resources({.cpus = 1, .gpus = 0.5}).bind(), {.route_prefix = "/gpu"});
  std::multiset<int> used;
  const ServeStatus status = serve.status();
  for (const auto& r : status.applications.at("default").deployments.at("Gpu").replicas) {
    ASSERT_EQ(r.gpu_ids.size(), 1u);
    used.insert(r.gpu_ids[0]);
  }
  EXPECT_EQ(used, (std::multiset<int>{0, 0, 1}));
  HttpClient client(serve.http_port());
  auto ids = Json::parse(client.get("/gpu").body);
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_TRUE(ids[0] == 0 || ids[0] == 1);
}

TEST(Serve, FullQueueAnswers503) {
  Gate::set(false);
  Gate::entered = 0;
  Serve serve = start_local();
  serve.run(deployment<Gate>().max_ongoing_requests(1).max_queued_requests(1).bind(), {.route_prefix = "/g"});
  int port = serve.http_port();
  auto call = [port] { return HttpClient(port).get("/g"); };
  auto a = std::async(std::launch::async, call);
  while (Gate::entered.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // One of b and c is queued; the other finds the queue full and is answered at once.
  auto b = std::async(std::launch::async, call);
  auto c = std::async(std::launch::async, call);
  auto ready = [](auto& f) { return f.wait_for(std::chrono::milliseconds(5)) == std::future_status::ready; };
  for (int i = 0; i < 1000 && !ready(b) && !ready(c); ++i) {
  }
  Gate::set(true);
  EXPECT_EQ(a.get().status, 200);
  auto rb = b.get();
  auto rc = c.get();
  auto rejected = rb.status == 503 ? rb : rc;
  EXPECT_EQ(std::min(rb.status, rc.status), 200);
  EXPECT_EQ(rejected.status, 503);
  EXPECT_NE(Json::parse(rejected.body)["error"].get<std::string>().find("max_queued_requests"), std::string::npos);
}

TEST(Serve, DeleteAppRemovesItsRoute) {
  Serve serve = start_local();
  serve.run(deployment<Counter>().bind(), {.name = "a", .route_prefix = "/a"});
  serve.run(deployment<Counter>().bind(), {.name = "b", .route_prefix = "/b"});
  HttpClient client(serve.http_port());
  EXPECT_EQ(client.get("/a").status, 200);
  serve.delete_app("a");
  EXPECT_EQ(client.get("/a").status, 404);
  EXPECT_EQ(client.get("/b").status, 200);
  EXPECT_THROW(serve.delete_app("a"), ConfigError);
  EXPECT_EQ(Json::parse(client.get("/-/routes").body), (Json{{"/b", "b"}}));
}

TEST(Serve, InvalidOptionsAreConfigErrorsNamingTheField) {
  Serve serve = start_local();
  serve.run(deployment<Counter>().bind(), {.name = "a", .route_prefix = "/a"});
  auto message = [&](const Application& app, RunOptions o) -> std::string {
    try {
      serve.run(app, o);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(message(deployment<Counter>().bind(), {.name = "b", .route_prefix = "/a"}).find("already used"), std::string::npos);
  EXPECT_NE(message(deployment<Counter>().bind(), {.name = "b", .route_prefix = "b"}).find("must start with '/'"), std::string::npos);
  EXPECT_NE(message(deployment<Counter>().max_ongoing_requests(0).bind(), {.name = "b"}).find("max_ongoing_requests"), std::string::npos);
  EXPECT_NE(message(deployment<Counter>().num_replicas(-1).bind(), {.name = "b"}).find("num_replicas"), std::string::npos);
  EXPECT_NE(message(deployment<Counter>().resources({.gpus = 1.5}).bind(), {.name = "b"}).find("resources.gpus"), std::string::npos);
  EXPECT_NE(message(deployment<Counter>().user_config({{"x", 1}}).bind(), {.name = "b"}).find("reconfigure"), std::string::npos);
  EXPECT_THROW(start_local({.worker_threads = -1}), ConfigError);
  // Nothing of the failed calls was deployed.
  EXPECT_EQ(serve.status().applications.size(), 1u);
}

TEST(Serve, UserConfigChangesReconfigureInPlace) {
  Serve serve = start_local();
  serve.run(deployment<Configurable>().user_config({{"threshold", 1}}).bind(), {.route_prefix = "/c"});
  HttpClient client(serve.http_port());
  auto first = Json::parse(client.get("/c").body);
  EXPECT_EQ(first["threshold"], 1);
  serve.run(deployment<Configurable>().user_config({{"threshold", 2}}).bind(), {.route_prefix = "/c"});
  Json second;
  for (int i = 0; i < 200; ++i) {  // delivered by the next reconcile tick
    second = Json::parse(client.get("/c").body);
    if (second["threshold"] == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(second["threshold"], 2);
  EXPECT_EQ(second["replica"], first["replica"]);  // the same replica: nothing restarted
}

TEST(Serve, FunctionDeploymentsServeOverHttp) {
  Serve serve = start_local();
  serve.run(deployment<&hello>().bind(), {.route_prefix = "/hello"});
  HttpClient client(serve.http_port());
  EXPECT_EQ(client.get("/hello?name=cserve").body, R"({"hello":"cserve"})");
  EXPECT_EQ(serve.status().applications.at("default").ingress, "hello");
}

// The scheduling policy of each of this process's threads called `name` (field 41 of its stat).
std::vector<int> policies_of(const std::string& name) {
  std::vector<int> policies;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string n;
    if (!std::getline(comm, n) || n != name) continue;
    std::ifstream stat_file(task.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));  // from field 3 on
    std::string field;
    for (int i = 3; i <= 41 && fields >> field; ++i) {
      if (i == 41) policies.push_back(std::stoi(field));
    }
  }
  return policies;
}

// Each thread takes its policy before its name: a thread seen by name has its policy.
TEST(Serve, ServingThreadsRunUnderTheBatchPolicyUnlessTurnedOff) {
  const auto started = [](std::size_t workers) {
    return test::wait_until([&] {
      return policies_of("cserve-http").size() == 2 && policies_of("cserve-worker").size() == workers &&
             policies_of("cserve-timers").size() == 1;
    });
  };
  const auto all = [](std::size_t n, int policy) { return std::vector<int>(n, policy); };
  ServeOptions o;
  o.worker_threads = 3;
  {
    Serve serve = start_local(o);
    ASSERT_TRUE(started(3));
    EXPECT_EQ(policies_of("cserve-http"), all(2, SCHED_BATCH));
    EXPECT_EQ(policies_of("cserve-worker"), all(3, SCHED_BATCH));
    EXPECT_EQ(policies_of("cserve-timers"), all(1, SCHED_BATCH));
  }
  o.batch_scheduling = false;
  Serve serve = start_local(o);
  ASSERT_TRUE(started(3));
  EXPECT_EQ(policies_of("cserve-http"), all(2, SCHED_OTHER));
  EXPECT_EQ(policies_of("cserve-worker"), all(3, SCHED_OTHER));
  EXPECT_EQ(policies_of("cserve-timers"), all(1, SCHED_OTHER));
}

TEST(Serve, SeveralIoThreadsServeConcurrentClients) {
  ServeOptions o;
  o.http.io_threads = 3;
  Serve serve = start_local(o);
  serve.run(deployment<Counter>().num_replicas(2).resources({.cpus = 0.5}).bind(), {.route_prefix = "/c"});
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 6; ++c) {
    clients.emplace_back([&] {
      HttpClient client(serve.http_port());  // connections spread over the I/O threads
      for (int i = 0; i < 50; ++i) ok += client.get("/c").status == 200;
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 300);
}

TEST(Serve, ShutdownIsIdempotentAndStopsServing) {
  Serve serve = start_local();
  serve.run(deployment<Counter>().bind());
  int port = serve.http_port();
  EXPECT_EQ(HttpClient(port).get("/").status, 200);
  serve.shutdown();
  serve.shutdown();
  // Nothing answers any more: the connection is refused (or, should the freed port be taken by
  // a client socket meanwhile, nothing that speaks HTTP answers within a second).
  std::string raw;
  try {
    raw = test::raw_exchange(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", std::chrono::seconds(1));
  } catch (const std::exception&) {
  }
  EXPECT_EQ(test::first_status(raw), 0) << raw;
}

TEST(Serve, AClientThatSendsItsNextRequestAtOnceFindsTheSlotFree) {
  // One slot, no queue: the slot is given back before the answer is written, so back-to-back
  // requests on one connection are never rejected.
  Serve serve = start_local();
  serve.run(deployment<Counter>().max_ongoing_requests(1).max_queued_requests(0).bind(), {.route_prefix = "/c"});
  HttpClient client(serve.http_port());
  for (int i = 1; i <= 300; ++i) ASSERT_EQ(client.get("/c").body, "{\"count\":" + std::to_string(i) + "}");
}

}  // namespace
}  // namespace cserve
