// model_calls.hpp — gRPC calls as cserve calls: a detail::Call that runs a REST-form request on
// the replica of a model's deployment (handle_inference), or a method by name with the message's
// bytes as its one argument (call_encoded). The answer — or the Failure — reaches `done` exactly
// once: on the replica's thread, or on whichever thread rejects the call (queue full, cancelled,
// deployment gone).
// Thread-safety: the functions may be called from any thread.
#pragma once

#include "api/inference_metrics.hpp"
#include "router/router.hpp"

#include <cserve/detail/call_context.hpp>
#include <cserve/detail/item_source.hpp>
#include <cserve/detail/unique_function.hpp>
#include <cserve/error.hpp>
#include <cserve/http.hpp>

#include <memory>
#include <optional>
#include <string>

namespace cserve::grpc_ingress {

using ModelAnswer = detail::UniqueFunction<void(Response answer, std::optional<Failure> failure)>;
// `timer` (an inference's) learns when a replica takes the call; `done` records the outcome.
void call_model(Router& router, Request request, std::shared_ptr<detail::CallContext> context, ModelAnswer done,
                std::shared_ptr<InferenceTimer> timer = nullptr);

using MethodAnswer = detail::UniqueFunction<void(std::string result, std::optional<Failure> failure)>;
void call_method(Router& router, std::string method, std::string message, std::shared_ptr<detail::CallContext> context,
                 MethodAnswer done);

// A method that returns a Stream: `opened` gets its items as codec bytes and `finished`, which
// must run once the stream has ended or been cancelled (it gives the replica's slot back) — or
// the failure, when no replica took the call or the method would not start.
using StreamOpened = detail::UniqueFunction<void(std::shared_ptr<detail::ItemSource<std::string>> items,
                                                 detail::UniqueFunction<void()> finished,
                                                 std::optional<Failure> failure)>;
void open_method_stream(Router& router, std::string method, std::string message,
                        std::shared_ptr<detail::CallContext> context, StreamOpened opened);

}  // namespace cserve::grpc_ingress
