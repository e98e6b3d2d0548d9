#include "wire/frame.hpp"

#include "wire/bytes.hpp"

namespace cserve::wire {

std::string_view to_string(FrameType t) {
  switch (t) {
    case FrameType::kHello: return "HELLO";
    case FrameType::kCall: return "CALL";
    case FrameType::kResult: return "RESULT";
    case FrameType::kError: return "ERROR";
    case FrameType::kCancel: return "CANCEL";
    case FrameType::kStreamItem: return "STREAM_ITEM";
    case FrameType::kStreamEnd: return "STREAM_END";
    case FrameType::kStreamCredit: return "STREAM_CREDIT";
    case FrameType::kGoaway: return "GOAWAY";
    case FrameType::kHttpHead: return "HTTP_HEAD";
    case FrameType::kModels: return "MODELS";
  }
  return "UNKNOWN";
}

void encode_frame(FrameType type, std::uint64_t call_id, std::string_view payload, std::string& out) {
  put_u32(out, static_cast<std::uint32_t>(kFrameHeaderBytes + payload.size()));
  out.push_back(static_cast<char>(type));
  out.push_back(0);  // flags
  put_u64(out, call_id);
  out.append(payload);
}

std::optional<FrameDecoder::Result> FrameDecoder::next() {
  if (failed_) return Result{std::nullopt, failed_};
  const std::string_view left = std::string_view(buffer_).substr(offset_);
  if (left.size() < kLengthBytes + kFrameHeaderBytes) {
    if (left.size() >= kLengthBytes) {  // the length alone can already be refused
      const std::uint32_t length = get_u32(left.data());
      if (length > max_frame_bytes_) {
        failed_ = Failure{ErrorCode::kTooLarge, "frame of " + std::to_string(length) + " bytes exceeds the limit of " +
                                                    std::to_string(max_frame_bytes_)};
        return Result{std::nullopt, failed_};
      }
      if (length < kFrameHeaderBytes) {
        failed_ = Failure{ErrorCode::kInvalidArgument, "frame length " + std::to_string(length) + " is below " +
                                                           std::to_string(kFrameHeaderBytes)};
        return Result{std::nullopt, failed_};
      }
    }
    return std::nullopt;
  }
  const std::uint32_t length = get_u32(left.data());
  const auto type = static_cast<std::uint8_t>(left[4]);
  const auto flags = static_cast<std::uint8_t>(left[5]);
  if (length > max_frame_bytes_) {
    failed_ = Failure{ErrorCode::kTooLarge, "frame of " + std::to_string(length) + " bytes exceeds the limit of " +
                                                std::to_string(max_frame_bytes_)};
  } else if (length < kFrameHeaderBytes) {
    failed_ = Failure{ErrorCode::kInvalidArgument,
                      "frame length " + std::to_string(length) + " is below " + std::to_string(kFrameHeaderBytes)};
  } else if (type < static_cast<std::uint8_t>(FrameType::kHello) || type > static_cast<std::uint8_t>(FrameType::kModels)) {
    failed_ = Failure{ErrorCode::kInvalidArgument, "unknown frame type " + std::to_string(type)};
  } else if (flags != 0) {
    failed_ = Failure{ErrorCode::kInvalidArgument, "reserved frame flags set: " + std::to_string(flags)};
  }
  if (failed_) return Result{std::nullopt, failed_};
  if (left.size() < kLengthBytes + length) return std::nullopt;  // the rest is on its way
  Frame f;
  f.type = static_cast<FrameType>(type);
  f.call_id = get_u64(left.data() + 6);
  f.payload.assign(left.substr(kLengthBytes + kFrameHeaderBytes, length - kFrameHeaderBytes));
  offset_ += kLengthBytes + length;
  // Keep the buffer small: drop what was taken once it is most of it.
  if (offset_ > 4096 && offset_ * 2 > buffer_.size()) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  return Result{std::move(f), std::nullopt};
}

}  // namespace cserve::wire
