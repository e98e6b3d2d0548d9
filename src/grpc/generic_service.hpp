// generic_service.hpp — the applications' own gRPC methods (docs/grpc.md), like Ray Serve's
// grpc_servicer_functions without generated code in cserve: a call to any method other than the
// inference service's goes to the ingress deployment of the application its `application`
// metadata names (the only application when there is one), to the method registered under the
// call's full gRPC name ("/package.Service/Method"), with the request message's serialized bytes
// as its one std::string argument; the std::string it returns is the response message, or — for
// a method that returns a Stream<std::string> — each item is one (a server-streaming call: items
// are produced one per message written, and a client that goes away stops the generator).
// Errors: NOT_FOUND for an unknown application or method, INVALID_ARGUMENT for a call without a
// message or a method whose signature does not take bytes, and a replica's failures as for
// inference (grpc_status.hpp); a stream's exception ends it after the items before it.
// Thread-safety: gRPC drives each reactor; the reactor's answer may come from a replica's thread.
#pragma once

#include "grpc/grpc_calls.hpp"

#include <grpcpp/generic/async_generic_service.h>

namespace cserve::grpc_ingress {

class GenericService final : public grpc::CallbackGenericService {
 public:
  explicit GenericService(const IngressRoutes& routes) : routes_(routes) {}
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override;

 private:
  const IngressRoutes& routes_;
};

}  // namespace cserve::grpc_ingress
