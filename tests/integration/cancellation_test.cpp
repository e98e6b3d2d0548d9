// Cancellation and deadlines over real HTTP and handles: clients that go away, request_timeout_s,
// DeploymentResponse::cancel(), and their reach into queues and downstream calls.
#include <cserve/cserve.hpp>

#include "support/http_client.hpp"
#include "support/wait.hpp"
#include "support/local_serve.hpp"

#include "common/asio.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace cserve {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using tcp = asio::ip::tcp;

// What the deployments saw, in order, for the test to assert on.
class Journal {
 public:
  void add(std::string e) {
    {
      std::lock_guard lock(mu_);
      events_.push_back(std::move(e));
    }
    cv_.notify_all();
  }
  bool wait_for(const std::string& e, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return has_locked(e); });
  }
  bool has(const std::string& e) {
    std::lock_guard lock(mu_);
    return has_locked(e);
  }
  std::vector<std::string> events() {
    std::lock_guard lock(mu_);
    return events_;
  }
  void clear() {
    std::lock_guard lock(mu_);
    events_.clear();
  }

 private:
  bool has_locked(const std::string& e) const {
    for (const auto& x : events_) {
      if (x == e) return true;
    }
    return false;
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> events_;
};

Journal g_journal;

// A gate that blocks the handler that holds it until the test opens it.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  void wait() {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return open; });
  }
  void release() {
    {
      std::lock_guard lock(mu);
      open = true;
    }
    cv.notify_all();
  }
};
Gate* g_gate = nullptr;

// Records each request; "/hold" blocks on the gate (one replica, one request at a time).
class Recorder {
 public:
  Json operator()(const Request& req) {
    g_journal.add("ran " + req.path());
    if (req.path() == "/hold") g_gate->wait();
    return {{"path", req.path()}};
  }
};

// A slow downstream model: sleeps, recording how its wait ended.
class Slow {
 public:
  Task<int> operator()(int ms) {
    g_journal.add("child started");
    try {
      co_await sleep_for(std::chrono::milliseconds(ms));
    } catch (const TimeoutError&) {
      g_journal.add("child timed out");
      throw;
    } catch (const CancelledError&) {
      g_journal.add("child cancelled");
      throw;
    }
    g_journal.add("child finished");
    co_return ms;
  }
};

// An ingress that awaits the slow model, recording how its own wait ended.
class Front {
 public:
  explicit Front(DeploymentHandle<Slow> slow) : slow_(std::move(slow)) {}
  Task<Json> operator()(const Request& req) {
    int ms = std::stoi(req.query("ms").value_or("30000"));
    g_journal.add("parent started");
    try {
      int got = co_await slow_.remote(ms);
      g_journal.add("parent finished");
      co_return Json{{"slept_ms", got}};
    } catch (const TimeoutError&) {
      g_journal.add("parent timed out");
      throw;
    } catch (const CancelledError&) {
      g_journal.add("parent cancelled");
      throw;
    }
  }

 private:
  DeploymentHandle<Slow> slow_;
};

// Sends `request` on a fresh connection; the socket stays open until the test closes it.
tcp::socket send_only(asio::io_context& io, int port, const std::string& request) {
  tcp::socket s(io);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  asio::write(s, asio::buffer(request));
  return s;
}

std::string get(const std::string& path) { return "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n"; }

// Requests waiting in a deployment's queue, from this process's metrics.
double queued(const std::string& app, const std::string& deployment) {
  return test::local_metric("cserve_deployment_queued_queries", {{"application", app}, {"deployment", deployment}});
}

// Requests in flight on a deployment's replicas, from this process's metrics.
double in_flight(const std::string& app, const std::string& deployment) {
  return test::local_metric("cserve_replica_processing_queries", {{"application", app}, {"deployment", deployment}});
}

class Cancellation : public ::testing::Test {
 protected:
  void SetUp() override {
    g_journal.clear();
    gate_ = std::make_unique<Gate>();
    g_gate = gate_.get();
  }
  void TearDown() override {
    gate_->release();  // never leave a worker blocked
    serve_.reset();
  }

  void start(std::optional<double> request_timeout_s = std::nullopt) {
    ServeOptions o;
    o.http.request_timeout_s = request_timeout_s;
    serve_.emplace(test::start_local(o));
    serve_->run(deployment<Recorder>().max_ongoing_requests(1).bind(),
                {.name = "rec", .route_prefix = "/rec"});
    // One slot each: a slot that is not given back makes the next request wait forever.
    serve_->run(deployment<Front>().max_ongoing_requests(1).bind(deployment<Slow>().max_ongoing_requests(1).bind()),
                {.name = "front", .route_prefix = "/front"});
    port_ = serve_->http_port();
  }

  std::unique_ptr<Gate> gate_;
  std::optional<Serve> serve_;
  int port_ = 0;
};

TEST_F(Cancellation, AClientThatGoesAwayIsDroppedFromTheQueue) {
  start();
  asio::io_context io;
  auto holder = send_only(io, port_, get("/rec/hold"));
  ASSERT_TRUE(g_journal.wait_for("ran /hold"));
  {
    auto quitter = send_only(io, port_, get("/rec/quitter"));
    ASSERT_TRUE(test::wait_until([] { return queued("rec", "Recorder") == 1; }))
        << "queued behind /hold (max_ongoing_requests 1)";
  }  // closed
  ASSERT_TRUE(test::wait_until([] { return queued("rec", "Recorder") == 0; })) << "it left the queue";
  gate_->release();
  EXPECT_EQ(test::HttpClient(port_).get("/rec/after").status, 200);
  auto events = g_journal.events();
  EXPECT_EQ(events, (std::vector<std::string>{"ran /hold", "ran /after"}))
      << "the abandoned request must never reach the replica";
}

TEST_F(Cancellation, AClientThatGoesAwayCancelsTheRunningCoroutineAndItsDownstreamCalls) {
  start();
  auto t0 = Clock::now();
  {
    asio::io_context io;
    auto s = send_only(io, port_, get("/front?ms=30000"));
    ASSERT_TRUE(g_journal.wait_for("child started"));
  }  // the client goes away mid-request
  ASSERT_TRUE(g_journal.wait_for("child cancelled"));
  ASSERT_TRUE(g_journal.wait_for("parent cancelled"));
  EXPECT_LT(Clock::now() - t0, 10s) << "cancelled at the next suspension point, not after the sleep";
  EXPECT_FALSE(g_journal.has("child finished"));
  // Slots were given back (one each): both deployments serve the next request.
  ASSERT_TRUE(test::wait_until([] { return in_flight("front", "Front") == 0 && in_flight("front", "Slow") == 0; }));
  EXPECT_EQ(test::HttpClient(port_).get("/front?ms=1").status, 200);
}

TEST_F(Cancellation, RequestTimeoutAnswers408AndCancelsDownstream) {
  // 2 s: the fast request below must fit in it even under TSan beside another test (0.5 s did
  // not, once in 50 runs).
  start(2);
  test::HttpClient client(port_);
  auto t0 = Clock::now();
  auto r = client.get("/front?ms=30000");
  EXPECT_EQ(r.status, 408);
  EXPECT_NE(r.body.find("request_timeout_s"), std::string::npos) << r.body;
  EXPECT_FALSE(r.header("x-request-id").empty());
  EXPECT_LT(Clock::now() - t0, 15s) << "answered at the deadline (2 s), not after the 30 s the handler wanted";
  ASSERT_TRUE(g_journal.wait_for("child timed out"));
  ASSERT_TRUE(g_journal.wait_for("parent timed out"));
  // The connection stays usable, the slots were given back (one each), and a fast request is
  // unaffected by the limit.
  ASSERT_TRUE(test::wait_until([] { return in_flight("front", "Front") == 0 && in_flight("front", "Slow") == 0; }));
  auto ok = client.get("/front?ms=1");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(Json::parse(ok.body)["slept_ms"], 1);
}

TEST_F(Cancellation, RequestTimeoutDropsAQueuedRequestBeforeItRuns) {
  start(0.5);
  asio::io_context io;
  auto holder = send_only(io, port_, get("/rec/hold"));
  ASSERT_TRUE(g_journal.wait_for("ran /hold"));
  auto t0 = Clock::now();
  auto r = test::HttpClient(port_).get("/rec/queued");  // waits behind /hold, then times out
  EXPECT_EQ(r.status, 408);
  EXPECT_LT(Clock::now() - t0, 4s);
  gate_->release();
  EXPECT_EQ(test::HttpClient(port_).get("/rec/after").status, 200);
  EXPECT_FALSE(g_journal.has("ran /queued"));
}

TEST_F(Cancellation, HandleCallsCanBeCancelledFromAnyThread) {
  start();
  auto slow = serve_->get_deployment_handle<Slow>("Slow", "front");
  auto r = slow.remote(30000);
  ASSERT_TRUE(g_journal.wait_for("child started"));
  auto t0 = Clock::now();
  r.cancel();
  EXPECT_THROW(r.result(10s), CancelledError);
  ASSERT_TRUE(g_journal.wait_for("child cancelled"));
  EXPECT_LT(Clock::now() - t0, 10s);
  EXPECT_EQ(slow.remote(1).result(10s), 1);
}

TEST_F(Cancellation, ACancelledQueuedHandleCallNeverRuns) {
  start();
  auto rec = serve_->get_app_handle<Recorder>("rec");
  asio::io_context io;
  auto holder = send_only(io, port_, get("/rec/hold"));
  ASSERT_TRUE(g_journal.wait_for("ran /hold"));
  auto queued = rec.remote(Request("GET", "/queued"));
  queued.cancel();
  EXPECT_THROW(queued.result(10s), CancelledError);
  gate_->release();
  EXPECT_EQ(rec.remote(Request("GET", "/after")).result(10s)["path"], "/after");
  EXPECT_FALSE(g_journal.has("ran /queued"));
}

}  // namespace
}  // namespace cserve
