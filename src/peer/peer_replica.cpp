#include "peer/peer_replica.hpp"

#include "common/asio.hpp"

#include <cserve/detail/call_context.hpp>

namespace cserve {

PeerReplica::PeerReplica(const std::string& app, const std::string& deployment, std::shared_ptr<PeerLink> link)
    : Replica(ReplicaContext{app, deployment, "peer:" + link->node(), {}, {}}), link_(std::move(link)) {}

Failure PeerReplica::not_here() const {
  return {ErrorCode::kInternal, "replicas of " + context().deployment + " on node '" + link_->node() +
                                    "' are managed by that node's controller"};
}

void PeerReplica::start(std::optional<Json>, Done done) { done(not_here()); }
void PeerReplica::reconfigure(Json, Done done) { done(not_here()); }
void PeerReplica::check_health(Done done) { done(not_here()); }

void PeerReplica::stop(UniqueFunction<void()> done) {
  asio::post(link_->io(), std::move(done));  // nothing here to stop; never inside stop()
}

void PeerReplica::execute(detail::Call call, UniqueFunction<void()> finished) {
  std::shared_ptr<CallClient> client = link_->client();
  if (!client) {
    call.reject({ErrorCode::kUnavailable, "node '" + link_->node() + "' is not reachable from this node"});
    return finished();
  }
  if (call.context->cancelled()) {
    call.reject(call.context->failure());
    return finished();
  }
  // The call's request id, deadline and cancellation travel with it (the header is made from the
  // current call). The callable lives until the call has finished.
  std::shared_ptr<detail::ReplicaCallable> target =
      remote_callable(std::move(client), context().deployment, context().app_name);
  detail::ScopedCall in_call(call.context);
  call.run(*target, [target, finished = std::move(finished)]() mutable { finished(); });
}

}  // namespace cserve
