#include "replica/local_replica.hpp"

#include "common/describe_exception.hpp"
#include "common/logging.hpp"
#include "replica/replica_scope.hpp"

#include <cserve/error.hpp>

namespace cserve {
namespace {
thread_local LocalReplica* t_replica = nullptr;

Failure failure_of_hook(const std::exception_ptr& e) { return {ErrorCode::kInternal, describe_exception(e)}; }
}  // namespace

const ReplicaContext* current_replica_context() { return t_replica ? &t_replica->context() : nullptr; }
std::shared_ptr<LocalReplica> current_local_replica() { return t_replica ? t_replica->shared_from_this() : nullptr; }

ScopedReplica::ScopedReplica(LocalReplica* r) : saved_(t_replica), fields_(r ? &r->log_fields() : nullptr) {
  t_replica = r;
}
ScopedReplica::~ScopedReplica() { t_replica = saved_; }

const ReplicaContext& get_replica_context() {
  if (t_replica == nullptr) {
    throw Error("get_replica_context() called outside a replica's constructor, handler or hook");
  }
  return t_replica->context();
}

namespace detail {
std::shared_ptr<Resumer> current_resumer() { return t_replica ? t_replica->shared_from_this() : nullptr; }
bool in_replica() { return t_replica != nullptr; }
void resume_outside_replica(std::coroutine_handle<> h) {
  ScopedReplica outside(nullptr);
  h.resume();
}
}  // namespace detail

LocalReplica::LocalReplica(ReplicaContext context, std::unique_ptr<Strand> strand, Maker maker)
    : Replica(std::move(context)), strand_(std::move(strand)), maker_(std::move(maker)) {}

void LocalReplica::start(std::optional<Json> user_config, Done done) {
  strand_->post([self = shared_from_this(), config = std::move(user_config), done = std::move(done)]() mutable {
    std::optional<Failure> failure;
    {
      ScopedReplica scope(self.get());
      try {
        self->callable_ = self->maker_();
        if (config) self->callable_->reconfigure(*config);
      } catch (...) {
        failure = failure_of_hook(std::current_exception());
        self->callable_.reset();
      }
    }
    done(std::move(failure));
  });
}

void LocalReplica::run_hook(UniqueFunction<void(detail::ReplicaCallable&)> hook, Done done) {
  strand_->post([self = shared_from_this(), hook = std::move(hook), done = std::move(done)]() mutable {
    std::optional<Failure> failure;
    if (!self->callable_) {
      failure = Failure{ErrorCode::kUnavailable, "replica is stopped"};
    } else {
      ScopedReplica scope(self.get());
      try {
        hook(*self->callable_);
      } catch (...) {
        failure = failure_of_hook(std::current_exception());
      }
    }
    done(std::move(failure));
  });
}

void LocalReplica::reconfigure(Json user_config, Done done) {
  run_hook([config = std::move(user_config)](detail::ReplicaCallable& c) { c.reconfigure(config); }, std::move(done));
}

void LocalReplica::check_health(Done done) {
  run_hook([](detail::ReplicaCallable& c) { c.check_health(); }, std::move(done));
}

void LocalReplica::stop(UniqueFunction<void()> done) {
  strand_->post([self = shared_from_this(), done = std::move(done)]() mutable {
    {
      ScopedReplica scope(self.get());
      try {
        self->callable_.reset();
      } catch (...) {
        CSERVE_LOG(kError, "replica") << self->id() << ": destructor threw: "
                                      << describe_exception(std::current_exception());
      }
    }
    done();
  });
}

void LocalReplica::execute(detail::Call call, UniqueFunction<void()> finished) {
  strand_->post([self = shared_from_this(), call = std::move(call), finished = std::move(finished)]() mutable {
    if (!self->callable_) {
      call.reject({ErrorCode::kUnavailable, "replica " + self->id() + " is not serving"});
      finished();
      return;
    }
    if (call.context->cancelled()) {  // cancelled on its way here: never started
      call.reject(call.context->failure());
      finished();
      return;
    }
    ScopedReplica scope(self.get());
    detail::ScopedCall in_call(call.context);
    call.run(*self->callable_, std::move(finished));
  });
}

void LocalReplica::post(UniqueFunction<void()> fn) {
  strand_->post([self = shared_from_this(), fn = std::move(fn)]() mutable {
    ScopedReplica scope(self.get());
    fn();
  });
}

void LocalReplica::post_after(std::chrono::steady_clock::duration delay, UniqueFunction<void()> fn) {
  strand_->post_after(delay, [self = shared_from_this(), fn = std::move(fn)]() mutable {
    ScopedReplica scope(self.get());
    fn();
  });
}

}  // namespace cserve
