// Each writing thread appends to a buffer of its own (its lock is contended only when the flusher
// takes the lines), so threads that log at full load never wait for each other. The flusher
// swaps each buffer with a spare of the same thread and writes the spare: no allocation moves
// between threads and the capacity is kept. Lines of one thread stay in order; lines of
// different threads are in order to within one flush period.
#include "common/log_buffer.hpp"

#include <cserve/detail/mutex.hpp>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace cserve::log {
namespace {

using detail::CondVar;
using detail::Mutex;
using detail::MutexLock;

constexpr std::size_t kFlushBytes = 16 * 1024;  // per thread
constexpr auto kFlushPeriod = std::chrono::milliseconds(50);

// Writes all of `bytes` to stderr, retrying short writes and interruptions.
void write_stderr(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(STDERR_FILENO, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere to report it
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

struct ThreadLines {
  Mutex mu;
  std::string pending CSERVE_GUARDED_BY(mu);
  std::string spare;  // written out by a flush; touched under the writer's lock only
};

class Buffers {
 public:
  ~Buffers() {
    {
      MutexLock lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (flusher_.joinable()) flusher_.join();
    flush();
  }

  std::shared_ptr<ThreadLines> add_thread() {
    auto lines = std::make_shared<ThreadLines>();
    MutexLock lock(mu_);
    threads_.push_back(lines);
    if (!flusher_started_) {
      flusher_started_ = true;
      flusher_ = std::thread([this] { run(); });
    }
    return lines;
  }

  void remove_thread(const std::shared_ptr<ThreadLines>& lines) {
    flush();
    MutexLock lock(mu_);
    threads_.erase(std::remove(threads_.begin(), threads_.end(), lines), threads_.end());
  }

  // Writes what every thread has pending, thread by thread; one writer at a time.
  void flush() {
    std::vector<std::shared_ptr<ThreadLines>> threads;
    {
      MutexLock lock(mu_);
      threads = threads_;
    }
    MutexLock writing(write_mu_);
    for (const auto& t : threads) {
      {
        MutexLock lock(t->mu);
        if (t->pending.empty()) continue;
        t->pending.swap(t->spare);
      }
      write_stderr(t->spare);
      t->spare.clear();
    }
  }

  std::shared_ptr<const std::function<void(std::string_view)>> sink() {
    MutexLock lock(mu_);
    return sink_;
  }

  void set_sink(std::function<void(std::string_view)> sink) {
    flush();
    MutexLock lock(mu_);
    sink_ = sink ? std::make_shared<const std::function<void(std::string_view)>>(std::move(sink)) : nullptr;
    has_sink_.store(sink_ != nullptr, std::memory_order_release);
  }

  bool has_sink() const { return has_sink_.load(std::memory_order_acquire); }

 private:
  void run() {
    for (;;) {
      {
        MutexLock lock(mu_);
        cv_.wait_for(mu_, kFlushPeriod, [this] {
          mu_.assert_held();
          return stopping_;
        });
        if (stopping_) return;  // the destructor flushes
      }
      flush();
    }
  }

  Mutex mu_;
  CondVar cv_;
  std::vector<std::shared_ptr<ThreadLines>> threads_ CSERVE_GUARDED_BY(mu_);
  std::shared_ptr<const std::function<void(std::string_view)>> sink_ CSERVE_GUARDED_BY(mu_);
  std::atomic<bool> has_sink_{false};
  bool flusher_started_ CSERVE_GUARDED_BY(mu_) = false;
  bool stopping_ CSERVE_GUARDED_BY(mu_) = false;
  std::thread flusher_;
  Mutex write_mu_;  // held while buffers are written out
};

Buffers& buffers() {
  static Buffers b;
  return b;
}

// This thread's buffer, registered on first use and flushed when the thread ends.
ThreadLines& thread_lines() {
  struct Registration {
    std::shared_ptr<ThreadLines> lines = buffers().add_thread();
    ~Registration() { buffers().remove_thread(lines); }
  };
  thread_local Registration r;
  return *r.lines;
}

}  // namespace

void emit(std::string_view line, bool urgent) {
  Buffers& b = buffers();
  if (b.has_sink()) {
    if (auto sink = b.sink()) return (*sink)(line);
  }
  ThreadLines& mine = thread_lines();
  bool full = false;
  {
    MutexLock lock(mine.mu);
    mine.pending.append(line);
    full = mine.pending.size() >= kFlushBytes;
  }
  if (urgent || full) b.flush();
}

void flush() { buffers().flush(); }
void set_sink(std::function<void(std::string_view)> sink) { buffers().set_sink(std::move(sink)); }

}  // namespace cserve::log
