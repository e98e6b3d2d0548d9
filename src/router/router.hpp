// router.hpp — sends a deployment's calls (HTTP requests and handle calls) to its replicas.
//
// Replica choice is power of two choices over in-flight counts the router reads without a round
// trip; a replica at max_ongoing_requests is skipped. When every replica is full (or none is
// running yet) the request waits in a FIFO queue of at most max_queued_requests (-1: unbounded);
// a full queue rejects at once (kOverloaded). Each completion frees a slot and dispatches the queue's head.
// A queued call whose request is cancelled (client gone, request_timeout_s passed) leaves the
// queue at once and is answered with its context's status; it never reaches a replica.
// Thread-safety: every member function is safe from any thread; the router's mutex guards the
// replica set and the queue and is never held while user code or a completion runs.
#pragma once

#include "replica/replica.hpp"

#include <cserve/detail/call.hpp>

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
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
  void submit(detail::Call call) override;
  // Replaces the routable replicas (those RUNNING) and the limits; dispatches what can go now.
  void update(std::vector<std::shared_ptr<Replica>> replicas, Config config);
  // Rejects every queued request and every later one with kUnavailable `reason` (the deployment was
  // deleted, or failed with no replica left to serve) until reopen().
  void close(const std::string& reason);
  void reopen();

  std::size_t queued() const;

 private:
  // A queue slot; a call taken out by its cancellation leaves an empty slot behind (run unset)
  // until it reaches the front.
  struct Queued {
    std::uint64_t seq;
    detail::Call call;
  };

  std::shared_ptr<Replica> pick_locked();
  void dispatch(std::shared_ptr<Replica> replica, detail::Call call);
  void drain();
  void drop_cancelled(std::uint64_t seq);

  const std::string deployment_;
  mutable std::mutex mu_;
  Config config_;
  std::vector<std::shared_ptr<Replica>> replicas_;
  std::deque<Queued> queue_;   // in seq order
  std::size_t live_queued_ = 0;  // slots of queue_ still holding a call
  std::uint64_t next_seq_ = 0;
  std::minstd_rand rng_;
  bool closed_ = false;
  std::string closed_reason_;
};

}  // namespace cserve
