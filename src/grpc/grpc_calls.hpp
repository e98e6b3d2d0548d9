// grpc_calls.hpp — what every gRPC call of the ingress shares: the route table it reads, the
// request context it runs under, and the reactor of a unary call that waits for a replica.
//
// A call's context takes the client's x-request-id metadata (else a new id, which the call sends
// back as x-request-id initial metadata) and the client's gRPC deadline; when gRPC cancels the
// call — the client cancelled or went away, or its deadline passed — the context is cancelled
// (kDisconnected or kTimedOut), which drops the call from its queue or stops it at its next
// suspension point, as for HTTP.
// Thread-safety: IngressRoutes is safe from any thread; a reactor's finish() may run on any
// thread, once.
#pragma once

#include "router/route_table.hpp"

#include <cserve/detail/call_context.hpp>
#include <cserve/detail/mutex.hpp>

#include <grpcpp/support/server_callback.h>
#include <grpcpp/server_context.h>

#include <memory>
#include <string>

namespace cserve::grpc_ingress {

class IngressRoutes {
 public:
  IngressRoutes();
  void set(std::shared_ptr<const RouteTable> table) CSERVE_EXCLUDES(mu_);
  std::shared_ptr<const RouteTable> get() const CSERVE_EXCLUDES(mu_);

 private:
  mutable detail::Mutex mu_;
  std::shared_ptr<const RouteTable> table_ CSERVE_GUARDED_BY(mu_);
};

// The context of one gRPC call (sends x-request-id back when cserve made the id).
std::shared_ptr<detail::CallContext> context_for(grpc::CallbackServerContext& ctx);

// Cancels `context` for gRPC's reason: the deadline passed, or the client went.
void cancel_for_grpc(const grpc::CallbackServerContext& ctx, detail::CallContext& context);

// "no model 'x' (models: a, b)" and the like: the names a table has.
std::string known_models(const RouteTable& routes);
std::string known_apps(const RouteTable& routes);

// A unary call answered later, from a replica's thread: cancellation reaches the request's
// context. Deletes itself when gRPC is done with it.
class UnaryCall final : public grpc::ServerUnaryReactor {
 public:
  explicit UnaryCall(grpc::CallbackServerContext& ctx) : ctx_(ctx), context_(context_for(ctx)) {}
  const std::shared_ptr<detail::CallContext>& context() const { return context_; }
  void OnCancel() override { cancel_for_grpc(ctx_, *context_); }
  void OnDone() override { delete this; }

 private:
  grpc::CallbackServerContext& ctx_;
  std::shared_ptr<detail::CallContext> context_;
};

}  // namespace cserve::grpc_ingress
