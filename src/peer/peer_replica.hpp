// peer_replica.hpp — a replica on another node, as this node's routers see it (docs/cluster.md,
// "Requests across nodes"): a stand-in whose calls go over the PeerLink to that node, where the
// deployment's local router runs them on one of its own replicas. A node that serves n replicas
// of a deployment gets n stand-ins here, so that this node's router keeps at most
// n x max_ongoing_requests of its calls there, as it would with n local replicas.
//
// Its lifecycle is the other node's: start, reconfigure and check_health are refused (no
// controller drives a stand-in). It takes calls while its link is connected; when the link breaks
// the calls in flight fail with kUnavailable naming the node. Its request metrics are labelled
// replica="peer:<node>": the calls this node sent there and their round trip.
// Thread-safety: as Replica.
#pragma once

#include "peer/peer_link.hpp"
#include "replica/replica.hpp"

#include <memory>

namespace cserve {

class PeerReplica final : public Replica {
 public:
  PeerReplica(const std::string& app, const std::string& deployment, std::shared_ptr<PeerLink> link);

  void start(std::optional<Json> user_config, Done done) override;
  void reconfigure(Json user_config, Done done) override;
  void check_health(Done done) override;
  void stop(UniqueFunction<void()> done) override;
  void execute(detail::Call call, UniqueFunction<void()> finished) override;
  bool accepting() const override { return link_->connected(); }

  const std::shared_ptr<PeerLink>& link() const { return link_; }

 private:
  Failure not_here() const;

  const std::shared_ptr<PeerLink> link_;
};

}  // namespace cserve
