// router.hpp — sends a deployment's calls (HTTP requests and handle calls) to its replicas.
//
// Replica choice is power of two choices over in-flight counts the router reads without a round
// trip; a replica at max_ongoing_requests is skipped. A call for a multiplexed model goes to the
// least loaded replica holding that model (or running a call for it), else to one holding the
// fewest models (which then counts as holding it). When every replica is full (or none is
// running yet) the request waits in a FIFO queue of at most max_queued_requests (-1: unbounded);
// a full queue rejects at once (kOverloaded). Each completion frees a slot and dispatches the queue's head.
// A queued call whose request is cancelled (client gone, request_timeout_s passed) leaves the
// queue at once and is answered with its context's status; it never reaches a replica.
//
// In cluster mode the router also holds stand-ins for the deployment's replicas on other nodes
// (update_remote; peer/peer_replica.hpp). This node's replicas are preferred: a call goes to
// another node only when every local replica is full (or there is none), as Ray's proxies prefer
// their own node. Calls that come from other nodes go to local_sink(), a companion router over
// this node's replicas alone, so that no call is forwarded twice.
// Thread-safety: every member function is safe from any thread; the router's mutex guards the
// replica set and the queue and is never held while user code or a completion runs.
#pragma once

#include "replica/replica.hpp"

#include <cserve/detail/call.hpp>
#include <cserve/detail/mutex.hpp>

#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace cserve {

class Router : public detail::CallSink, public std::enable_shared_from_this<Router> {
 public:
  struct Config {
    int max_ongoing_requests = 5;
    int max_queued_requests = -1;
  };

  Router(std::string deployment, Config config, std::uint64_t seed);

  // Dispatches `call` now, queues it, or rejects it: kOverloaded when the queue is full,
  // kUnavailable when the router is closed.
  void submit(detail::Call call) override CSERVE_EXCLUDES(mu_);
  // Replaces the routable replicas (those RUNNING) and the limits; dispatches what can go now.
  void update(std::vector<std::shared_ptr<Replica>> replicas, Config config) CSERVE_EXCLUDES(mu_);
  // Replaces the stand-ins for other nodes' replicas; dispatches what can go now.
  void update_remote(std::vector<std::shared_ptr<Replica>> remote) CSERVE_EXCLUDES(mu_);
  // Routes to this node's replicas only (made on first use; it follows update(), close() and
  // reopen()).
  std::shared_ptr<detail::CallSink> local_sink() CSERVE_EXCLUDES(mu_);
  // Rejects every queued request and every later one with kUnavailable `reason` (the deployment was
  // deleted, or failed with no replica left to serve) until reopen().
  void close(const std::string& reason) CSERVE_EXCLUDES(mu_);
  void reopen() CSERVE_EXCLUDES(mu_);

  std::size_t queued() const CSERVE_EXCLUDES(mu_);
  // The work this node has for the deployment: calls in flight on its replicas and waiting here
  // or in local_sink() (calls on other nodes' stand-ins are theirs to count).
  double local_load() const CSERVE_EXCLUDES(mu_);
  // True when a replica can take calls now (a model is "ready").
  bool serving() const CSERVE_EXCLUDES(mu_);

 private:
  // A queue slot; a call taken out by its cancellation leaves an empty slot behind (run unset)
  // until it reaches the front.
  struct Queued {
    std::uint64_t seq;
    detail::Call call;
  };

  // Reserves a slot on a replica for a call (asking for `model_id`, when not empty); null when
  // every replica is full.
  std::shared_ptr<Replica> pick_locked(const std::string& model_id) CSERVE_REQUIRES(mu_);
  std::shared_ptr<Replica> pick_among_locked(const std::vector<std::shared_ptr<Replica>>& candidates,
                                             const std::string& model_id) CSERVE_REQUIRES(mu_);
  std::shared_ptr<Replica> pick_for_model_locked(const std::vector<std::shared_ptr<Replica>>& candidates,
                                                 const std::string& model_id) CSERVE_REQUIRES(mu_);
  void dispatch(std::shared_ptr<Replica> replica, detail::Call call) CSERVE_EXCLUDES(mu_);
  void drain() CSERVE_EXCLUDES(mu_);
  void drop_cancelled(std::uint64_t seq) CSERVE_EXCLUDES(mu_);

  // Constant after construction.
  const std::string deployment_;

  mutable detail::Mutex mu_;
  Config config_ CSERVE_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<Replica>> replicas_ CSERVE_GUARDED_BY(mu_);  // this node's
  std::vector<std::shared_ptr<Replica>> remote_ CSERVE_GUARDED_BY(mu_);    // stand-ins for other nodes'
  std::shared_ptr<Router> local_ CSERVE_GUARDED_BY(mu_);                   // local_sink(), once made
  std::deque<Queued> queue_ CSERVE_GUARDED_BY(mu_);            // in seq order
  std::size_t live_queued_ CSERVE_GUARDED_BY(mu_) = 0;         // slots of queue_ still holding a call
  std::uint64_t next_seq_ CSERVE_GUARDED_BY(mu_) = 0;
  std::minstd_rand rng_ CSERVE_GUARDED_BY(mu_);
  bool closed_ CSERVE_GUARDED_BY(mu_) = false;
  std::string closed_reason_ CSERVE_GUARDED_BY(mu_);
};

}  // namespace cserve
