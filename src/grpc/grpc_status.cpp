#include "grpc/grpc_status.hpp"

#include <cserve/json.hpp>

namespace cserve::grpc_ingress {

grpc::StatusCode grpc_code_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return grpc::StatusCode::INVALID_ARGUMENT;
    case ErrorCode::kNotFound: return grpc::StatusCode::NOT_FOUND;
    case ErrorCode::kOverloaded:
    case ErrorCode::kUnavailable: return grpc::StatusCode::UNAVAILABLE;
    case ErrorCode::kDeadlineExceeded: return grpc::StatusCode::DEADLINE_EXCEEDED;
    case ErrorCode::kCancelled: return grpc::StatusCode::CANCELLED;
    case ErrorCode::kTooLarge: return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case ErrorCode::kInternal:
    case ErrorCode::kReplicaDied: return grpc::StatusCode::INTERNAL;
  }
  return grpc::StatusCode::UNKNOWN;
}

grpc::Status status_of(const Failure& f) { return grpc::Status(grpc_code_of(f.code), f.message); }

std::optional<Failure> failure_of(const Response& answer) {
  if (answer.status < 400) return std::nullopt;
  const ErrorCode code = HttpError::code_for_status(answer.status);
  const Json body = Json::parse(answer.body, nullptr, /*allow_exceptions=*/false);
  std::string message = "HTTP status " + std::to_string(answer.status);
  if (body.is_object() && body.contains("error") && body["error"].is_string()) message = body["error"];
  return Failure{code, std::move(message)};
}

}  // namespace cserve::grpc_ingress
