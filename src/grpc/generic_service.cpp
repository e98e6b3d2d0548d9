#include "grpc/generic_service.hpp"

#include "grpc/grpc_status.hpp"
#include "grpc/model_calls.hpp"

#include <grpcpp/support/byte_buffer.h>

namespace cserve::grpc_ingress {
namespace {

// The ingress router of the application a call names.
std::shared_ptr<Router> application_router(grpc::GenericCallbackServerContext& ctx, const RouteTable& routes,
                                           grpc::Status& error) {
  const auto& metadata = ctx.client_metadata();
  auto it = metadata.find("application");
  if (it == metadata.end()) {
    if (routes.entries().size() == 1) return routes.entries().front().router;
    error = grpc::Status(grpc::StatusCode::NOT_FOUND,
                         "set the 'application' metadata key to the application to call (applications: " +
                             known_apps(routes) + ")");
    return nullptr;
  }
  const std::string_view app(it->second.data(), it->second.size());
  for (const auto& e : routes.entries()) {
    if (e.app == app) return e.router;
  }
  error = grpc::Status(grpc::StatusCode::NOT_FOUND, "no application '" + std::string(app) +
                                                        "' (applications: " + known_apps(routes) + ")");
  return nullptr;
}

class MethodCall final : public grpc::ServerGenericBidiReactor {
 public:
  MethodCall(grpc::GenericCallbackServerContext& ctx, std::shared_ptr<const RouteTable> routes)
      : ctx_(ctx), routes_(std::move(routes)), context_(context_for(ctx)) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) return Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the call sent no request message"));
    grpc::Status error;
    std::shared_ptr<Router> router = application_router(ctx_, *routes_, error);
    if (!router) return Finish(error);
    std::vector<grpc::Slice> slices;
    std::string message;
    if (!request_.Dump(&slices).ok()) return Finish(grpc::Status(grpc::StatusCode::INTERNAL, "unreadable message"));
    for (const auto& s : slices) message.append(reinterpret_cast<const char*>(s.begin()), s.size());
    request_.Clear();
    call_method(*router, ctx_.method(), std::move(message), context_,
                [this](std::string result, std::optional<Failure> failure) {
                  if (failure) return Finish(status_of(*failure));
                  grpc::Slice slice(result);
                  response_ = grpc::ByteBuffer(&slice, 1);
                  StartWrite(&response_);
                });
  }
  void OnWriteDone(bool ok) override {
    Finish(ok ? grpc::Status::OK : grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
  }
  void OnCancel() override { cancel_for_grpc(ctx_, *context_); }
  void OnDone() override { delete this; }

 private:
  grpc::GenericCallbackServerContext& ctx_;
  std::shared_ptr<const RouteTable> routes_;
  std::shared_ptr<detail::CallContext> context_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
};

}  // namespace

grpc::ServerGenericBidiReactor* GenericService::CreateReactor(grpc::GenericCallbackServerContext* ctx) {
  return new MethodCall(*ctx, routes_.get());
}

}  // namespace cserve::grpc_ingress
