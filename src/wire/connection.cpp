#include "wire/connection.hpp"

#include "common/asio.hpp"

#include <cserve/detail/mutex.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <atomic>
#include <optional>
#include <string>

namespace cserve::wire {
namespace {

using Socket = asio::generic::stream_protocol::socket;

// The protocol of a connected stream socket: AF_UNIX (a worker's socketpair) or TCP (a peer
// node), whose small frames go out at once (no Nagle delay).
asio::generic::stream_protocol protocol_of(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  const int family = ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0 ? address.ss_family : AF_UNIX;
  if (family == AF_INET || family == AF_INET6) {
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return {family, IPPROTO_TCP};
  }
  return {family, 0};
}

class StreamConnection final : public WireConnection, public std::enable_shared_from_this<StreamConnection> {
 public:
  StreamConnection(asio::io_context& io, int fd, Hello mine)
      : io_(io), socket_(io), mine_(std::move(mine)), decoder_(mine_.max_frame_bytes) {
    socket_.assign(protocol_of(fd), fd);
  }

  void start(FrameHandler on_frame, CloseHandler on_close) override {
    on_frame_ = std::move(on_frame);
    on_close_ = std::move(on_close);
    send(FrameType::kHello, 0, encode_hello(mine_));
    asio::post(io_, [self = shared_from_this()] { self->read(); });
  }

  void send(FrameType type, std::uint64_t call_id, std::string_view payload) override {
    detail::MutexLock lock(mu_);
    if (closing_) return;
    const std::size_t start = pending_.size();
    encode_frame(type, call_id, payload, pending_);
    if (writing_) return;  // the I/O thread's write in flight takes it next
    // Nothing in flight: write on this thread now, without waking the I/O thread (a call's
    // latency is mostly thread wake-ups). What the socket does not take at once goes to the I/O
    // thread. Under mu_, so that no other write interleaves and the socket is still open.
    const ssize_t n = ::send(socket_.native_handle(), pending_.data() + start, pending_.size() - start,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) pending_.erase(start, static_cast<std::size_t>(n));
    if (pending_.empty()) return;
    writing_ = true;  // the rest (or the error, found by the I/O thread's write)
    asio::post(io_, [self = shared_from_this()] { self->flush(); });
  }

  void close(bool flush) override {
    {
      detail::MutexLock lock(mu_);
      if (closing_) return;
      closing_ = true;
      if (flush && writing_) return;  // the writer closes once the buffer is out
    }
    asio::post(io_, [self = shared_from_this()] { self->fail({ErrorCode::kCancelled, "connection closed"}); });
  }

  bool closed() const override { return done_.load(std::memory_order_acquire); }
  std::int64_t peer_pid() const override { return peer_pid_.load(std::memory_order_acquire); }

 private:
  // I/O thread from here on.
  void flush() {
    {
      detail::MutexLock lock(mu_);
      out_.swap(pending_);
      pending_.clear();
    }
    asio::async_write(socket_, asio::buffer(out_), [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
      if (ec) return self->fail({ErrorCode::kUnavailable, "write failed: " + ec.message()});
      bool more = false;
      bool close_now = false;
      {
        detail::MutexLock lock(self->mu_);
        more = !self->pending_.empty();
        if (!more) {
          self->writing_ = false;
          close_now = self->closing_;
        }
      }
      if (more) return self->flush();
      if (close_now) self->fail(self->close_reason_.value_or(Failure{ErrorCode::kCancelled, "connection closed"}));
    });
  }

  void read() {
    if (closed()) return;
    socket_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
      if (ec) {
        return self->fail({ErrorCode::kUnavailable,
                           ec == asio::error::eof ? "the peer closed the connection" : "read failed: " + ec.message()});
      }
      self->decoder_.feed(std::string_view(self->buf_, n));
      while (auto r = self->decoder_.next()) {
        if (r->error) return self->refuse(*r->error);
        if (!self->take(*r->frame)) return;
      }
      self->read();
    });
  }

  // Handles one frame; false when the connection ended.
  bool take(Frame& frame) {
    if (peer_pid() == 0) {
      if (frame.type != FrameType::kHello) {
        refuse({ErrorCode::kInvalidArgument, std::string("the first frame was ") + std::string(to_string(frame.type)) +
                                                 ", not HELLO"});
        return false;
      }
      auto hello = decode_hello(frame.payload);
      if (auto* f = std::get_if<Failure>(&hello)) {
        refuse(*f);
        return false;
      }
      const Hello& h = std::get<Hello>(hello);
      if (h.max_frame_bytes < mine_.max_frame_bytes) decoder_.set_max_frame_bytes(h.max_frame_bytes);
      peer_pid_.store(h.pid > 0 ? h.pid : -1, std::memory_order_release);
      return true;
    }
    if (frame.type == FrameType::kHello) {
      refuse({ErrorCode::kInvalidArgument, "a second HELLO"});
      return false;
    }
    if (frame.type == FrameType::kError && frame.call_id == 0) {
      auto e = decode_error(frame.payload);
      Failure why = std::holds_alternative<RemoteError>(e) ? std::get<RemoteError>(e).failure : std::get<Failure>(e);
      why.message = "the peer ended the connection: " + why.message;
      fail(why);
      return false;
    }
    on_frame_(frame);
    return !closed();
  }

  // A protocol error: say why, then close once that is written (reading stops here).
  void refuse(const Failure& why) {
    close_reason_ = why;
    send(FrameType::kError, 0, encode_error(why));
    bool in_flight = false;
    {
      detail::MutexLock lock(mu_);
      closing_ = true;
      in_flight = writing_;
    }
    if (!in_flight) fail(why);  // the ERROR is out already
  }

  void fail(const Failure& why) {
    if (done_.exchange(true, std::memory_order_acq_rel)) return;
    {
      detail::MutexLock lock(mu_);
      closing_ = true;
    }
    boost::system::error_code ignored;
    socket_.shutdown(Socket::shutdown_both, ignored);
    socket_.close(ignored);
    if (on_close_) on_close_(why);
    on_frame_ = nullptr;
    on_close_ = nullptr;
  }

  asio::io_context& io_;
  Socket socket_;
  const Hello mine_;
  FrameDecoder decoder_;
  char buf_[64 * 1024];
  FrameHandler on_frame_;
  CloseHandler on_close_;
  std::atomic<bool> done_{false};
  std::atomic<std::int64_t> peer_pid_{0};
  std::string out_;  // being written (I/O thread)
  std::optional<Failure> close_reason_;  // a protocol error this side found (I/O thread)

  detail::Mutex mu_;
  std::string pending_ CSERVE_GUARDED_BY(mu_);  // frames queued since the last write began
  bool writing_ CSERVE_GUARDED_BY(mu_) = false;
  bool closing_ CSERVE_GUARDED_BY(mu_) = false;
};

}  // namespace

std::shared_ptr<WireConnection> WireConnection::adopt(asio::io_context& io, int fd, Hello mine) {
  if (mine.max_frame_bytes == 0) mine.max_frame_bytes = kDefaultMaxFrameBytes;
  return std::make_shared<StreamConnection>(io, fd, std::move(mine));
}

}  // namespace cserve::wire
