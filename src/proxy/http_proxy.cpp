#include "proxy/http_proxy.hpp"

#include "proxy/http_metrics.hpp"

#include "common/asio.hpp"
#include "common/describe_exception.hpp"
#include "common/logging.hpp"
#include "api/request_id.hpp"

#include <cserve/error.hpp>
#include <cserve/routes.hpp>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <cstdint>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

namespace cserve {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
// Sockets bound to their io_context's concrete executor: no type-erased executor on the hot path.
using Socket = asio::basic_stream_socket<tcp, asio::io_context::executor_type>;

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

class Connection;

// What every connection of one proxy shares.
struct Shared {
  HttpOptions options;
  HttpProxy::LocalHandler local;
  bool record_metrics = true;
  HttpMetrics metrics;
  // The route table: replaced by the controller (rarely), read by every request. Readers keep a
  // per-thread copy and take the mutex only when the version has moved.
  std::mutex routes_mu;
  std::shared_ptr<const RouteTable> routes_latest =
      std::make_shared<const RouteTable>(std::vector<RouteTable::Entry>{});
  std::atomic<std::uint64_t> routes_version{1};

  void set_routes(std::shared_ptr<const RouteTable> table) {
    std::lock_guard lock(routes_mu);
    routes_latest = std::move(table);
    routes_version.fetch_add(1, std::memory_order_release);
  }

  const std::shared_ptr<const RouteTable>& routes() {
    struct Cache {
      const Shared* owner = nullptr;
      std::uint64_t version = 0;
      std::shared_ptr<const RouteTable> table;
    };
    thread_local Cache cache;
    std::uint64_t v = routes_version.load(std::memory_order_acquire);
    if (cache.owner != this || cache.version != v) {
      std::lock_guard lock(routes_mu);
      cache.owner = this;
      cache.version = routes_version.load(std::memory_order_relaxed);
      cache.table = routes_latest;
    }
    return cache.table;
  }
  std::atomic<bool> draining{false};
  std::mutex mu;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> connections;

  std::chrono::steady_clock::duration timeout(double seconds) const {
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(seconds));
  }
};

Headers headers_of(const http::request<http::string_body>& req) {
  Headers headers;
  headers.reserve(8);
  for (const auto& f : req) headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  return headers;
}

bool is_parse_error(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category();
}

// One client connection. Every step runs on the connection's own I/O thread. Timeouts use one
// lazily re-armed timer: setting a deadline is an assignment, and only an expiry does work.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Socket socket, Shared& shared)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), shared_(shared), metrics_(shared.metrics) {}

  ~Connection() {
    std::lock_guard lock(shared_.mu);
    shared_.connections.erase(this);
  }

  void start() {
    {
      std::lock_guard lock(shared_.mu);
      shared_.connections.emplace(this, weak_from_this());
    }
    read_request();
  }

  asio::io_context::executor_type executor() { return socket_.get_executor(); }

  // Runs on the connection's thread: a connection waiting for its next request closes now.
  void close_if_idle() {
    if (idle_) close();
  }

 private:
  using Clock = std::chrono::steady_clock;

  void arm(double seconds) { arm_until(Clock::now() + shared_.timeout(seconds)); }

  // Setting a later deadline is an assignment; an earlier one than the pending wait re-arms it.
  void arm_until(Clock::time_point deadline) {
    deadline_ = deadline;
    if (timer_waiting_ && timer_at_ <= deadline) return;
    wait_until(deadline);
  }

  void wait_until(Clock::time_point at) {
    timer_waiting_ = true;
    timer_at_ = at;
    const std::uint64_t gen = ++timer_gen_;  // a wait this replaces completes as stale
    timer_.expires_at(at);
    timer_.async_wait([self = shared_from_this(), gen](beast::error_code ec) { self->on_timer(ec, gen); });
  }

  void disarm() { deadline_ = Clock::time_point::max(); }

  void on_timer(beast::error_code ec, std::uint64_t gen) {
    if (gen != timer_gen_) return;
    timer_waiting_ = false;
    if (ec || closed_ || deadline_ == Clock::time_point::max()) return;
    if (Clock::now() < deadline_) return wait_until(deadline_);
    if (in_flight_) return on_request_timeout();
    timed_out_ = true;
    beast::error_code ignored;
    socket_.cancel(ignored);  // the pending read or write completes with operation_aborted
  }

  // request_timeout_s passed before the answer came: 408 now; the request is cancelled (dropped
  // from its queue, or stopped at its next suspension point) and its late answer is dropped.
  void on_request_timeout() {
    in_flight_ = false;
    call_->cancel(detail::CancelReason::kTimedOut);
    CSERVE_LOG(kInfo, "proxy") << "request " << request_id_ << " timed out after request_timeout_s="
                               << *shared_.options.request_timeout_s << "s";
    respond(error_response(408,
                           "request did not finish within request_timeout_s (" +
                               describe_seconds(*shared_.options.request_timeout_s) + ")",
                           request_id_));
  }

  // After an answer: the next request, from bytes already here or from the next ones to come.
  void read_request() {
    call_.reset();
    if (shared_.draining.load(std::memory_order_relaxed) || peer_closed_) return close();
    if (buffer_.size() > 0) {
      if (!watching_) return start_request();
      // Pipelined bytes are here already: stop the watch, then parse them (on_watch goes on).
      resume_after_watch_ = true;
      beast::error_code ignored;
      socket_.cancel(ignored);
      return;
    }
    // Keep-alive idle wait: the first bytes of the next request.
    idle_ = true;
    arm(shared_.options.keep_alive_timeout_s);
    if (!watching_) watch();
  }

  // One read kept open whenever the parser is not reading: while a request is processed it sees
  // the client go away (which cancels the request) and keeps pipelined bytes; while idle it is
  // the wait for the next request.
  void watch() {
    watching_ = true;
    socket_.async_read_some(buffer_.prepare(8192),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->on_watch(ec, n);
                            });
  }

  void on_watch(beast::error_code ec, std::size_t n) {
    watching_ = false;
    if (closed_) return;
    if (!ec) buffer_.commit(n);
    if (resume_after_watch_) {
      resume_after_watch_ = false;
      return start_request();
    }
    if (ec) {
      if (in_flight_ || stream_source_) {
        CSERVE_LOG(kInfo, "proxy") << "request " << request_id_
                                   << ": client went away before the answer; cancelling it";
        return close();  // cancels the request
      }
      if (!idle_ && !timed_out_) {
        peer_closed_ = true;  // an answer is being written: finish it, then close
        return;
      }
      return close();  // idle timeout, EOF or shutdown
    }
    if (idle_) {
      idle_ = false;
      return start_request();
    }
    // A pipelined request arrives while this one is processed: keep it, within a bound.
    if (buffer_.size() < shared_.options.max_header_bytes + 8192) watch();
  }

  void start_request() {
    access_target_.clear();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(shared_.options.max_header_bytes));
    parser_->body_limit(shared_.options.max_body_bytes);
    request_started_ = true;
    read_header();
  }

  void read_header() {
    arm(shared_.options.header_timeout_s);
    http::async_read_header(socket_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) return self->on_read_error(ec);
                              self->on_header();
                            });
  }

  void on_header() {
    const auto& req = parser_->get();
    request_id_ = make_id(req);
    arm(shared_.options.body_timeout_s);
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

  void read_body() {
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return self->on_read_error(ec);
                       self->disarm();  // the replica's time is not the client's to bound
                       self->handle(self->parser_->release());
                     });
  }

  std::string make_id(const http::request<http::string_body>& req) const {
    auto it = req.find("X-Request-Id");
    if (it != req.end() && is_acceptable_request_id(it->value())) return std::string(it->value());
    return make_request_id();
  }

  void on_read_error(const beast::error_code& ec) {
    if (request_id_.empty()) request_id_ = make_request_id();
    if (ec == http::error::header_limit) {
      return fail(431, "request headers exceed " + std::to_string(shared_.options.max_header_bytes) +
                           " bytes");
    }
    if (ec == http::error::body_limit) {
      return fail(413, "request body exceeds " + std::to_string(shared_.options.max_body_bytes) +
                           " bytes");
    }
    if (timed_out_) {
      timed_out_ = false;
      if (request_started_) return fail(408, "request not received in time");
      return close();
    }
    if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
        !is_parse_error(ec)) {
      return close();  // the client went away (or we are shutting down)
    }
    fail(400, "malformed request: " + ec.message());
  }

  void handle(http::request<http::string_body> req) {
    keep_alive_ = req.keep_alive();
    sse_ = req[http::field::accept].find("text/event-stream") != std::string_view::npos;
    version_ = req.version();
    head_ = req.method() == http::verb::head;
    std::string_view target = req.target();
    if (target.empty() || target.front() != '/') {
      return fail(400, "request target must be a path starting with '/'");
    }
    auto q = target.find('?');
    std::string_view path = target.substr(0, q);
    std::string_view query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);

    if (path.starts_with("/-/")) {
      if (path == "/-/healthz") {
        bool draining = shared_.draining.load(std::memory_order_relaxed);
        return respond(Response::text(draining ? "draining" : "success", draining ? 503 : 200));
      }
      if (path == "/-/routes") return respond(Response::json(shared_.routes()->to_json()));
    }
    if (shared_.local) {
      Request local(std::string(req.method_string()), std::string(path), std::string(query),
                    headers_of(req), req.body());
      detail::RequestAccess::set_ids(local, std::string(path), request_id_);
      std::optional<Response> answer;
      try {
        answer = shared_.local(local);
      } catch (...) {
        CSERVE_LOG(kError, "proxy") << "request " << request_id_ << " " << path
                                    << ": " << describe_exception(std::current_exception());
        answer = error_response(500, "internal error (request " + request_id_ + ")", request_id_);
      }
      if (answer) return respond(std::move(*answer));
    }

    // This thread's cached table: only this thread replaces it, on a later request.
    const std::shared_ptr<const RouteTable>& routes = shared_.routes();
    RouteTable::Match m = routes->match(path);
    if (log::access_log()) access_target_ = std::string(target);
    if (shared_.record_metrics) {
      metrics_.begin(m.entry ? m.entry->prefix : std::string(), m.entry ? m.entry->app : std::string(),
                     std::string(req.method_string()));
    }
    if (m.entry == nullptr) {
      return respond(error_response(404,
                                    "no application is serving path '" + std::string(path) +
                                        "'; see /-/routes for the routes",
                                    request_id_));
    }
    Request creq(std::string(req.method_string()), std::string(m.rest), std::string(query), headers_of(req), std::move(req.body()));
    detail::RequestAccess::set_ids(creq, std::string(path), request_id_);

    auto deadline = Clock::time_point::max();
    if (shared_.options.request_timeout_s) {
      deadline = Clock::now() + shared_.timeout(*shared_.options.request_timeout_s);
    }
    call_ = std::make_shared<detail::CallContext>(request_id_, deadline);
    const std::uint64_t seq = ++call_seq_;
    in_flight_ = true;

    detail::Call call;
    call.context = call_;
    call.run = [self = shared_from_this(), seq, req = std::move(creq)](
                   detail::ReplicaCallable& target, UniqueFunction<void()> done) mutable {
      // The request lives until its handler finishes, however long a coroutine takes.
      auto request = std::make_unique<Request>(std::move(req));
      Request& r = *request;
      target.handle(r, [self = std::move(self), seq, request = std::move(request),
                        done = std::move(done)](detail::HandlerOutcome out) mutable {
        if (out.stream) {
          // The generator may hold a reference to the request: keep it until the stream ends.
          auto finished = [request = std::move(request), done = std::move(done)]() mutable {
            request.reset();
            done();
          };
          asio::post(self->socket_.get_executor(),
                     [self, seq, head = std::move(out.response), source = std::move(out.stream),
                      finished = std::move(finished)]() mutable {
                       if (!self->answering(seq)) {  // timed out (408 sent) or closed meanwhile
                         source->cancel();
                         return finished();
                       }
                       self->respond_stream(std::move(head), std::move(source), std::move(finished));
                     });
          return;
        }
        Response answer = out.error ? response_for_exception(out.error, *request) : std::move(out.response);
        done();  // the slot first: a client that sends its next request at once finds it free
        self->post_response(seq, std::move(answer));
      });
    };
    call.reject = [self = shared_from_this(), seq, id = request_id_](int status, std::string message) {
      self->post_response(seq, error_response(status, message, id));
    };
    m.entry->router->submit(std::move(call));
    if (deadline != Clock::time_point::max()) arm_until(deadline);
    watch();
  }

  // With access logs on: one line per answered request (`ms` < 0: none was open).
  void log_access(int status, double ms) {
    if (ms < 0 || !log::access_log()) return;
    CSERVE_LOG(kInfo, "proxy").request(request_id_)
        << metrics_.method() << " " << access_target_ << " " << status << " " << ms << " ms";
  }

  // True (once) when the answer of request `seq` is still wanted: it is the request in flight.
  bool answering(std::uint64_t seq) {
    if (closed_ || !in_flight_ || seq != call_seq_) return false;
    in_flight_ = false;
    return true;
  }

  // From any thread: hand the answer of request `seq` to the connection's own thread.
  void post_response(std::uint64_t seq, Response r) {
    asio::post(socket_.get_executor(), [self = shared_from_this(), seq, r = std::move(r)]() mutable {
      if (self->answering(seq)) self->respond(std::move(r));
    });
  }

  void respond(Response r) { write(std::move(r), /*close_after=*/false); }

  // A streamed answer: the head with chunked encoding, then one chunk per item pulled from the
  // replica, each pulled only after the previous one is written; the last chunk ends it.
  void respond_stream(Response head, std::shared_ptr<detail::ChunkSource> source,
                      UniqueFunction<void()> finished) {
    if (closed_) {
      source->cancel();
      return finished();
    }
    stream_source_ = std::move(source);
    stream_finished_ = std::move(finished);
    stream_head_ = {};
    stream_head_.version(version_);
    stream_head_.result(static_cast<unsigned>(head.status));
    stream_head_.set(http::field::server, "cserve");
    stream_head_.set(http::field::content_type, sse_ ? "text/event-stream" : head.content_type);
    stream_head_.set(http::field::cache_control, "no-cache");
    stream_head_.set("X-Request-Id", request_id_);
    stream_head_.keep_alive(keep_alive_ && !shared_.draining.load(std::memory_order_relaxed));
    stream_head_.chunked(true);
    stream_serializer_.emplace(stream_head_);
    log_access(head.status, metrics_.end(head.status));
    arm(shared_.options.body_timeout_s);
    http::async_write_header(socket_, *stream_serializer_,
                             [self = shared_from_this()](beast::error_code ec, std::size_t) {
                               if (ec) return self->end_stream(/*cancel=*/true);
                               self->pull_chunk();
                             });
  }

  void pull_chunk() {
    disarm();  // the generator's pace is the application's, not a timeout's
    pulling_ = true;
    stream_source_->pull([self = shared_from_this()](std::optional<std::string> chunk,
                                                     std::exception_ptr error) mutable {
      asio::post(self->socket_.get_executor(), [self, chunk = std::move(chunk), error]() mutable {
        self->on_chunk(std::move(chunk), error);
      });
    });
  }

  void on_chunk(std::optional<std::string> chunk, std::exception_ptr error) {
    pulling_ = false;
    if (closed_) return end_stream(/*cancel=*/true);  // closed while the replica produced it
    if (error) {
      // The status is sent already: end the response abruptly so the client sees it is cut off.
      CSERVE_LOG(kError, "proxy") << "request " << request_id_ << ": stream failed: "
                                  << describe_exception(error);
      keep_alive_ = false;
      end_stream(/*cancel=*/false);
      return close();
    }
    arm(shared_.options.body_timeout_s);
    if (!chunk) {
      asio::async_write(socket_, http::make_chunk_last(),
                        [self = shared_from_this()](beast::error_code ec, std::size_t) {
                          bool keep = !ec && self->stream_head_.keep_alive();
                          self->end_stream(/*cancel=*/false);
                          self->request_id_.clear();
                          if (keep) return self->read_request();
                          self->close();
                        });
      return;
    }
    chunk_ = sse_ ? "data: " + *chunk + "\n\n" : std::move(*chunk);
    asio::async_write(socket_, http::make_chunk(asio::buffer(chunk_)),
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) {  // the client went away: stop the generator
                          self->end_stream(/*cancel=*/true);
                          return self->close();
                        }
                        self->pull_chunk();
                      });
  }

  void end_stream(bool cancel) {
    if (!stream_source_) return;
    if (cancel) stream_source_->cancel();
    stream_source_.reset();
    stream_serializer_.reset();
    auto finished = std::move(stream_finished_);
    if (finished) finished();
  }


  void fail(int status, const std::string& message) {
    if (shared_.record_metrics && !in_flight_) metrics_.begin("", "", "");  // unparsed: no route
    keep_alive_ = false;
    head_ = false;
    write(error_response(status, message, request_id_), /*close_after=*/true);
  }

  void write(Response r, bool close_after) {
    if (closed_) return;
    bool close = close_after || !keep_alive_ || shared_.draining.load(std::memory_order_relaxed);
    int status = r.status;
    if (status < 100 || status > 599) {
      CSERVE_LOG(kError, "proxy") << "request " << request_id_ << ": handler chose invalid status "
                                  << status << "; answering 500";
      r = error_response(500, "handler returned invalid HTTP status " + std::to_string(status),
                         request_id_);
    }
    log_access(r.status, metrics_.end(r.status));
    res_ = {};
    res_.version(version_);
    res_.result(static_cast<unsigned>(r.status));
    res_.set(http::field::server, "cserve");
    res_.set(http::field::content_type, r.content_type);
    res_.set("X-Request-Id", request_id_);
    for (auto& [k, v] : r.headers) res_.insert(k, v);
    res_.body() = std::move(r.body);
    res_.keep_alive(!close);
    res_.prepare_payload();
    if (head_) {  // a HEAD answer has the GET answer's headers and no body
      auto length = res_.body().size();
      res_.body().clear();
      res_.content_length(length);
    }
    arm(shared_.options.body_timeout_s);
    http::async_write(socket_, res_,
                      [self = shared_from_this(), close, lingering = close_after](
                          beast::error_code ec, std::size_t) {
                        self->request_id_.clear();
                        if (ec) return self->close();
                        if (lingering) return self->lingering_close();
                        if (close) return self->close();
                        self->read_request();
                      });
  }

  // After an error answer the client may still be sending; read and drop its bytes for a
  // moment so that closing does not reset the connection before it reads our answer.
  void lingering_close() {
    beast::error_code ec;
    socket_.shutdown(Socket::shutdown_send, ec);
    arm(1.0);
    drain_some();
  }

  void drain_some() {
    buffer_.consume(buffer_.size());
    socket_.async_read_some(buffer_.prepare(16384),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) return self->close();
                              self->drain_some();
                            });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    // A request still being answered is cancelled: nobody is left to read its answer.
    if (call_ && (in_flight_ || stream_source_)) call_->cancel(detail::CancelReason::kDisconnected);
    metrics_.end(0);
    // A stream between pulls stops now; one mid-pull stops when its chunk arrives.
    if (!pulling_) end_stream(/*cancel=*/true);
    disarm();
    beast::error_code ec;
    timer_.cancel(ec);
    socket_.shutdown(Socket::shutdown_both, ec);
    socket_.close(ec);
  }

  Socket socket_;
  asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>,
                             asio::io_context::executor_type>
      timer_;
  Shared& shared_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  // A streamed answer in progress:
  http::response<http::empty_body> stream_head_;
  std::optional<http::response_serializer<http::empty_body>> stream_serializer_;
  std::shared_ptr<detail::ChunkSource> stream_source_;
  UniqueFunction<void()> stream_finished_;
  std::string chunk_;
  bool sse_ = false;
  bool pulling_ = false;
  RequestMetrics metrics_;
  std::string access_target_;  // for the access log
  std::string request_id_;
  std::shared_ptr<detail::CallContext> call_;  // the request being answered
  std::uint64_t call_seq_ = 0;                 // which request an answer from a replica is for
  bool in_flight_ = false;                     // its answer is awaited from a replica
  bool watching_ = false;                      // watch()'s read is pending
  bool resume_after_watch_ = false;            // parse buffered bytes once the watch is cancelled
  bool peer_closed_ = false;                   // the client sent EOF: close after this answer
  Clock::time_point deadline_ = Clock::time_point::max();
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool head_ = false;
  bool idle_ = false;
  bool request_started_ = false;
  bool timer_waiting_ = false;
  Clock::time_point timer_at_;   // when the pending wait ends
  std::uint64_t timer_gen_ = 0;  // the pending wait's number
  bool timed_out_ = false;
  bool closed_ = false;
};

}  // namespace

struct HttpProxy::Impl {
  Impl(HttpOptions o, HttpProxy::LocalHandler local, bool record_metrics) {
    shared.options = std::move(o);
    shared.local = std::move(local);
    shared.record_metrics = record_metrics;
  }

  void accept() {
    auto& io = *ios[next_io++ % ios.size()];
    acceptor->async_accept(io.get_executor(), [this](beast::error_code ec, Socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
      if (ec) {
        // Out of descriptors or a transient error: wait a little rather than spin.
        CSERVE_LOG(kWarning, "proxy") << "accept failed: " << ec.message();
        retry_timer->expires_after(std::chrono::milliseconds(100));
        retry_timer->async_wait([this](beast::error_code e) {
          if (!e) accept();
        });
        return;
      }
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      std::make_shared<Connection>(std::move(socket), shared)->start();
      accept();
    });
  }

  Shared shared;
  std::vector<std::unique_ptr<asio::io_context>> ios;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::vector<std::thread> threads;
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> retry_timer;
  std::size_t next_io = 0;
  int port = 0;
  bool drained = false;
  bool stopped = false;
};

HttpProxy::HttpProxy(HttpOptions options, LocalHandler local, bool record_metrics)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(local), record_metrics)) {}

HttpProxy::~HttpProxy() { stop(); }

void HttpProxy::start() {
  const auto& o = impl_->shared.options;
  int n = std::max(1, o.io_threads);
  for (int i = 0; i < n; ++i) {
    impl_->ios.push_back(std::make_unique<asio::io_context>(1));
    impl_->guards.push_back(asio::make_work_guard(*impl_->ios.back()));
  }
  beast::error_code ec;
  auto address = asio::ip::make_address(o.host, ec);
  if (ec) throw Error("http host '" + o.host + "' is not an IP address: " + ec.message());
  tcp::endpoint endpoint(address, static_cast<unsigned short>(o.port));
  auto& acceptor = impl_->acceptor.emplace(*impl_->ios[0]);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw Error("cannot listen on " + o.host + ":" + std::to_string(o.port) + ": " + ec.message());
  }
  impl_->port = acceptor.local_endpoint().port();
  impl_->retry_timer.emplace(*impl_->ios[0]);
  impl_->accept();
  for (auto& io : impl_->ios) {
    impl_->threads.emplace_back([io = io.get()] { io->run(); });
  }
}

int HttpProxy::port() const { return impl_->port; }

void HttpProxy::set_routes(std::shared_ptr<const RouteTable> routes) {
  impl_->shared.set_routes(std::move(routes));
}

void HttpProxy::drain(Duration timeout) {
  if (impl_->drained || impl_->ios.empty()) return;
  impl_->drained = true;
  impl_->shared.draining.store(true);
  asio::post(*impl_->ios[0], [impl = impl_.get()] {
    beast::error_code ec;
    impl->acceptor->close(ec);
    impl->retry_timer->cancel();
  });
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    std::vector<std::shared_ptr<Connection>> alive;
    {
      std::lock_guard lock(impl_->shared.mu);
      for (auto& [ptr, weak] : impl_->shared.connections) {
        if (auto c = weak.lock()) alive.push_back(std::move(c));
      }
    }
    if (alive.empty() || std::chrono::steady_clock::now() >= deadline) break;
    for (auto& c : alive) {
      asio::post(c->executor(), [c] { c->close_if_idle(); });
    }
    alive.clear();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void HttpProxy::stop() {
  if (impl_->stopped || impl_->ios.empty()) return;
  impl_->stopped = true;
  drain(Duration::zero());
  for (auto& g : impl_->guards) g.reset();
  for (auto& io : impl_->ios) io->stop();
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
}

}  // namespace cserve
