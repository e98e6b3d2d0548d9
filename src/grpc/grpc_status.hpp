// grpc_status.hpp — the one place where cserve's reason codes become gRPC status codes (the
// gRPC side of http_errors.hpp):
//   kInvalidArgument INVALID_ARGUMENT, kNotFound NOT_FOUND, kOverloaded and kUnavailable
//   UNAVAILABLE (retry with backoff), kDeadlineExceeded DEADLINE_EXCEEDED, kCancelled CANCELLED,
//   kTooLarge RESOURCE_EXHAUSTED, kInternal and kReplicaDied INTERNAL.
// Thread-safety: pure functions.
#pragma once

#include <cserve/error.hpp>
#include <cserve/http.hpp>

#include <grpcpp/support/status.h>

#include <optional>

namespace cserve::grpc_ingress {

grpc::StatusCode grpc_code_of(ErrorCode code);
grpc::Status status_of(const Failure& f);

// The failure an HTTP error answer stands for (its status picks the code, its {"error"} body the
// message); nullopt for a 2xx answer.
std::optional<Failure> failure_of(const Response& answer);

}  // namespace cserve::grpc_ingress
