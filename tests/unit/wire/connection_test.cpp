// A wire connection over a real socket pair: the HELLO exchange, frames both ways, and a peer
// that breaks the protocol refused with an ERROR that says why. HTTP payloads round trip.
#include "common/asio.hpp"
#include "wire/bytes.hpp"
#include "wire/connection.hpp"
#include "wire/http_codec.hpp"

#include <cserve/routes.hpp>

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <thread>

namespace cserve::wire {
namespace {

using namespace std::chrono_literals;

// One side of a socket pair as a WireConnection on its own I/O thread, recording what arrives.
class Side {
 public:
  Side(int fd, std::string role, std::int64_t pid, std::uint64_t max_frame = 0) : guard_(io_.get_executor()) {
    Hello h;
    h.role = std::move(role);
    h.pid = pid;
    h.max_frame_bytes = max_frame;
    connection = WireConnection::adopt(io_, fd, h);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Side() {
    connection->close();
    guard_.reset();
    thread_.join();  // run() returns once the closed socket's operations have ended
    connection.reset();  // before the io_context it belongs to
  }
  void start() {
    connection->start(
        [this](Frame& f) {
          frames.push_back(f);
          ++received;
        },
                      [this](const Failure& why) { closed.set_value(why); });
  }

  std::shared_ptr<WireConnection> connection;
  std::vector<Frame> frames;  // I/O thread only, read after the connection closed
  std::atomic<int> received{0};
  std::promise<Failure> closed;

 private:
  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::thread thread_;
};

std::pair<int, int> socket_pair() {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  return {fds[0], fds[1]};
}

TEST(WireConnection, ExchangesHelloThenFramesBothWays) {
  auto [a_fd, b_fd] = socket_pair();
  Side a(a_fd, "serve", 100), b(b_fd, "worker", 200);
  a.start();
  b.start();
  a.connection->send(FrameType::kCall, 1, "to the worker");
  b.connection->send(FrameType::kResult, 1, std::string(200000, 'r'));  // many reads' worth
  b.connection->send(FrameType::kStreamEnd, 2, "");
  ASSERT_TRUE([&] {
    for (int i = 0; i < 500 && !(a.connection->peer_pid() == 200 && b.connection->peer_pid() == 100 &&
                                 b.received.load() == 1);
         ++i) {
      std::this_thread::sleep_for(10ms);
    }
    return a.connection->peer_pid() == 200 && b.received.load() == 1;
  }());
  b.connection->close(/*flush=*/true);  // after its frames are out, and a's has arrived
  auto why = a.closed.get_future();
  ASSERT_EQ(why.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(why.get().code, ErrorCode::kUnavailable);  // the peer closed it
  auto b_closed = b.closed.get_future();
  ASSERT_EQ(b_closed.wait_for(5s), std::future_status::ready);
  ASSERT_EQ(a.frames.size(), 2u);
  EXPECT_EQ(a.frames[0].type, FrameType::kResult);
  EXPECT_EQ(a.frames[0].payload, std::string(200000, 'r'));
  EXPECT_EQ(a.frames[1].type, FrameType::kStreamEnd);
  EXPECT_EQ(a.frames[1].call_id, 2u);
  ASSERT_EQ(b.frames.size(), 1u);
  EXPECT_EQ(b.frames[0].payload, "to the worker");
}

// Writes raw bytes as the peer, then reads what the connection answered until it closed.
std::string answer_to(const std::string& bytes, Failure& why) {
  auto [a_fd, raw] = socket_pair();
  Side a(a_fd, "serve", 100);
  a.start();
  EXPECT_EQ(::write(raw, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  auto closed = a.closed.get_future();
  if (closed.wait_for(5s) != std::future_status::ready) {
    ADD_FAILURE() << "the connection did not close";
    ::close(raw);
    return {};
  }
  why = closed.get();
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = ::read(raw, buf, sizeof buf)) > 0;) got.append(buf, static_cast<std::size_t>(n));
  ::close(raw);
  return got;
}

// The frames in `bytes` (a HELLO first, then what followed).
std::vector<Frame> frames_in(const std::string& bytes) {
  FrameDecoder d;
  d.feed(bytes);
  std::vector<Frame> out;
  while (auto r = d.next()) {
    if (r->error) break;
    out.push_back(*r->frame);
  }
  return out;
}

std::string hello_bytes() {
  Hello h;
  h.role = "worker";
  h.pid = 7;
  h.max_frame_bytes = 1 << 20;
  std::string payload = encode_hello(h);
  std::string out;
  encode_frame(FrameType::kHello, 0, payload, out);
  return out;
}

TEST(WireConnection, APeerThatDoesNotStartWithHelloIsRefusedWithAReason) {
  std::string call;
  encode_frame(FrameType::kCall, 1, "x", call);
  Failure why;
  auto frames = frames_in(answer_to(call, why));
  EXPECT_EQ(why.code, ErrorCode::kInvalidArgument);
  EXPECT_NE(why.message.find("the first frame was CALL, not HELLO"), std::string::npos) << why.message;
  ASSERT_EQ(frames.size(), 2u);  // our HELLO, then the ERROR
  EXPECT_EQ(frames[1].type, FrameType::kError);
  auto e = decode_error(frames[1].payload);
  ASSERT_TRUE(std::holds_alternative<RemoteError>(e));
  EXPECT_NE(std::get<RemoteError>(e).failure.message.find("not HELLO"), std::string::npos);
}

TEST(WireConnection, AFrameOverThePeersLimitIsRefused) {
  // This side accepts frames of up to 1024 bytes; the peer sends one of 2000.
  auto [a_fd, raw] = socket_pair();
  Side a(a_fd, "serve", 100, /*max_frame=*/1024);
  a.start();
  std::string bytes = hello_bytes();
  encode_frame(FrameType::kResult, 1, std::string(2000, 'x'), bytes);
  ASSERT_EQ(::write(raw, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  auto closed = a.closed.get_future();
  ASSERT_EQ(closed.wait_for(5s), std::future_status::ready);
  const Failure why = closed.get();
  EXPECT_EQ(why.code, ErrorCode::kTooLarge) << why.message;
  EXPECT_TRUE(a.frames.empty());
  ::close(raw);
}

TEST(WireConnection, GarbageIsRefusedBeforeAnythingIsBuffered) {
  Failure why;
  std::string bytes = hello_bytes() + std::string("\x0b\x00\x00\x00\x2a\x00", 6) + std::string(9, '\0');
  auto frames = frames_in(answer_to(bytes, why));
  EXPECT_EQ(why.code, ErrorCode::kInvalidArgument);
  EXPECT_NE(why.message.find("unknown frame type 42"), std::string::npos) << why.message;
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames.back().type, FrameType::kError);
}

TEST(HttpCodec, RequestsAndResponsesRoundTripWithRawBodies) {
  std::string body;
  for (int i = 0; i < 256; ++i) body.push_back(static_cast<char>(i));
  Request req("POST", "/items/7", "q=1&x=%20", {{"X-Thing", "a"}, {"Content-Type", "application/octet-stream"}}, body);
  detail::RequestAccess::set_ids(req, "/api/items/7", "rid-1");
  detail::RequestAccess::set_path_params(req, {{"id", "7"}});
  const std::string bytes = encode_request(req);
  EXPECT_EQ(bytes.substr(bytes.size() - body.size()), body) << "the body is carried as its bytes";
  auto back = decode_request(bytes);
  ASSERT_TRUE(std::holds_alternative<Request>(back)) << std::get<Failure>(back).message;
  const Request& r = std::get<Request>(back);
  EXPECT_EQ(r.method(), "POST");
  EXPECT_EQ(r.path(), "/items/7");
  EXPECT_EQ(r.full_path(), "/api/items/7");
  EXPECT_EQ(r.query("x"), " ");
  EXPECT_EQ(r.header("x-thing"), "a");
  EXPECT_EQ(r.body(), body);
  EXPECT_EQ(r.request_id(), "rid-1");
  EXPECT_EQ(r.path_param("id"), "7");

  Response resp = Response::text(body, 201);
  resp.headers.push_back({"X-Out", "b"});
  auto rb = decode_response(encode_response(resp));
  ASSERT_TRUE(std::holds_alternative<Response>(rb));
  EXPECT_EQ(std::get<Response>(rb).status, 201);
  EXPECT_EQ(std::get<Response>(rb).body, body);
  EXPECT_EQ(std::get<Response>(rb).headers, resp.headers);
}

TEST(HttpCodec, MalformedPayloadsAreRefusedWithAReason) {
  auto r = decode_request("\xff\xff\xff\x7f not that long");
  ASSERT_TRUE(std::holds_alternative<Failure>(r));
  EXPECT_EQ(std::get<Failure>(r).code, ErrorCode::kInvalidArgument);
  EXPECT_NE(std::get<Failure>(r).message.find("longer than the payload"), std::string::npos);
  // A request cut anywhere inside its fields is refused (cut in the body, it is a shorter body).
  Request req("GET", "/x", "a=1", {{"h", "v"}}, "");
  const std::string whole = encode_request(req);
  for (std::size_t cut = 0; cut < whole.size(); ++cut) {
    EXPECT_TRUE(std::holds_alternative<Failure>(decode_request(whole.substr(0, cut)))) << cut;
  }
  // A header count no payload could hold is refused before anything is reserved.
  std::string lying;
  for (int i = 0; i < 5; ++i) put_u32(lying, 0);
  put_u32(lying, 0x7fffffff);
  EXPECT_TRUE(std::holds_alternative<Failure>(decode_request(lying)));
  std::string missing = encode_response(Response::text("x"));
  missing.resize(3);  // cut inside the length
  EXPECT_TRUE(std::holds_alternative<Failure>(decode_response(missing)));
  Response bad;
  bad.status = 5;
  auto s = decode_response(encode_response(bad));
  ASSERT_TRUE(std::holds_alternative<Failure>(s));
  EXPECT_NE(std::get<Failure>(s).message.find("status out of range"), std::string::npos);
}

}  // namespace
}  // namespace cserve::wire
