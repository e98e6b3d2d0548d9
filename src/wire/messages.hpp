// messages.hpp — the payloads of the wire protocol's frames (docs/wire.md): HELLO, the CALL
// header and its arguments, ERROR. Each decoder takes untrusted bytes and gives the value or a
// Failure (kInvalidArgument) that says what was wrong; none throws or reads past its input.
// Thread-safety: plain functions over values.
#pragma once

#include <cserve/error.hpp>
#include <cserve/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace cserve::wire {

inline constexpr std::string_view kProtocol = "cserve-wire";
inline constexpr int kVersion = 1;

template <class T>
using Decoded = std::variant<T, Failure>;

struct Hello {
  int version = kVersion;
  std::uint64_t max_frame_bytes = 0;
  std::string role;  // "serve" or "worker"
  std::int64_t pid = 0;
};
std::string encode_hello(const Hello& h);
// Refuses another protocol and versions this side does not speak.
Decoded<Hello> decode_hello(std::string_view payload);

// value: a call by name, one argument (a MessagePack array of the JSON arguments), a MessagePack
// result; typed: each argument and the result as its cserve::Codec bytes; stream: arguments as
// value's, each item as MessagePack; typed_stream: arguments as typed's, each item as its codec
// bytes; http: one argument, the request.
enum class CallKind { kValue, kTyped, kStream, kTypedStream, kHttp };
std::string_view to_string(CallKind kind);

struct CallHeader {
  std::string application;  // empty: the connection's own (a worker's); a peer node's call names it
  std::string deployment;
  std::string method;  // "__call__" for the call operator
  std::string request_id;
  std::optional<std::int64_t> deadline_ms;  // time left when sent
  CallKind kind = CallKind::kValue;
  std::uint32_t credits = 1;  // streams: items the caller accepts before its next grant
  std::string multiplexed_model_id;  // empty: none (then not sent)
};

// A CALL payload: the header, then the arguments as they are (each already encoded).
std::string encode_call(const CallHeader& h, const std::vector<std::string>& arguments);
struct Call {
  CallHeader header;
  std::vector<std::string_view> arguments;  // views into the payload
};
Decoded<Call> decode_call(std::string_view payload);

// An ERROR frame's content: why the peer failed a call (or the connection).
struct RemoteError {
  Failure failure;
};
std::string encode_error(const Failure& f);
Decoded<RemoteError> decode_error(std::string_view payload);

}  // namespace cserve::wire
