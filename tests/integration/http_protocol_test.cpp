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

// 16 MiB in a pattern: more than a socket takes at once, so the answer is sent in parts.
std::string big_body() {
  std::string body(16u << 20, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
  return body;
}
struct Big {
  Response operator()(const Request&) { return Response::text(big_body()); }
};

// Answers with a header that would split the answer if it were written as it is.
struct Splitter {
  Response operator()(const Request&) {
    Response r = Response::text("x");
    r.headers = {{"X-Note", "a\r\nInjected: yes"}};
    return r;
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
    serve_->run(deployment<Big>().bind(), {.name = "big", .route_prefix = "/big"});
    serve_->run(deployment<Splitter>().bind(), {.name = "splitter", .route_prefix = "/splitter"});
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

// A client that waits for 100 Continue before it sends the body (as curl does).
TEST_F(Proxy, ExpectContinueGetsTheBodyRead) {
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port_)});
  asio::write(s, asio::buffer(std::string("POST /slow HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                                          "Content-Length: 5\r\nConnection: close\r\n\r\n")));
  std::string got(64, '\0');
  got.resize(s.read_some(asio::buffer(got)));
  EXPECT_EQ(got, "HTTP/1.1 100 Continue\r\n\r\n");
  asio::write(s, asio::buffer(std::string("hello")));
  boost::system::error_code ec;
  std::string rest;
  asio::read(s, asio::dynamic_buffer(rest), ec);  // until the server closes
  EXPECT_EQ(first_status(rest), 200) << rest;
  EXPECT_NE(rest.find(R"({"size":5})"), std::string::npos) << rest;
}

// A body sent with its header needs no 100 Continue (RFC 9110 lets the server omit it).
TEST_F(Proxy, ExpectContinueWithTheBodyAlreadySentIsAnsweredDirectly) {
  auto raw = raw_exchange(port_,
                          "POST /slow HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                          "Content-Length: 5\r\nConnection: close\r\n\r\nhello");
  EXPECT_EQ(first_status(raw), 200) << raw;
  EXPECT_NE(raw.find(R"({"size":5})"), std::string::npos);
}

// Requests arrive in pieces: split in the request line, in a header, before the blank line and
// in the body.
TEST_F(Proxy, ARequestThatArrivesInPiecesIsReadWhole) {
  const std::string request = "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
  for (std::size_t cut : {std::size_t{7}, std::size_t{23}, std::size_t{40}, request.size() - 4, request.size() - 2}) {
    asio::io_context io;
    asio::ip::tcp::socket s(io);
    s.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port_)});
    asio::write(s, asio::buffer(request.substr(0, cut)));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the server reads the first piece alone
    asio::write(s, asio::buffer(request.substr(cut)));
    boost::system::error_code ec;
    std::string answer;
    asio::read(s, asio::dynamic_buffer(answer), ec);
    EXPECT_EQ(first_status(answer), 200) << "cut at " << cut << ": " << answer;
    EXPECT_NE(answer.find(R"({"size":5})"), std::string::npos) << "cut at " << cut << ": " << answer;
  }
}

// The replica's worker writes an answer to the socket itself; what the socket does not take at
// once goes out through the I/O thread, and the connection goes on after it.
TEST_F(Proxy, AnAnswerLargerThanTheSocketTakesArrivesWholeAndTheConnectionGoesOn) {
  HttpClient client(port_);
  const std::string expected = big_body();
  for (int i = 0; i < 2; ++i) {
    auto r = client.get("/big");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body.size(), expected.size());
    EXPECT_TRUE(r.body == expected) << "the body differs from what the handler returned";
  }
  EXPECT_EQ(client.get("/Counter").body, R"({"count":1})");
}

// The connection learns of a worker's answer when the next request arrives, however late.
TEST_F(Proxy, AKeptAliveConnectionAnswersARequestThatComesAfterAPause) {
  HttpClient client(port_);
  EXPECT_EQ(client.get("/Counter").body, R"({"count":1})");
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // under keep_alive_timeout_s
  EXPECT_EQ(client.get("/Counter").body, R"({"count":2})");
  EXPECT_EQ(client.get("/Counter").body, R"({"count":3})");
}

TEST_F(Proxy, AHandlersHeaderThatWouldSplitTheAnswerIs500) {
  auto raw = raw_exchange(port_, "GET /splitter HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(first_status(raw), 500) << raw;
  EXPECT_EQ(raw.find("\r\nInjected"), std::string::npos) << raw;
  EXPECT_NE(raw.find("X-Note"), std::string::npos) << raw;  // the message names the header
}

// A drain closes a connection that idles after an answer its replica's worker wrote (the
// connection had not yet looked at it) at once, not after the keep-alive timeout.
TEST(ProxyDrain, ClosesAConnectionIdleAfterItsAnswerAtOnce) {
  ServeOptions o;
  o.http.port = 0;
  o.http.keep_alive_timeout_s = 60;
  o.cpus = 8;
  Serve serve = start(o);
  serve.run(deployment<Counter>().bind(), {.name = "counter", .route_prefix = "/Counter"});
  HttpClient client(serve.http_port());
  ASSERT_EQ(client.get("/Counter").status, 200);
  const auto begin = std::chrono::steady_clock::now();
  serve.shutdown();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(15));  // the drain allows 20 s
}

TEST_F(Proxy, BuiltInPaths) {
  HttpClient client(port_);
  auto health = client.get("/-/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "success");
  EXPECT_EQ(Json::parse(client.get("/-/routes").body), (Json{{"/Counter", "counter"}, {"/slow", "slow"}, {"/big", "big"}, {"/splitter", "splitter"}}));
}

}  // namespace
}  // namespace cserve
