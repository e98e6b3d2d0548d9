// The answers of a Connection that arrive from other threads (see connection.hpp): answer() runs
// on the thread that produced the answer — a worker, or whoever rejected the call — and is the
// only code of the connection that does. When it wins the request's AnswerSlot it owns the
// exchange until it lets go: it records the answer (metrics, access log), serialises it and
// sends it on the socket with a non-blocking send, then marks the slot written (posting back only
// when the I/O thread asked to hear). What it cannot send at once — a full socket buffer, a large
// body — and answers after which the connection closes go to the I/O thread (send_rest). When
// the I/O thread claimed the answer first (a timeout, a close), the answer is posted and dropped
// there.
#include "proxy/connection.hpp"

#include "proxy/http_answer.hpp"

#include <cerrno>
#include <sys/socket.h>
#include <sys/types.h>

namespace cserve {
namespace {

// Sends what the socket takes now. Returns the bytes sent; `failed` when the socket is broken.
std::size_t send_now(int fd, const std::string& out, bool& failed) {
  std::size_t sent = 0;
  while (sent < out.size()) {
    const ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      failed = n < 0 && errno != EAGAIN && errno != EWOULDBLOCK;
      break;
    }
  }
  return sent;
}

}  // namespace

void Connection::answer(std::uint64_t seq, Response answer) {
  if (!slot_.worker_claim(seq)) return post_answer(seq, std::move(answer));
  // This thread owns the exchange now (exchange_, metrics_, answered_at_, the sending side).
  const bool close_after = !exchange_.keep_alive || state_.draining.load(std::memory_order_relaxed);
  Response r = checked_answer(std::move(answer), exchange_.request_id);
  log_access(r.status, metrics_.end(r.status));
  std::string out = serialize_answer(r, exchange_.request_id, {exchange_.version, !close_after, exchange_.head});
  bool failed = false;
  const std::size_t sent = send_now(fd_, out, failed);
  if (sent == out.size() && !close_after) {
    answered_at_ = DeadlineTimer::Clock::now();
    if (slot_.worker_written(seq)) {
      asio::post(socket_.get_executor(), [self = shared_from_this(), seq] { self->on_worker_wrote(seq); });
    }
    return;
  }
  out.erase(0, sent);
  asio::post(socket_.get_executor(), [self = shared_from_this(), seq, rest = std::move(out), close_after, failed]() mutable {
    self->send_rest(seq, std::move(rest), close_after, failed);
  });
}

void Connection::post_answer(std::uint64_t seq, Response answer) {
  asio::post(socket_.get_executor(), [self = shared_from_this(), seq, answer = std::move(answer)]() mutable {
    self->assert_on_io_thread();
    if (self->answering(seq)) self->respond(std::move(answer));
  });
}

// The rest of an answer a worker began (its slot is still the worker's, so the connection has
// waited for this).
void Connection::send_rest(std::uint64_t seq, std::string rest, bool close_after, bool failed) {
  assert_on_io_thread();
  slot_.io_take_over(seq);
  if (failed || close_pending_) return close();
  out_ = std::move(rest);
  send_out(close_after, /*error_answer=*/false);
}

void Connection::on_worker_wrote(std::uint64_t seq) {
  assert_on_io_thread();
  if (phase_ == Phase::kAwaitingAnswer && seq == exchange_.seq && slot_.io_written(seq)) finish_written();
}

}  // namespace cserve
