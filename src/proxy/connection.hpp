// connection.hpp — one HTTP/1.1 client connection of the proxy: reads requests, answers the
// built-in paths and the local handler, routes the rest to a deployment, writes the answers
// (keep-alive and pipelining: pipelined requests are answered in order, one at a time).
//
// Phases:
//
//   kIdle --first bytes--> kReading --request read--> kAwaitingAnswer --answer--> kWriting
//     ^                      |   \                          |       \                 |
//     |                      |    +--answered here----------|--------+--> kWriting    |
//     |                      |                              +--stream head--> kStreaming
//     |          malformed, too large or too slow: error answer --> kLingering --> kClosed
//     +--------------------- answer written, keep-alive ----------------------------+
//   any phase --client gone, write failed, drain or stop--> kClosed
//
// While a request is processed (kAwaitingAnswer, kStreaming, and the kWriting that follows) one
// read stays open (the "watch"): it sees the client go away, which cancels the request, and keeps
// pipelined bytes. In kIdle the watch is the keep-alive wait for the next request.
//
// Timeouts use one DeadlineTimer: header_timeout_s and body_timeout_s while reading,
// request_timeout_s while awaiting the answer (408, and the request is cancelled),
// body_timeout_s while writing, keep_alive_timeout_s while idle.
//
// Answers a worker writes: the worker that produced a whole answer writes it straight to the
// socket (connection_answer.cpp) when it claims the request's AnswerSlot before the I/O thread
// does, so an answer costs no hop back to the I/O thread. The I/O thread learns of it lazily,
// when the client's next bytes (or EOF) arrive, when a timer fires, at a drain, or — when it
// asked to hear (pipelined bytes waiting, a close or timeout to act on) — from the worker's post;
// it then goes on as after its own write (finish_written). A full socket, a connection to close
// after the answer, or a late claim sends the answer (or its rest) through the I/O thread.
//
// Threads: every member function runs on the connection's own I/O thread, except AnswerSink's
// answer()/post_stream(), which any thread calls: post_stream() posts to the I/O thread, and
// answer() writes from its thread what its claim lets it write (the fields it then touches are
// listed with the members). The replica side of a request is in http_call.cpp; routing and
// submitting are in connection_route.cpp; streamed answers are in connection_stream.cpp.
#pragma once

#include "proxy/answer_slot.hpp"
#include "proxy/deadline_timer.hpp"
#include "proxy/http_call.hpp"
#include "proxy/http_metrics.hpp"
#include "proxy/proxy_state.hpp"

#include "common/asio.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace cserve {

class Connection final : public AnswerSink, public std::enable_shared_from_this<Connection> {
 public:
  using Socket = asio::basic_stream_socket<asio::ip::tcp, asio::io_context::executor_type>;

  Connection(Socket socket, ProxyState& state);
  ~Connection() override;

  // Registers the connection and waits for its first request.
  void start();
  asio::io_context::executor_type executor() { return socket_.get_executor(); }
  // During a drain: a connection waiting for its next request closes now.
  void close_if_idle();
  // At the end of a drain: closes now, whatever it is doing (a request being answered is
  // cancelled).
  void close_now();

  // AnswerSink, from any thread (connection_answer.cpp):
  void answer(std::uint64_t seq, Response answer) override;
  void post_stream(std::uint64_t seq, Response head, std::optional<std::string> first,
                   std::shared_ptr<detail::ChunkSource> source, detail::UniqueFunction<void()> finished) override;

 private:
  enum class Phase { kIdle, kReading, kAwaitingAnswer, kWriting, kStreaming, kLingering, kClosed };

  // The request being answered.
  struct Exchange {
    std::string request_id;
    std::uint64_t seq = 0;                          // tells its answer from a late one
    std::shared_ptr<detail::CallContext> context;  // set once routed to a deployment
    unsigned version = 11;
    bool keep_alive = true;
    bool head = false;  // HEAD: the GET answer's headers, no body
    bool sse = false;   // Accept: text/event-stream
    std::string access_target;  // for the access log
  };

  // A streamed answer in progress (connection_stream.cpp).
  struct StreamState {
    boost::beast::http::response<boost::beast::http::empty_body> head;
    std::optional<boost::beast::http::response_serializer<boost::beast::http::empty_body>> serializer;
    std::shared_ptr<detail::ChunkSource> source;
    detail::UniqueFunction<void()> finished;  // gives the replica's slot back
    std::string chunk;                         // the chunk being written
    bool pulling = false;                      // a chunk is being produced by the replica
  };

  void assert_on_io_thread() const;

  // Reading.
  // `idle_since`: when the connection became idle (a worker's answer: when it was written).
  void next_request(DeadlineTimer::Clock::time_point idle_since = DeadlineTimer::Clock::now());
  void watch();
  void on_watch(const boost::system::error_code& ec, std::size_t n);
  void start_request();
  // Feeds the buffered bytes to the parser: true when they hold the whole request; `ec` when they
  // are malformed or over a limit.
  bool parse_buffered(boost::system::error_code& ec);
  void read_header();
  void on_header();
  void read_body();
  void on_read_error(const boost::system::error_code& ec);
  void on_deadline();
  // True when a worker wrote the awaited answer; the connection then goes on (finish_written).
  bool collect_written();
  void finish_written();

  // Answering.
  void route(boost::beast::http::request<boost::beast::http::string_body> req);
  // Sends the request to `router`'s deployment (`rest`: the path below its route prefix).
  void submit(const std::shared_ptr<Router>& router, std::string_view rest,
              boost::beast::http::request<boost::beast::http::string_body>& req, std::string_view path,
              std::string_view query, HttpEntry entry, std::shared_ptr<InferenceTimer> timer = nullptr);
  bool answering(std::uint64_t seq);
  void on_request_timeout();
  void respond(Response r) { write(std::move(r), /*error_answer=*/false); }
  void fail(int status, const std::string& message);
  void write(Response r, bool error_answer);
  void send_out(bool close_after, bool error_answer);  // writes out_
  // Worker side (connection_answer.cpp): the slow path posts the answer to the I/O thread; a
  // worker that could not send all of its answer posts the rest.
  void post_answer(std::uint64_t seq, Response answer);
  void send_rest(std::uint64_t seq, std::string rest, bool close_after, bool failed);
  void on_worker_wrote(std::uint64_t seq);
  void lingering_close();
  void drain_some();
  void close();
  void log_access(int status, double ms);

  // Streaming (connection_stream.cpp).
  void respond_stream(Response head, std::optional<std::string> first, std::shared_ptr<detail::ChunkSource> source,
                      detail::UniqueFunction<void()> finished);
  void pull_chunk();
  void on_chunk(std::optional<std::string> chunk, std::exception_ptr error);
  void write_chunk(std::optional<std::string> chunk);
  void end_stream(bool cancel);

  // Constant after construction.
  ProxyState& state_;
  Socket socket_;
  const int fd_;  // socket_'s descriptor, for a worker's send; closed only by the I/O thread

  // The awaited answer's owner (answer_slot.hpp). While a worker owns it, the worker alone
  // touches exchange_, metrics_, answered_at_ and the socket's sending side.
  AnswerSlot slot_;
  DeadlineTimer::Clock::time_point answered_at_;  // set by the worker that wrote the answer

  DeadlineTimer timer_;
  Phase phase_ = Phase::kIdle;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::string out_;  // the answer being written by the I/O thread
  RequestMetrics metrics_;
  Exchange exchange_;
  StreamState stream_;
  bool watching_ = false;            // the watch's read is pending
  bool resume_after_watch_ = false;  // parse buffered bytes once the watch is cancelled
  bool peer_closed_ = false;         // the client sent EOF: close after this answer
  bool timed_out_ = false;           // the timer cancelled the pending read or write
  bool close_pending_ = false;       // close once the worker writing the answer posts back
};

}  // namespace cserve
