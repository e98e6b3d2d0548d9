// cserve/replica_context.hpp — who am I: the identity and resources of the replica whose code is
// running on this thread.
// Thread-safety: valid on the thread running a replica's constructor, handler or hook, for the
// duration of that call.
#pragma once

#include <cserve/resources.hpp>

#include <string>
#include <vector>

namespace cserve {

struct ReplicaContext {
  std::string app_name;
  std::string deployment;
  std::string replica_id;
  std::vector<int> gpu_ids;  // the GPUs placement gave this replica (empty when it asked for none)
  Resources resources;       // what the replica reserved
};

// The context of the replica running on this thread. Throws cserve::Error when called outside
// replica code.
const ReplicaContext& get_replica_context();

}  // namespace cserve
