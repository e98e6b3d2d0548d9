// inference_service.hpp — inference.GRPCInferenceService: the Open Inference Protocol over gRPC
// (docs/inference.md). The server's own answers (ServerLive, ServerReady, ServerMetadata, an
// unknown model, the readiness of a model without a version) come from the route table on
// gRPC's thread; ModelInfer, ModelMetadata and a versioned ModelReady go to the replica of the
// model's deployment in REST form (inference_messages.hpp), where the request is checked
// against the model's metadata and run — the same path as over HTTP, in-process or in a worker.
// Errors: INVALID_ARGUMENT naming the tensor, NOT_FOUND for an unknown model or version,
// RESOURCE_EXHAUSTED for a message over max_message_bytes (gRPC's own check), UNAVAILABLE for a
// full queue, DEADLINE_EXCEEDED and CANCELLED as the client's deadline and cancellation say.
// Thread-safety: gRPC calls the methods from its threads; they share only IngressRoutes.
#pragma once

#include "grpc/grpc_calls.hpp"
#include "open_inference.grpc.pb.h"

namespace cserve::grpc_ingress {

class InferenceService final : public inference::GRPCInferenceService::CallbackService {
 public:
  explicit InferenceService(const IngressRoutes& routes) : routes_(routes) {}

  grpc::ServerUnaryReactor* ServerLive(grpc::CallbackServerContext* ctx, const inference::ServerLiveRequest* request,
                                       inference::ServerLiveResponse* response) override;
  grpc::ServerUnaryReactor* ServerReady(grpc::CallbackServerContext* ctx, const inference::ServerReadyRequest* request,
                                        inference::ServerReadyResponse* response) override;
  grpc::ServerUnaryReactor* ModelReady(grpc::CallbackServerContext* ctx, const inference::ModelReadyRequest* request,
                                       inference::ModelReadyResponse* response) override;
  grpc::ServerUnaryReactor* ServerMetadata(grpc::CallbackServerContext* ctx,
                                           const inference::ServerMetadataRequest* request,
                                           inference::ServerMetadataResponse* response) override;
  grpc::ServerUnaryReactor* ModelMetadata(grpc::CallbackServerContext* ctx,
                                          const inference::ModelMetadataRequest* request,
                                          inference::ModelMetadataResponse* response) override;
  grpc::ServerUnaryReactor* ModelInfer(grpc::CallbackServerContext* ctx, const inference::ModelInferRequest* request,
                                       inference::ModelInferResponse* response) override;

 private:
  const IngressRoutes& routes_;
};

}  // namespace cserve::grpc_ingress
