#include <cserve/error.hpp>

namespace cserve {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "INVALID_ARGUMENT";
    case ErrorCode::kNotFound: return "NOT_FOUND";
    case ErrorCode::kOverloaded: return "OVERLOADED";
    case ErrorCode::kUnavailable: return "UNAVAILABLE";
    case ErrorCode::kDeadlineExceeded: return "DEADLINE_EXCEEDED";
    case ErrorCode::kCancelled: return "CANCELLED";
    case ErrorCode::kInternal: return "INTERNAL";
    case ErrorCode::kReplicaDied: return "REPLICA_DIED";
    case ErrorCode::kTooLarge: return "TOO_LARGE";
  }
  return "UNKNOWN";
}

std::exception_ptr to_exception(Failure f) {
  switch (f.code) {
    case ErrorCode::kDeadlineExceeded:
      return std::make_exception_ptr(TimeoutError(f.message));
    case ErrorCode::kCancelled:
      return std::make_exception_ptr(CancelledError(f.message));
    case ErrorCode::kOverloaded:
    case ErrorCode::kUnavailable:
    case ErrorCode::kReplicaDied:
      return std::make_exception_ptr(UnavailableError(f.message, f.code));
    default:
      return std::make_exception_ptr(Error(f.message, f.code));
  }
}

Failure failure_of(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const Error& e) {
    return {e.code(), e.what()};
  } catch (const std::exception& e) {
    return {ErrorCode::kInternal, e.what()};
  } catch (...) {
    return {ErrorCode::kInternal, "unknown exception (not derived from std::exception)"};
  }
}

}  // namespace cserve
