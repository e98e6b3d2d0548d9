#include "peer/wire_answers.hpp"

#include "wire/bytes.hpp"
#include "wire/connection.hpp"
#include "wire/http_codec.hpp"
#include "worker/call_client.hpp"
#include "worker/call_server.hpp"

namespace cserve {

void WireAnswers::answer(std::uint64_t id, Response answer) {
  server_->answer(id, wire::FrameType::kResult, wire::encode_response(answer));
}

void WireAnswers::post_stream(std::uint64_t id, Response head, std::optional<std::string> first,
                              std::shared_ptr<detail::ChunkSource> source, detail::UniqueFunction<void()> finished) {
  std::string payload;
  const std::string head_bytes = wire::encode_response(head);
  wire::put_u32(payload, static_cast<std::uint32_t>(head_bytes.size()));
  payload += head_bytes;
  payload.push_back(first ? 1 : 0);
  if (!first) {  // an empty stream: the head ends the call
    server_->answer(id, wire::FrameType::kHttpHead, payload);
    return finished();
  }
  payload += *first;
  server_->pump(id, std::move(source), std::move(finished), /*credits=*/0);  // before a credit can come
  connection_->send(wire::FrameType::kHttpHead, id, payload);
}

std::optional<detail::Call> WireAnswers::http_call(std::uint64_t id, const wire::Call& call) {
  auto context = server_->open(id, call.header);
  if (call.arguments.size() != 1) {
    server_->fail(id, {ErrorCode::kInvalidArgument, "an http call has one argument"});
    return std::nullopt;
  }
  auto request = wire::decode_request(call.arguments[0]);
  if (auto* f = std::get_if<Failure>(&request)) {
    server_->fail(id, *f);
    return std::nullopt;
  }
  const HttpEntry entry = call.header.method == kInferenceMethod ? HttpEntry::kInference : HttpEntry::kHandler;
  return make_http_call(shared_from_this(), id, std::move(std::get<Request>(request)), std::move(context), entry);
}

}  // namespace cserve
