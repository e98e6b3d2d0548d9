// etcd_store.hpp — the Store contract on a real etcd (v3.4 or later), over etcd's gRPC API
// (proto/etcd_rpc.proto). One channel to the cluster's members: gRPC connects to the first that
// answers and moves to another when it fails. Each call has a deadline; a watch is a gRPC stream
// of its own, served by a thread of its own; a lease keep-alive is one round on the LeaseKeepAlive
// stream.
// Thread-safety: every member function may be called from any thread.
#pragma once

#include "cluster/store.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace cserve::cluster {

struct EtcdOptions {
  // Members' client URLs: "http://127.0.0.1:2379" or "127.0.0.1:2379".
  std::vector<std::string> endpoints;
  std::chrono::milliseconds call_timeout{5000};
};

class EtcdStore final : public Store {
 public:
  // Throws ConfigError for an endpoint it cannot use (https, no port). Does not connect yet.
  explicit EtcdStore(EtcdOptions options);
  ~EtcdStore() override;

  Range get(const std::string& key) override;
  Range get_prefix(const std::string& prefix) override;
  Revision put(const std::string& key, const std::string& value, LeaseId lease = 0) override;
  std::int64_t erase(const std::string& key) override;
  std::int64_t erase_prefix(const std::string& prefix) override;
  TxnResult txn(const std::vector<Compare>& when, const std::vector<Op>& then,
                const std::vector<Op>& otherwise = {}) override;
  void compact(Revision revision) override;
  LeaseId grant_lease(std::chrono::seconds ttl) override;
  void revoke_lease(LeaseId id) override;
  std::int64_t keep_alive(LeaseId id) override;
  std::unique_ptr<Watch> watch_prefix(const std::string& prefix, Revision from, WatchCallback callback) override;

  // The gRPC target the endpoints became ("ipv4:127.0.0.1:2379,127.0.0.2:2379").
  const std::string& target() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Parses "URL[,URL...]" as `cserve start --etcd` takes it. Throws ConfigError naming a bad one.
std::vector<std::string> parse_etcd_endpoints(const std::string& list);

}  // namespace cserve::cluster
