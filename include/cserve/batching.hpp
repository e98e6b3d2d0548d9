// cserve/batching.hpp — dynamic request batching inside a deployment.
//
//   class Model {
//    public:
//     cserve::Task<float> operator()(std::vector<float> x) { co_return co_await batch_(std::move(x)); }
//     void reconfigure(const cserve::Json& c) { batch_.set_max_batch_size(c.at("batch").get<int>()); }
//    private:
//     std::vector<float> infer(std::vector<std::vector<float>> xs);       // one call, many inputs
//     cserve::Batcher<std::vector<float>, float> batch_{
//         {.max_batch_size = 32, .batch_wait_timeout = std::chrono::milliseconds(5)},
//         [this](auto xs) { return infer(std::move(xs)); }};
//   };
//
// Each call queues one input and returns a DeploymentResponse for its output. A batch starts its
// wait at the first queued input and closes when full or when batch_wait_timeout has passed;
// the batch function runs on the replica's strand (like any of the replica's code) and may be a
// coroutine (returning Task<std::vector<Out>>), in which case up to max_concurrent_batches run
// at once. An exception in the batch function reaches every caller of that batch; so does a
// result count that differs from the input count. Set max_ongoing_requests at least as high as
// max_batch_size, or batches can never fill. Defaults follow Ray Serve's @serve.batch.
// Thread-safety: use a Batcher only from its replica's code (handlers, hooks).
#pragma once

#include <cserve/detail/batch_queue.hpp>
#include <cserve/detail/resumer.hpp>
#include <cserve/error.hpp>
#include <cserve/handle.hpp>
#include <cserve/task.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace cserve {

struct BatchOptions {
  int max_batch_size = 10;
  std::chrono::duration<double> batch_wait_timeout = std::chrono::milliseconds(10);
  int max_concurrent_batches = 1;
};

template <class In, class Out>
class Batcher {
 public:
  template <class F>
  Batcher(BatchOptions options, F batch_fn) : shared_(std::make_shared<Shared>()) {
    set_options(options);
    shared_->run = make_runner(std::move(batch_fn));
  }
  ~Batcher() { shared_->close("the replica holding this batcher was destroyed"); }
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Queues `input`; the response completes when its batch has run.
  DeploymentResponse<Out> operator()(In input) {
    auto executor = detail::current_resumer();
    if (!executor) throw Error("a Batcher is used from its deployment's code only");
    shared_->executor = executor;
    auto state = std::make_shared<detail::ResponseState<Out>>();
    shared_->queue.push(Item{std::move(input), state}, std::chrono::steady_clock::now());
    // Decide after the caller has suspended on the response: post, never run inline.
    shared_->schedule_check(std::chrono::steady_clock::duration::zero());
    return DeploymentResponse<Out>(std::move(state));
  }

  // For reconfigure(): take effect from the next batch.
  void set_max_batch_size(int n) {
    if (n < 1) throw ConfigError("max_batch_size must be >= 1");
    shared_->limits.max_batch_size = n;
  }
  void set_batch_wait_timeout(std::chrono::duration<double> t) {
    if (t.count() < 0) throw ConfigError("batch_wait_timeout must be >= 0");
    shared_->limits.batch_wait_timeout = std::chrono::duration_cast<std::chrono::steady_clock::duration>(t);
  }
  void set_max_concurrent_batches(int n) {
    if (n < 1) throw ConfigError("max_concurrent_batches must be >= 1");
    shared_->limits.max_concurrent_batches = n;
  }
  int max_batch_size() const { return shared_->limits.max_batch_size; }

 private:
  struct Item {
    In input;
    std::shared_ptr<detail::ResponseState<Out>> state;
  };
  using Finish = detail::UniqueFunction<void(std::vector<Out>, std::exception_ptr)>;
  using Runner = std::function<void(std::vector<In>, Finish)>;

  // Everything the batcher's deferred work touches; outlives the Batcher while work is pending.
  struct Shared : std::enable_shared_from_this<Shared> {
    detail::BatchLimits limits;
    detail::BatchQueue<Item> queue;
    Runner run;
    std::shared_ptr<detail::Resumer> executor;
    bool closed = false;
    bool check_pending = false;
    std::optional<std::chrono::steady_clock::time_point> timer_at;

    void schedule_check(std::chrono::steady_clock::duration delay) {
      if (closed || !executor) return;
      auto self = this->shared_from_this();
      if (delay <= std::chrono::steady_clock::duration::zero()) {
        if (check_pending) return;
        check_pending = true;
        executor->post([self] {
          self->check_pending = false;
          self->check();
        });
        return;
      }
      auto at = std::chrono::steady_clock::now() + delay;
      if (timer_at && *timer_at <= at) return;  // an earlier wake-up is already set
      timer_at = at;
      executor->post_after(delay, [self, at] {
        if (self->timer_at == at) self->timer_at.reset();
        self->check();
      });
    }

    void check() {
      for (;;) {
        if (closed) return;
        std::optional<std::chrono::steady_clock::time_point> wake_at;
        auto batch = queue.next(limits, std::chrono::steady_clock::now(), wake_at);
        if (!batch) {
          if (wake_at) schedule_check(*wake_at - std::chrono::steady_clock::now());
          return;
        }
        start(std::move(*batch));
      }
    }

    void start(std::vector<Item> batch) {
      std::vector<In> inputs;
      inputs.reserve(batch.size());
      for (auto& item : batch) inputs.push_back(std::move(item.input));
      auto self = this->shared_from_this();
      run(std::move(inputs), [self, batch = std::move(batch)](std::vector<Out> outputs,
                                                              std::exception_ptr error) mutable {
        if (!error && outputs.size() != batch.size()) {
          error = std::make_exception_ptr(Error(
              "the batch function returned " + std::to_string(outputs.size()) + " results for " +
              std::to_string(batch.size()) + " inputs"));
        }
        for (std::size_t i = 0; i < batch.size(); ++i) {
          if (error) {
            batch[i].state->set_error(error);
          } else {
            batch[i].state->set_value(std::move(outputs[i]));
          }
        }
        self->queue.finished();
        if (self->queue.size() > 0) self->schedule_check({});
      });
    }

    void close(const std::string& why) {
      closed = true;
      executor.reset();  // the replica owns the Batcher: no cycle through its executor
      for (auto& item : queue.drain()) item.state->set_error(std::make_exception_ptr(Error(why)));
    }
  };

  template <class F>
  static Runner make_runner(F fn) {
    using R = std::invoke_result_t<F&, std::vector<In>>;
    return [fn = std::move(fn)](std::vector<In> inputs, Finish finish) mutable {
      if constexpr (detail::IsTask<R>::value) {
        try {
          R::start_detached(fn(std::move(inputs)), [finish = std::move(finish)](auto& promise) mutable {
            try {
              finish(promise.take(), nullptr);
            } catch (...) {
              finish({}, std::current_exception());
            }
          });
        } catch (...) {
          finish({}, std::current_exception());
        }
      } else {
        std::vector<Out> outputs;
        std::exception_ptr error;
        try {
          outputs = fn(std::move(inputs));
        } catch (...) {
          error = std::current_exception();
        }
        finish(std::move(outputs), error);
      }
    };
  }

  void set_options(const BatchOptions& o) {
    set_max_batch_size(o.max_batch_size);
    set_batch_wait_timeout(o.batch_wait_timeout);
    set_max_concurrent_batches(o.max_concurrent_batches);
  }

  std::shared_ptr<Shared> shared_;
};

}  // namespace cserve
