// cserve/error.hpp — exceptions the public API throws at its edges.
// Thread-safety: plain values.
#pragma once

#include <stdexcept>
#include <string>

namespace cserve {

// Base of every error cserve's API throws.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An option or argument is invalid; the message names the field.
class ConfigError : public Error {
 public:
  using Error::Error;
};

// An application could not reach RUNNING (DEPLOY_FAILED, or the wait timed out).
class DeployError : public Error {
 public:
  using Error::Error;
};

// A call did not finish in time: DeploymentResponse::result()'s timeout passed, or the request it
// serves passed its deadline (request_timeout_s; HTTP 408).
class TimeoutError : public Error {
 public:
  using Error::Error;
};

// The request a call serves was cancelled: its HTTP client went away, or the caller cancelled the
// DeploymentResponse. Code awaiting anything of cserve's sees it at its next suspension point.
class CancelledError : public Error {
 public:
  using Error::Error;
};

}  // namespace cserve
