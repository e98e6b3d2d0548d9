// http_errors.hpp — the one place where cserve's reason codes become HTTP statuses, and the JSON
// body of every error answer: {"error": message, "code": "OVERLOADED", "request_id": id}.
// Thread-safety: pure functions.
#pragma once

#include <cserve/error.hpp>
#include <cserve/http.hpp>

#include <string_view>

namespace cserve {

// kInvalidArgument 400, kNotFound 404, kDeadlineExceeded 408, kTooLarge 413, kCancelled 499,
// kOverloaded and kUnavailable 503, kInternal and kReplicaDied 500.
int http_status_of(ErrorCode code);

Response failure_response(const Failure& f, std::string_view request_id);

}  // namespace cserve
