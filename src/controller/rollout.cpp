#include "controller/rollout.hpp"

#include <algorithm>

namespace cserve {

RolloutPlan plan_rollout(const RolloutInput& in, const std::vector<ReplicaView>& replicas) {
  RolloutPlan plan;
  std::vector<const ReplicaView*> current;  // target version, not stopping
  std::vector<const ReplicaView*> old_running;
  bool old_stopping = false;
  int current_running = 0;
  for (const auto& r : replicas) {
    if (r.state == ReplicaState::STOPPING) {
      old_stopping = old_stopping || r.version != in.target_version;
    } else if (r.version == in.target_version) {
      current.push_back(&r);
      if (r.state == ReplicaState::RUNNING) ++current_running;
    } else if (r.state == ReplicaState::RUNNING) {
      old_running.push_back(&r);
    } else {
      plan.to_stop.push_back(r.id);  // an old replica that serves nobody yet
    }
  }

  const int target = std::max(0, in.target_replicas);
  int surplus = static_cast<int>(current.size()) - target;
  if (surplus < 0 && in.can_start) plan.to_start = -surplus;
  // Trim the surplus: PENDING first, then STARTING, then RUNNING; newest first within a state.
  for (ReplicaState s : {ReplicaState::PENDING, ReplicaState::STARTING, ReplicaState::RUNNING}) {
    for (auto it = current.rbegin(); it != current.rend() && surplus > 0; ++it) {
      if ((*it)->state != s) continue;
      plan.to_stop.push_back((*it)->id);
      if (s == ReplicaState::RUNNING) --current_running;
      --surplus;
    }
  }

  // Old running replicas go as new ones run, keeping running replicas at or above the target.
  const int old_count = static_cast<int>(old_running.size());
  int stop_old = std::clamp(current_running + old_count - target, 0, old_count);
  if (stop_old == 0 && old_count > 0 && in.new_replica_unplaceable && !old_stopping) stop_old = 1;
  for (int i = 0; i < stop_old; ++i) {
    plan.to_stop.push_back(old_running[static_cast<std::size_t>(i)]->id);
  }
  return plan;
}

}  // namespace cserve
