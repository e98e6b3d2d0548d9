#include "grpc/generic_service.hpp"

#include "grpc/grpc_status.hpp"
#include "grpc/model_calls.hpp"

#include "replica/replica.hpp"

#include <grpcpp/support/byte_buffer.h>

#include <algorithm>
#include <mutex>

namespace cserve::grpc_ingress {
namespace {

// The route entry of the application a call names.
const RouteTable::Entry* application_entry(grpc::GenericCallbackServerContext& ctx, const RouteTable& routes,
                                           grpc::Status& error) {
  const auto& metadata = ctx.client_metadata();
  auto it = metadata.find("application");
  if (it == metadata.end()) {
    if (routes.entries().size() == 1) return &routes.entries().front();
    error = grpc::Status(grpc::StatusCode::NOT_FOUND,
                         "set the 'application' metadata key to the application to call (applications: " +
                             known_apps(routes) + ")");
    return nullptr;
  }
  const std::string_view app(it->second.data(), it->second.size());
  for (const auto& e : routes.entries()) {
    if (e.app == app) return &e;
  }
  error = grpc::Status(grpc::StatusCode::NOT_FOUND, "no application '" + std::string(app) +
                                                        "' (applications: " + known_apps(routes) + ")");
  return nullptr;
}

// One call of an application's method: one request message; one response message, or one per
// item of a Stream method. The replica's answers arrive on its thread, gRPC's reactions on
// gRPC's: the state they share is guarded by mu_ (which also orders them for OnDone's delete).
class MethodCall final : public grpc::ServerGenericBidiReactor {
 public:
  MethodCall(grpc::GenericCallbackServerContext& ctx, std::shared_ptr<const RouteTable> routes)
      : ctx_(ctx), routes_(std::move(routes)), context_(context_for(ctx)) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) return Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the call sent no request message"));
    grpc::Status error;
    const RouteTable::Entry* entry = application_entry(ctx_, *routes_, error);
    if (entry == nullptr) return Finish(error);
    std::vector<grpc::Slice> slices;
    std::string message;
    if (!request_.Dump(&slices).ok()) return Finish(grpc::Status(grpc::StatusCode::INTERNAL, "unreadable message"));
    for (const auto& s : slices) message.append(reinterpret_cast<const char*>(s.begin()), s.size());
    request_.Clear();
    const std::string method = ctx_.method();
    const auto& streams = entry->stream_methods;
    if (std::find(streams.begin(), streams.end(), method) == streams.end()) {
      return call_method(*entry->router, method, std::move(message), context_,
                         [this](std::string result, std::optional<Failure> failure) {
                           if (failure) return Finish(status_of(*failure));
                           write(std::move(result));
                         });
    }
    open_method_stream(*entry->router, method, std::move(message), context_,
                       [this](std::shared_ptr<detail::ItemSource<std::string>> items,
                              detail::UniqueFunction<void()> finished, std::optional<Failure> failure) {
                         if (failure) return Finish(status_of(*failure));
                         {
                           std::lock_guard lock(mu_);
                           items_ = std::move(items);
                           finished_ = std::move(finished);
                         }
                         pull();
                       });
  }

  void OnWriteDone(bool ok) override {
    std::shared_ptr<detail::ItemSource<std::string>> items;
    {
      std::lock_guard lock(mu_);
      items = items_;
    }
    if (!ok) {
      if (items) items->cancel();
      end_stream();
      return Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
    }
    if (items) return pull();
    Finish(grpc::Status::OK);
  }
  void OnCancel() override { cancel_for_grpc(ctx_, *context_); }
  void OnDone() override {
    { std::lock_guard lock(mu_); }  // the last answer's writes happen before the delete
    delete this;
  }

 private:
  void write(std::string message) {
    {
      std::lock_guard lock(mu_);
      grpc::Slice slice(message);
      response_ = grpc::ByteBuffer(&slice, 1);
    }
    StartWrite(&response_);
  }

  // The stream's next item: written, or the end (OK) or its error.
  void pull() {
    std::shared_ptr<detail::ItemSource<std::string>> items;
    {
      std::lock_guard lock(mu_);
      items = items_;
    }
    items->pull([this](std::optional<std::string> item, std::exception_ptr error) {
      if (item && !error) return write(std::move(*item));
      std::optional<Failure> failure;
      if (error) failure = describe_handler_failure(error, context_->request_id(), "gRPC " + ctx_.method());
      end_stream();
      Finish(failure ? status_of(*failure) : grpc::Status::OK);
    });
  }

  // Gives the replica's slot back, once.
  void end_stream() {
    detail::UniqueFunction<void()> finished;
    {
      std::lock_guard lock(mu_);
      finished = std::move(finished_);
    }
    if (finished) finished();
  }

  grpc::GenericCallbackServerContext& ctx_;
  const std::shared_ptr<const RouteTable> routes_;
  const std::shared_ptr<detail::CallContext> context_;
  grpc::ByteBuffer request_;
  std::mutex mu_;
  grpc::ByteBuffer response_;                                 // guarded by mu_
  std::shared_ptr<detail::ItemSource<std::string>> items_;    // guarded by mu_: set for a Stream method
  detail::UniqueFunction<void()> finished_;                   // guarded by mu_
};

}  // namespace

grpc::ServerGenericBidiReactor* GenericService::CreateReactor(grpc::GenericCallbackServerContext* ctx) {
  return new MethodCall(*ctx, routes_.get());
}

}  // namespace cserve::grpc_ingress
