// election.hpp — one leader among candidates, on a key of the Store, and the fence on its writes.
//
//   Election e(store, "election/controller", "node-2", lease);
//   if (auto term = e.try_lead()) {
//     e.fenced(*term, {Op::put("apps/a", spec)});    // refused once another leader took over
//   }
//
// A candidate leads when it creates the key (create-if-missing, with the candidate's lease); its
// term is the key's create revision. The key goes when the leader resigns or its lease ends (its
// node died, or was cut off past the TTL); the next candidate to try then leads, with a higher
// term. Every leader write is a transaction conditioned on "the key still has my term": a deposed
// leader that has not noticed yet writes nothing.
// Thread-safety: every member function may be called from any thread.
#pragma once

#include "cluster/store.hpp"

#include <optional>
#include <string>
#include <vector>

namespace cserve::cluster {

struct Leader {
  std::string id;
  Revision term = 0;  // the leader key's create revision
};

class Election {
 public:
  Election(Store& store, std::string key, std::string candidate, LeaseId lease);

  // Leads now (the term), having won or already holding the key; nullopt when another leads.
  std::optional<Revision> try_lead();
  // Who leads, as the store says now.
  std::optional<Leader> leader();
  // Applies `ops` only while this candidate leads in `term`; false (nothing written) otherwise.
  bool fenced(Revision term, const std::vector<Op>& ops);
  // Gives the lead up (deletes the key if it is still this term's).
  void resign(Revision term);

  const std::string& key() const { return key_; }
  const std::string& candidate() const { return candidate_; }

 private:
  Store& store_;
  const std::string key_;
  const std::string candidate_;
  const LeaseId lease_;
};

}  // namespace cserve::cluster
