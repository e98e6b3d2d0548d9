#include "runtime/cluster_membership.hpp"

#include "cluster/etcd_store.hpp"
#include "common/logging.hpp"

#include <cserve/error.hpp>

#include <unistd.h>

#include <algorithm>
#include <climits>

namespace cserve::detail {

std::string node_name(const ClusterOptions& options) {
  if (!options.node_name.empty()) return options.node_name;
  char host[HOST_NAME_MAX + 1] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "node";
  return host;
}

std::optional<std::string> validate_cluster(const ClusterOptions& options) {
  if (options.etcd.empty()) return std::nullopt;
  for (const std::string& url : options.etcd) {
    if (url.empty()) return std::string("cluster.etcd has an empty endpoint");
  }
  if (auto why = cluster::invalid_node_id(node_name(options))) return "cluster.node_name: " + *why;
  if (options.node_ip.empty()) return std::string("cluster.node_ip must be set: the address other nodes reach this one at");
  if (options.peer_port < 0 || options.peer_port > 65535) {
    return "cluster.peer_port must be a port number (0: any free port), got " + std::to_string(options.peer_port);
  }
  if (options.lease_ttl_s < 2) {
    return "cluster.lease_ttl_s must be >= 2 (etcd raises shorter leases to its minimum), got " +
           std::to_string(options.lease_ttl_s);
  }
  return std::nullopt;
}

ClusterMembership::ClusterMembership(const ClusterOptions& options, cluster::NodeRecord record,
                                     std::function<cluster::NodeUsage()> usage, ClusterControl::Hooks hooks) {
  const std::chrono::seconds ttl(options.lease_ttl_s);
  // A call waits at most half a TTL, so that a lease keeper notices an unreachable store in time.
  const auto call_timeout = std::min<std::chrono::milliseconds>(std::chrono::milliseconds(5000), ttl / 2);
  store_ = std::make_unique<cluster::EtcdStore>(cluster::EtcdOptions{options.etcd, call_timeout});
  const std::string id = record.id;
  agent_ = std::make_unique<cluster::NodeAgent>(
      *store_, cluster::NodeAgentOptions{std::move(record), ttl, std::move(usage), [id](const std::string& why) {
                                           CSERVE_LOG(kWarning, "cluster")
                                               << "node " << id << " was out of the cluster (" << why << ")";
                                         }});
  // A node name still held by a previous run of this node lapses within a TTL.
  if (!agent_->wait_registered(ttl + std::chrono::seconds(5))) {
    const std::string why = agent_->problem().value_or("no answer");
    agent_.reset();
    std::string endpoints;
    for (const auto& e : options.etcd) endpoints += (endpoints.empty() ? "" : ",") + e;
    throw Error("node '" + id + "' could not join the cluster at " + endpoints + ": " + why, ErrorCode::kUnavailable);
  }
  control_ = std::make_unique<ClusterControl>(*store_, *agent_, ttl, std::move(hooks));
  submit_wait_ = ttl + std::chrono::seconds(5);
}

ClusterMembership::~ClusterMembership() { stop(); }

void ClusterMembership::stop() {
  if (control_) control_->stop();
  if (agent_) agent_->stop();
}

void ClusterMembership::fill(ServeStatus& s) const {
  std::optional<NodeStatusInfo> self;
  if (!s.nodes.empty()) self = s.nodes.front();
  s.nodes.clear();
  const std::optional<std::string> leader = agent_->leader();
  bool self_listed = false;
  for (const cluster::NodeRecord& r : agent_->nodes()) {
    NodeStatusInfo n;
    n.node_id = r.id;
    n.ip = r.ip;
    n.http_port = r.http_port;
    n.admin_port = r.admin_port;
    n.resources = r.resources;
    n.available = r.available;
    n.replicas = r.replicas;
    n.controller_leader = leader == r.id;
    n.last_heartbeat_ms = r.heartbeat_ms;
    if (r.id == agent_->id()) {
      self_listed = true;
      if (self) {  // this node's own figures are current; its record is as of its last heartbeat
        n.available = self->available;
        n.replicas = self->replicas;
      }
    }
    s.nodes.push_back(std::move(n));
  }
  std::vector<std::string> warnings;
  if (agent_->state() != cluster::NodeAgent::State::kRegistered) {
    warnings.push_back("this node is not registered: " + agent_->problem().value_or("registering"));
  } else if (auto stale = agent_->nodes_problem()) {
    warnings.push_back("the node list may be stale: " + *stale);
  }
  for (std::string& p : control_->problems()) warnings.push_back(std::move(p));
  // Replicas placed on no node keep their application deploying on every node, with the reason.
  for (const Shortfall& f : control_->shortfalls()) {
    warnings.push_back(f.message);
    auto app = s.applications.find(f.deployment.first);
    if (app == s.applications.end()) continue;
    if (app->second.status == ApplicationStatus::RUNNING) app->second.status = ApplicationStatus::DEPLOYING;
    app->second.message = f.message;
    auto d = app->second.deployments.find(f.deployment.second);
    if (d == app->second.deployments.end()) continue;
    if (d->second.status == DeploymentStatus::HEALTHY) d->second.status = DeploymentStatus::UPDATING;
    d->second.message = f.message;
  }
  for (const std::string& w : warnings) {
    s.cluster_warning = s.cluster_warning ? *s.cluster_warning + "; " + w : w;
  }
  if (!self_listed && self) s.nodes.push_back(*self);
}

}  // namespace cserve::detail
