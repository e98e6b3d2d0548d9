// http_codec.hpp — HTTP requests and responses as wire payloads (docs/wire.md, "http" calls):
// length-prefixed fields (no parsing, no re-encoding), then the body's raw bytes.
// Thread-safety: plain functions over values.
#pragma once

#include "wire/messages.hpp"

#include <cserve/http.hpp>

#include <string>
#include <string_view>

namespace cserve::wire {

std::string encode_request(const Request& r);
// The request as the handler sees it: path below the prefix, full path, request id, path params.
Decoded<Request> decode_request(std::string_view bytes);

std::string encode_response(const Response& r);
Decoded<Response> decode_response(std::string_view bytes);

}  // namespace cserve::wire
