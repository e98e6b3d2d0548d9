// grpc_ingress.hpp — the gRPC server in front of the applications (docs/grpc.md): the Open
// Inference Protocol's service and the applications' own methods on one port, beside the HTTP
// proxy and fed the same route table. gRPC's threads decode, route and encode; user code runs
// on the replicas' threads as for HTTP.
//
// Lifecycle:  constructed --start()--> serving --stop()--> stopped
// Thread-safety: set_routes() is safe from any thread; start() and stop() from one owner.
#pragma once

#include "common/clock.hpp"
#include "router/route_table.hpp"

#include <cserve/serve.hpp>

#include <memory>

namespace cserve {

class GrpcIngress {
 public:
  explicit GrpcIngress(GrpcOptions options);
  ~GrpcIngress();
  GrpcIngress(const GrpcIngress&) = delete;
  GrpcIngress& operator=(const GrpcIngress&) = delete;

  // Binds and starts serving. Throws cserve::Error when the address cannot be bound.
  void start();
  int port() const;
  void set_routes(std::shared_ptr<const RouteTable> routes);
  // Stops taking calls; calls in flight get `grace` to finish, then are cancelled. Idempotent.
  void stop(Duration grace);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cserve
