// cluster_control.hpp — the cluster's control plane as one node runs it (docs/cluster.md).
//
//  * Every node may take a deployed config: submit() writes it at `config/serve` (the cluster's
//    target, as `cserve deploy` gives it to any node).
//  * The leading node plans how many replicas of each deployment each live node runs
//    (cluster_plan.hpp) and writes each node's share as a config of its own at `assign/<node>`,
//    with the cluster's shortfalls (replicas that fit on no node) — all in one transaction fenced
//    on its term, so a deposed leader writes nothing. A node that has just become leader while a node with replicas
//    is missing waits up to a TTL for it to register again before moving its replicas.
//  * An autoscaled deployment's replica count is the leader's: it sums the load every node
//    publishes (requests in flight and queued there) and runs the autoscaling policy over it;
//    each node runs its share as a fixed count.
//  * Every node runs its share through its own controller (which starts, health-checks, rolls and
//    restarts replicas without the leader), and keeps running it while etcd or the leader is away.
//
// Thread-safety: every member function may be called from any thread. The hooks run on the
// control's thread.
#pragma once

#include "cluster/election.hpp"
#include "cluster/node_agent.hpp"
#include "cluster/prefix_mirror.hpp"
#include "controller/autoscaling_policy.hpp"
#include "controller/cluster_plan.hpp"

#include <cserve/detail/mutex.hpp>
#include <cserve/json.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace cserve::detail {

inline constexpr char kClusterConfigKey[] = "config/serve";
inline constexpr char kAssignPrefix[] = "assign/";

class ClusterControl {
 public:
  struct Hooks {
    // The replicas and resources a config asks for (loads its libraries). Throws ConfigError.
    std::function<std::vector<Demand>(const Json& config)> demands;
    // Makes `config` what this node runs (returns at once; the node's controller rolls it out).
    std::function<void(const Json& config)> apply;
  };

  ClusterControl(cluster::Store& store, cluster::NodeAgent& agent, std::chrono::seconds ttl, Hooks hooks);
  ~ClusterControl();  // stop()
  ClusterControl(const ClusterControl&) = delete;
  ClusterControl& operator=(const ClusterControl&) = delete;

  // Makes `config` the cluster's target, and returns once this node runs its share of it (or
  // after `wait`: the leader may be planning later, e.g. while a node re-registers). Throws
  // cserve::Error (unavailable) when etcd does not take it.
  void submit(const Json& config, std::chrono::milliseconds wait);
  // The cluster's config as this node last saw it; null before any.
  Json config() const;
  // Replicas the leader could place on no node, as this node last heard.
  std::vector<Shortfall> shortfalls() const;
  // Why the leader could not plan (when this node leads) or this node could not run its share.
  std::vector<std::string> problems() const;
  // Stops planning and following (the node keeps what it runs). Idempotent.
  void stop();

 private:
  void run();
  void follow();                    // runs this node's share
  void lead(cluster::Revision term);  // plans and writes the shares
  // demands_ with each autoscaled deployment's replicas set to the leader's target for the load
  // the nodes publish (autoscaling_policy.hpp, over the sum).
  std::vector<Demand> autoscaled(const std::vector<cluster::NodeRecord>& records, const Shares& in_force,
                                 std::chrono::steady_clock::time_point now);

  cluster::Store& store_;
  cluster::NodeAgent& agent_;
  const std::chrono::seconds ttl_;
  const Hooks hooks_;
  cluster::Election election_;  // for fenced writes only (the agent stands for leader)

  // The control's thread only.
  cluster::Revision applied_ = 0;  // the mod revision of the assignment this node runs
  cluster::Revision led_term_ = 0;
  std::chrono::steady_clock::time_point led_since_;
  cluster::Revision seen_config_ = -1;      // the config revision last looked at
  Json planned_config_;                     // the config the plan is of (the last one that loaded)
  cluster::Revision planned_revision_ = 0;  // and its revision
  std::vector<Demand> demands_;             // what it asks for
  std::optional<std::chrono::steady_clock::time_point> retry_plan_;   // the config did not load: when to try again
  std::optional<std::chrono::steady_clock::time_point> retry_apply_;  // this node's share did not run: when to try again
  struct Scaling {                          // an autoscaled deployment, as this leader scales it
    AutoscalingState state;
    int target = 0;
  };
  std::map<DeploymentKey, Scaling> scaling_;

  mutable Mutex mu_;
  CondVar cv_;
  bool stopping_ CSERVE_GUARDED_BY(mu_) = false;
  bool nudged_ CSERVE_GUARDED_BY(mu_) = false;
  std::optional<std::string> apply_error_ CSERVE_GUARDED_BY(mu_);
  std::optional<std::string> plan_error_ CSERVE_GUARDED_BY(mu_);
  cluster::Revision applied_config_ CSERVE_GUARDED_BY(mu_) = 0;  // the config revision this node's share is of
  // Last: their callbacks nudge the thread, so they go before the rest.
  std::unique_ptr<cluster::PrefixMirror> config_;
  std::unique_ptr<cluster::PrefixMirror> assignments_;
  std::thread thread_;
};

}  // namespace cserve::detail
