// cluster_plan.hpp — how many replicas of each deployment each node of a cluster runs (cluster
// mode, docs/cluster.md): pure logic over the deployments' demands, the live nodes' resources and
// the plan in force. The leader plans; each node's own controller then runs its share.
//
// Stable first: a node keeps the replicas the plan in force gives it, as far as the deployment
// still wants them and the node still fits them, so a new leader planning from the same inputs
// changes nothing and no healthy replica restarts. Then spread: each replica still wanted goes to
// the node running the fewest replicas of its deployment (then the one with the most free CPU,
// then by name) among those it fits on and that hold fewer than its max_replicas_per_node. A
// replica that fits nowhere is a shortfall, with a message naming what it needs and what each node
// has free, or the per-node limit (it waits: nodes may join).
// Thread-safety: pure functions over values.
#pragma once

#include "controller/placement.hpp"

#include <cserve/autoscaling.hpp>
#include <cserve/resources.hpp>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cserve {

using DeploymentKey = std::pair<std::string, std::string>;  // (application, deployment)
// node id -> deployment -> replicas on that node (zero counts are left out).
using Shares = std::map<std::string, std::map<DeploymentKey, int>>;

struct Demand {
  DeploymentKey deployment;
  int replicas = 0;  // with autoscaling: the leader's target, from the load all nodes publish
  Resources per_replica;
  std::optional<int> max_per_node;  // max_replicas_per_node
  std::optional<AutoscalingConfig> autoscaling;
};

struct Shortfall {
  DeploymentKey deployment;
  std::string message;  // "deployment 'D' of application 'A': 1 of 13 replicas fit on no node: needs ..."
};

struct ClusterPlan {
  Shares shares;
  std::vector<Shortfall> shortfalls;  // one per deployment with replicas placed nowhere
};

// `nodes` are the live nodes with everything they offer (what cserve's own replicas hold is
// planned here, so it counts as free).
ClusterPlan plan_cluster(const std::vector<Demand>& demands, const std::vector<NodeResources>& nodes,
                         const Shares& in_force);

}  // namespace cserve
