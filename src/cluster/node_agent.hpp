// node_agent.hpp — a node's membership in the cluster (docs/cluster.md). The agent registers the
// node at `nodes/<id>` under a lease of its own (kept alive by a LeaseKeeper), refreshes the record
// — free resources, replicas, heartbeat — every third of the TTL, and stands for controller
// leader on the same lease, so that a node that dies or is cut off loses both together. It keeps
// a mirror of every node's record for status.
//
//   kRegistering --created nodes/<id>--> kRegistered --lease lost--> kRegistering --> ...
//     |  the name is held by a live node, or the                  (on_lost runs first: what the
//     |  store does not answer: retried every ttl/3                node ran under the lease is
//     v                                                            the cluster's to replace)
//   stop() from any state: revokes the lease (the node leaves at once; the lead passes on)
//
// Thread-safety: every member function may be called from any thread. `usage` and `on_lost` run
// on the agent's thread.
#pragma once

#include "cluster/election.hpp"
#include "cluster/lease_keeper.hpp"
#include "cluster/node_record.hpp"
#include "cluster/prefix_mirror.hpp"

#include <cserve/detail/mutex.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace cserve::cluster {

inline constexpr char kControllerElection[] = "election/controller";

// What changes in a node's record between heartbeats.
struct NodeUsage {
  std::map<std::string, double> available;
  int replicas = 0;
  std::map<std::string, std::map<std::string, int>> serving;  // NodeRecord::serving
  std::map<std::string, std::map<std::string, double>> load;  // NodeRecord::load
};

struct NodeAgentOptions {
  NodeRecord record;  // id, address, ports, resources: fixed for the agent's life
  std::chrono::seconds ttl{10};
  std::function<NodeUsage()> usage;                    // read at each heartbeat; none: all free
  std::function<void(const std::string& why)> on_lost;  // the lease was lost
};

class NodeAgent {
 public:
  enum class State { kRegistering, kRegistered, kStopped };

  NodeAgent(Store& store, NodeAgentOptions options);
  ~NodeAgent();  // stop()
  NodeAgent(const NodeAgent&) = delete;
  NodeAgent& operator=(const NodeAgent&) = delete;

  // Waits until registered; false after `timeout`, with problem() saying why.
  bool wait_registered(std::chrono::milliseconds timeout);
  State state() const;
  // Why the agent is not registered, or why the last heartbeat failed; nullopt when all is well.
  std::optional<std::string> problem() const;
  // Whether this node's controller leads now (as the mirror of the election key says).
  bool leading() const;
  // The leading node, as the mirror of the election key says.
  std::optional<std::string> leader() const;
  // The term this node leads in, as of its last attempt to lead (writes as leader are fenced on
  // it: Election::fenced); nullopt while it does not lead.
  std::optional<Revision> term() const;
  // Every registered node, from the mirror (the last snapshot while the store is away).
  std::vector<NodeRecord> nodes() const;
  // Whether the node list is current (the mirror's watch runs), else why not.
  std::optional<std::string> nodes_problem() const;
  // How many times the lease was lost (and the node registered again).
  int lease_losses() const;
  const std::string& id() const { return options_.record.id; }

  // Rewrites the node's record now rather than at the next heartbeat (what it serves changed).
  void refresh();
  // Revokes the lease and stops the agent's thread. Idempotent.
  void stop();

 private:
  void run();
  bool register_node();  // on the agent thread; false: problem_ says why
  void heartbeat();      // on the agent thread, while registered
  void lead();           // on the agent thread: leads if nobody does
  NodeRecord current_record();
  void set_problem(std::optional<std::string> why);

  Store& store_;
  const NodeAgentOptions options_;
  const std::int64_t started_ms_;
  std::unique_ptr<PrefixMirror> nodes_;
  std::unique_ptr<PrefixMirror> election_key_;  // a change (the leader gone) makes the agent try to lead

  // Agent thread only.
  LeaseId lease_ = 0;
  Revision created_ = 0;  // the create revision of this registration's record
  std::unique_ptr<Election> election_;
  std::unique_ptr<LeaseKeeper> keeper_;

  mutable detail::Mutex mu_;
  detail::CondVar cv_;
  State state_ CSERVE_GUARDED_BY(mu_) = State::kRegistering;
  bool stopping_ CSERVE_GUARDED_BY(mu_) = false;
  std::optional<std::string> lost_ CSERVE_GUARDED_BY(mu_);  // set by the keeper's thread
  std::optional<std::string> problem_ CSERVE_GUARDED_BY(mu_);
  bool nudged_ CSERVE_GUARDED_BY(mu_) = false;  // the election key changed
  bool refresh_ CSERVE_GUARDED_BY(mu_) = false;  // refresh() asked for a heartbeat now
  int lease_losses_ CSERVE_GUARDED_BY(mu_) = 0;
  Revision term_ CSERVE_GUARDED_BY(mu_) = 0;  // the term this node leads in; 0 while it does not
  std::thread thread_;
};

}  // namespace cserve::cluster
