// Calling a deployment from your own web server: this program runs its own small HTTP server
// (Boost.Beast, one thread, not the cserve proxy — cserve's proxy is switched off) and serves
// GET /greet?name=NAME by calling a Greeter deployment through a handle.
//
//   $ ./embed_handle --port 8080
//   $ curl 'localhost:8080/greet?name=Ada'      -> Hello, Ada! (from Greeter#abc123)
#include <cserve/cserve.hpp>

#include "../common/example_args.hpp"

#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cstdio>

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

class Greeter {
 public:
  std::string operator()(std::string name) {
    return "Hello, " + name + "! (from " + cserve::get_replica_context().replica_id + ")";
  }
};

// The user's server: one connection at a time, keep-alive, GET /greet only.
void serve_connection(tcp::socket socket, const cserve::DeploymentHandle<Greeter>& greeter) {
  beast::flat_buffer buffer;
  beast::error_code ec;
  for (;;) {
    http::request<http::string_body> req;
    http::read(socket, buffer, req, ec);
    if (ec) return;
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.set(http::field::content_type, "text/plain");
    std::string_view target = req.target();
    if (req.method() != http::verb::get || !target.starts_with("/greet")) {
      res.result(http::status::not_found);
      res.body() = "try GET /greet?name=you\n";
    } else {
      auto q = target.find("name=");
      std::string name = q == std::string_view::npos ? "world" : std::string(target.substr(q + 5));
      try {
        res.body() = greeter.remote(name).result(std::chrono::seconds(10)) + "\n";
      } catch (const std::exception& e) {
        res.result(http::status::service_unavailable);
        res.body() = std::string("greeter unavailable: ") + e.what() + "\n";
      }
    }
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    http::write(socket, res, ec);
    if (ec || !req.keep_alive()) return;
  }
}

int main(int argc, char** argv) {
  return examples::guarded_main(argv[0], [&] {
    cserve::ServeOptions options = examples::parse_args(argc, argv);
    const std::string host = options.http.host;
    const int port = options.http.port;
    options.http_enabled = false;  // this program brings its own HTTP server
    cserve::Serve serve = cserve::start(options);
    auto greeter = serve.run(cserve::deployment<Greeter>().num_replicas(2).resources({.cpus = 0.5}).bind());

    boost::asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(boost::asio::ip::make_address(host), static_cast<unsigned short>(port)));
    std::printf("listening on http://%s:%d\n", host.c_str(), acceptor.local_endpoint().port());
    std::fflush(stdout);
    for (;;) serve_connection(acceptor.accept(), greeter);
  });
}
