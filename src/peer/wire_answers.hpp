// wire_answers.hpp — HTTP answers that go back over a wire connection (docs/wire.md): the
// AnswerSink of the HTTP calls a CallServer runs (a worker's replica answering its serving
// process, a node answering another node's proxy). A whole answer is one RESULT; a streamed one
// an HTTP_HEAD with its first chunk, then STREAM_ITEMs as the caller grants credit.
// Thread-safety: both methods may be called from any thread.
#pragma once

#include "proxy/http_call.hpp"

#include <memory>
#include <optional>

namespace cserve {

class CallServer;
namespace wire {
class WireConnection;
}

namespace wire {
struct Call;
}

class WireAnswers final : public AnswerSink, public std::enable_shared_from_this<WireAnswers> {
 public:
  WireAnswers(std::shared_ptr<CallServer> server, std::shared_ptr<wire::WireConnection> connection)
      : server_(std::move(server)), connection_(std::move(connection)) {}

  void answer(std::uint64_t id, Response answer) override;
  void post_stream(std::uint64_t id, Response head, std::optional<std::string> first,
                   std::shared_ptr<detail::ChunkSource> source, detail::UniqueFunction<void()> finished) override;

  // The Call of CALL `id` of kind http (one argument: the request; the method says which entry
  // point answers), its answer sent here. A malformed one is answered with ERROR at once: null.
  std::optional<detail::Call> http_call(std::uint64_t id, const wire::Call& call);

 private:
  const std::shared_ptr<CallServer> server_;
  const std::shared_ptr<wire::WireConnection> connection_;
};

}  // namespace cserve
