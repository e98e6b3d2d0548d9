#include "controller/cluster_plan.hpp"

#include <algorithm>
#include <climits>
#include <tuple>

namespace cserve {
namespace {

// Takes one replica out of `node` when it fits there.
bool take(const Resources& want, NodeResources& node) {
  std::vector<NodeResources> one{node};
  PlacementResult r = place(want, one);
  if (!r.allocation) return false;
  apply_allocation(one, *r.allocation, -1);
  node = std::move(one[0]);
  return true;
}

int share_of(const Shares& shares, const std::string& node, const DeploymentKey& d) {
  auto n = shares.find(node);
  if (n == shares.end()) return 0;
  auto it = n->second.find(d);
  return it == n->second.end() ? 0 : it->second;
}

}  // namespace

ClusterPlan plan_cluster(const std::vector<Demand>& demands, const std::vector<NodeResources>& nodes,
                         const Shares& in_force) {
  ClusterPlan plan;
  std::vector<NodeResources> free = nodes;
  std::vector<int> unplaced;
  // Keep what the plan in force gives each live node; when the deployment now wants fewer, one
  // node after the other gives one up, so that what stays is still spread.
  for (const Demand& d : demands) {
    int left = std::max(0, d.replicas);
    std::vector<int> keepable;
    for (const NodeResources& node : free) {
      keepable.push_back(std::min(share_of(in_force, node.node_id, d.deployment), d.max_per_node.value_or(INT_MAX)));
    }
    for (bool kept = true; left > 0 && kept;) {
      kept = false;
      for (std::size_t n = 0; n < free.size() && left > 0; ++n) {
        if (keepable[n] == 0) continue;
        --keepable[n];
        if (!take(d.per_replica, free[n])) {
          keepable[n] = 0;  // the node no longer fits it (its resources shrank)
          continue;
        }
        ++plan.shares[free[n].node_id][d.deployment];
        --left;
        kept = true;
      }
    }
    unplaced.push_back(left);
  }
  // Spread the rest.
  for (std::size_t i = 0; i < demands.size(); ++i) {
    const Demand& d = demands[i];
    for (int placed = 0; placed < unplaced[i]; ++placed) {
      NodeResources* best = nullptr;
      bool capped = false;  // a node it fits on holds max_replicas_per_node already
      auto rank = [&](const NodeResources& n) {
        return std::make_tuple(share_of(plan.shares, n.node_id, d.deployment), -n.cpus, n.node_id);
      };
      for (NodeResources& node : free) {
        NodeResources trial = node;
        if (!take(d.per_replica, trial)) continue;
        if (d.max_per_node && share_of(plan.shares, node.node_id, d.deployment) >= *d.max_per_node) {
          capped = true;
          continue;
        }
        if (!best || rank(node) < rank(*best)) best = &node;
      }
      if (!best) {
        const int missing = unplaced[i] - placed;
        const std::string why = capped ? "every node with room holds max_replicas_per_node (" +
                                             std::to_string(*d.max_per_node) + ") already"
                                       : place(d.per_replica, free).reason;
        plan.shortfalls.push_back({d.deployment, "deployment '" + d.deployment.second + "' of application '" +
                                                     d.deployment.first + "': " + std::to_string(missing) + " of " +
                                                     std::to_string(d.replicas) + " replicas fit on no node: " + why});
        break;
      }
      take(d.per_replica, *best);
      ++plan.shares[best->node_id][d.deployment];
    }
  }
  return plan;
}

}  // namespace cserve
