// The wire protocol's frames and payloads: round trips, bytes arriving in any pieces, and every
// way a peer's bytes can be wrong refused with a reason.
#include "wire/bytes.hpp"
#include "wire/frame.hpp"
#include "wire/messages.hpp"

#include <gtest/gtest.h>

namespace cserve::wire {
namespace {

std::string frame(FrameType type, std::uint64_t id, std::string_view payload) {
  std::string out;
  encode_frame(type, id, payload, out);
  return out;
}

TEST(Frames, RoundTripWhateverPiecesTheBytesArriveIn) {
  std::string stream = frame(FrameType::kCall, 7, "abc") + frame(FrameType::kCancel, 7, "") +
                       frame(FrameType::kResult, 1ull << 40, std::string(5000, 'x')) +
                       frame(FrameType::kModels, 0, "\x91\xa2m1");
  for (std::size_t piece : {std::size_t{1}, std::size_t{3}, std::size_t{14}, stream.size()}) {
    FrameDecoder d;
    std::vector<Frame> got;
    for (std::size_t i = 0; i < stream.size(); i += piece) {
      d.feed(std::string_view(stream).substr(i, piece));
      while (auto r = d.next()) {
        ASSERT_FALSE(r->error) << r->error->message;
        got.push_back(std::move(*r->frame));
      }
    }
    ASSERT_EQ(got.size(), 4u) << "pieces of " << piece;
    EXPECT_EQ(got[3].type, FrameType::kModels);
    EXPECT_EQ(got[0].type, FrameType::kCall);
    EXPECT_EQ(got[0].call_id, 7u);
    EXPECT_EQ(got[0].payload, "abc");
    EXPECT_EQ(got[1].type, FrameType::kCancel);
    EXPECT_EQ(got[1].payload, "");
    EXPECT_EQ(got[2].call_id, 1ull << 40);
    EXPECT_EQ(got[2].payload.size(), 5000u);
    EXPECT_EQ(d.buffered(), 0u);
  }
}

TEST(Frames, ALengthOverTheLimitIsRefusedBeforeItsPayloadArrives) {
  FrameDecoder d(1024);
  std::string header;
  put_u32(header, 1u << 30);  // claims a gigabyte
  d.feed(header);
  auto r = d.next();
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(r->error.has_value());
  EXPECT_EQ(r->error->code, ErrorCode::kTooLarge);
  EXPECT_NE(r->error->message.find("exceeds the limit of 1024"), std::string::npos);
  // It stays failed: the connection must close.
  d.feed(frame(FrameType::kCall, 1, "x"));
  EXPECT_TRUE(d.next()->error.has_value());
}

TEST(Frames, MalformedHeadersAreRefusedWithAReason) {
  auto refused = [](std::string bytes) {
    FrameDecoder d;
    d.feed(bytes);
    auto r = d.next();
    return r && r->error ? r->error->message : std::string("accepted");
  };
  std::string short_length;
  put_u32(short_length, 3);
  EXPECT_NE(refused(short_length).find("below 10"), std::string::npos);
  std::string bad_type = frame(FrameType::kCall, 1, "");
  bad_type[4] = 12;  // one past the last type
  EXPECT_NE(refused(bad_type).find("unknown frame type 12"), std::string::npos);
  bad_type[4] = 42;
  EXPECT_NE(refused(bad_type).find("unknown frame type 42"), std::string::npos);
  std::string zero_type = frame(FrameType::kCall, 1, "");
  zero_type[4] = 0;
  EXPECT_NE(refused(zero_type).find("unknown frame type 0"), std::string::npos);
  std::string flags = frame(FrameType::kCall, 1, "");
  flags[5] = 1;
  EXPECT_NE(refused(flags).find("reserved frame flags"), std::string::npos);
}

TEST(Messages, CallsRoundTripWithTheirArgumentsAsTheyWere) {
  CallHeader h;
  h.deployment = "Model";
  h.method = "predict";
  h.request_id = "req-1";
  h.deadline_ms = 250;
  h.kind = CallKind::kStream;
  h.credits = 4;
  h.multiplexed_model_id = "customer-7";
  const std::string binary("\0\1\2\xff", 4);
  const std::string payload = encode_call(h, {"first", binary, ""});
  auto decoded = decode_call(payload);  // (its arguments are views into `payload`)
  ASSERT_TRUE(std::holds_alternative<Call>(decoded)) << std::get<Failure>(decoded).message;
  const Call& c = std::get<Call>(decoded);
  EXPECT_EQ(c.header.deployment, "Model");
  EXPECT_EQ(c.header.method, "predict");
  EXPECT_EQ(c.header.request_id, "req-1");
  EXPECT_EQ(c.header.deadline_ms, 250);
  EXPECT_EQ(c.header.kind, CallKind::kStream);
  EXPECT_EQ(c.header.credits, 4u);
  EXPECT_EQ(c.header.multiplexed_model_id, "customer-7");
  ASSERT_EQ(c.arguments.size(), 3u);
  EXPECT_EQ(c.arguments[0], "first");
  EXPECT_EQ(c.arguments[1], binary);
  EXPECT_EQ(c.arguments[2], "");
}

TEST(Messages, MalformedCallsAreRefusedWithoutReadingPastThePayload) {
  auto message = [](std::string_view payload) {
    auto d = decode_call(payload);
    return std::holds_alternative<Failure>(d) ? std::get<Failure>(d).message : std::string("accepted");
  };
  EXPECT_NE(message("").find("no header length"), std::string::npos);
  std::string huge_header;
  put_u32(huge_header, 1000);
  EXPECT_NE(message(huge_header + "ab").find("header longer than the frame"), std::string::npos);
  std::string not_a_map;
  put_u32(not_a_map, 1);
  not_a_map += '\x01';  // the MessagePack integer 1
  EXPECT_NE(message(not_a_map).find("not a MessagePack map"), std::string::npos);
  CallHeader h{"D", "m", "r"};
  std::string valid = encode_call(h, {"abc"});
  EXPECT_NE(message(valid + "x").find("bytes after the last argument"), std::string::npos);
  EXPECT_NE(message(valid.substr(0, valid.size() - 1)).find("longer than the frame"), std::string::npos);
  // A count of four billion arguments in a few bytes: refused before anything is reserved.
  std::string header_only = encode_call(h, {});
  header_only.resize(header_only.size() - 4);
  put_u32(header_only, 0xffffffffu);
  EXPECT_NE(message(header_only).find("more arguments than the frame holds"), std::string::npos);
}

TEST(Messages, HelloRefusesOtherProtocolsAndVersions) {
  Hello mine;
  mine.max_frame_bytes = 1 << 20;
  mine.role = "worker";
  mine.pid = 42;
  auto ok = decode_hello(encode_hello(mine));
  ASSERT_TRUE(std::holds_alternative<Hello>(ok));
  EXPECT_EQ(std::get<Hello>(ok).max_frame_bytes, 1u << 20);
  EXPECT_EQ(std::get<Hello>(ok).role, "worker");
  std::string other;
  Json::to_msgpack(Json{{"protocol", "http"}, {"version", 1}, {"max_frame_bytes", 1}}, other);
  EXPECT_NE(std::get<Failure>(decode_hello(other)).message.find("not the cserve wire protocol"), std::string::npos);
  std::string future;
  Json::to_msgpack(Json{{"protocol", kProtocol}, {"version", 99}, {"max_frame_bytes", 1}}, future);
  EXPECT_NE(std::get<Failure>(decode_hello(future)).message.find("version 99 is not spoken here"), std::string::npos);
}

TEST(Messages, ErrorsCarryTheReasonVocabulary) {
  auto d = decode_error(encode_error({ErrorCode::kReplicaDied, "replica Model#ab died: SIGSEGV"}));
  ASSERT_TRUE(std::holds_alternative<RemoteError>(d));
  EXPECT_EQ(std::get<RemoteError>(d).failure.code, ErrorCode::kReplicaDied);
  EXPECT_EQ(std::get<RemoteError>(d).failure.message, "replica Model#ab died: SIGSEGV");
  std::string unknown;
  Json::to_msgpack(Json{{"code", 77}, {"message", "?"}}, unknown);
  EXPECT_NE(std::get<Failure>(decode_error(unknown)).message.find("unknown code 77"), std::string::npos);
}

}  // namespace
}  // namespace cserve::wire
