#include <cserve/detail/batch_queue.hpp>

#include <gtest/gtest.h>

namespace cserve::detail {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Fixture {
  BatchQueue<int> q;
  BatchLimits limits{.max_batch_size = 3, .batch_wait_timeout = 10ms, .max_concurrent_batches = 1};
  Clock::time_point t0{};
  std::optional<Clock::time_point> wake;
  std::optional<std::vector<int>> next(Clock::duration at) { return q.next(limits, t0 + at, wake); }
};

TEST(BatchQueue, ClosesWhenFull) {
  Fixture f;
  f.q.push(1, f.t0);
  f.q.push(2, f.t0 + 1ms);
  EXPECT_FALSE(f.next(1ms));
  f.q.push(3, f.t0 + 2ms);
  auto batch = f.next(2ms);
  ASSERT_TRUE(batch);
  EXPECT_EQ(*batch, (std::vector<int>{1, 2, 3}));
  EXPECT_FALSE(f.wake);
}

TEST(BatchQueue, WaitStartsAtTheFirstItemAndEndsAtTheTimeout) {
  Fixture f;
  f.q.push(7, f.t0 + 5ms);
  EXPECT_FALSE(f.next(6ms));
  ASSERT_TRUE(f.wake);
  EXPECT_EQ(*f.wake, f.t0 + 15ms);  // first item + timeout, not the time of asking
  f.q.push(8, f.t0 + 12ms);
  EXPECT_FALSE(f.next(14ms));
  auto batch = f.next(15ms);
  ASSERT_TRUE(batch);
  EXPECT_EQ(*batch, (std::vector<int>{7, 8}));
}

TEST(BatchQueue, NeverExceedsMaxBatchSize) {
  Fixture f;
  for (int i = 0; i < 8; ++i) f.q.push(i, f.t0);
  f.limits.max_concurrent_batches = 4;
  std::vector<std::size_t> sizes;
  while (auto b = f.next(0ms)) sizes.push_back(b->size());
  EXPECT_EQ(sizes, (std::vector<std::size_t>{3, 3}));
  EXPECT_EQ(f.q.size(), 2u);  // the rest waits for its own timeout
  auto last = f.next(10ms);
  ASSERT_TRUE(last);
  EXPECT_EQ(last->size(), 2u);
}

TEST(BatchQueue, ConcurrentBatchesAreLimited) {
  Fixture f;
  for (int i = 0; i < 6; ++i) f.q.push(i, f.t0);
  ASSERT_TRUE(f.next(0ms));
  EXPECT_FALSE(f.next(0ms));  // one batch already running
  EXPECT_EQ(f.q.running(), 1);
  f.q.finished();
  EXPECT_TRUE(f.next(0ms));
}

TEST(BatchQueue, RemainderWaitsFromWhenItWasLeftBehind) {
  Fixture f;
  for (int i = 0; i < 4; ++i) f.q.push(i, f.t0);
  f.limits.max_concurrent_batches = 2;
  ASSERT_TRUE(f.next(20ms));  // takes 3, leaves 1 at t0 + 20ms
  EXPECT_FALSE(f.next(25ms));
  ASSERT_TRUE(f.wake);
  EXPECT_EQ(*f.wake, f.t0 + 30ms);
}

}  // namespace
}  // namespace cserve::detail
