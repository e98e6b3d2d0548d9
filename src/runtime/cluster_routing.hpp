// cluster_routing.hpp — requests across the nodes of a cluster (docs/cluster.md, "Requests across
// nodes"): this node's peer port, its links to the other nodes, and the stand-ins for their
// replicas in this node's routers.
//
// Every 100 ms (a refresh thread):
//   1. what this node serves (RUNNING replicas per deployment) is compared with what it last
//      published; a change is published at once (the node's record, rewritten by its agent);
//      each deployment's load is read from its router (published with the next heartbeat, for
//      the leader's autoscaling);
//   2. the other nodes' records (from the agent's mirror) give their peer addresses and what
//      they serve: a link per node (made again when its address changes, closed when it leaves),
//      and per deployment one stand-in per replica served there (the same objects while the count
//      holds, so that in-flight counts carry over);
//   3. each deployment's router gets its stand-ins when they changed, the router is new, or a
//      link connected (again) since the last refresh (its calls waiting in queues go then).
// A node's stand-ins go when its record goes (its lease ended, it left) and refuse calls while
// its link is down, so routers keep calls for the replicas still reachable.
// Thread-safety: every member function is safe from any thread.
#pragma once

#include "cluster/node_record.hpp"
#include "peer/peer_link.hpp"
#include "peer/peer_replica.hpp"
#include "peer/peer_server.hpp"
#include "router/router.hpp"

#include <cserve/detail/mutex.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace cserve::detail {

// application -> deployment -> RUNNING replicas
using Serving = std::map<std::string, std::map<std::string, int>>;
// application -> deployment -> requests in flight on this node's replicas and waiting in its routers
using Load = std::map<std::string, std::map<std::string, double>>;

struct ClusterRoutingHooks {
  std::function<Serving()> serving;                            // this node's, now
  std::function<std::vector<cluster::NodeRecord>()> nodes;     // every node's record, as last seen
  // The router of a deployment on this node; null when this node does not have it (yet).
  std::function<std::shared_ptr<Router>(const std::string& app, const std::string& deployment)> router;
  std::function<void()> publish;  // what this node serves changed: rewrite its record now
};

class ClusterRouting {
 public:
  // Listens on host:port (0: a free port) for the other nodes' calls and starts refreshing.
  // Throws cserve::Error when it cannot listen.
  ClusterRouting(std::string self, const std::string& host, int port, ClusterRoutingHooks hooks);
  ~ClusterRouting();
  ClusterRouting(const ClusterRouting&) = delete;
  ClusterRouting& operator=(const ClusterRouting&) = delete;

  int peer_port() const { return peer_port_; }
  // What this node serves, as last published.
  Serving serving() const CSERVE_EXCLUDES(mu_);
  // Its load per deployment, as of the last refresh (Router::local_load).
  Load load() const CSERVE_EXCLUDES(mu_);
  // Stops refreshing, closes the links (calls in flight there fail) and the peer port (calls
  // from other nodes still running are cancelled). Idempotent.
  void stop() CSERVE_EXCLUDES(mu_);

 private:
  using DeploymentKey = std::pair<std::string, std::string>;
  struct Fed {  // what a router was last given
    std::weak_ptr<Router> router;
    std::vector<std::shared_ptr<Replica>> stand_ins;
  };

  void run() CSERVE_EXCLUDES(mu_);
  void refresh() CSERVE_EXCLUDES(mu_);

  const std::string self_;
  const ClusterRoutingHooks hooks_;
  std::unique_ptr<boost::asio::io_context> io_;
  std::unique_ptr<PeerServer> server_;
  int peer_port_ = 0;
  std::thread io_thread_;
  std::thread refresh_thread_;

  mutable Mutex mu_;
  CondVar cv_;
  bool stopping_ CSERVE_GUARDED_BY(mu_) = false;
  Serving serving_ CSERVE_GUARDED_BY(mu_);
  Load load_ CSERVE_GUARDED_BY(mu_);
  // Refresh thread only.
  std::map<std::string, std::shared_ptr<PeerLink>> links_;                                    // by node
  std::map<DeploymentKey, std::map<std::string, std::vector<std::shared_ptr<PeerReplica>>>> stand_ins_;  // by node
  std::map<DeploymentKey, Fed> fed_;
  std::map<std::string, bool> connected_;  // each link, at the last refresh
};

}  // namespace cserve::detail
