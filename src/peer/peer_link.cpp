#include "peer/peer_link.hpp"

#include "common/asio.hpp"
#include "common/logging.hpp"
#include "wire/connection.hpp"

#include <unistd.h>

#include <algorithm>

namespace cserve {
namespace {
constexpr std::chrono::seconds kConnectTimeout{3};
constexpr std::chrono::milliseconds kMaxBackoff{2000};
}  // namespace

struct PeerLink::Attempt {
  explicit Attempt(asio::io_context& io) : socket(io), timer(io) {}
  asio::ip::tcp::socket socket;
  asio::steady_timer timer;
  bool done = false;  // the connect or the timer came first (io thread)
};

PeerLink::PeerLink(asio::io_context& io, std::string node, std::string ip, int port)
    : io_(io), node_(std::move(node)), ip_(std::move(ip)), port_(port) {}

PeerLink::~PeerLink() = default;

void PeerLink::start() {
  asio::post(io_, [self = shared_from_this()] { self->connect(); });
}

void PeerLink::close() {
  std::shared_ptr<wire::WireConnection> connection;
  std::shared_ptr<CallClient> client;
  {
    detail::MutexLock lock(mu_);
    if (closed_) return;
    closed_ = true;
    connection = std::move(connection_);
    client = std::move(client_);
    connected_.store(false, std::memory_order_release);
  }
  // New calls fail from now on; the calls in flight fail on the I/O thread, where their answers
  // arrive (before an io_context stop posted after this).
  if (client) {
    const Failure why{ErrorCode::kUnavailable, "node '" + node_ + "' left the cluster"};
    client->refuse(why);
    asio::post(io_, [client, why] { client->fail_pending(why); });
  }
  if (connection) connection->close();
}

std::shared_ptr<CallClient> PeerLink::client() const {
  detail::MutexLock lock(mu_);
  return client_;
}

void PeerLink::connect() {
  {
    detail::MutexLock lock(mu_);
    if (closed_) return;
  }
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(ip_, ec);
  if (ec) return on_failed("'" + ip_ + "' is not an IP address");
  auto attempt = std::make_shared<Attempt>(io_);
  attempt->timer.expires_after(kConnectTimeout);
  attempt->timer.async_wait([attempt](boost::system::error_code e) {
    if (e || attempt->done) return;
    boost::system::error_code ignored;
    attempt->socket.close(ignored);  // the connect completes with operation_aborted
  });
  attempt->socket.async_connect(
      asio::ip::tcp::endpoint(address, static_cast<unsigned short>(port_)),
      [self = shared_from_this(), attempt](boost::system::error_code e) {
        attempt->done = true;
        attempt->timer.cancel();
        if (e) {
          return self->on_failed(e == asio::error::operation_aborted ? "no answer within 3 s" : e.message());
        }
        self->on_connected(attempt->socket.release());
      });
}

void PeerLink::on_connected(int fd) {
  wire::Hello hello;
  hello.role = "node";
  hello.pid = ::getpid();
  auto connection = wire::WireConnection::adopt(io_, fd, hello);
  auto client = std::make_shared<CallClient>(/*first_id=*/1);
  client->attach(connection);
  bool was_warned = false;
  {
    detail::MutexLock lock(mu_);
    if (closed_) {
      connection->close();
      return;
    }
    client_ = client;
    connection_ = connection;
    connected_.store(true, std::memory_order_release);
    backoff_ = std::chrono::milliseconds(100);
    was_warned = std::exchange(warned_, false);
  }
  std::weak_ptr<CallClient> weak_client = client;
  connection->start(
      [weak_client](wire::Frame& frame) {
        if (auto c = weak_client.lock()) c->on_frame(frame);
      },
      [weak = weak_from_this(), client](const Failure& why) {
        if (auto self = weak.lock()) {
          self->on_closed(client, why.message);
        } else {
          client->refuse(why);
          client->fail_pending(why);
        }
      });
  if (was_warned) {
    CSERVE_LOG(kInfo, "cluster") << "connected to node " << node_ << " at " << ip_ << ":" << port_ << " again";
  }
}

void PeerLink::on_failed(const std::string& why) {
  bool warn = false;
  {
    detail::MutexLock lock(mu_);
    if (closed_) return;
    warn = !std::exchange(warned_, true);
  }
  if (warn) {
    CSERVE_LOG(kWarning, "cluster") << "cannot reach node " << node_ << " at " << ip_ << ":" << port_ << " (" << why
                                    << "); its replicas take no calls from this node until it answers";
  }
  retry_later();
}

void PeerLink::on_closed(const std::shared_ptr<CallClient>& client, const std::string& why) {
  const Failure failure{ErrorCode::kUnavailable,
                        "the connection to node '" + node_ + "' at " + ip_ + ":" + std::to_string(port_) + " ended (" +
                            why + ")"};
  bool closed = false;
  {
    detail::MutexLock lock(mu_);
    if (client_ == client) {
      client_.reset();
      connection_.reset();
      connected_.store(false, std::memory_order_release);
    }
    closed = closed_;
  }
  client->refuse(failure);
  client->fail_pending(failure);
  if (closed) return;
  CSERVE_LOG(kWarning, "cluster") << failure.message << "; connecting again";
  {
    detail::MutexLock lock(mu_);
    warned_ = true;
  }
  retry_later();
}

void PeerLink::retry_later() {
  std::chrono::milliseconds delay;
  {
    detail::MutexLock lock(mu_);
    if (closed_) return;
    delay = backoff_;
    backoff_ = std::min(backoff_ * 2, kMaxBackoff);
  }
  auto timer = std::make_shared<asio::steady_timer>(io_, delay);
  timer->async_wait([timer, weak = weak_from_this()](boost::system::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->connect();
  });
}

}  // namespace cserve
