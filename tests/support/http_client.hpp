// http_client.hpp — test helpers that talk to a server the way clients do: a keep-alive HTTP/1.1
// client (Beast, synchronous) and a raw-bytes exchange for malformed input.
// Thread-safety: one HttpClient per thread.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace cserve::test {

struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  bool keep_alive = true;

  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

class HttpClient {
 public:
  explicit HttpClient(int port, std::string host = "127.0.0.1");
  ~HttpClient();
  // Sends one request on the kept-alive connection. When the server had closed that connection
  // (EOF or reset before any byte of an answer), sends it once more on a new one. Throws
  // boost::system::system_error when the exchange fails otherwise.
  HttpResult request(const std::string& method, const std::string& target,
                     const std::string& body = "",
                     const std::vector<std::pair<std::string, std::string>>& headers = {});
  HttpResult get(const std::string& target) { return request("GET", target); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Connects, writes `bytes`, optionally half-closes, and returns everything the server sends
// until it closes the connection or `timeout` passes.
std::string raw_exchange(int port, const std::string& bytes,
                         std::chrono::milliseconds timeout = std::chrono::seconds(5),
                         bool half_close = false);

// The status code of the first response in raw bytes ("HTTP/1.1 413 ..." -> 413), or 0.
int first_status(const std::string& raw);

}  // namespace cserve::test
