#include "proxy/connection.hpp"

#include "proxy/http_answer.hpp"

#include "api/request_id.hpp"
#include "common/check.hpp"
#include "common/clock.hpp"
#include "common/logging.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>

namespace cserve {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

bool is_parse_error(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category();
}

std::string request_id_of(const http::request<http::string_body>& req) {
  auto it = req.find("X-Request-Id");
  if (it != req.end() && is_acceptable_request_id(it->value())) return std::string(it->value());
  return make_request_id();
}

}  // namespace

Connection::Connection(Socket socket, ProxyState& state)
    : state_(state),
      socket_(std::move(socket)),
      fd_(socket_.native_handle()),
      timer_(socket_.get_executor(), [this] { on_deadline(); }),
      metrics_(state.metrics) {}

Connection::~Connection() { state_.remove(this); }

void Connection::assert_on_io_thread() const {
  CSERVE_DCHECK(const_cast<Socket&>(socket_).get_executor().running_in_this_thread());
}

void Connection::start() {
  state_.add(this, weak_from_this());
  next_request();
}

void Connection::close_if_idle() {
  assert_on_io_thread();
  if (collect_written()) return;  // goes on to next_request(), which closes during a drain
  if (phase_ == Phase::kIdle) close();
}

void Connection::close_now() {
  assert_on_io_thread();
  if (phase_ == Phase::kAwaitingAnswer) {
    CSERVE_LOG(kWarning, "proxy") << "request " << exchange_.request_id
                                  << " not answered when the drain ended; cancelling it";
  }
  close();
}

// ---- Reading -----------------------------------------------------------------------------------

// After an answer (or at the start): the next request, from bytes already here or to come.
void Connection::next_request(DeadlineTimer::Clock::time_point idle_since) {
  exchange_.context.reset();
  if (state_.draining.load(std::memory_order_relaxed) || peer_closed_) return close();
  if (buffer_.size() > 0) {
    if (!watching_) return start_request();
    // Pipelined bytes are here already: stop the watch, then parse them (on_watch goes on).
    resume_after_watch_ = true;
    boost::system::error_code ignored;
    socket_.cancel(ignored);
    return;
  }
  phase_ = Phase::kIdle;
  timer_.set(idle_since + state_.timeout(state_.options.keep_alive_timeout_s), shared_from_this());
  if (!watching_) watch();
}

// An asynchronous read. It first tries the socket (a system call that usually finds nothing,
// as the client awaits its answer) and then waits without re-arming the descriptor, where a wait
// for readability re-arms it every time (epoll_ctl): 8% less CPU per request in
// bench/http_ab.sh.
void Connection::watch() {
  watching_ = true;
  socket_.async_read_some(buffer_.prepare(8192), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
    self->on_watch(ec, n);
  });
}

void Connection::on_watch(const boost::system::error_code& ec, std::size_t n) {
  assert_on_io_thread();
  watching_ = false;
  if (phase_ == Phase::kClosed) return;
  if (!ec) buffer_.commit(n);
  if (resume_after_watch_) {
    resume_after_watch_ = false;
    return start_request();
  }
  if (phase_ == Phase::kAwaitingAnswer && slot_.io_written(exchange_.seq)) {
    if (ec) peer_closed_ = true;  // the client closed after a worker's answer: close after it
    return finish_written();
  }
  if (ec) {
    if (phase_ == Phase::kAwaitingAnswer || phase_ == Phase::kStreaming) {
      CSERVE_LOG(kInfo, "proxy") << "request " << exchange_.request_id
                                 << ": client went away before the answer; cancelling it";
      return close();  // cancels the request
    }
    if (phase_ == Phase::kWriting && !timed_out_) {
      peer_closed_ = true;  // an answer is being written: finish it, then close
      return;
    }
    return close();  // idle timeout, EOF or shutdown
  }
  if (phase_ == Phase::kIdle) return start_request();
  // A pipelined request arrives while this one is processed: keep it, within a bound, and have
  // the worker that answers post back, so that it is parsed then.
  if (phase_ == Phase::kAwaitingAnswer && slot_.io_wait(exchange_.seq) == AnswerSlot::Io::kWritten) {
    return finish_written();
  }
  if (buffer_.size() < state_.options.max_header_bytes + 8192) watch();
}

void Connection::start_request() {
  phase_ = Phase::kReading;
  exchange_.access_target.clear();
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(state_.options.max_header_bytes));
  parser_->body_limit(state_.options.max_body_bytes);
  // Usually the whole request is here already (the watch read it): parse it on the spot rather
  // than through asynchronous reads that would only find it in the buffer.
  beast::error_code ec;
  if (parse_buffered(ec)) {
    exchange_.request_id = request_id_of(parser_->get());
    timer_.clear();
    return route(parser_->release());
  }
  if (ec) return on_read_error(ec);
  read_header();  // the rest is still to come
}

bool Connection::parse_buffered(beast::error_code& ec) {
  while (buffer_.size() > 0 && !parser_->is_done()) {
    const std::size_t n = parser_->put(buffer_.data(), ec);
    buffer_.consume(n);  // what the parser took, even when it needs more (a start line)
    if (ec == http::error::need_more) {
      ec = {};
      return false;
    }
    if (ec || n == 0) return false;
  }
  return parser_->is_done();
}

void Connection::read_header() {
  timer_.set(DeadlineTimer::Clock::now() + state_.timeout(state_.options.header_timeout_s), shared_from_this());
  http::async_read_header(socket_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
    if (ec) return self->on_read_error(ec);
    self->on_header();
  });
}

void Connection::on_header() {
  const auto& req = parser_->get();
  exchange_.request_id = request_id_of(req);
  timer_.set(DeadlineTimer::Clock::now() + state_.timeout(state_.options.body_timeout_s), shared_from_this());
  if (beast::iequals(req[http::field::expect], "100-continue") && !parser_->is_done()) {
    asio::async_write(socket_, asio::buffer(kContinue.data(), kContinue.size()),
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) return self->close();
                        self->read_body();
                      });
    return;
  }
  read_body();
}

void Connection::read_body() {
  http::async_read(socket_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
    if (ec) return self->on_read_error(ec);
    self->timer_.clear();  // the replica's time is not the client's to bound
    self->route(self->parser_->release());
  });
}

void Connection::on_read_error(const boost::system::error_code& ec) {
  if (exchange_.request_id.empty()) exchange_.request_id = make_request_id();
  if (ec == http::error::header_limit) {
    return fail(431, "request headers exceed " + std::to_string(state_.options.max_header_bytes) + " bytes");
  }
  if (ec == http::error::body_limit) {
    return fail(413, "request body exceeds " + std::to_string(state_.options.max_body_bytes) + " bytes");
  }
  if (timed_out_) {
    timed_out_ = false;
    return fail(408, "request not received in time");
  }
  if (ec == http::error::end_of_stream || ec == http::error::partial_message || !is_parse_error(ec)) {
    return close();  // the client went away (or we are shutting down)
  }
  fail(400, "malformed request: " + ec.message());
}

void Connection::on_deadline() {
  assert_on_io_thread();
  if (phase_ == Phase::kClosed) return;
  if (phase_ == Phase::kAwaitingAnswer) {
    if (collect_written()) return;
    if (state_.options.request_timeout_s) return on_request_timeout();
    // No bound on the request: the timer only looks for an answer a worker wrote.
    return timer_.set(DeadlineTimer::Clock::now() + state_.timeout(state_.options.keep_alive_timeout_s),
                      shared_from_this());
  }
  timed_out_ = true;
  boost::system::error_code ignored;
  socket_.cancel(ignored);  // the pending read or write completes with operation_aborted
}

// ---- Answering ---------------------------------------------------------------------------------

// True when the answer of request `seq` is still wanted and now this thread's to send: it is
// the request being awaited, and no worker claimed it.
bool Connection::answering(std::uint64_t seq) {
  return phase_ == Phase::kAwaitingAnswer && seq == exchange_.seq && slot_.io_claim(seq) == AnswerSlot::Io::kOwned;
}

bool Connection::collect_written() {
  if (phase_ != Phase::kAwaitingAnswer || !slot_.io_written(exchange_.seq)) return false;
  finish_written();
  return true;
}

// A worker wrote the answer (and recorded it): go on as after a write of this thread's.
void Connection::finish_written() {
  phase_ = Phase::kWriting;
  exchange_.request_id.clear();
  if (close_pending_) return close();
  next_request(answered_at_);
}

// request_timeout_s passed before the answer came: 408 now; the request is cancelled (dropped
// from its queue, or stopped at its next suspension point) and its late answer is dropped.
void Connection::on_request_timeout() {
  switch (slot_.io_claim(exchange_.seq)) {
    case AnswerSlot::Io::kWritten:
      return finish_written();
    case AnswerSlot::Io::kPending:
      return;  // a worker is writing the answer: it posts back
    case AnswerSlot::Io::kOwned:
      break;
  }
  exchange_.context->cancel(detail::CancelReason::kTimedOut);
  CSERVE_LOG(kInfo, "proxy") << "request " << exchange_.request_id << " timed out after request_timeout_s="
                             << *state_.options.request_timeout_s << "s";
  respond(error_response(
      408, "request did not finish within request_timeout_s (" + describe_seconds(*state_.options.request_timeout_s) + ")",
      exchange_.request_id));
}

// With access logs on: one line per answered request (`ms` < 0: none was open).
void Connection::log_access(int status, double ms) {
  if (ms < 0 || !log::access_log()) return;
  CSERVE_LOG(kInfo, "proxy").request(exchange_.request_id)
      << metrics_.method() << " " << exchange_.access_target << " " << status << " " << ms << " ms";
}

void Connection::fail(int status, const std::string& message) {
  if (state_.record_metrics) metrics_.begin("", "", "");  // unparsed: no route
  exchange_.keep_alive = false;
  exchange_.head = false;
  write(error_response(status, message, exchange_.request_id), /*error_answer=*/true);
}

// An error answer (`error_answer`) closes the connection after a lingering close.
void Connection::write(Response r, bool error_answer) {
  if (phase_ == Phase::kClosed) return;
  const bool close_after =
      error_answer || !exchange_.keep_alive || state_.draining.load(std::memory_order_relaxed);
  r = checked_answer(std::move(r), exchange_.request_id);
  log_access(r.status, metrics_.end(r.status));
  out_ = serialize_answer(r, exchange_.request_id, {exchange_.version, !close_after, exchange_.head});
  send_out(close_after, error_answer);
}

void Connection::send_out(bool close_after, bool error_answer) {
  phase_ = Phase::kWriting;
  timer_.set(DeadlineTimer::Clock::now() + state_.timeout(state_.options.body_timeout_s), shared_from_this());
  asio::async_write(socket_, asio::buffer(out_),
                    [self = shared_from_this(), close_after, error_answer](beast::error_code ec, std::size_t) {
                      self->exchange_.request_id.clear();
                      if (ec) return self->close();
                      if (error_answer) return self->lingering_close();
                      if (close_after) return self->close();
                      self->next_request();
                    });
}

// After an error answer the client may still be sending; read and drop its bytes for a moment
// so that closing does not reset the connection before it reads the answer.
void Connection::lingering_close() {
  phase_ = Phase::kLingering;
  beast::error_code ec;
  socket_.shutdown(Socket::shutdown_send, ec);
  timer_.set(DeadlineTimer::Clock::now() + std::chrono::seconds(1), shared_from_this());
  drain_some();
}

void Connection::drain_some() {
  buffer_.consume(buffer_.size());
  socket_.async_read_some(buffer_.prepare(16384), [self = shared_from_this()](beast::error_code ec, std::size_t) {
    if (ec) return self->close();
    self->drain_some();
  });
}

void Connection::close() {
  if (phase_ == Phase::kClosed) return;
  if (phase_ == Phase::kAwaitingAnswer) {
    switch (slot_.io_claim(exchange_.seq)) {
      case AnswerSlot::Io::kPending:
        close_pending_ = true;  // a worker is writing to the socket: close when it posts back
        return;
      case AnswerSlot::Io::kWritten:
        phase_ = Phase::kWriting;  // answered: nothing to cancel
        break;
      case AnswerSlot::Io::kOwned:
        break;
    }
  }
  const Phase was = phase_;
  phase_ = Phase::kClosed;
  // A request still being answered is cancelled: nobody is left to read its answer.
  if (exchange_.context && (was == Phase::kAwaitingAnswer || was == Phase::kStreaming)) {
    exchange_.context->cancel(detail::CancelReason::kDisconnected);
  }
  metrics_.end(0);
  // A stream between pulls stops now; one mid-pull stops when its chunk arrives.
  if (!stream_.pulling) end_stream(/*cancel=*/true);
  timer_.cancel();
  beast::error_code ec;
  socket_.shutdown(Socket::shutdown_both, ec);
  socket_.close(ec);
}

}  // namespace cserve
