#include "grpc/inference_service.hpp"

#include "grpc/grpc_status.hpp"
#include "grpc/inference_messages.hpp"
#include "grpc/model_calls.hpp"

#include <cserve/routes.hpp>

#include <algorithm>

namespace cserve::grpc_ingress {
namespace {

grpc::ServerUnaryReactor* answered(grpc::CallbackServerContext* ctx, const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

grpc::Status no_model(const std::string& name, const RouteTable& routes) {
  return grpc::Status(grpc::StatusCode::NOT_FOUND,
                      "no model '" + name + "' (models: " + known_models(routes) + ")");
}

// The model a request names, or nullptr. A name with '/' is no model's (it would change the path).
const RouteTable::Model* find_model(const RouteTable& routes, const std::string& name, const std::string& version) {
  if (name.find('/') != std::string::npos || version.find('/') != std::string::npos) return nullptr;
  return routes.model(name);
}

Request rest_get(const std::string& path, const std::string& request_id) {
  Request r("GET", path);
  detail::RequestAccess::set_ids(r, path, request_id);
  return r;
}

}  // namespace

grpc::ServerUnaryReactor* InferenceService::ServerLive(grpc::CallbackServerContext* ctx,
                                                       const inference::ServerLiveRequest*,
                                                       inference::ServerLiveResponse* response) {
  response->set_live(true);
  return answered(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* InferenceService::ServerReady(grpc::CallbackServerContext* ctx,
                                                        const inference::ServerReadyRequest*,
                                                        inference::ServerReadyResponse* response) {
  const auto routes = routes_.get();
  response->set_ready(std::all_of(routes->models().begin(), routes->models().end(),
                                  [](const RouteTable::Model& m) { return m.router->serving(); }));
  return answered(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* InferenceService::ServerMetadata(grpc::CallbackServerContext* ctx,
                                                           const inference::ServerMetadataRequest*,
                                                           inference::ServerMetadataResponse* response) {
  response->set_name("cserve");
  response->set_version(CSERVE_VERSION);
  response->add_extensions("binary_tensor_data");
  return answered(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* InferenceService::ModelReady(grpc::CallbackServerContext* ctx,
                                                       const inference::ModelReadyRequest* request,
                                                       inference::ModelReadyResponse* response) {
  const auto routes = routes_.get();
  const RouteTable::Model* model = find_model(*routes, request->name(), request->version());
  if (model == nullptr) return answered(ctx, no_model(request->name(), *routes));
  if (request->version().empty() || !model->router->serving()) {
    response->set_ready(model->router->serving());
    return answered(ctx, grpc::Status::OK);
  }
  // Whether the version exists is the model's to say.
  auto* call = new UnaryCall(*ctx);
  const std::string path = model_path(request->name(), request->version()) + "/ready";
  call_model(*model->router, rest_get(path, call->context()->request_id()), call->context(),
             [call, response](Response answer, std::optional<Failure> failure) {
               if (!failure) failure = failure_of(answer);
               if (failure) return call->Finish(status_of(*failure));
               response->set_ready(true);
               call->Finish(grpc::Status::OK);
             });
  return call;
}

grpc::ServerUnaryReactor* InferenceService::ModelMetadata(grpc::CallbackServerContext* ctx,
                                                          const inference::ModelMetadataRequest* request,
                                                          inference::ModelMetadataResponse* response) {
  const auto routes = routes_.get();
  const RouteTable::Model* model = find_model(*routes, request->name(), request->version());
  if (model == nullptr) return answered(ctx, no_model(request->name(), *routes));
  auto* call = new UnaryCall(*ctx);
  const std::string path = model_path(request->name(), request->version());
  call_model(*model->router, rest_get(path, call->context()->request_id()), call->context(),
             [call, response](Response answer, std::optional<Failure> failure) {
               if (!failure) failure = failure_of(answer);
               if (failure) return call->Finish(status_of(*failure));
               const Json metadata = Json::parse(answer.body, nullptr, /*allow_exceptions=*/false);
               if (!metadata.is_object()) {
                 return call->Finish(grpc::Status(grpc::StatusCode::INTERNAL, "the model's metadata is not JSON"));
               }
               fill_model_metadata(metadata, *response);
               call->Finish(grpc::Status::OK);
             });
  return call;
}

grpc::ServerUnaryReactor* InferenceService::ModelInfer(grpc::CallbackServerContext* ctx,
                                                       const inference::ModelInferRequest* request,
                                                       inference::ModelInferResponse* response) {
  const auto routes = routes_.get();
  const RouteTable::Model* model = find_model(*routes, request->model_name(), request->model_version());
  if (model == nullptr) return answered(ctx, no_model(request->model_name(), *routes));
  auto* call = new UnaryCall(*ctx);
  Request rest;
  try {
    // gRPC made the message for this call alone and frees it after OnDone: its raw tensor bytes
    // move into the REST request instead of being copied.
    rest = rest_infer_request(const_cast<inference::ModelInferRequest&>(*request));
  } catch (const Error& e) {
    call->Finish(status_of(Failure{e.code(), e.what()}));
    return call;
  }
  detail::RequestAccess::set_ids(rest, rest.path(), call->context()->request_id());
  auto timer = std::make_shared<InferenceTimer>(model->name, request->model_version(), "grpc");
  call_model(
      *model->router, std::move(rest), call->context(),
      [call, response, timer](Response answer, std::optional<Failure> failure) {
        if (!failure) failure = failure_of(answer);
        if (!failure) {
          try {
            fill_infer_response(answer, *response);
          } catch (const Error& e) {
            failure = Failure{e.code(), e.what()};
          }
        }
        timer->finished(failure ? std::optional<ErrorCode>(failure->code) : std::nullopt);
        call->Finish(failure ? status_of(*failure) : grpc::Status::OK);
      },
      timer);
  return call;
}

}  // namespace cserve::grpc_ingress
