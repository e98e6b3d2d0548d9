#include "proxy/http_errors.hpp"

namespace cserve {

int http_status_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return 400;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kDeadlineExceeded: return 408;
    case ErrorCode::kTooLarge: return 413;
    case ErrorCode::kCancelled: return 499;
    case ErrorCode::kOverloaded:
    case ErrorCode::kUnavailable: return 503;
    case ErrorCode::kInternal:
    case ErrorCode::kReplicaDied: return 500;
  }
  return 500;
}

Response failure_response(const Failure& f, std::string_view request_id) {
  return Response::json(Json{{"error", f.message}, {"code", to_string(f.code)}, {"request_id", request_id}},
                        http_status_of(f.code));
}

}  // namespace cserve
