#include "replica/replica.hpp"

#include "common/logging.hpp"

#include <cserve/error.hpp>

namespace cserve {
namespace {

thread_local const ReplicaContext* t_context = nullptr;

// Makes get_replica_context() answer for `c` while user code runs on this thread.
class ScopedContext {
 public:
  explicit ScopedContext(const ReplicaContext* c) : saved_(t_context) { t_context = c; }
  ~ScopedContext() { t_context = saved_; }
  ScopedContext(const ScopedContext&) = delete;
  ScopedContext& operator=(const ScopedContext&) = delete;

 private:
  const ReplicaContext* saved_;
};

std::string describe_current_exception() {
  try {
    throw;
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception (not derived from std::exception)";
  }
}

}  // namespace

const ReplicaContext& get_replica_context() {
  if (t_context == nullptr) {
    throw Error("get_replica_context() called outside a replica's constructor, handler or hook");
  }
  return *t_context;
}

Replica::Replica(ReplicaContext context, std::unique_ptr<Strand> strand,
                 detail::ReplicaFactory factory)
    : context_(std::move(context)), strand_(std::move(strand)), factory_(std::move(factory)) {}

void Replica::start(std::optional<Json> user_config, Done done) {
  strand_->post([self = shared_from_this(), config = std::move(user_config),
                 done = std::move(done)]() mutable {
    std::string error;
    {
      ScopedContext scope(&self->context_);
      try {
        self->callable_ = self->factory_();
        if (config) self->callable_->reconfigure(*config);
      } catch (...) {
        error = describe_current_exception();
        self->callable_.reset();
      }
    }
    done(std::move(error));
  });
}

void Replica::reconfigure(Json user_config, Done done) {
  strand_->post([self = shared_from_this(), config = std::move(user_config),
                 done = std::move(done)]() mutable {
    std::string error;
    if (!self->callable_) {
      error = "replica is stopped";
    } else {
      ScopedContext scope(&self->context_);
      try {
        self->callable_->reconfigure(config);
      } catch (...) {
        error = describe_current_exception();
      }
    }
    done(std::move(error));
  });
}

void Replica::stop(UniqueFunction<void()> done) {
  strand_->post([self = shared_from_this(), done = std::move(done)]() mutable {
    {
      ScopedContext scope(&self->context_);
      try {
        self->callable_.reset();
      } catch (...) {
        CSERVE_LOG(kError, "replica") << self->id() << ": destructor threw: "
                                      << describe_current_exception();
      }
    }
    done();
  });
}

bool Replica::try_acquire(int max_ongoing) {
  int n = in_flight_.load(std::memory_order_relaxed);
  while (n < max_ongoing) {
    if (in_flight_.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel)) return true;
  }
  return false;
}

void Replica::release() { in_flight_.fetch_sub(1, std::memory_order_acq_rel); }

void Replica::handle(Request req, Completion done) {
  strand_->post([self = shared_from_this(), req = std::move(req), done = std::move(done)]() mutable {
    done(self->invoke(req));
  });
}

Response Replica::invoke(Request& req) {
  if (!callable_) {
    return error_response(503, "replica " + id() + " is not serving", req.request_id());
  }
  ScopedContext scope(&context_);
  try {
    return callable_->handle(req);
  } catch (const HttpError& e) {
    Response r = error_response(e.status(), e.what(), req.request_id());
    r.headers.insert(r.headers.end(), e.headers().begin(), e.headers().end());
    return r;
  } catch (...) {
    std::string what = describe_current_exception();
    CSERVE_LOG(kError, "replica") << id() << " request " << req.request_id() << " " << req.method()
                                  << " " << req.full_path() << " raised: " << what;
    return error_response(500,
                          "internal error in deployment '" + context_.deployment +
                              "' (request " + req.request_id() + "; see the replica's log)",
                          req.request_id());
  }
}

}  // namespace cserve
