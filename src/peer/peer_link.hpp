// peer_link.hpp — this node's connection to another node's peer port (docs/cluster.md, "Requests
// across nodes"): the wire protocol over TCP, with this node calling and the other answering.
//
//   auto link = std::make_shared<PeerLink>(io, "node-2", "127.0.0.2", 41234);
//   link->start();                 // connects; connects again after the connection ends
//   link->client()                 // the CallClient of the connection, null while there is none
//   link->close();                 // the node left: calls in flight fail (on the I/O thread), no
//                                  // new connection
//
//   disconnected --connected--> connected --the connection ended--> disconnected (retry in
//        ^   |                                                      100 ms, doubling to 2 s)
//        +---+ refused / no answer within 3 s: retry likewise
//
// When a connection ends, every call in flight on it fails with kUnavailable naming the node,
// and routers stop choosing the node's stand-ins (peer_replica.hpp) until it is back.
// Thread-safety: every member function is safe from any thread; the connection's handlers run on
// the io_context's thread.
#pragma once

#include "worker/call_client.hpp"

#include <cserve/detail/mutex.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace cserve {

namespace wire {
class WireConnection;
}

class PeerLink : public std::enable_shared_from_this<PeerLink> {
 public:
  PeerLink(boost::asio::io_context& io, std::string node, std::string ip, int port);
  ~PeerLink();

  void start();
  void close();
  std::shared_ptr<CallClient> client() const;
  bool connected() const { return connected_.load(std::memory_order_acquire); }
  boost::asio::io_context& io() const { return io_; }
  const std::string& node() const { return node_; }
  const std::string& ip() const { return ip_; }
  int port() const { return port_; }

 private:
  struct Attempt;  // one connection attempt: its socket and its timer
  void connect();
  void on_connected(int fd);
  void on_failed(const std::string& why);
  void on_closed(const std::shared_ptr<CallClient>& client, const std::string& why);
  void retry_later();

  boost::asio::io_context& io_;
  const std::string node_;
  const std::string ip_;
  const int port_;
  std::atomic<bool> connected_{false};

  mutable detail::Mutex mu_;
  bool closed_ CSERVE_GUARDED_BY(mu_) = false;
  std::shared_ptr<CallClient> client_ CSERVE_GUARDED_BY(mu_);
  std::shared_ptr<wire::WireConnection> connection_ CSERVE_GUARDED_BY(mu_);
  std::chrono::milliseconds backoff_ CSERVE_GUARDED_BY(mu_){100};
  bool warned_ CSERVE_GUARDED_BY(mu_) = false;  // since the last connection: one warning per outage
};

}  // namespace cserve
