#include "support/http_client.hpp"

#include "common/asio.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <cctype>
#include <functional>
#include <optional>
#include <stdexcept>

namespace cserve::test {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct HttpClient::Impl {
  Impl(std::string h, int p) : host(std::move(h)), port(p) {}
  void connect() {
    stream.emplace(io);
    stream->connect(tcp::endpoint(asio::ip::make_address(host), static_cast<unsigned short>(port)));
    buffer.clear();
  }
  asio::io_context io;
  std::string host;
  int port;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
};

HttpClient::HttpClient(int port, std::string host) : impl_(std::make_unique<Impl>(std::move(host), port)) {}
HttpClient::~HttpClient() = default;

namespace {

// The server closed a kept-alive connection before our request reached it (its keep-alive timer
// raced our request): the request was not processed, so sending it again is safe.
bool closed_before_answering(const boost::system::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe;
}

}  // namespace

HttpResult HttpClient::request(const std::string& method, const std::string& target,
                               const std::string& body,
                               const std::vector<std::pair<std::string, std::string>>& headers) {
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  if (req.method() == http::verb::unknown) req.method_string(method);
  req.set(http::field::host, impl_->host);
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  std::optional<http::response_parser<http::string_body>> parser;
  boost::system::error_code ec;
  auto exchange = [&] {
    parser.emplace();
    parser->body_limit(1u << 30);
    ec.clear();
    http::write(*impl_->stream, req, ec);
    if (!ec) http::read(*impl_->stream, impl_->buffer, *parser, ec);
  };
  const bool reused = impl_->stream.has_value();
  if (!reused) impl_->connect();
  exchange();
  if (ec && reused && closed_before_answering(ec) && !parser->got_some()) {
    impl_->connect();  // once, on a fresh connection
    exchange();
  }
  if (ec) {
    impl_->stream.reset();
    throw boost::system::system_error(ec, method + " " + target);
  }
  auto res = parser->release();
  HttpResult out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(f.value());
  }
  out.body = res.body();
  out.keep_alive = res.keep_alive();
  if (!out.keep_alive) impl_->stream.reset();
  return out;
}

std::string raw_exchange(int port, const std::string& bytes, std::chrono::milliseconds timeout,
                         bool half_close) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  asio::write(socket, asio::buffer(bytes));
  if (half_close) socket.shutdown(tcp::socket::shutdown_send);
  std::string received;
  std::array<char, 4096> chunk;
  asio::steady_timer timer(io, timeout);
  bool done = false;
  std::function<void()> read_more = [&] {
    socket.async_read_some(asio::buffer(chunk), [&](boost::system::error_code ec, std::size_t n) {
      received.append(chunk.data(), n);
      if (ec) {
        done = true;
        timer.cancel();
        return;
      }
      read_more();
    });
  };
  read_more();
  timer.async_wait([&](boost::system::error_code ec) {
    if (!ec && !done) {
      boost::system::error_code ignored;
      socket.close(ignored);
    }
  });
  io.run();
  return received;
}

int first_status(const std::string& raw) {
  if (raw.size() < 12 || raw.compare(0, 5, "HTTP/") != 0) return 0;
  return std::atoi(raw.substr(9, 3).c_str());
}

}  // namespace cserve::test
