// admin_client.hpp — the CLI's HTTP/1.1 client for a running instance's admin API.
// Thread-safety: one call at a time per object; calls are synchronous with a timeout.
#pragma once

#include <chrono>
#include <string>

namespace cserve::cli {

struct AdminReply {
  int status = 0;     // 0 when nothing answered (see error)
  std::string body;
  std::string error;  // why nothing answered: "connection refused", ...
};

class AdminClient {
 public:
  // `address`: http://HOST:PORT (the default admin address is http://127.0.0.1:8265).
  AdminClient(std::string address, std::string token);
  AdminReply call(const std::string& method, const std::string& path, const std::string& body = "",
                  std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;
  const std::string& address() const { return address_; }

 private:
  std::string address_, host_, port_, token_;
};

}  // namespace cserve::cli
