// connection.hpp — one wire-protocol connection over a connected stream socket (a Unix domain
// socket between the serving process and a worker, or TCP between two cluster nodes): the HELLO
// exchange, frames in and out.
//
//   auto c = WireConnection::adopt(io, fd, Hello{.role = "serve", ...});
//   c->start(on_frame, on_close);   // sends HELLO; on_frame sees every frame after the peer's HELLO
//   c->send(FrameType::kCall, id, payload);
//
// Writes from any thread are appended to one buffer and flushed by the I/O thread in as few
// writes as it can (frames of many calls share a syscall). Reading refuses malformed frames: the
// connection then sends an ERROR (call id 0) saying why and closes. on_close runs once, on the
// I/O thread, with why the connection ended: the peer closed it (kUnavailable), a protocol error
// (kInvalidArgument/kTooLarge), or close() (kCancelled).
// Thread-safety: send(), close() and the accessors are safe from any thread; the handlers run on
// the I/O thread of the io_context given to adopt().
#pragma once

#include "wire/frame.hpp"
#include "wire/messages.hpp"

#include <functional>
#include <memory>
#include <string_view>

namespace boost::asio {
class io_context;
}

namespace cserve::wire {

class WireConnection {
 public:
  using FrameHandler = std::function<void(Frame& frame)>;
  using CloseHandler = std::function<void(const Failure& why)>;

  // Takes ownership of `fd`, a connected stream socket. `mine` is this side's HELLO (its
  // max_frame_bytes is also the limit on frames this side accepts).
  static std::shared_ptr<WireConnection> adopt(boost::asio::io_context& io, int fd, Hello mine);

  virtual ~WireConnection() = default;
  virtual void start(FrameHandler on_frame, CloseHandler on_close) = 0;
  // Queues one frame. After the connection closed it is dropped (the close handler has said why).
  virtual void send(FrameType type, std::uint64_t call_id, std::string_view payload) = 0;
  // Closes after the frames queued so far are written (flush) or at once.
  virtual void close(bool flush = false) = 0;
  virtual bool closed() const = 0;
  // The peer's HELLO (pid, role) once received; pid 0 before.
  virtual std::int64_t peer_pid() const = 0;
};

}  // namespace cserve::wire
