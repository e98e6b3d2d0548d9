#include "proxy/http_proxy.hpp"

#include "proxy/connection.hpp"
#include "proxy/proxy_state.hpp"

#include "common/asio.hpp"
#include "common/serving_thread.hpp"
#include "common/logging.hpp"

#include <cserve/error.hpp>

#include <chrono>
#include <optional>
#include <thread>
#include <vector>

namespace cserve {

namespace {
using tcp = asio::ip::tcp;
}  // namespace

struct HttpProxy::Impl {
  Impl(HttpOptions o, HttpProxy::LocalHandler local, bool record_metrics, ThreadPolicy p) : policy(p) {
    state.options = std::move(o);
    state.local = std::move(local);
    state.record_metrics = record_metrics;
  }

  void accept() {
    auto& io = *ios[next_io++ % ios.size()];
    acceptor->async_accept(io.get_executor(), [this](boost::system::error_code ec, Connection::Socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
      if (ec) {
        // Out of descriptors or a transient error: wait a little rather than spin.
        CSERVE_LOG(kWarning, "proxy") << "accept failed: " << ec.message();
        retry_timer->expires_after(std::chrono::milliseconds(100));
        retry_timer->async_wait([this](boost::system::error_code e) {
          if (!e) accept();
        });
        return;
      }
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      std::make_shared<Connection>(std::move(socket), state)->start();
      accept();
    });
  }

  ProxyState state;
  std::vector<std::unique_ptr<asio::io_context>> ios;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::vector<std::thread> threads;
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> retry_timer;
  const ThreadPolicy policy;
  std::size_t next_io = 0;
  int port = 0;
  bool drained = false;
  bool stopped = false;
};

HttpProxy::HttpProxy(HttpOptions options, LocalHandler local, bool record_metrics, ThreadPolicy policy)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(local), record_metrics, policy)) {}

HttpProxy::~HttpProxy() { stop(); }

void HttpProxy::start() {
  const auto& o = impl_->state.options;
  int n = std::max(1, o.io_threads);
  for (int i = 0; i < n; ++i) {
    impl_->ios.push_back(std::make_unique<asio::io_context>(1));
    impl_->guards.push_back(asio::make_work_guard(*impl_->ios.back()));
  }
  boost::system::error_code ec;
  auto address = asio::ip::make_address(o.host, ec);
  if (ec) throw Error("http host '" + o.host + "' is not an IP address: " + ec.message());
  tcp::endpoint endpoint(address, static_cast<unsigned short>(o.port));
  auto& acceptor = impl_->acceptor.emplace(*impl_->ios[0]);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw Error("cannot listen on " + o.host + ":" + std::to_string(o.port) + ": " + ec.message());
  }
  impl_->port = acceptor.local_endpoint().port();
  impl_->retry_timer.emplace(*impl_->ios[0]);
  impl_->accept();
  for (auto& io : impl_->ios) {
    impl_->threads.emplace_back([io = io.get(), policy = impl_->policy] {
      start_serving_thread("cserve-http", policy);
      io->run();
    });
  }
}

int HttpProxy::port() const { return impl_->port; }

void HttpProxy::set_routes(std::shared_ptr<const RouteTable> routes) {
  impl_->state.set_routes(std::move(routes));
}

void HttpProxy::drain(Duration timeout) {
  if (impl_->drained || impl_->ios.empty()) return;
  impl_->drained = true;
  impl_->state.draining.store(true);
  asio::post(*impl_->ios[0], [impl = impl_.get()] {
    boost::system::error_code ec;
    impl->acceptor->close(ec);
    impl->retry_timer->cancel();
  });
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    std::vector<std::shared_ptr<Connection>> alive = impl_->state.alive();
    if (alive.empty()) return;
    if (std::chrono::steady_clock::now() >= deadline) break;
    for (auto& c : alive) {
      asio::post(c->executor(), [c] { c->close_if_idle(); });
    }
    alive.clear();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // Out of time: close what is left. Requests still being answered are cancelled, so coroutines
  // waiting in replicas unwind now, while the worker pool still runs.
  for (auto& c : impl_->state.alive()) {
    asio::post(c->executor(), [c] { c->close_now(); });
  }
  const auto closed_by = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (!impl_->state.alive().empty() && std::chrono::steady_clock::now() < closed_by) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void HttpProxy::stop() {
  if (impl_->stopped || impl_->ios.empty()) return;
  impl_->stopped = true;
  drain(Duration::zero());
  for (auto& g : impl_->guards) g.reset();
  for (auto& io : impl_->ios) io->stop();
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
}

}  // namespace cserve
