// Streaming responses over real HTTP: chunks as they are produced, SSE, disconnects, errors.
#include <cserve/cserve.hpp>

#include "support/http_client.hpp"
#include "support/local_serve.hpp"
#include "support/wait.hpp"

#include "common/asio.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace cserve {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::atomic<int> g_yielded{0};
std::atomic<int> g_big_produced{0};
std::atomic<bool> g_frame_destroyed{false};

struct FrameGuard {
  ~FrameGuard() { g_frame_destroyed = true; }
};

class Ticker {
 public:
  static void routes(Routes<Ticker>& r) {
    r.get("/ticks", &Ticker::ticks).get("/json", &Ticker::json).get("/broken", &Ticker::broken).get("/big", &Ticker::big);
  }
  // n chunks of 1 MiB, counted as they are produced.
  Stream<std::string> big(const Request& req) { return megabytes(std::stoi(req.query("n").value_or("1"))); }
  Stream<std::string> ticks(const Request& req) {
    int n = std::stoi(req.query("n").value_or("5"));
    int ms = std::stoi(req.query("ms").value_or("100"));
    if (n < 0) throw HttpError(400, "n must be >= 0");
    return tick(n, std::chrono::milliseconds(ms));
  }
  Stream<Json> json() {
    for (int i = 0; i < 3; ++i) {
      Json item;  // (GCC 12: no braced initializer list inside a co_yield expression)
      item["i"] = i;
      co_yield item;
    }
  }
  Stream<std::string> broken() {
    co_yield std::string("first");
    co_await sleep_for(10ms);
    throw std::runtime_error("generator failed");
  }

 private:
  static Stream<std::string> megabytes(int n) {
    for (int i = 0; i < n; ++i) {
      ++g_big_produced;
      co_yield std::string(1 << 20, static_cast<char>('a' + i % 26));
    }
  }
  static Stream<std::string> tick(int n, std::chrono::milliseconds delay) {
    FrameGuard guard;
    for (int i = 0; i < n; ++i) {
      co_await sleep_for(delay);
      ++g_yielded;
      co_yield "tick" + std::to_string(i) + ";";
    }
  }
};

// Reads a raw HTTP response as it arrives: (time since the request, bytes) per read.
struct Arrival {
  Clock::duration at;
  std::string bytes;
};
std::vector<Arrival> read_stream(int port, const std::string& request, int stop_after_reads = -1) {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  auto start = Clock::now();
  asio::write(socket, asio::buffer(request));
  std::vector<Arrival> out;
  char buf[4096];
  for (;;) {
    boost::system::error_code ec;
    std::size_t n = socket.read_some(asio::buffer(buf), ec);
    if (ec) break;
    out.push_back({Clock::now() - start, std::string(buf, n)});
    std::string all;
    for (auto& a : out) all += a.bytes;
    if (all.find("0\r\n\r\n") != std::string::npos) break;  // the last chunk
    if (stop_after_reads > 0 && static_cast<int>(out.size()) >= stop_after_reads) break;
  }
  return out;  // closing the socket here is the client going away
}

std::string joined(const std::vector<Arrival>& a) {
  std::string all;
  for (auto& x : a) all += x.bytes;
  return all;
}

class Streaming : public ::testing::Test {
 protected:
  void SetUp() override {
    serve_.emplace(start({.http = {.port = 0}, .cpus = 4}));
    serve_->run(deployment<Ticker>().max_ongoing_requests(1).graceful_shutdown_timeout_s(1).bind(),
                {.route_prefix = "/t"});
    port_ = serve_->http_port();
  }
  std::optional<Serve> serve_;
  int port_ = 0;
};

TEST_F(Streaming, ChunksArriveOneByOne) {
  auto arrivals = read_stream(port_, "GET /t/ticks?n=4&ms=150 HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string all = joined(arrivals);
  EXPECT_NE(all.find("Transfer-Encoding: chunked"), std::string::npos) << all;
  EXPECT_NE(all.find("text/plain"), std::string::npos);
  for (int i = 0; i < 4; ++i) EXPECT_NE(all.find("tick" + std::to_string(i) + ";"), std::string::npos);
  // The first tick came long before the last: they were not buffered into one answer.
  Clock::duration first{}, last{};
  for (auto& a : arrivals) {
    if (a.bytes.find("tick0;") != std::string::npos) first = a.at;
    if (a.bytes.find("tick3;") != std::string::npos) last = a.at;
  }
  EXPECT_GT(last - first, 300ms);
}

TEST_F(Streaming, AClientThatDoesNotReadHoldsTheGeneratorBack) {
  g_big_produced = 0;
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port_)});
  asio::write(s, asio::buffer(std::string("GET /t/big?n=64 HTTP/1.1\r\nHost: x\r\n\r\n")));
  ASSERT_TRUE(test::wait_until([] { return g_big_produced.load() >= 1; }));
  // Nothing is read: once the socket buffers are full, no further item is produced (a pump that
  // did not wait for each write would produce all 64 MiB at once).
  EXPECT_FALSE(test::wait_until([] { return g_big_produced.load() >= 64; }, 1s))
      << g_big_produced.load() << " items produced for a client that read nothing";
  const int held = g_big_produced.load();
  EXPECT_LT(held, 32);
  // Reading lets it go on to the end.
  std::size_t body_bytes = 0;
  std::string tail;
  char buf[1 << 16];
  for (boost::system::error_code ec; tail.find("0\r\n\r\n") == std::string::npos && !ec;) {
    const std::size_t n = s.read_some(asio::buffer(buf), ec);
    body_bytes += n;
    tail.append(buf, n);  // the last bytes seen, to find the final chunk
    if (tail.size() > 16) tail.erase(0, tail.size() - 16);
  }
  EXPECT_EQ(g_big_produced.load(), 64);
  EXPECT_GT(body_bytes, 64u << 20);
}

TEST_F(Streaming, ServerSentEventsWhenAsked) {
  auto all = joined(read_stream(port_, "GET /t/ticks?n=2&ms=1 HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"));
  EXPECT_NE(all.find("Content-Type: text/event-stream"), std::string::npos) << all;
  EXPECT_NE(all.find("data: tick0;\n\n"), std::string::npos) << all;
  EXPECT_NE(all.find("data: tick1;\n\n"), std::string::npos) << all;
}

TEST_F(Streaming, JsonItemsAreNewlineDelimited) {
  auto all = joined(read_stream(port_, "GET /t/json HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_NE(all.find("application/x-ndjson"), std::string::npos) << all;
  EXPECT_NE(all.find("{\"i\":0}\n"), std::string::npos);
  EXPECT_NE(all.find("{\"i\":2}\n"), std::string::npos);
}

TEST_F(Streaming, ADisconnectStopsTheGenerator) {
  g_yielded = 0;
  g_frame_destroyed = false;
  // Read the head and a few chunks, then go away.
  auto got = read_stream(port_, "GET /t/ticks?n=200&ms=20 HTTP/1.1\r\nHost: x\r\n\r\n", 3);
  ASSERT_FALSE(got.empty());
  for (int i = 0; i < 200 && !g_frame_destroyed; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(g_frame_destroyed.load()) << "the generator's frame was not destroyed";
  EXPECT_LT(g_yielded.load(), 50);
  // Its slot was given back (max_ongoing_requests is 1): the next request is served.
  test::HttpClient client(port_);
  auto r = client.get("/t/ticks?n=1&ms=1");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "tick0;");
}

TEST_F(Streaming, ErrorsBeforeTheFirstByteAreOrdinaryAnswers) {
  test::HttpClient client(port_);
  auto r = client.get("/t/ticks?n=-1");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Json::parse(r.body)["error"], "n must be >= 0");
}

TEST_F(Streaming, AGeneratorThatThrowsCutsTheResponseOff) {
  auto all = joined(read_stream(port_, "GET /t/broken HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_NE(all.find("first"), std::string::npos) << all;
  EXPECT_EQ(all.find("0\r\n\r\n"), std::string::npos) << "a failed stream must not look complete";
  EXPECT_EQ(test::HttpClient(port_).get("/t/ticks?n=1&ms=1").status, 200);
}


}  // namespace
}  // namespace cserve

namespace cserve {
namespace {

std::atomic<bool> g_words_destroyed{false};
struct WordsGuard {
  ~WordsGuard() { g_words_destroyed = true; }
};

class Words {
 public:
  Stream<std::string> spell(std::string text, int delay_ms) {
    WordsGuard guard;
    std::size_t start = 0;
    while (start < text.size()) {
      auto end = text.find(' ', start);
      if (end == std::string::npos) end = text.size();
      co_await sleep_for(std::chrono::milliseconds(delay_ms));
      co_yield text.substr(start, end - start);
      start = end + 1;
    }
  }
  Stream<int> failing() {
    co_yield 1;
    throw std::runtime_error("stream broke");
  }
};

class Echoer {
 public:
  explicit Echoer(DeploymentHandle<Words> words) : words_(std::move(words)) {}
  // A coroutine consuming another deployment's stream.
  Task<std::string> operator()(std::string text) {
    auto stream = words_.method(&Words::spell).remote(std::move(text), 1);
    std::string out;
    while (auto word = co_await stream.next()) out += "[" + *word + "]";
    co_return out;
  }

 private:
  DeploymentHandle<Words> words_;
};

TEST(HandleStreams, APlainThreadIteratesARemoteStream) {
  Serve serve = start({.http_enabled = false, .cpus = 4});
  auto h = serve.run(deployment<Words>().bind());
  auto stream = h.method(&Words::spell).remote(std::string("a bb ccc"), 1);
  std::vector<std::string> words;
  while (auto w = stream.next().result(5s)) words.push_back(*w);
  EXPECT_EQ(words, (std::vector<std::string>{"a", "bb", "ccc"}));
  EXPECT_EQ(stream.next().result(), std::nullopt);  // stays ended
}

TEST(HandleStreams, ACoroutineConsumesAStreamFromAnotherDeployment) {
  Serve serve = start({.http_enabled = false, .cpus = 4});
  auto h = serve.run(deployment<Echoer>().bind(deployment<Words>().bind()));
  EXPECT_EQ(h.remote(std::string("x yy")).result(5s), "[x][yy]");
}

TEST(HandleStreams, ErrorsReachTheConsumer) {
  Serve serve = start({.http_enabled = false, .cpus = 4});
  auto h = serve.run(deployment<Words>().bind());
  auto stream = h.method(&Words::failing).remote();
  EXPECT_EQ(stream.next().result(5s), 1);
  EXPECT_THROW(stream.next().result(5s), std::runtime_error);
}

TEST(HandleStreams, DroppingTheStreamStopsTheGeneratorAndFreesTheSlot) {
  g_words_destroyed = false;
  Serve serve = start({.http_enabled = false, .cpus = 4});
  auto h = serve.run(deployment<Words>().max_ongoing_requests(1).bind());
  {
    auto stream = h.method(&Words::spell).remote(std::string("w w w w w w w w w w w w"), 20);
    EXPECT_EQ(stream.next().result(5s), "w");
  }  // dropped after one word
  for (int i = 0; i < 200 && !g_words_destroyed; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(g_words_destroyed.load());
  auto next = h.method(&Words::spell).remote(std::string("ok"), 1);  // the only slot is free again
  EXPECT_EQ(next.next().result(5s), "ok");
}


// A user's class whose call operator streams and takes a plain int: found by a user's own
// program, which did not compile before (the call operator was registered for calls by name and
// its Stream result was turned into JSON).
class Countdown {
 public:
  Stream<std::string> operator()(int n) {
    if (n < 0) throw Error("n must be >= 0", ErrorCode::kInvalidArgument);
    for (int i = n; i > 0; --i) {
      co_await sleep_for(1ms);
      co_yield std::to_string(i) + ";";
    }
  }
};

// An ingress that re-streams the Countdown's items over HTTP (?n=...).
class CountdownProxy {
 public:
  explicit CountdownProxy(DeploymentHandle<Countdown> inner) : inner_(std::move(inner)) {}
  Stream<std::string> operator()(const Request& req) {
    auto items = inner_.remote(std::stoi(req.query("n").value_or("3")));
    while (auto item = co_await items.next()) co_yield *item;
  }

 private:
  DeploymentHandle<Countdown> inner_;
};

TEST(StreamCallOperator, ThroughATypedHandle) {
  Serve serve = start({.http_enabled = false, .cpus = 4});
  DeploymentHandle<Countdown> h = serve.run(deployment<Countdown>().bind());
  auto items = h.remote(3);
  std::string all;
  while (auto item = items.next().result(5s)) all += *item;
  EXPECT_EQ(all, "3;2;1;");
}

TEST(StreamCallOperator, ByNameThroughAnUntypedHandle) {
  Serve serve = start({.http_enabled = false, .cpus = 4});
  serve.run(deployment<Countdown>().bind(), {.name = "countdown"});
  DeploymentHandle<> h = serve.get_app_handle("countdown");
  auto items = h.method("__call__").stream(2);
  std::vector<Json> got;
  while (auto item = items.next().result(5s)) got.push_back(*item);
  EXPECT_EQ(got, (std::vector<Json>{"2;", "1;"}));
  // remote() of a stream is refused with a message that says what to do instead.
  try {
    h.remote(2).result(5s);
    ADD_FAILURE() << "remote() of a stream method returned";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("stream(...)"), std::string::npos) << e.what();
  }
  // Bad arguments name the argument.
  auto bad = h.method("__call__").stream("three");
  try {
    bad.next().result(5s);
    ADD_FAILURE() << "a string converted to int";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("argument 1"), std::string::npos) << e.what();
  }
}

TEST(StreamCallOperator, OverHttpWithAJsonArgumentAndThroughAnIngress) {
  Serve serve = test::start_local();
  serve.run(deployment<Countdown>().bind(), {.name = "direct", .route_prefix = "/countdown"});
  serve.run(deployment<CountdownProxy>().bind(deployment<Countdown>().bind()),
            {.name = "proxied", .route_prefix = "/proxied"});
  test::HttpClient client(serve.http_port());
  // The body is the call operator's one argument.
  auto direct = client.request("POST", "/countdown", "4", {{"Content-Type", "application/json"}});
  EXPECT_EQ(direct.status, 200);
  EXPECT_EQ(direct.body, "4;3;2;1;");
  EXPECT_EQ(direct.header("transfer-encoding"), "chunked");
  auto proxied = client.get("/proxied?n=2");
  EXPECT_EQ(proxied.status, 200);
  EXPECT_EQ(proxied.body, "2;1;");
  // Bad input: not JSON, not an int, and an error the handler raises before streaming.
  auto not_json = client.request("POST", "/countdown", "four");
  EXPECT_EQ(not_json.status, 400) << not_json.body;
  auto not_int = client.request("POST", "/countdown", "\"four\"");
  EXPECT_EQ(not_int.status, 400) << not_int.body;
  EXPECT_NE(not_int.body.find("argument 1"), std::string::npos) << not_int.body;
  auto negative = client.request("POST", "/countdown", "-1");
  EXPECT_EQ(negative.status, 400) << negative.body;
  EXPECT_NE(negative.body.find("n must be >= 0"), std::string::npos) << negative.body;
}

}  // namespace
}  // namespace cserve
