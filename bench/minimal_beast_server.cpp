// The baseline for bench/http_counter: the least an HTTP/1.1 server on Boost.Beast can do to
// answer GET /Counter with {"count": N} — one I/O thread, keep-alive, no routing, no worker
// hop, no timeouts. It is the practical limit of the HTTP stack cserve is built on.
//
//   minimal_beast_server PORT    (prints "listening on http://127.0.0.1:PORT")
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

long g_count = 0;  // one I/O thread: no lock needed

class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket s) : socket_(std::move(s)) {}
  void read() {
    req_ = {};
    http::async_read(socket_, buffer_, req_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return;
      self->write();
    });
  }

 private:
  void write() {
    res_ = {};
    res_.version(req_.version());
    res_.result(http::status::ok);
    res_.set(http::field::server, "minimal");
    res_.set(http::field::content_type, "application/json");
    res_.body() = "{\"count\":" + std::to_string(++g_count) + "}";
    res_.keep_alive(req_.keep_alive());
    res_.prepare_payload();
    http::async_write(socket_, res_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec || !self->res_.keep_alive()) return;
      self->read();
    });
  }

  tcp::socket socket_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  http::response<http::string_body> res_;
};

void accept(tcp::acceptor& acceptor) {
  acceptor.async_accept([&acceptor](beast::error_code ec, tcp::socket s) {
    if (!ec) {
      s.set_option(tcp::no_delay(true));
      std::make_shared<Session>(std::move(s))->read();
    }
    accept(acceptor);
  });
}

}  // namespace

int main(int argc, char** argv) {
  int port = argc > 1 ? std::atoi(argv[1]) : 0;
  asio::io_context io(1);
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  std::printf("listening on http://127.0.0.1:%d\n", acceptor.local_endpoint().port());
  std::fflush(stdout);
  accept(acceptor);
  io.run();
}
