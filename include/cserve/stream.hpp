// cserve/stream.hpp — streaming responses: Stream<T>, an asynchronous generator, and sleep_for.
//
//   cserve::Stream<std::string> operator()(const cserve::Request&) {
//     for (auto& token : generate()) {
//       co_await cserve::sleep_for(std::chrono::milliseconds(50));   // may await anything
//       co_yield token;
//     }
//   }
//
// Over HTTP a handler returning a Stream answers with a chunked response, one chunk per
// co_yield, written as soon as it is produced (as server-sent events, "data: ...\n\n", when the
// request's Accept asks for text/event-stream). The next item is produced only after the
// previous one was written, so a slow client slows the generator instead of filling memory.
// A client that goes away stops the stream at its next co_yield: the frame is destroyed and the
// destructors of its locals run.
// Thread-safety: a Stream is consumed by one consumer; inside a replica it runs on the
// replica's strand like any of its code.
#pragma once

#include <cserve/detail/call_context.hpp>
#include <cserve/detail/item_source.hpp>
#include <cserve/detail/resumer.hpp>
#include <cserve/error.hpp>
#include <cserve/task.hpp>

#include <atomic>
#include <chrono>
#include <coroutine>
#include <exception>
#include <memory>
#include <optional>
#include <utility>

namespace cserve {

template <class T>
class Stream {
 public:
  struct promise_type {
    std::optional<T> current;
    std::exception_ptr error;
    std::coroutine_handle<> consumer;

    Stream get_return_object() { return Stream(std::coroutine_handle<promise_type>::from_promise(*this)); }
    std::suspend_always initial_suspend() noexcept { return {}; }

    struct ToConsumer {
      bool await_ready() noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
        auto c = h.promise().consumer;
        return c ? c : std::noop_coroutine();
      }
      void await_resume() noexcept {}
    };
    template <class V>
    ToConsumer yield_value(V&& v) {
      current.emplace(std::forward<V>(v));
      return {};
    }
    ToConsumer final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { error = std::current_exception(); }
  };
  using Handle = std::coroutine_handle<promise_type>;

  Stream(Stream&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  Stream& operator=(Stream&& o) noexcept {
    if (this != &o) {
      if (h_) h_.destroy();
      h_ = std::exchange(o.h_, nullptr);
    }
    return *this;
  }
  ~Stream() { reset(); }

  // Destroys the generator now (it must be suspended): the destructors of its locals run.
  void reset() {
    if (h_) std::exchange(h_, nullptr).destroy();
  }

  // co_await stream.next(): the next item, or nullopt once the generator has finished (its
  // exception, if it threw, is rethrown here).
  auto next() {
    struct Next {
      Handle h;
      bool await_ready() const noexcept { return !h || h.done(); }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<> consumer) noexcept {
        h.promise().consumer = consumer;
        h.promise().current.reset();
        return h;
      }
      std::optional<T> await_resume() {
        if (!h) return std::nullopt;
        auto& p = h.promise();
        if (p.error) std::rethrow_exception(std::exchange(p.error, nullptr));
        if (h.done()) return std::nullopt;
        return std::move(p.current);
      }
    };
    return Next{h_};
  }

 private:
  explicit Stream(Handle h) : h_(h) {}
  Handle h_;
};

namespace detail {
template <class>
struct IsStream : std::false_type {};
template <class T>
struct IsStream<Stream<T>> : std::true_type {
  using value_type = T;
};

// Runs a Stream<T> on its replica's strand, one item per pull, for a consumer elsewhere (the
// proxy, or a DeploymentStream in another deployment or thread).
template <class T>
class StreamDriver final : public ItemSource<T>, public std::enable_shared_from_this<StreamDriver<T>> {
 public:
  using Callback = typename ItemSource<T>::Callback;

  // Made inside the call that returned the stream: the generator runs as part of that call.
  StreamDriver(Stream<T> stream, std::shared_ptr<Resumer> resumer)
      : stream_(std::move(stream)), resumer_(std::move(resumer)), call_(current_call()) {}

  // The next item (nullopt at the end) or the generator's exception; one pull at a time. `cb`
  // runs on the replica's worker thread.
  void pull(Callback cb) override {
    resumer_->post([self = this->shared_from_this(), cb = std::move(cb)]() mutable {
      ScopedCall in_call(self->call_);
      Task<void>::start_detached(self->step(std::move(cb)), [](auto&) {});
    });
  }

  // Destroys the generator between pulls: the destructors of its locals run.
  void cancel() override {
    resumer_->post([self = this->shared_from_this()] { self->stream_.reset(); });
  }

 private:
  Task<void> step(Callback cb) {
    std::optional<T> item;
    std::exception_ptr error;
    try {
      item = co_await stream_.next();
    } catch (...) {
      error = std::current_exception();
    }
    cb(std::move(item), error);
  }

  Stream<T> stream_;
  std::shared_ptr<Resumer> resumer_;
  std::shared_ptr<CallContext> call_;
};
}  // namespace detail

// Suspends the calling coroutine for `d` without holding a thread: inside a replica it resumes
// on the replica's strand. If the request is cancelled meanwhile, it resumes at once and throws
// the request's error (CancelledError, or TimeoutError). Throws cserve::Error outside a replica.
inline auto sleep_for(std::chrono::steady_clock::duration d) {
  struct Sleep {
    std::chrono::steady_clock::duration d;
    std::shared_ptr<detail::CallContext> call = detail::current_call();

    bool await_ready() const noexcept { return d <= std::chrono::steady_clock::duration::zero(); }
    void await_suspend(std::coroutine_handle<> h) {
      auto resumer = detail::current_resumer();
      if (!resumer) throw Error("cserve::sleep_for is for replica code (handlers and their coroutines)");
      // The timer and a cancellation race to wake the coroutine; the first one does.
      auto woken = std::make_shared<std::atomic<bool>>(false);
      auto wake = [h, woken, call = call](const std::shared_ptr<detail::Resumer>& r) {
        if (woken->exchange(true)) return;
        r->post([h, call] {
          detail::ScopedCall in_call(call);
          h.resume();
        });
      };
      std::uint64_t token = 0;
      if (call) token = call->on_cancel([wake, resumer] { wake(resumer); });
      resumer->post_after(d, [wake, resumer, call = call, token] {
        if (call) call->forget(token);
        wake(resumer);
      });
    }
    void await_resume() const {
      if (call && call->cancelled()) std::rethrow_exception(call->error());
    }
  };
  return Sleep{d};
}

}  // namespace cserve
