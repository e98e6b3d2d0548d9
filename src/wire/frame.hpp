// frame.hpp — the wire protocol's frames (docs/wire.md): how they are written, and an incremental
// decoder that takes bytes as they arrive and gives whole frames, refusing anything malformed.
//
//   FrameDecoder d(max_frame_bytes);
//   d.feed(bytes_from_the_socket);
//   while (auto r = d.next()) { if (r->error) { ...close... } else handle(*r->frame); }
//
// The decoder trusts nothing it reads: a length over the limit, under the header size, an
// unknown type or reserved flags is an error before any payload is buffered or allocated. After
// an error it stays failed: the connection must be closed.
// Thread-safety: a decoder belongs to one connection's reading side; encode_frame is reentrant.
#pragma once

#include <cserve/error.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cserve::wire {

enum class FrameType : std::uint8_t {
  kHello = 1,
  kCall = 2,
  kResult = 3,
  kError = 4,
  kCancel = 5,
  kStreamItem = 6,
  kStreamEnd = 7,
  kStreamCredit = 8,
  kGoaway = 9,
  kHttpHead = 10,
  kModels = 11,
};

std::string_view to_string(FrameType t);

inline constexpr std::size_t kLengthBytes = 4;
inline constexpr std::size_t kFrameHeaderBytes = 10;  // type, flags, call id: counted in `length`
inline constexpr std::size_t kDefaultMaxFrameBytes = 64u << 20;

struct Frame {
  FrameType type = FrameType::kHello;
  std::uint64_t call_id = 0;
  std::string payload;
};

// Appends the frame's bytes to `out`.
void encode_frame(FrameType type, std::uint64_t call_id, std::string_view payload, std::string& out);

class FrameDecoder {
 public:
  struct Result {
    std::optional<Frame> frame;
    std::optional<Failure> error;  // kInvalidArgument (malformed) or kTooLarge
  };

  explicit FrameDecoder(std::size_t max_frame_bytes = kDefaultMaxFrameBytes) : max_frame_bytes_(max_frame_bytes) {}

  void set_max_frame_bytes(std::size_t n) { max_frame_bytes_ = n; }
  // Appends bytes read from the connection.
  void feed(std::string_view bytes) { buffer_.append(bytes); }
  // The next whole frame, or its error; nullopt when more bytes are needed.
  std::optional<Result> next();
  // Bytes received and not yet taken as frames.
  std::size_t buffered() const { return buffer_.size() - offset_; }
  bool failed() const { return failed_.has_value(); }

 private:
  std::size_t max_frame_bytes_;
  std::string buffer_;
  std::size_t offset_ = 0;  // where the next frame starts in buffer_
  std::optional<Failure> failed_;
};

}  // namespace cserve::wire
