// cserve/error.hpp — the one error vocabulary: reason codes that mean the same in every module
// and on every transport, the Failure value that carries one across module boundaries, and the
// exceptions the public API throws at its edges.
//
// Inside cserve a failed call is a Failure{code, message}; the HTTP proxy maps a code to a
// status in one place, handles turn it into the matching exception in one place (to_exception),
// and the wire protocol carries the code between processes. User code may throw anything: the
// replica describes it as kInternal (or takes the code of a cserve::Error).
// Thread-safety: plain values.
#pragma once

#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>

namespace cserve {

// Why a call failed. The numbers are part of the wire protocol: never renumber.
enum class ErrorCode : int {
  kInvalidArgument = 1,   // the call's input is wrong (HTTP 400)
  kNotFound = 2,          // no such route, application, deployment, method or model (404)
  kOverloaded = 3,        // the queue is full (max_queued_requests) (503)
  kUnavailable = 4,       // no replica can take it: deployment gone, failed or stopping (503)
  kDeadlineExceeded = 5,  // the request's deadline passed (request_timeout_s) (408)
  kCancelled = 6,         // the caller went away or cancelled the call (499)
  kInternal = 7,          // user code raised, or a bug (500)
  kReplicaDied = 8,       // the replica's process ended while the call ran (500)
  kTooLarge = 9,          // a message over a size limit (413)
};

// "OVERLOADED", "DEADLINE_EXCEEDED", ...: stable names, for logs, JSON bodies and status.
std::string_view to_string(ErrorCode code);

// A failed call as a value.
struct Failure {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

// Base of every error cserve's API throws; code() says why.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, ErrorCode code = ErrorCode::kInternal)
      : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// An option or argument is invalid; the message names the field.
class ConfigError : public Error {
 public:
  explicit ConfigError(const std::string& message) : Error(message, ErrorCode::kInvalidArgument) {}
};

// An application could not reach RUNNING (DEPLOY_FAILED, resources it can never get here, or
// the wait timed out).
class DeployError : public Error {
 public:
  explicit DeployError(const std::string& message) : Error(message, ErrorCode::kUnavailable) {}
};

// A call did not finish in time: DeploymentResponse::result()'s timeout passed, or the request it
// serves passed its deadline (request_timeout_s; HTTP 408).
class TimeoutError : public Error {
 public:
  explicit TimeoutError(const std::string& message) : Error(message, ErrorCode::kDeadlineExceeded) {}
};

// The request a call serves was cancelled: its HTTP client went away, or the caller cancelled the
// DeploymentResponse. Code awaiting anything of cserve's sees it at its next suspension point.
class CancelledError : public Error {
 public:
  explicit CancelledError(const std::string& message) : Error(message, ErrorCode::kCancelled) {}
};

// No replica would take a handle call: its queue was full (code kOverloaded), or the deployment
// is gone, failed, or its replica died (kUnavailable, kReplicaDied).
class UnavailableError : public Error {
 public:
  explicit UnavailableError(const std::string& message, ErrorCode code = ErrorCode::kUnavailable)
      : Error(message, code) {}
};

// The exception a handle call fails with for `f`: TimeoutError, CancelledError, UnavailableError
// (overloaded, unavailable, replica died), else Error with f's code.
std::exception_ptr to_exception(Failure f);

// What an exception means as a Failure: a cserve::Error's code and message; anything else
// kInternal with its what() (the type name for a non-std exception).
Failure failure_of(const std::exception_ptr& error);

}  // namespace cserve
