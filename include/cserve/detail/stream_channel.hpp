// cserve/detail/stream_channel.hpp — the two ends of a stream returned through a handle: the
// call on the replica attaches the generator's driver, the DeploymentStream on the caller's side
// pulls one item at a time, and whichever end goes first stops the other.
//
//   waiting for the replica --attach--> attached --pull--> pulling --item--> attached ...
//        |                                 |                  +--end/error--> finished
//        +--fail (rejected, threw)--> finished                 (cancel while pulling: finished
//   cancel(): finished at once between pulls; after the pull in flight otherwise)
//
// Thread-safety: every member function is safe from any thread; callbacks run outside the lock.
#pragma once

#include <cserve/detail/item_source.hpp>
#include <cserve/detail/mutex.hpp>
#include <cserve/detail/response_state.hpp>
#include <cserve/detail/unique_function.hpp>
#include <cserve/error.hpp>
#include <cserve/stream.hpp>

#include <exception>
#include <memory>
#include <optional>

namespace cserve::detail {

// A remote Stream<T>: filled in by the call on the replica (its driver and the slot's release),
// pulled by the DeploymentStream on the caller's side, one item at a time.
template <class T>
class StreamChannel : public std::enable_shared_from_this<StreamChannel<T>> {
 public:
  using Item = ResponseState<std::optional<T>>;

  // From the replica: the stream is ready (its generator's driver, or its items from a worker). `done` gives the replica's slot back when it ends.
  void attach(std::shared_ptr<ItemSource<T>> driver, UniqueFunction<void()> done) {
    std::shared_ptr<Item> waiting;
    bool cancelled = false;
    {
      MutexLock lock(mu_);
      driver_ = std::move(driver);
      done_ = std::move(done);
      cancelled = cancelled_;
      if (cancelled) {
        driver_->cancel();
        finished_ = true;
      } else {
        waiting = std::exchange(waiting_, nullptr);
        pulling_ = waiting != nullptr;
      }
    }
    if (cancelled) return release();
    if (waiting) pull(std::move(waiting));
  }

  // The call failed before it could stream (rejected, or the method threw).
  void fail(std::exception_ptr error) {
    std::shared_ptr<Item> waiting;
    {
      MutexLock lock(mu_);
      error_ = error;
      finished_ = true;
      waiting = std::exchange(waiting_, nullptr);
    }
    if (waiting) waiting->set_error(error);
  }

  void request(std::shared_ptr<Item> item) {
    {
      MutexLock lock(mu_);
      if (error_) return item->set_error(error_);
      if (finished_) return item->set_value(std::optional<T>());
      if (pulling_ || waiting_) {
        return item->set_error(std::make_exception_ptr(
            Error("DeploymentStream::next() called again before the previous item arrived")));
      }
      if (!driver_) {
        waiting_ = std::move(item);
        return;
      }
      pulling_ = true;
    }
    pull(std::move(item));
  }

  // The consumer is gone: stop the generator (now, or when the pull in progress returns).
  void cancel() {
    {
      MutexLock lock(mu_);
      if (finished_ || cancelled_) return;
      cancelled_ = true;
      if (!driver_ || pulling_) return;  // attach() or the pull's callback finishes the job
      driver_->cancel();
      finished_ = true;
    }
    release();
  }

 private:
  // With pulling_ already set under the lock by the caller.
  void pull(std::shared_ptr<Item> item) {
    driver_->pull([self = this->shared_from_this(), item = std::move(item)](
                      std::optional<T> value, std::exception_ptr error) mutable {
      bool end = false;
      {
        MutexLock lock(self->mu_);
        self->pulling_ = false;
        if (error || !value) {
          self->finished_ = true;
          end = true;
        } else if (self->cancelled_) {
          self->driver_->cancel();
          self->finished_ = true;
          end = true;
        }
      }
      if (error) {
        item->set_error(error);
      } else {
        item->set_value(std::move(value));
      }
      if (end) self->release();
    });
  }

  void release() {
    UniqueFunction<void()> done;
    {
      MutexLock lock(mu_);
      done = std::move(done_);
    }
    if (done) done();
  }

  Mutex mu_;
  // Set once by attach() (under mu_) before the first pull; pulls read it without the lock.
  std::shared_ptr<ItemSource<T>> driver_;
  UniqueFunction<void()> done_ CSERVE_GUARDED_BY(mu_);
  std::exception_ptr error_ CSERVE_GUARDED_BY(mu_);
  std::shared_ptr<Item> waiting_ CSERVE_GUARDED_BY(mu_);  // a next() that came before the stream was ready
  bool pulling_ CSERVE_GUARDED_BY(mu_) = false;
  bool finished_ CSERVE_GUARDED_BY(mu_) = false;
  bool cancelled_ CSERVE_GUARDED_BY(mu_) = false;
};

}  // namespace cserve::detail
