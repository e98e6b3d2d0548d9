// answer_slot.hpp — who writes the answer of a connection's request in progress: the worker
// thread that produced it, straight to the socket with no hop back to the I/O thread, or the
// connection's I/O thread (a timeout, a client gone, a drain, a streamed answer, a rejection).
// Whoever claims the slot first owns the answer. While a worker holds it, the I/O thread keeps
// off the connection's answer state and socket; when it must act (a close, a timeout, pipelined
// bytes to parse) it leaves a "tell me" mark and the worker posts back once the answer is out.
//
//   arm(seq) --> kArmed --worker_claim--> kWorkerWriting --worker_written--> kWritten
//                  |                           \--(rest posted) io_take_over--> kIoOwned
//                  +--io_claim------------------------------------------------> kIoOwned
//
// The state, the mark and the request's number share one atomic word, so that a late answer
// (for a request the I/O thread gave up on) cannot claim the next request's slot. Release on
// every transition and acquire on every read order the connection's fields between the two
// threads: what the I/O thread set before arm() is the worker's to read after its claim, and
// what the worker set before kWritten is the I/O thread's after it sees kWritten.
// Thread-safety: arm/io_* on the connection's I/O thread only; worker_* on the answering thread.
#pragma once

#include <atomic>
#include <cstdint>

namespace cserve {

class AnswerSlot {
 public:
  enum class State : std::uint64_t { kIdle = 0, kArmed = 1, kWorkerWriting = 2, kWritten = 3, kIoOwned = 4 };
  // What the I/O thread found: the answer is its own; not written yet, and the I/O thread will
  // hear of it (a worker posts back once it has written it, or posts the answer itself); or a
  // worker wrote it.
  enum class Io { kOwned, kPending, kWritten };

  // Request `seq` was submitted: the first claim wins its answer.
  void arm(std::uint64_t seq) { word_.store(pack(seq, State::kArmed, false), std::memory_order_release); }

  // The worker with request `seq`'s answer: true when the answer is now its to write.
  bool worker_claim(std::uint64_t seq) {
    std::uint64_t w = word_.load(std::memory_order_acquire);
    while (seq_of(w) == seq && state_of(w) == State::kArmed) {
      if (word_.compare_exchange_weak(w, pack(seq, State::kWorkerWriting, marked(w)), std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
        return true;
      }
    }
    return false;
  }
  // The worker wrote the whole answer. True when the I/O thread asked to be told (post to it).
  bool worker_written(std::uint64_t seq) {
    return marked(word_.exchange(pack(seq, State::kWritten, false), std::memory_order_acq_rel));
  }

  // The I/O thread takes the answer unless a worker has it (kPending: the worker will post back).
  Io io_claim(std::uint64_t seq) { return io_mark(seq, /*claim=*/true); }
  // The I/O thread wants to hear when the answer is written, without taking it.
  Io io_wait(std::uint64_t seq) { return io_mark(seq, /*claim=*/false); }
  // The I/O thread takes over an answer a worker began and posted to it (the socket was full).
  void io_take_over(std::uint64_t seq) { word_.store(pack(seq, State::kIoOwned, false), std::memory_order_release); }
  // True when a worker has written request `seq`'s answer.
  bool io_written(std::uint64_t seq) const {
    const std::uint64_t w = word_.load(std::memory_order_acquire);
    return seq_of(w) == seq && state_of(w) == State::kWritten;
  }

 private:
  static constexpr std::uint64_t kStateMask = 7;
  static constexpr std::uint64_t kMark = 8;
  static constexpr int kSeqShift = 4;

  static std::uint64_t pack(std::uint64_t seq, State s, bool mark) {
    return (seq << kSeqShift) | static_cast<std::uint64_t>(s) | (mark ? kMark : 0);
  }
  static std::uint64_t seq_of(std::uint64_t w) { return w >> kSeqShift; }
  static State state_of(std::uint64_t w) { return static_cast<State>(w & kStateMask); }
  static bool marked(std::uint64_t w) { return (w & kMark) != 0; }
  Io io_mark(std::uint64_t seq, bool claim) {
    std::uint64_t w = word_.load(std::memory_order_acquire);
    while (true) {
      if (seq_of(w) != seq) return Io::kOwned;  // not armed for this request: nobody else has it
      switch (state_of(w)) {
        case State::kWritten:
          return Io::kWritten;
        case State::kIdle:
        case State::kIoOwned:
          return Io::kOwned;
        case State::kArmed: {
          const std::uint64_t next = claim ? pack(seq, State::kIoOwned, false) : (w | kMark);
          if (word_.compare_exchange_weak(w, next, std::memory_order_acq_rel, std::memory_order_acquire)) {
            return claim ? Io::kOwned : Io::kPending;
          }
          break;
        }
        case State::kWorkerWriting:
          if (marked(w)) return Io::kPending;
          if (word_.compare_exchange_weak(w, w | kMark, std::memory_order_acq_rel, std::memory_order_acquire)) {
            return Io::kPending;
          }
          break;
      }
    }
  }

  std::atomic<std::uint64_t> word_{0};
};

}  // namespace cserve
