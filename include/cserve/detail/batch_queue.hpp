// cserve/detail/batch_queue.hpp — when a dynamic batch closes: pure logic over a FIFO of items,
// the options and the time, with no threads and no clock of its own (unit-tested that way).
//
// A batch starts waiting when its first item is queued and closes when it holds
// max_batch_size items or batch_wait_timeout has passed since that first item — and only while
// fewer than max_concurrent_batches batches are running.
// Thread-safety: none; the Batcher uses it on one replica's strand.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

namespace cserve::detail {

struct BatchLimits {
  int max_batch_size = 10;
  std::chrono::steady_clock::duration batch_wait_timeout = std::chrono::milliseconds(10);
  int max_concurrent_batches = 1;
};

template <class Item>
class BatchQueue {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  void push(Item item, TimePoint now) {
    if (items_.empty()) first_queued_ = now;
    items_.push_back(std::move(item));
  }

  // A batch to run now (and counts it running), or nothing. `wake_at` is set to when to ask
  // again if items wait for the timeout.
  std::optional<std::vector<Item>> next(const BatchLimits& limits, TimePoint now,
                                        std::optional<TimePoint>& wake_at) {
    wake_at.reset();
    if (items_.empty() || running_ >= std::max(1, limits.max_concurrent_batches)) return std::nullopt;
    const std::size_t max = static_cast<std::size_t>(std::max(1, limits.max_batch_size));
    const TimePoint deadline = first_queued_ + limits.batch_wait_timeout;
    if (items_.size() < max && now < deadline) {
      wake_at = deadline;
      return std::nullopt;
    }
    const std::size_t n = std::min(max, items_.size());
    std::vector<Item> batch;
    batch.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(items_.front()));
      items_.pop_front();
    }
    // What is left waits from now: it could not join this batch.
    if (!items_.empty()) first_queued_ = now;
    ++running_;
    return batch;
  }

  void finished() { --running_; }
  std::size_t size() const { return items_.size(); }
  int running() const { return running_; }
  std::deque<Item> drain() { return std::exchange(items_, {}); }

 private:
  std::deque<Item> items_;
  TimePoint first_queued_{};
  int running_ = 0;
};

}  // namespace cserve::detail
