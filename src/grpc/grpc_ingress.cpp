#include "grpc/grpc_ingress.hpp"

#include "common/logging.hpp"
#include "grpc/generic_service.hpp"
#include "grpc/inference_service.hpp"

#include <cserve/error.hpp>

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

namespace cserve {

struct GrpcIngress::Impl {
  GrpcOptions options;
  grpc_ingress::IngressRoutes routes;
  grpc_ingress::InferenceService inference{routes};
  grpc_ingress::GenericService generic{routes};
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

GrpcIngress::GrpcIngress(GrpcOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}

GrpcIngress::~GrpcIngress() { stop(Duration::zero()); }

void GrpcIngress::start() {
  const GrpcOptions& o = impl_->options;
  const std::string address = (o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host) + ":" +
                              std::to_string(o.port);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &impl_->port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(std::min<std::size_t>(o.max_message_bytes, INT32_MAX)));
  // One process per port: without this, a second server on the same port would share it.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(&impl_->inference);
  builder.RegisterCallbackGenericService(&impl_->generic);
  impl_->server = builder.BuildAndStart();
  if (!impl_->server || impl_->port == 0) {
    impl_->server.reset();
    throw Error("cannot serve gRPC on " + address + " (is the port in use?)", ErrorCode::kUnavailable);
  }
  CSERVE_LOG(kInfo, "grpc") << "serving gRPC on " << o.host << ":" << impl_->port;
}

int GrpcIngress::port() const { return impl_->port; }

void GrpcIngress::set_routes(std::shared_ptr<const RouteTable> routes) { impl_->routes.set(std::move(routes)); }

void GrpcIngress::stop(Duration grace) {
  if (!impl_->server) return;
  impl_->server->Shutdown(std::chrono::system_clock::now() +
                          std::chrono::duration_cast<std::chrono::system_clock::duration>(grace));
  impl_->server->Wait();
  impl_->server.reset();
}

}  // namespace cserve
