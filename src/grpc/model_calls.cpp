#include "grpc/model_calls.hpp"

#include "replica/replica.hpp"

#include <cserve/detail/call.hpp>
#include <cserve/detail/callable.hpp>

namespace cserve::grpc_ingress {

void call_model(Router& router, Request request, std::shared_ptr<detail::CallContext> context, ModelAnswer done,
                std::shared_ptr<InferenceTimer> timer) {
  auto answer = std::make_shared<ModelAnswer>(std::move(done));
  detail::Call call;
  call.context = std::move(context);
  call.run = [answer, timer = std::move(timer), req = std::move(request)](
                 detail::ReplicaCallable& target, detail::UniqueFunction<void()> slot_done) mutable {
    if (timer) timer->started();
    auto request = std::make_unique<Request>(std::move(req));
    Request& r = *request;
    target.handle_inference(r, [answer, request = std::move(request),
                                slot_done = std::move(slot_done)](detail::HandlerOutcome out) mutable {
      std::optional<Failure> failure;
      if (out.error) {
        failure = describe_handler_failure(out.error, request->request_id(), "gRPC " + request->full_path());
      }
      slot_done();
      (*answer)(std::move(out.response), std::move(failure));
    });
  };
  call.reject = [answer](Failure f) { (*answer)({}, std::move(f)); };
  router.submit(std::move(call));
}

void call_method(Router& router, std::string method, std::string message, std::shared_ptr<detail::CallContext> context,
                 MethodAnswer done) {
  auto answer = std::make_shared<MethodAnswer>(std::move(done));
  detail::Call call;
  const std::string request_id = context->request_id();
  call.context = std::move(context);
  call.run = [answer, method = std::move(method), message = std::move(message), request_id](
                 detail::ReplicaCallable& target, detail::UniqueFunction<void()> slot_done) mutable {
    std::vector<std::string> args;
    args.push_back(std::move(message));
    auto finish = [answer, method, request_id, slot_done = std::move(slot_done)](std::string result,
                                                                                std::exception_ptr error) mutable {
      std::optional<Failure> failure;
      if (error) failure = describe_handler_failure(error, request_id, "gRPC " + method);
      slot_done();
      (*answer)(std::move(result), std::move(failure));
    };
    target.call_encoded(method, std::move(args), std::move(finish));  // failures come through `finish`
  };
  call.reject = [answer](Failure f) { (*answer)({}, std::move(f)); };
  router.submit(std::move(call));
}

void open_method_stream(Router& router, std::string method, std::string message,
                        std::shared_ptr<detail::CallContext> context, StreamOpened opened) {
  auto answer = std::make_shared<StreamOpened>(std::move(opened));
  detail::Call call;
  const std::string request_id = context->request_id();
  call.context = std::move(context);
  call.run = [answer, method = std::move(method), message = std::move(message), request_id](
                 detail::ReplicaCallable& target, detail::UniqueFunction<void()> slot_done) mutable {
    std::shared_ptr<detail::ItemSource<std::string>> items;
    std::vector<std::string> args;
    args.push_back(std::move(message));
    try {
      items = target.open_encoded_stream(method, std::move(args));
    } catch (...) {
      Failure failure = describe_handler_failure(std::current_exception(), request_id, "gRPC " + method);
      slot_done();
      return (*answer)(nullptr, {}, std::move(failure));
    }
    (*answer)(std::move(items), std::move(slot_done), std::nullopt);
  };
  call.reject = [answer](Failure f) { (*answer)(nullptr, {}, std::move(f)); };
  router.submit(std::move(call));
}

}  // namespace cserve::grpc_ingress
