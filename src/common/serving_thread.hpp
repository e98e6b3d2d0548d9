// serving_thread.hpp — what a thread on the request path does first: take its name (as top -H,
// ps -L and debuggers show it, at most 15 characters: "cserve-http", "cserve-worker") and its
// scheduling policy.
//
// The policy: SCHED_BATCH by default (Linux). A request passes from an HTTP I/O thread to a worker
// and its answer to the client; under the default policy each wake-up of one of these threads
// preempts whatever runs on the CPU it lands on — often the thread that woke it, or the client —
// and on a small machine those preemptions are a good part of a request's cost. A SCHED_BATCH
// thread that wakes waits for the running one to block or use up its slice instead, and is
// otherwise scheduled as usual (same weight, same fairness). bench/README.md measures it:
// less CPU per request, more requests/s, lower latency at one connection and at 64.
// Thread-safety: acts on the calling thread only.
#pragma once

namespace cserve {

struct ThreadPolicy {
  bool batch_scheduling = true;  // false: the default policy (SCHED_OTHER)
};

// Applies `policy` to the calling thread, then names it (so a thread found by its name has its
// policy already). A system that refuses SCHED_BATCH leaves the thread as it was (logged once as
// a warning).
void start_serving_thread(const char* name, ThreadPolicy policy);

}  // namespace cserve
