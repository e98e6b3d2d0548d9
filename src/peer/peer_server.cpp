#include "peer/peer_server.hpp"

#include "common/asio.hpp"
#include "common/logging.hpp"
#include "peer/wire_answers.hpp"
#include "wire/connection.hpp"
#include "worker/call_server.hpp"

#include <cserve/error.hpp>

#include <unistd.h>

namespace cserve {

struct PeerServer::Acceptor {
  explicit Acceptor(asio::io_context& io) : acceptor(io) {}
  asio::ip::tcp::acceptor acceptor;
};

// One connection from another node: its calls, run through the local routers.
class PeerServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<wire::WireConnection> connection, Lookup lookup)
      : connection_(std::move(connection)), lookup_(std::move(lookup)) {
    server_ = std::make_shared<CallServer>(connection_, [lookup = lookup_](const wire::CallHeader& h,
                                                                            detail::Call call) {
      std::shared_ptr<detail::CallSink> sink;
      try {
        sink = lookup(h.application, h.deployment);
      } catch (const std::exception& e) {
        return call.reject({ErrorCode::kNotFound, e.what()});
      }
      sink->submit(std::move(call));
    });
    answers_ = std::make_shared<WireAnswers>(server_, connection_);
  }

  void start(std::function<void(const std::shared_ptr<Session>&)> on_end) {
    std::weak_ptr<Session> weak = shared_from_this();
    connection_->start(
        [weak](wire::Frame& f) {
          if (auto s = weak.lock()) s->on_frame(f);
        },
        [weak, on_end = std::move(on_end)](const Failure&) {
          if (auto s = weak.lock()) {
            s->server_->close();  // cancels the calls still running
            on_end(s);
          }
        });
  }

  void close() { connection_->close(); }

 private:
  void on_frame(wire::Frame& frame) {
    const bool served = server_->take(frame, [this](std::uint64_t id, const wire::Call& call) { on_call(id, call); });
    if (!served) {
      // This side only answers: a frame that answers a call of ours is a peer's mistake.
      connection_->send(wire::FrameType::kError, 0,
                        wire::encode_error({ErrorCode::kInvalidArgument, "a node's peer port only answers calls"}));
      connection_->close(/*flush=*/true);
    }
  }

  void on_call(std::uint64_t id, const wire::Call& call) {
    const auto& h = call.header;
    if (h.kind != wire::CallKind::kHttp) return server_->serve(id, call);
    auto http = answers_->http_call(id, call);
    if (!http) return;
    std::shared_ptr<detail::CallSink> sink;
    try {
      sink = lookup_(h.application, h.deployment);
    } catch (const std::exception& e) {
      return http->reject({ErrorCode::kNotFound, e.what()});
    }
    sink->submit(std::move(*http));
  }

  const std::shared_ptr<wire::WireConnection> connection_;
  const Lookup lookup_;
  std::shared_ptr<CallServer> server_;
  std::shared_ptr<WireAnswers> answers_;
};

PeerServer::PeerServer(asio::io_context& io, const std::string& host, int port, Lookup lookup)
    : io_(io), lookup_(std::move(lookup)), acceptor_(std::make_shared<Acceptor>(io)) {
  try {
    const asio::ip::tcp::endpoint endpoint(asio::ip::make_address(host), static_cast<unsigned short>(port));
    acceptor_->acceptor.open(endpoint.protocol());
    acceptor_->acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor_->acceptor.bind(endpoint);
    acceptor_->acceptor.listen();
    port_ = acceptor_->acceptor.local_endpoint().port();
  } catch (const boost::system::system_error& e) {
    throw Error("cannot listen for other nodes' calls on " + host + ":" + std::to_string(port) + ": " + e.what(),
                ErrorCode::kUnavailable);
  }
  accept();
}

PeerServer::~PeerServer() { stop(); }

void PeerServer::accept() {
  acceptor_->acceptor.async_accept([this, acceptor = acceptor_](boost::system::error_code ec, asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor->acceptor.is_open()) return;  // stopped
    if (ec) {
      CSERVE_LOG(kWarning, "cluster") << "peer port: accept failed: " << ec.message();
      return accept();
    }
    wire::Hello hello;
    hello.role = "node";
    hello.pid = ::getpid();
    auto session = std::make_shared<Session>(wire::WireConnection::adopt(io_, socket.release(), hello), lookup_);
    {
      detail::MutexLock lock(mu_);
      if (stopped_) return session->close();
      sessions_.insert(session);
    }
    session->start([this](const std::shared_ptr<Session>& s) {
      detail::MutexLock lock(mu_);
      sessions_.erase(s);
    });
    accept();
  });
}

void PeerServer::stop() {
  std::set<std::shared_ptr<Session>> sessions;
  {
    detail::MutexLock lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    sessions.swap(sessions_);
  }
  // On the io thread, where the acceptor's handler runs (or here when that thread is gone).
  auto acceptor = acceptor_;
  asio::post(io_, [acceptor] {
    boost::system::error_code ignored;
    acceptor->acceptor.close(ignored);
  });
  for (const auto& s : sessions) s->close();
}

}  // namespace cserve
