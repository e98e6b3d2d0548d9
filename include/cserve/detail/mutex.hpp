// cserve/detail/mutex.hpp — a mutex, its scoped lock and a condition variable that carry Clang's
// thread-safety annotations (std::mutex carries none), modelled on LevelDB's port::Mutex.
//
//   mutable Mutex mu_;
//   CondVar changed_;
//   bool done_ CSERVE_GUARDED_BY(mu_) = false;
//   void wait_done() {
//     MutexLock lock(mu_);
//     changed_.wait(mu_, [&] { mu_.assert_held(); return done_; });
//   }
//
// A lambda is a function of its own to the analysis: one that reads guarded fields under a lock
// its caller holds starts with mu.assert_held().
// Thread-safety: Mutex and CondVar are what they say; a MutexLock belongs to one scope.
#pragma once

#include <cserve/detail/thread_annotations.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace cserve::detail {

class CSERVE_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() CSERVE_ACQUIRE() { mu_.lock(); }
  void unlock() CSERVE_RELEASE() { mu_.unlock(); }
  // Tells the analysis (not the program) that the caller holds this mutex.
  void assert_held() const CSERVE_ASSERT_CAPABILITY(this) {}

 private:
  friend class CondVar;
  std::mutex mu_;
};

class CSERVE_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) CSERVE_ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() CSERVE_RELEASE() { mu_.unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

// Waits release `mu` while they block and hold it again when they return.
class CondVar {
 public:
  template <class Pred>
  void wait(Mutex& mu, Pred pred) CSERVE_REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu.mu_, std::adopt_lock);
    cv_.wait(lock, pred);
    lock.release();
  }
  // Returns pred() (false: the deadline passed first).
  template <class Clock, class Duration, class Pred>
  bool wait_until(Mutex& mu, std::chrono::time_point<Clock, Duration> deadline, Pred pred) CSERVE_REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu.mu_, std::adopt_lock);
    bool ok = cv_.wait_until(lock, deadline, pred);
    lock.release();
    return ok;
  }
  template <class Rep, class Period, class Pred>
  bool wait_for(Mutex& mu, std::chrono::duration<Rep, Period> timeout, Pred pred) CSERVE_REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu.mu_, std::adopt_lock);
    bool ok = cv_.wait_for(lock, timeout, pred);
    lock.release();
    return ok;
  }
  void notify_one() { cv_.notify_one(); }
  void notify_all() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace cserve::detail
