// http_call.hpp — the half of an HTTP request that runs off the I/O thread: the detail::Call the
// proxy submits to the ingress deployment's router.
//
// run() executes on the chosen replica's strand (a worker thread): it calls the handler, turns
// its outcome into an answer — the handler's Response, an HttpError's response, or a Failure
// mapped to HTTP (http_errors.hpp) — gives the replica's slot back, and hands the answer to the
// connection through its AnswerSink. A Stream's first item is produced before the head is sent,
// so that a generator failing before its first co_yield gets an ordinary error answer.
// reject() (no replica took it) may run on any thread.
// Nothing here touches the connection: what happens on the far side of AnswerSink is its own.
// Thread-safety: an AnswerSink's methods may be called from any thread.
#pragma once

#include <cserve/detail/call.hpp>
#include <cserve/detail/callable.hpp>
#include <cserve/http.hpp>

#include "api/inference_metrics.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace cserve {

// The connection, as the worker side sees it: a place to send the answer of request `seq`.
class AnswerSink {
 public:
  virtual ~AnswerSink() = default;
  // The whole answer, on the thread that produced it. The sink may send it from this thread
  // (a connection writes it straight to its socket when it can) or post it to its own.
  virtual void answer(std::uint64_t seq, Response answer) = 0;
  // A streamed answer: its head, its first chunk (nullopt: the stream is empty) and the source
  // of the others. `finished` must run once the stream has ended (or was refused): it gives the
  // replica's slot back.
  virtual void post_stream(std::uint64_t seq, Response head, std::optional<std::string> first,
                           std::shared_ptr<detail::ChunkSource> source, detail::UniqueFunction<void()> finished) = 0;
};

// Which entry point of the deployment answers: its HTTP handler, or the model it serves over the
// Open Inference Protocol.
enum class HttpEntry { kHandler, kInference };

// The Call for request `seq` of `sink`'s connection. `request` moves into the call and lives until
// its handler (or its stream) has finished. `timer` (an inference request's) records when a
// replica took the call and how it was answered.
detail::Call make_http_call(std::shared_ptr<AnswerSink> sink, std::uint64_t seq, Request request,
                            std::shared_ptr<detail::CallContext> context, HttpEntry entry = HttpEntry::kHandler,
                            std::shared_ptr<InferenceTimer> timer = nullptr);

}  // namespace cserve
