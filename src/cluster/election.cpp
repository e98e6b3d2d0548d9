#include "cluster/election.hpp"

namespace cserve::cluster {

Election::Election(Store& store, std::string key, std::string candidate, LeaseId lease)
    : store_(store), key_(std::move(key)), candidate_(std::move(candidate)), lease_(lease) {}

std::optional<Revision> Election::try_lead() {
  const TxnResult r = store_.txn({Compare::missing(key_)}, {Op::put(key_, candidate_, lease_)});
  if (r.succeeded) return r.revision;  // created now: its create revision is this revision
  auto now = leader();
  if (now && now->id == candidate_) return now->term;
  return std::nullopt;
}

std::optional<Leader> Election::leader() {
  Range r = store_.get(key_);
  if (r.kvs.empty()) return std::nullopt;
  return Leader{r.kvs[0].value, r.kvs[0].create_revision};
}

bool Election::fenced(Revision term, const std::vector<Op>& ops) {
  return store_.txn({Compare::create_revision_is(key_, term), Compare::value_is(key_, candidate_)}, ops).succeeded;
}

void Election::resign(Revision term) {
  store_.txn({Compare::create_revision_is(key_, term), Compare::value_is(key_, candidate_)}, {Op::erase(key_)});
}

}  // namespace cserve::cluster
