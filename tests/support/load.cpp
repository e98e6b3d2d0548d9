#include "support/load.hpp"

#include "common/asio.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <optional>
#include <vector>

namespace cserve::test {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct LoadGenerator::Impl {
  struct Client {
    explicit Client(asio::io_context& io) : stream(io) {}
    beast::tcp_stream stream;
    beast::flat_buffer buffer;
    http::request<http::empty_body> req;
    std::optional<http::response<http::string_body>> res;
  };

  Impl(std::string h, int p, std::string t, int n, std::chrono::seconds d, std::atomic<long>& r)
      : host(std::move(h)), port(p), target(std::move(t)), connections(n), max_duration(d), responses(r), deadline(io) {}

  void connect(Client& c) {
    if (stopping) return;
    c.stream.async_connect(tcp::endpoint(asio::ip::make_address(host), static_cast<unsigned short>(port)),
                           [this, &c](beast::error_code ec) {
                             if (ec) return on_error(c);
                             send(c);
                           });
  }

  void send(Client& c) {
    if (stopping) return close(c);
    c.req = {http::verb::get, target, 11};
    c.req.set(http::field::host, host);
    c.req.keep_alive(true);
    c.stream.expires_after(std::chrono::seconds(30));
    http::async_write(c.stream, c.req, [this, &c](beast::error_code ec, std::size_t) {
      if (ec) return on_error(c);
      c.res.emplace();
      http::async_read(c.stream, c.buffer, *c.res, [this, &c](beast::error_code ec2, std::size_t) {
        if (ec2) return on_error(c);
        ++stats.responses;
        ++stats.by_status[static_cast<int>(c.res->result_int())];
        responses.fetch_add(1, std::memory_order_relaxed);
        if (!c.res->keep_alive()) {
          close(c);
          c.buffer.clear();
          return connect(c);
        }
        send(c);
      });
    });
  }

  void on_error(Client& c) {
    if (stopping) return close(c);
    ++stats.connection_errors;
    close(c);
    c.buffer.clear();
    connect(c);
  }

  void close(Client& c) {
    beast::error_code ec;
    c.stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    c.stream.close();
  }

  void run() {
    for (int i = 0; i < connections; ++i) clients.push_back(std::make_unique<Client>(io));
    for (auto& c : clients) connect(*c);
    deadline.expires_after(max_duration);
    deadline.async_wait([this](beast::error_code ec) {
      if (!ec) begin_stop();
    });
    io.run();
  }

  // Stops sending; requests in flight are allowed to finish (a response that is cut off by the
  // generator itself is not counted as a server error).
  void begin_stop() {
    stopping = true;
    deadline.cancel();
  }

  asio::io_context io;
  std::string host;
  int port;
  std::string target;
  int connections;
  std::chrono::seconds max_duration;
  std::atomic<long>& responses;
  asio::steady_timer deadline;
  std::vector<std::unique_ptr<Client>> clients;
  LoadStats stats;
  bool stopping = false;
};

LoadGenerator::LoadGenerator(int port, std::string target, int connections, std::chrono::seconds max_duration,
                             std::string host)
    : impl_(std::make_unique<Impl>(std::move(host), port, std::move(target), connections, max_duration, responses_)) {}

LoadGenerator::~LoadGenerator() { stop(); }

void LoadGenerator::start() {
  thread_ = std::thread([this] { impl_->run(); });
}

LoadStats LoadGenerator::stop() {
  if (thread_.joinable()) {
    asio::post(impl_->io, [impl = impl_.get()] { impl->begin_stop(); });
    thread_.join();
  }
  return impl_->stats;
}

}  // namespace cserve::test
