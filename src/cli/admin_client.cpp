#include "cli/admin_client.hpp"

#include "common/asio.hpp"

#include <cserve/error.hpp>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace cserve::cli {

namespace beast = boost::beast;
namespace http = beast::http;

AdminClient::AdminClient(std::string address, std::string token)
    : address_(std::move(address)), token_(std::move(token)) {
  std::string rest = address_;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  auto colon = rest.rfind(':');
  if (rest.empty() || colon == std::string::npos || colon + 1 == rest.size()) {
    throw ConfigError("address '" + address_ + "' must be http://HOST:PORT");
  }
  host_ = rest.substr(0, colon);
  port_ = rest.substr(colon + 1);
}

AdminReply AdminClient::call(const std::string& method, const std::string& path, const std::string& body,
                             std::chrono::milliseconds timeout) const {
  AdminReply out;
  try {
    asio::io_context io;
    beast::tcp_stream stream(io);
    asio::ip::tcp::resolver resolver(io);
    stream.expires_after(timeout);
    stream.connect(resolver.resolve(host_, port_));
    http::request<http::string_body> req(http::string_to_verb(method), path, 11);
    req.set(http::field::host, host_);
    req.set(http::field::content_type, "application/json");
    if (!token_.empty()) req.set(http::field::authorization, "Bearer " + token_);
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    out.status = static_cast<int>(res.result_int());
    out.body = res.body();
  } catch (const std::exception& e) {
    out.error = e.what();
  }
  return out;
}

}  // namespace cserve::cli
