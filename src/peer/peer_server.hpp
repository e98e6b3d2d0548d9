// peer_server.hpp — where other nodes' calls for this node's replicas arrive (docs/cluster.md,
// "Requests across nodes"): a TCP listener on the node's address speaking the wire protocol
// (docs/wire.md), one CallServer per connection. Each CALL names its application and deployment;
// it runs through that deployment's local router (this node's replicas only: Router::local_sink),
// so a call crosses at most one node boundary. HTTP calls are answered as a worker answers them
// (wire_answers.hpp); handle calls by name, typed and streamed as the worker protocol runs them.
//
// A call for a deployment this node does not have is answered with kNotFound; a connection that
// breaks the protocol gets an ERROR and is closed; when a connection ends, its calls in flight
// are cancelled.
// Thread-safety: every member function is safe from any thread; connections are served on the
// io_context's thread.
#pragma once

#include <cserve/detail/call.hpp>
#include <cserve/detail/mutex.hpp>

#include <functional>
#include <memory>
#include <set>
#include <string>

namespace boost::asio {
class io_context;
}

namespace cserve {

class PeerServer {
 public:
  // The sink of a deployment's calls from other nodes; throws (any exception: its message is the
  // caller's answer) when this node has no such deployment.
  using Lookup = std::function<std::shared_ptr<detail::CallSink>(const std::string& app, const std::string& deployment)>;

  // Listens on host:port (0: a free port). Throws cserve::Error when it cannot.
  PeerServer(boost::asio::io_context& io, const std::string& host, int port, Lookup lookup);
  ~PeerServer();
  PeerServer(const PeerServer&) = delete;
  PeerServer& operator=(const PeerServer&) = delete;

  int port() const { return port_; }
  // Stops accepting and closes every connection. Idempotent.
  void stop();

 private:
  class Session;
  struct Acceptor;
  void accept();

  boost::asio::io_context& io_;
  const Lookup lookup_;
  std::shared_ptr<Acceptor> acceptor_;
  int port_ = 0;

  detail::Mutex mu_;
  bool stopped_ CSERVE_GUARDED_BY(mu_) = false;
  std::set<std::shared_ptr<Session>> sessions_ CSERVE_GUARDED_BY(mu_);
};

}  // namespace cserve
