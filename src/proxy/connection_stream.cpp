// The streamed answers of a Connection (see connection.hpp): the head with chunked encoding and
// the first chunk (produced before the head, see http_call.hpp), then one chunk per item pulled
// from the replica — each pulled only after the previous one was
// written, so a slow client slows the generator instead of filling memory — then the last chunk.
// Items arrive on a worker thread and are posted to the connection's I/O thread.
#include "proxy/connection.hpp"

#include "common/describe_exception.hpp"
#include "common/logging.hpp"

#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/write.hpp>

namespace cserve {
namespace {
namespace beast = boost::beast;
namespace http = beast::http;
}  // namespace

void Connection::post_stream(std::uint64_t seq, Response head, std::optional<std::string> first,
                             std::shared_ptr<detail::ChunkSource> source, detail::UniqueFunction<void()> finished) {
  asio::post(socket_.get_executor(), [self = shared_from_this(), seq, head = std::move(head), first = std::move(first),
                                      source = std::move(source), finished = std::move(finished)]() mutable {
    self->assert_on_io_thread();
    if (!self->answering(seq)) {  // timed out (408 sent) or closed meanwhile
      source->cancel();
      return finished();
    }
    self->respond_stream(std::move(head), std::move(first), std::move(source), std::move(finished));
  });
}

void Connection::respond_stream(Response head, std::optional<std::string> first,
                                std::shared_ptr<detail::ChunkSource> source, detail::UniqueFunction<void()> finished) {
  phase_ = Phase::kStreaming;
  stream_.source = std::move(source);
  stream_.finished = std::move(finished);
  auto& h = stream_.head;
  h = {};
  h.version(exchange_.version);
  h.result(static_cast<unsigned>(head.status));
  h.set(http::field::server, "cserve");
  h.set(http::field::content_type, exchange_.sse ? "text/event-stream" : head.content_type);
  h.set(http::field::cache_control, "no-cache");
  h.set("X-Request-Id", exchange_.request_id);
  h.keep_alive(exchange_.keep_alive && !state_.draining.load(std::memory_order_relaxed));
  h.chunked(true);
  stream_.serializer.emplace(h);
  log_access(head.status, metrics_.end(head.status));
  timer_.set(DeadlineTimer::Clock::now() + state_.timeout(state_.options.body_timeout_s), shared_from_this());
  http::async_write_header(socket_, *stream_.serializer,
                           [self = shared_from_this(), first = std::move(first)](beast::error_code ec, std::size_t) mutable {
                             if (ec) {
                               self->end_stream(/*cancel=*/true);
                               return self->close();
                             }
                             self->write_chunk(std::move(first));
                           });
}

void Connection::pull_chunk() {
  timer_.clear();  // the generator's pace is the application's, not a timeout's
  stream_.pulling = true;
  stream_.source->pull([self = shared_from_this()](std::optional<std::string> chunk, std::exception_ptr error) mutable {
    asio::post(self->socket_.get_executor(), [self, chunk = std::move(chunk), error]() mutable {
      self->assert_on_io_thread();
      self->on_chunk(std::move(chunk), error);
    });
  });
}

void Connection::on_chunk(std::optional<std::string> chunk, std::exception_ptr error) {
  stream_.pulling = false;
  if (phase_ == Phase::kClosed) return end_stream(/*cancel=*/true);  // closed while it was produced
  if (error) {
    // The status is sent already: end the response abruptly so the client sees it is cut off.
    CSERVE_LOG(kError, "proxy") << "request " << exchange_.request_id
                                << ": stream failed: " << describe_exception(error);
    end_stream(/*cancel=*/false);
    return close();
  }
  write_chunk(std::move(chunk));
}

// Writes `chunk` (nullopt: the last chunk, which ends the answer), then pulls the next one.
void Connection::write_chunk(std::optional<std::string> chunk) {
  timer_.set(DeadlineTimer::Clock::now() + state_.timeout(state_.options.body_timeout_s), shared_from_this());
  if (!chunk) {
    asio::async_write(socket_, http::make_chunk_last(), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      const bool keep = !ec && self->stream_.head.keep_alive();
      self->end_stream(/*cancel=*/false);
      self->exchange_.request_id.clear();
      if (!keep) return self->close();
      self->phase_ = Phase::kWriting;  // the answer is complete: a client that leaves now costs nothing
      self->next_request();
    });
    return;
  }
  stream_.chunk = exchange_.sse ? "data: " + *chunk + "\n\n" : std::move(*chunk);
  asio::async_write(socket_, http::make_chunk(asio::buffer(stream_.chunk)),
                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                      if (ec) {  // the client went away: stop the generator
                        self->end_stream(/*cancel=*/true);
                        return self->close();
                      }
                      self->pull_chunk();
                    });
}

void Connection::end_stream(bool cancel) {
  if (!stream_.source) return;
  if (cancel) stream_.source->cancel();
  stream_.source.reset();
  stream_.serializer.reset();
  auto finished = std::move(stream_.finished);
  if (finished) finished();
}

}  // namespace cserve
