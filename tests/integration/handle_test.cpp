// Handles, coroutines and model composition through the public API, in one process.
#include <cserve/cserve.hpp>

#include "support/http_client.hpp"
#include "support/local_serve.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

namespace cserve {
namespace {

using namespace std::chrono_literals;
using test::HttpClient;
using test::start_local;

class Adder {
 public:
  explicit Adder(int base) : base_(base) {}
  int operator()(int x) { return base_ + x; }
  int twice(int x) { return 2 * x; }
  std::string name() { return get_replica_context().deployment; }

 private:
  int base_;
};

class Sleeper {
 public:
  explicit Sleeper(int ms) : ms_(ms) {}
  int operator()(int x) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms_));
    return x;
  }

 private:
  int ms_;
};

// A meeting point shared by every replica of every Meeting deployment: each call arrives and
// blocks until `parties` calls are there at once (or 20 s pass: then it reports that they never
// were). Calls that meet were in flight together. Each test starts with reset().
class Meeting {
 public:
  explicit Meeting(int parties) : parties_(parties) {}
  int operator()(int x) {
    std::unique_lock lock(mu);
    ++arrived;
    cv.notify_all();
    if (!cv.wait_for(lock, std::chrono::seconds(20), [&] { return arrived >= parties_; })) {
      throw std::runtime_error("only " + std::to_string(arrived) + " of " + std::to_string(parties_) +
                               " calls were ever in flight at once");
    }
    return x;
  }
  static void reset() {
    std::lock_guard lock(mu);
    arrived = 0;
  }

 private:
  static inline std::mutex mu;
  static inline std::condition_variable cv;
  static inline int arrived = 0;
  const int parties_;
};

class FanOut {
 public:
  FanOut(DeploymentHandle<Meeting> a, DeploymentHandle<Meeting> b) : a_(std::move(a)), b_(std::move(b)) {}
  Task<int> operator()(int x) {
    auto ra = a_.remote(x);  // both in flight before either is awaited
    auto rb = b_.remote(x + 1);
    int sa = co_await ra;
    int sb = co_await rb;
    co_return sa + sb;
  }

 private:
  DeploymentHandle<Meeting> a_, b_;
};

TEST(Handle, RunReturnsAHandleToTheIngress) {
  Serve serve = start_local();
  DeploymentHandle<Adder> h = serve.run(deployment<Adder>().bind(10), {.name = "adder"});
  EXPECT_EQ(h.remote(5).result(), 15);
  EXPECT_EQ(h.method(&Adder::twice).remote(21).result(), 42);
  EXPECT_EQ(h.method(&Adder::name).remote().result(), "Adder");
  auto again = serve.get_app_handle<Adder>("adder");
  EXPECT_EQ(again.remote(1).result(1s), 11);
  EXPECT_THROW(serve.get_app_handle<Sleeper>("adder"), ConfigError);
  EXPECT_THROW(serve.get_app_handle<Adder>("nope"), ConfigError);
  EXPECT_THROW(serve.get_deployment_handle<Adder>("Nope", "adder"), ConfigError);
}

TEST(Handle, CallsFromEightUserThreadsAllComplete) {
  Serve serve = start_local();
  auto h = serve.run(deployment<Adder>().num_replicas(2).resources({.cpus = 0.5}).bind(1000));
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([h, t, &wrong] {  // a copy of the handle per thread
      std::vector<DeploymentResponse<int>> pending;
      for (int i = 0; i < 100; ++i) pending.push_back(h.remote(t * 1000 + i));
      for (int i = 0; i < 100; ++i) {
        if (pending[i].result() != 1000 + t * 1000 + i) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(Handle, ParallelFanOutOverlaps) {
  Serve serve = start_local({.worker_threads = 3});
  // A and B answer only once both calls are in flight together: sequential calls would fail.
  Meeting::reset();
  auto h = serve.run(deployment<FanOut>().bind(deployment<Meeting>().name("A").bind(2),
                                                 deployment<Meeting>().name("B").bind(2)));
  EXPECT_EQ(h.remote(1).result(30s), 3);
}

class Doubler {
 public:
  int operator()(int x) { return 2 * x; }
};

TEST(Handle, ChainedResponsesResolveInOrder) {
  Serve serve = start_local();
  auto add = serve.run(deployment<Adder>().bind(1), {.name = "add", .route_prefix = "/add"});
  auto dbl = serve.run(deployment<Doubler>().bind(), {.name = "double", .route_prefix = "/double"});
  auto a = add.remote(4);      // 5
  auto b = dbl.remote(a);      // 10: resolved without blocking any thread
  auto c = add.remote(b);      // 11
  EXPECT_EQ(c.result(), 11);
  EXPECT_EQ(b.result(), 10);
}

std::atomic<int> g_shared_constructions{0};
class Shared {
 public:
  Shared() { ++g_shared_constructions; }
  int operator()(int x) { return x + 1; }
};

class Left {
 public:
  explicit Left(DeploymentHandle<Shared> s) : s_(std::move(s)) {}
  Task<int> operator()(int x) { co_return co_await s_.remote(x) * 10; }

 private:
  DeploymentHandle<Shared> s_;
};

class Right {
 public:
  explicit Right(DeploymentHandle<Shared> s) : s_(std::move(s)) {}
  Task<int> operator()(int x) { co_return co_await s_.remote(x) * 100; }

 private:
  DeploymentHandle<Shared> s_;
};

class Diamond {
 public:
  Diamond(DeploymentHandle<Left> l, DeploymentHandle<Right> r) : l_(std::move(l)), r_(std::move(r)) {}
  Task<Json> operator()(const Request& req) {
    int x = std::stoi(req.query("x").value_or("0"));
    auto left = l_.remote(x);
    auto right = r_.remote(x);
    // (GCC 12 rejects co_await inside a braced initializer list: await into locals first.)
    int l = co_await left;
    int r = co_await right;
    co_return Json{{"left", l}, {"right", r}};
  }

 private:
  DeploymentHandle<Left> l_;
  DeploymentHandle<Right> r_;
};

TEST(Composition, DiamondGraphDeploysASharedChildOnceAndServesHttp) {
  g_shared_constructions = 0;
  Serve serve = start_local();
  auto shared = deployment<Shared>().num_replicas(2).resources({.cpus = 0.5}).bind();
  auto app = deployment<Diamond>().bind(deployment<Left>().bind(shared), deployment<Right>().bind(shared));
  EXPECT_EQ(app.deployments().size(), 4u);  // Diamond, Left, Shared, Right
  serve.run(app, {.route_prefix = "/diamond"});
  EXPECT_EQ(g_shared_constructions.load(), 2);  // once per replica
  HttpClient client(serve.http_port());
  auto r = client.get("/diamond?x=4");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Json::parse(r.body), (Json{{"left", 50}, {"right", 500}}));
  auto status = serve.status().applications.at("default");
  EXPECT_EQ(status.deployments.size(), 4u);
  EXPECT_EQ(status.ingress, "Diamond");
  // Any deployment of the graph can be called directly too.
  EXPECT_EQ(serve.get_deployment_handle<Shared>("Shared").remote(1).result(), 2);
}

class Fragile {
 public:
  int operator()(int x) {
    if (x < 0) throw std::invalid_argument("negative input: " + std::to_string(x));
    return x;
  }
};

class Careful {
 public:
  explicit Careful(DeploymentHandle<Fragile> f) : f_(std::move(f)) {}
  Task<std::string> operator()(int x) {
    try {
      co_return std::to_string(co_await f_.remote(x));
    } catch (const std::invalid_argument& e) {
      co_return std::string("caught: ") + e.what();
    }
  }
  // The rule: blocking inside a deployment is an error, not a hang.
  int blocking(int x) { return f_.remote(x).result(); }

 private:
  DeploymentHandle<Fragile> f_;
};

TEST(Composition, ChildExceptionsReachTheParentAsErrors) {
  Serve serve = start_local();
  auto h = serve.run(deployment<Careful>().bind(deployment<Fragile>().bind()));
  EXPECT_EQ(h.remote(7).result(), "7");
  EXPECT_EQ(h.remote(-2).result(), "caught: negative input: -2");
  auto direct = serve.get_deployment_handle<Fragile>("Fragile");
  EXPECT_THROW(direct.remote(-1).result(), std::invalid_argument);
}

TEST(Composition, BlockingOnAHandleInsideAReplicaFailsLoudly) {
  Serve serve = start_local();
  auto h = serve.run(deployment<Careful>().bind(deployment<Fragile>().bind()));
  try {
    h.method(&Careful::blocking).remote(1).result(5s);
    FAIL() << "expected cserve::Error";
  } catch (const TimeoutError&) {
    FAIL() << "blocked instead of failing";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("co_await"), std::string::npos) << e.what();
  }
}

class Version {
 public:
  explicit Version(std::string v) : v_(std::move(v)) {}
  std::string operator()() { return v_; }

 private:
  std::string v_;
};

class Front {
 public:
  explicit Front(DeploymentHandle<Version> v) : v_(std::move(v)) {}
  Task<std::string> operator()() { co_return co_await v_.remote(); }

 private:
  DeploymentHandle<Version> v_;
};

std::set<std::string> running(const Serve& serve, const std::string& dep) {
  std::set<std::string> ids;
  const ServeStatus s = serve.status();
  for (const auto& r : s.applications.at("default").deployments.at(dep).replicas) {
    if (r.state == ReplicaState::RUNNING) ids.insert(r.replica_id);
  }
  return ids;
}

TEST(Composition, RedeployingOnePartRollsOnlyThatPart) {
  Serve serve = start_local();
  auto h = serve.run(deployment<Front>().bind(deployment<Version>().graceful_shutdown_wait_loop_s(0.05).bind("v1")));
  EXPECT_EQ(h.remote().result(), "v1");
  auto front = running(serve, "Front");
  auto version = running(serve, "Version");
  h = serve.run(deployment<Front>().bind(deployment<Version>().graceful_shutdown_wait_loop_s(0.05).bind("v2")));
  EXPECT_EQ(h.remote().result(), "v2");
  EXPECT_EQ(running(serve, "Front"), front);       // untouched
  EXPECT_NE(running(serve, "Version"), version);   // rolled
}

// Counts the calls suspended in it at once.
class Gather {
 public:
  explicit Gather(DeploymentHandle<Meeting> s) : s_(std::move(s)) {}
  Task<int> operator()(int x) { co_return co_await s_.remote(x); }

 private:
  DeploymentHandle<Meeting> s_;
};

TEST(Coroutines, SuspendedCallsInterleaveInOneReplica) {
  Serve serve = start_local({.worker_threads = 4});
  // The four Meeting replicas answer only once four calls are in them at once; they all come
  // through the one Gather replica, so it must hold four suspended calls at a time.
  Meeting::reset();
  auto h = serve.run(deployment<Gather>().max_ongoing_requests(4).bind(
      deployment<Meeting>().num_replicas(4).max_ongoing_requests(1).resources({.cpus = 0.5}).bind(4)));
  std::vector<DeploymentResponse<int>> calls;
  for (int i = 0; i < 4; ++i) calls.push_back(h.remote(i));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(calls[i].result(30s), i);
}

TEST(Handle, CallsToADeletedApplicationFail) {
  Serve serve = start_local();
  auto h = serve.run(deployment<Adder>().bind(1), {.name = "gone"});
  serve.delete_app("gone");
  EXPECT_THROW(h.remote(1).result(5s), UnavailableError);
}

// Methods callable by name: registered ones, and the call operator as "__call__".
class Scorer {
 public:
  static void methods(Methods<Scorer>& m) {
    m.add("scale", &Scorer::scale).add("total", &Scorer::total).add("reset", &Scorer::reset);
  }
  double operator()(double x) { return (sum_ += x); }
  std::vector<double> scale(std::vector<double> xs, double k) {
    for (auto& x : xs) x *= k;
    return xs;
  }
  Task<Json> total() { co_return Json{{"sum", sum_}}; }
  void reset() { sum_ = 0; }

 private:
  double sum_ = 0;
};

// Holds its child as an untyped handle.
class UntypedFront {
 public:
  explicit UntypedFront(DeploymentHandle<> scorer) : scorer_(std::move(scorer)) {}
  Task<Json> operator()(double x) {
    // (GCC 12: no initializer list inside a co_await expression — build the argument first.)
    std::vector<double> xs{x};
    auto scaled = scorer_.method("scale").remote(std::move(xs), 10.0);
    co_return co_await scaled;
  }

 private:
  DeploymentHandle<> scorer_;
};

TEST(Handle, UntypedHandlesCallMethodsByNameWithJson) {
  Serve serve = start_local();
  serve.run(deployment<Scorer>().bind(), {.name = "scorer"});
  DeploymentHandle<> h = serve.get_app_handle("scorer");
  EXPECT_EQ(h.remote(2.5).result(5s), 2.5);  // the call operator, as "__call__"
  EXPECT_EQ(h.remote(1.5).result(5s), 4.0);
  EXPECT_EQ(h.method("scale").remote(std::vector<double>{1, 2}, 3.0).result(5s), Json({3.0, 6.0}));
  EXPECT_EQ(h.method("total").remote().result(5s)["sum"], 4.0);
  EXPECT_TRUE(h.method("reset").remote().result(5s).is_null());
  EXPECT_EQ(h.method("total").remote().result(5s)["sum"], 0.0);
  // A typed handle calls by name too, and converts to an untyped one.
  auto typed = serve.get_app_handle<Scorer>("scorer");
  EXPECT_EQ(typed.method("scale").remote(std::vector<double>{2}, 2.0).result(5s), Json({4.0}));
  DeploymentHandle<> converted = typed;
  EXPECT_EQ(converted.remote(1.0).result(5s), 1.0);
  // A response as an argument is resolved first, then sent as JSON.
  auto first = typed.method(&Scorer::scale).remote(std::vector<double>{1}, 2.0);
  EXPECT_EQ(h.method("scale").remote(first, 2.0).result(5s), Json({4.0}));
}

TEST(Handle, CallsByNameFailWithAnErrorThatSaysWhy) {
  Serve serve = start_local();
  serve.run(deployment<Scorer>().bind(), {.name = "scorer"});
  serve.run(deployment<Sleeper>().bind(1), {.name = "sleeper", .route_prefix = "/sleeper"});
  DeploymentHandle<> h = serve.get_app_handle("scorer");
  auto message = [](auto response) {
    try {
      response.result(5s);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(h.method("nope").remote()).find("no method 'nope'"), std::string::npos);
  EXPECT_NE(message(h.method("nope").remote()).find("scale"), std::string::npos);
  EXPECT_NE(message(h.method("scale").remote(1.0)).find("takes 2 argument(s), got 1"), std::string::npos);
  EXPECT_NE(message(h.method("scale").remote("text", 1.0)).find("argument 1"), std::string::npos);
  // Sleeper's call operator takes an int: it is callable by name without registration.
  EXPECT_EQ(serve.get_app_handle("sleeper").remote(7).result(5s), 7);
  // The replica serves on after the errors.
  EXPECT_EQ(h.remote(1.0).result(5s), 1.0);
}

TEST(Handle, ABoundChildArrivesAsAnUntypedHandleWhenTheConstructorAsks) {
  Serve serve = start_local();
  auto front = serve.run(deployment<UntypedFront>().bind(deployment<Scorer>().bind()), {.name = "front"});
  EXPECT_EQ(front.remote(0.5).result(5s), Json({5.0}));
}

TEST(Handle, ACallerThatCallsAgainAtOnceFindsTheSlotFree) {
  // One slot, no queue: each call must have given its slot back before its caller sees the
  // result, or the next call would be rejected.
  Serve serve = start_local();
  auto h = serve.run(deployment<Adder>().max_ongoing_requests(1).max_queued_requests(0).bind(0), {.name = "one"});
  for (int i = 0; i < 300; ++i) ASSERT_EQ(h.remote(i).result(5s), i);
  serve.run(deployment<Scorer>().max_ongoing_requests(1).max_queued_requests(0).bind(),
            {.name = "scorer", .route_prefix = "/s"});
  DeploymentHandle<> u = serve.get_app_handle("scorer");
  for (int i = 0; i < 300; ++i) ASSERT_EQ(u.method("total").remote().result(5s)["sum"], 0.0);
}

}  // namespace
}  // namespace cserve
