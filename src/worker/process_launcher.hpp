// process_launcher.hpp — the launcher that puts each replica where its deployment's isolation
// says: on this process's worker pool (thread), or in a `cserve worker` process of its own
// (process) — one worker per replica, so a crash, a kill or a memory limit concerns one replica.
// Thread-safety: make() is safe from any thread.
#pragma once

#include "replica/launcher.hpp"

#include <string>

namespace cserve {

class IsolatingLauncher final : public ReplicaLauncher {
 public:
  // `worker_binary`: the cserve executable that runs `cserve worker`.
  IsolatingLauncher(ReplicaLauncher& in_process, std::string worker_binary);
  std::shared_ptr<Replica> make(ReplicaContext context, const detail::DeploymentDef& def,
                                std::shared_ptr<const detail::FactoryContext> sinks) override;

 private:
  ReplicaLauncher& in_process_;
  const std::string worker_binary_;
};

// The worker binary a serving process uses by default: $CSERVE_WORKER_BINARY, else this
// process's own executable when it is the cserve command, else "" (none).
std::string default_worker_binary();

}  // namespace cserve
