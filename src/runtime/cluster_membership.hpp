// cluster_membership.hpp — this process as one node of a cluster (ServeOptions::cluster,
// docs/cluster.md): its connection to etcd and its NodeAgent, and the cluster's nodes in status.
//
// The node registers when the membership is made (the constructor throws when the store does not
// take the registration in time) and leaves when it stops (its lease revoked). While etcd is away
// the node keeps serving and its status shows the last node list it saw, with a warning.
// Thread-safety: every member function may be called from any thread.
#pragma once

#include "cluster/node_agent.hpp"
#include "cluster/store.hpp"
#include "runtime/cluster_control.hpp"

#include <cserve/serve.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace cserve::detail {

class ClusterMembership {
 public:
  // `record` has the node's id, address, ports and resources; `usage` reads what is free now;
  // `hooks` plan and run configs (cluster_control.hpp).
  ClusterMembership(const ClusterOptions& options, cluster::NodeRecord record,
                    std::function<cluster::NodeUsage()> usage, ClusterControl::Hooks hooks);
  ~ClusterMembership();
  ClusterMembership(const ClusterMembership&) = delete;
  ClusterMembership& operator=(const ClusterMembership&) = delete;

  // Replaces `s.nodes` (this node alone, as the controller sees it) with every node of the
  // cluster, and says in `s.cluster_warning` what keeps the cluster from its target or why the
  // node list may be stale.
  void fill(ServeStatus& s) const;
  // Makes `config` the cluster's target (every node runs its share) and returns once this node
  // runs its share, or after a TTL and 5 s. Throws Error (unavailable).
  void submit(const Json& config) { control_->submit(config, submit_wait_); }
  // The cluster's config; null before any.
  Json config() const { return control_->config(); }
  // Every node's record, as last seen.
  std::vector<cluster::NodeRecord> nodes() const { return agent_->nodes(); }
  // Rewrites this node's record now (what it serves changed).
  void refresh() { agent_->refresh(); }
  // Stops following the cluster and leaves it: the node's lease revoked. Idempotent.
  void stop();

 private:
  std::unique_ptr<cluster::Store> store_;
  std::unique_ptr<cluster::NodeAgent> agent_;
  std::unique_ptr<ClusterControl> control_;
  std::chrono::milliseconds submit_wait_{0};
};

// Why `options` cannot start a cluster node (a message naming the field), or nullopt. Embedded
// mode (no etcd endpoints) is always valid.
std::optional<std::string> validate_cluster(const ClusterOptions& options);
// The node name to use: options.node_name, else the host name.
std::string node_name(const ClusterOptions& options);

}  // namespace cserve::detail
