// libFuzzer target for the wire protocol's decoders: whatever bytes a peer sends, decoding frames
// and their payloads must neither crash nor read out of bounds nor allocate without bound.
//
//   make fuzz-smoke                     (the clang-tsa preset builds it; CI runs 10^6 inputs)
//   ./build/clang-tsa/tests/fuzz/frame_fuzzer -runs=1000000 DIR   (DIR: a copy of tests/fuzz/corpus/frame)
#include "wire/bytes.hpp"
#include "wire/frame.hpp"
#include "wire/http_codec.hpp"
#include "wire/messages.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace {

void decode_payload(const cserve::wire::Frame& f) {
  using namespace cserve::wire;
  switch (f.type) {
    case FrameType::kHello: (void)decode_hello(f.payload); break;
    case FrameType::kCall: {
      auto call = decode_call(f.payload);
      if (auto* c = std::get_if<Call>(&call); c && c->header.kind == CallKind::kHttp && !c->arguments.empty()) {
        (void)decode_request(c->arguments[0]);
      }
      break;
    }
    case FrameType::kResult: (void)decode_response(f.payload); break;
    case FrameType::kError: (void)decode_error(f.payload); break;
    case FrameType::kStreamCredit: (void)ByteReader(f.payload).u32(); break;
    default: break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // The first byte picks the pieces the stream arrives in (1..256 bytes), as a socket would.
  const std::size_t piece = static_cast<std::uint8_t>(bytes[0]) + 1u;
  const std::string_view stream = bytes.substr(1);
  cserve::wire::FrameDecoder decoder(1u << 20);
  for (std::size_t i = 0; i < stream.size(); i += piece) {
    decoder.feed(stream.substr(i, piece));
    while (auto r = decoder.next()) {
      if (r->error) return 0;  // the connection would close here
      decode_payload(*r->frame);
    }
  }
  // Payload decoders on raw bytes too, not only on what framed well.
  (void)cserve::wire::decode_call(stream);
  (void)cserve::wire::decode_hello(stream);
  (void)cserve::wire::decode_error(stream);
  (void)cserve::wire::decode_request(stream);
  (void)cserve::wire::decode_response(stream);
  return 0;
}
