#include "replica/launcher.hpp"

#include "replica/local_replica.hpp"

namespace cserve {

std::shared_ptr<Replica> LocalLauncher::make(ReplicaContext context, const detail::DeploymentDef& def,
                                             std::shared_ptr<const detail::FactoryContext> sinks) {
  LocalReplica::Maker maker = [sinks = std::move(sinks), make = def.factory] { return make(*sinks); };
  return std::make_shared<LocalReplica>(std::move(context), pool_.make_strand(), std::move(maker));
}

}  // namespace cserve
