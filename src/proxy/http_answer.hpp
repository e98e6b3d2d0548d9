// http_answer.hpp — a whole (not streamed) HTTP/1.x answer as the bytes that go on the wire:
// written by the connection's I/O thread, or by the worker that produced the answer, straight to
// the socket (connection_answer.cpp). One serialiser, so both paths send the same bytes.
// Thread-safety: pure functions.
#pragma once

#include <cserve/http.hpp>

#include <string>
#include <string_view>

namespace cserve {

// How the answer is framed, from its request.
struct AnswerFraming {
  unsigned version = 11;  // HTTP/1.0 (10) or HTTP/1.1 (11)
  bool keep_alive = true;
  bool head = false;  // HEAD: the GET answer's headers (Content-Length included), no body
};

// `r` as sent, or a 500 naming what is wrong when the handler chose an invalid status (not
// 100..599) or a header that would break the answer's framing (a name that is not an HTTP token,
// a value with CR, LF or NUL). Logs what it replaced.
Response checked_answer(Response r, std::string_view request_id);

// Status line, Server, Content-Type, X-Request-Id, the handler's headers (less Content-Length,
// Transfer-Encoding and Connection, which are the proxy's), Content-Length, Connection as
// `framing` asks, and the body. `r` must have passed checked_answer().
std::string serialize_answer(const Response& r, std::string_view request_id, const AnswerFraming& framing);

}  // namespace cserve
