// AnswerSlot: who writes a request's answer, the worker that produced it or the I/O thread.
#include "proxy/answer_slot.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace cserve {
namespace {

using Io = AnswerSlot::Io;

TEST(AnswerSlot, AWorkerThatClaimsFirstWritesAndTheIoThreadSeesItWritten) {
  AnswerSlot slot;
  slot.arm(1);
  EXPECT_FALSE(slot.io_written(1));
  ASSERT_TRUE(slot.worker_claim(1));
  EXPECT_EQ(slot.io_claim(1), Io::kPending);  // the I/O thread keeps off while the worker writes
  EXPECT_TRUE(slot.worker_written(1));        // ...and asked to hear: the worker posts back
  EXPECT_TRUE(slot.io_written(1));
  EXPECT_EQ(slot.io_claim(1), Io::kWritten);
}

TEST(AnswerSlot, AWorkerWritingUnwatchedDoesNotPostBack) {
  AnswerSlot slot;
  slot.arm(1);
  ASSERT_TRUE(slot.worker_claim(1));
  EXPECT_FALSE(slot.worker_written(1));
  EXPECT_TRUE(slot.io_written(1));
}

TEST(AnswerSlot, TheIoThreadThatClaimsFirstKeepsTheAnswer) {
  AnswerSlot slot;
  slot.arm(3);
  EXPECT_EQ(slot.io_claim(3), Io::kOwned);  // a timeout, or a close
  EXPECT_FALSE(slot.worker_claim(3));       // the late answer is posted and dropped
  EXPECT_EQ(slot.io_claim(3), Io::kOwned);
  EXPECT_FALSE(slot.io_written(3));
}

TEST(AnswerSlot, ALateAnswerCannotClaimTheNextRequest) {
  AnswerSlot slot;
  slot.arm(1);
  EXPECT_EQ(slot.io_claim(1), Io::kOwned);  // request 1 timed out
  slot.arm(2);
  EXPECT_FALSE(slot.worker_claim(1));
  EXPECT_TRUE(slot.worker_claim(2));
}

TEST(AnswerSlot, AWaitMarkBeforeTheClaimIsKeptForTheWorker) {
  AnswerSlot slot;
  slot.arm(5);
  EXPECT_EQ(slot.io_wait(5), Io::kPending);  // pipelined bytes: tell me when it is written
  ASSERT_TRUE(slot.worker_claim(5));
  EXPECT_TRUE(slot.worker_written(5));
  EXPECT_EQ(slot.io_wait(5), Io::kWritten);
}

TEST(AnswerSlot, AWaitMarkLeavesTheAnswerToWhoeverClaimsIt) {
  AnswerSlot slot;
  slot.arm(5);
  EXPECT_EQ(slot.io_wait(5), Io::kPending);
  EXPECT_EQ(slot.io_claim(5), Io::kOwned);  // the answer was posted (not claimed by a worker)
  EXPECT_FALSE(slot.worker_claim(5));
}

TEST(AnswerSlot, TheIoThreadTakesOverTheRestOfAWorkersAnswer) {
  AnswerSlot slot;
  slot.arm(9);
  ASSERT_TRUE(slot.worker_claim(9));
  EXPECT_EQ(slot.io_claim(9), Io::kPending);
  slot.io_take_over(9);  // the worker posted what the socket did not take
  EXPECT_EQ(slot.io_claim(9), Io::kOwned);
  EXPECT_FALSE(slot.io_written(9));
}

// Exactly one side wins each request, however the two threads interleave.
TEST(AnswerSlot, ExactlyOneSideWinsEveryRace) {
  AnswerSlot slot;
  constexpr int kRounds = 20000;
  int worker_wins = 0, io_wins = 0;
  for (std::uint64_t seq = 1; seq <= kRounds; ++seq) {
    slot.arm(seq);
    bool worker = false;
    std::thread t([&] { worker = slot.worker_claim(seq); });
    const Io io = slot.io_claim(seq);
    t.join();
    if (worker) {
      EXPECT_EQ(io, Io::kPending);
      EXPECT_TRUE(slot.worker_written(seq));  // the I/O thread asked: the worker posts back
      ++worker_wins;
    } else {
      EXPECT_EQ(io, Io::kOwned);
      ++io_wins;
    }
  }
  EXPECT_EQ(worker_wins + io_wins, kRounds);
}

}  // namespace
}  // namespace cserve
