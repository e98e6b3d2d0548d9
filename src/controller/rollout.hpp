// rollout.hpp — what to start and stop so that a deployment converges on its target: pure logic,
// called by the controller every tick with the replicas it has.
//
// Rules:
//  * Replicas of the target version (PENDING, STARTING or RUNNING) are topped up to, or trimmed
//    to, target_replicas; trimming stops PENDING first, then STARTING, then the newest RUNNING.
//    A change of target_replicas alone therefore restarts no survivor.
//  * Replicas of another version that are not RUNNING stop at once: they serve nobody.
//  * Old RUNNING replicas stop only as new ones become RUNNING (a rolling update never lowers
//    the number of running replicas below the target), oldest first...
//  * ...unless a new replica cannot be placed for lack of resources: then one old replica at a
//    time stops to make room (requests queue meanwhile; none fail).
// Thread-safety: a pure function.
#pragma once

#include <cserve/status.hpp>

#include <string>
#include <vector>

namespace cserve {

struct ReplicaView {
  std::string id;
  std::string version;
  ReplicaState state = ReplicaState::PENDING;
};

struct RolloutInput {
  std::string target_version;
  int target_replicas = 0;
  bool can_start = true;            // false once the deployment has failed
  bool new_replica_unplaceable = false;  // a PENDING target replica fit nowhere last tick
};

struct RolloutPlan {
  int to_start = 0;
  std::vector<std::string> to_stop;  // ids
};

// `replicas` in creation order (oldest first).
RolloutPlan plan_rollout(const RolloutInput& in, const std::vector<ReplicaView>& replicas);

}  // namespace cserve
