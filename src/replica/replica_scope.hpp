// replica_scope.hpp — which replica's code runs on this thread: set around every piece of replica
// code, read by get_replica_context(), current_resumer() and log lines.
// Thread-safety: thread-local state.
#pragma once

#include "common/logging.hpp"

#include <cserve/detail/resumer.hpp>
#include <cserve/replica_context.hpp>

#include <memory>

namespace cserve {

class LocalReplica;

// The context of the replica whose code runs on this thread, or null.
const ReplicaContext* current_replica_context();
// The replica whose code runs on this thread, or null.
std::shared_ptr<LocalReplica> current_local_replica();

// Makes `r` the replica of this thread for a scope (null: code outside any replica).
class ScopedReplica {
 public:
  explicit ScopedReplica(LocalReplica* r);
  ~ScopedReplica();
  ScopedReplica(const ScopedReplica&) = delete;
  ScopedReplica& operator=(const ScopedReplica&) = delete;

 private:
  LocalReplica* saved_;
  log::ScopedFields fields_;  // log lines written here carry the replica's names
};

}  // namespace cserve
