// The proxy against what real clients (and bad ones) send, byte for byte.
#include <cserve/cserve.hpp>

#include "support/http_client.hpp"
#include "support/wait.hpp"

#include "common/asio.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace cserve {
namespace {

using test::first_status;
using test::HttpClient;
using test::raw_exchange;

struct Counter {
  Json operator()(const Request&) { return {{"count", ++n}}; }
  int n = 0;
};

std::atomic<int> g_slow_entered{0};
struct Slow {
  Json operator()(const Request& r) {
    ++g_slow_entered;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    return {{"size", r.body().size()}};
  }
};

class Proxy : public ::testing::Test {
 protected:
  void SetUp() override {
    ServeOptions o;
    o.http.port = 0;
    o.http.max_body_bytes = 1024;
    o.http.max_header_bytes = 2048;
    o.http.header_timeout_s = 0.3;
    o.http.keep_alive_timeout_s = 0.3;
    o.cpus = 8;
    serve_.emplace(start(o));
    serve_->run(deployment<Counter>().bind(), {.name = "counter", .route_prefix = "/Counter"});
    serve_->run(deployment<Slow>().bind(), {.name = "slow", .route_prefix = "/slow"});
    port_ = serve_->http_port();
  }
  std::optional<Serve> serve_;
  int port_ = 0;
};

TEST_F(Proxy, MalformedRequestLineIs400AndCloses) {
  auto raw = raw_exchange(port_, "GARBAGE\r\n\r\n");
  EXPECT_EQ(first_status(raw), 400);
  EXPECT_NE(raw.find("\"error\""), std::string::npos);
  EXPECT_NE(raw.find("Connection: close"), std::string::npos);
  EXPECT_EQ(first_status(raw_exchange(port_, "GET /Counter HTTP/9.9\r\n\r\n")), 400);
  EXPECT_EQ(first_status(raw_exchange(port_, "GET /Counter HTTP/1.1\r\nBad Header\r\n\r\n")), 400);
  EXPECT_EQ(first_status(raw_exchange(port_, "GET http://x/Counter HTTP/1.1\r\nHost: x\r\n\r\n")), 400);
  // The server is unharmed.
  EXPECT_EQ(HttpClient(port_).get("/Counter").status, 200);
}

TEST_F(Proxy, OversizedHeadersAre431) {
  std::string req = "GET /Counter HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4096, 'a') + "\r\n\r\n";
  EXPECT_EQ(first_status(raw_exchange(port_, req)), 431);
}

TEST_F(Proxy, OversizedBodyIs413) {
  std::string big(4096, 'b');
  std::string req = "POST /Counter HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n" + big;
  auto raw = raw_exchange(port_, req);
  EXPECT_EQ(first_status(raw), 413);
  EXPECT_NE(raw.find("exceeds 1024 bytes"), std::string::npos);
  // A chunked body that grows past the limit too.
  std::string chunked = "POST /Counter HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 8; ++i) chunked += "200\r\n" + std::string(512, 'c') + "\r\n";
  chunked += "0\r\n\r\n";
  EXPECT_EQ(first_status(raw_exchange(port_, chunked)), 413);
}

TEST_F(Proxy, PipelinedRequestsAreAnsweredInOrder) {
  std::string one = "GET /Counter HTTP/1.1\r\nHost: x\r\nX-Request-Id: first\r\n\r\n";
  std::string two = "GET /Counter HTTP/1.1\r\nHost: x\r\nX-Request-Id: second\r\n\r\n";
  std::string three = "GET /Counter HTTP/1.1\r\nHost: x\r\nX-Request-Id: third\r\nConnection: close\r\n\r\n";
  auto raw = raw_exchange(port_, one + two + three);
  auto a = raw.find("X-Request-Id: first");
  auto b = raw.find("X-Request-Id: second");
  auto c = raw.find("X-Request-Id: third");
  ASSERT_NE(a, std::string::npos) << raw;
  ASSERT_NE(b, std::string::npos) << raw;
  ASSERT_NE(c, std::string::npos) << raw;
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_LT(raw.find(R"({"count":1})"), raw.find(R"({"count":2})"));
  EXPECT_LT(raw.find(R"({"count":2})"), raw.find(R"({"count":3})"));
}

TEST_F(Proxy, HeadAnswersHeadersWithoutABody) {
  auto raw = raw_exchange(port_,
                          "HEAD /Counter HTTP/1.1\r\nHost: x\r\n\r\n"
                          "GET /Counter HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  auto second = raw.find("HTTP/1.1 200", 1);
  ASSERT_NE(second, std::string::npos) << raw;
  EXPECT_NE(raw.substr(0, second).find("Content-Length: 11"), std::string::npos) << raw;
  EXPECT_EQ(raw.substr(0, second).find("count"), std::string::npos) << raw;  // no body
  EXPECT_NE(raw.find(R"({"count":2})", second), std::string::npos) << raw;
}

TEST_F(Proxy, ClientDisconnectMidRequestLosesNothingElse) {
  g_slow_entered = 0;
  {
    // The client sends a request and goes away while the replica works on it.
    asio::io_context io;
    asio::ip::tcp::socket s(io);
    s.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port_)});
    asio::write(s, asio::buffer(std::string("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")));
    ASSERT_TRUE(test::wait_until([] { return g_slow_entered.load() == 1; }));
  }
  // A client that goes away half-way through its body: the server closes the connection.
  raw_exchange(port_, "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc", std::chrono::seconds(10),
               /*half_close=*/true);
  HttpClient client(port_);
  EXPECT_EQ(client.get("/slow").status, 200);
  EXPECT_EQ(g_slow_entered.load(), 2) << "the cut-off body never reached the replica";
  EXPECT_EQ(client.get("/Counter").status, 200);
}

TEST(ProxyTimeouts, ABodyNotReceivedWithinBodyTimeoutIs408) {
  ServeOptions o;
  o.http.port = 0;
  o.http.body_timeout_s = 0.3;
  o.cpus = 2;
  Serve serve = start(o);
  serve.run(deployment<Slow>().bind(), {.name = "slow", .route_prefix = "/slow"});
  g_slow_entered = 0;
  // Headers arrive at once; the body never finishes.
  auto raw = raw_exchange(serve.http_port(), "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
                          std::chrono::seconds(20));
  EXPECT_EQ(first_status(raw), 408) << raw;
  EXPECT_NE(raw.find("request not received in time"), std::string::npos) << raw;
  EXPECT_EQ(g_slow_entered.load(), 0) << "an incomplete body never reaches the replica";
  EXPECT_EQ(HttpClient(serve.http_port()).get("/slow").status, 200);
}

TEST_F(Proxy, SlowHeadersAre408) {
  auto raw = raw_exchange(port_, "GET /Counter HTTP/1.1\r\nHost: x\r\n");  // never finishes
  EXPECT_EQ(first_status(raw), 408);
}

TEST_F(Proxy, IdleKeepAliveConnectionsClose) {
  auto start = std::chrono::steady_clock::now();
  auto raw = raw_exchange(port_, "GET /Counter HTTP/1.1\r\nHost: x\r\n\r\n", std::chrono::seconds(5));
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(first_status(raw), 200);
  EXPECT_LT(waited, std::chrono::seconds(4));  // closed by the server's 0.3 s idle timeout
}

TEST_F(Proxy, Http10ClosesAfterTheResponse) {
  auto raw = raw_exchange(port_, "GET /Counter HTTP/1.0\r\n\r\n", std::chrono::seconds(5));
  EXPECT_EQ(raw.rfind("HTTP/1.0 200", 0), 0u) << raw;
  EXPECT_NE(raw.find(R"("count")"), std::string::npos);
}

TEST_F(Proxy, ExpectContinueGetsTheBodyRead) {
  auto raw = raw_exchange(port_,
                          "POST /slow HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                          "Content-Length: 5\r\nConnection: close\r\n\r\nhello");
  EXPECT_EQ(first_status(raw), 100);
  EXPECT_NE(raw.find("HTTP/1.1 200 OK"), std::string::npos);
  EXPECT_NE(raw.find(R"({"size":5})"), std::string::npos);
}

TEST_F(Proxy, BuiltInPaths) {
  HttpClient client(port_);
  auto health = client.get("/-/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "success");
  EXPECT_EQ(Json::parse(client.get("/-/routes").body), (Json{{"/Counter", "counter"}, {"/slow", "slow"}}));
}

}  // namespace
}  // namespace cserve
