// WorkerPool and its strands: order, no overlap within a strand, parallelism across strands,
// delayed work, and what stop() runs and drops.
#include "common/worker_pool.hpp"

#include <gtest/gtest.h>

#include <sched.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <vector>

namespace cserve {
namespace {

using namespace std::chrono_literals;

TEST(WorkerPool, AStrandRunsItsWorkInOrderAndNeverTwoAtOnce) {
  WorkerPool pool(4);
  auto strand = pool.make_strand();
  std::vector<int> seen;  // touched only by the strand's work
  std::atomic<int> inside{0};
  std::atomic<bool> overlapped{false};
  std::promise<void> all_done;
  constexpr int kItems = 5000;
  // Posted from several threads at once; each thread's items keep their order.
  std::vector<std::thread> posters;
  for (int t = 0; t < 4; ++t) {
    posters.emplace_back([&, t] {
      for (int i = 0; i < kItems / 4; ++i) {
        strand->post([&, t, i] {
          if (inside.fetch_add(1) != 0) overlapped = true;
          seen.push_back(t * kItems + i);
          inside.fetch_sub(1);
          if (seen.size() == kItems) all_done.set_value();
        });
      }
    });
  }
  for (auto& p : posters) p.join();
  ASSERT_EQ(all_done.get_future().wait_for(30s), std::future_status::ready);
  EXPECT_FALSE(overlapped.load());
  std::vector<int> last(4, -1);
  for (int v : seen) {
    const int t = v / kItems, i = v % kItems;
    EXPECT_GT(i, last[t]) << "thread " << t << "'s items out of order";
    last[t] = i;
  }
}

// A strand blocked in its work does not hold up another strand.
TEST(WorkerPool, StrandsRunInParallel) {
  // Declared before the pool: its stop() waits for the blocked work, which uses them.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> entered, other_ran;
  WorkerPool pool(2);
  auto blocked = pool.make_strand();
  auto other = pool.make_strand();
  blocked->post([&entered, released] {
    entered.set_value();
    released.wait();
  });
  ASSERT_EQ(entered.get_future().wait_for(10s), std::future_status::ready);
  other->post([&] { other_ran.set_value(); });
  EXPECT_EQ(other_ran.get_future().wait_for(10s), std::future_status::ready);
  release.set_value();
}

// Work that a strand's own work posts runs after it, on the strand.
TEST(WorkerPool, WorkPostedFromTheStrandRunsNext) {
  WorkerPool pool(2);
  auto strand = pool.make_strand();
  std::vector<int> seen;
  std::promise<void> done;
  strand->post([&] {
    seen.push_back(1);
    strand->post([&] {
      seen.push_back(3);
      done.set_value();
    });
    seen.push_back(2);
  });
  ASSERT_EQ(done.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3}));
}

TEST(WorkerPool, DelayedWorkRunsWhenDueInTheOrderOfItsDeadlines) {
  WorkerPool pool(2);
  auto strand = pool.make_strand();
  std::vector<int> seen;
  std::promise<void> done;
  const auto start = std::chrono::steady_clock::now();
  strand->post_after(120ms, [&] {
    seen.push_back(2);
    done.set_value();
  });
  strand->post_after(40ms, [&] { seen.push_back(1); });
  ASSERT_EQ(done.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 120ms);
  EXPECT_EQ(seen, (std::vector<int>{1, 2}));
}

TEST(WorkerPool, StopRunsWhatWasPostedAndDropsDelayedWork) {
  std::atomic<int> ran{0};
  std::atomic<bool> delayed_ran{false};
  {
    WorkerPool pool(2);
    auto a = pool.make_strand();
    auto b = pool.make_strand();
    for (int i = 0; i < 1000; ++i) {
      a->post([&] { ++ran; });
      b->post([&] { ++ran; });
    }
    a->post_after(1h, [&] { delayed_ran = true; });
    pool.stop();  // at once: the hour-long wait is dropped, not waited for
    EXPECT_EQ(ran.load(), 2000);
    a->post_after(1ms, [&] { delayed_ran = true; });  // after stop: dropped
  }
  EXPECT_FALSE(delayed_ran.load());
}

// The policy each of the pool's threads runs under, seen from the work itself.
std::pair<int, int> policies_seen(ThreadPolicy policy) {
  WorkerPool pool(2, policy);
  auto strand = pool.make_strand();
  std::promise<int> worker, timer;
  strand->post([&] { worker.set_value(sched_getscheduler(0)); });
  strand->post_after(1ms, [&] { timer.set_value(sched_getscheduler(0)); });  // posted by the timer thread
  return {worker.get_future().get(), timer.get_future().get()};
}

TEST(WorkerPool, ThreadsRunUnderTheBatchPolicyUnlessToldOtherwise) {
  EXPECT_EQ(policies_seen({}), std::make_pair(SCHED_BATCH, SCHED_BATCH));
  EXPECT_EQ(policies_seen({.batch_scheduling = false}), std::make_pair(SCHED_OTHER, SCHED_OTHER));
}

}  // namespace
}  // namespace cserve
