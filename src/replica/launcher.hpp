// launcher.hpp — how the controller makes a replica for a record it has placed: the seam between
// the control plane and where replicas run. LocalLauncher puts them on this process's worker
// pool; replicas in worker processes get a launcher of their own.
// Thread-safety: make() is called by the controller under its lock; it must not block.
#pragma once

#include "common/worker_pool.hpp"
#include "replica/replica.hpp"

#include <cserve/deployment.hpp>

#include <memory>

namespace cserve {

class ReplicaLauncher {
 public:
  virtual ~ReplicaLauncher() = default;
  // A replica of `def`, not started yet. `sinks` gives the constructor the routers of the
  // deployments bound into it; it lives as long as the replica needs it.
  virtual std::shared_ptr<Replica> make(ReplicaContext context, const detail::DeploymentDef& def,
                                        std::shared_ptr<const detail::FactoryContext> sinks) = 0;
};

class LocalLauncher final : public ReplicaLauncher {
 public:
  explicit LocalLauncher(WorkerPool& pool) : pool_(pool) {}
  std::shared_ptr<Replica> make(ReplicaContext context, const detail::DeploymentDef& def,
                                std::shared_ptr<const detail::FactoryContext> sinks) override;

 private:
  WorkerPool& pool_;  // outlives every replica (the runtime stops the pool last)
};

}  // namespace cserve
