// cserve/detail/inference_http.hpp — the REST side of the Open Inference Protocol inside a
// replica: the model's paths parsed, an infer request decoded from JSON (and the binary tensor
// data extension), checked, run, and its response encoded the way the client asked.
// Thread-safety: plain functions; serve_inference_http runs on the replica's strand.
#pragma once

#include <cserve/detail/unique_function.hpp>
#include <cserve/http.hpp>
#include <cserve/inference.hpp>

#include <exception>
#include <set>
#include <string>

namespace cserve::detail {

using InferDone = UniqueFunction<void(InferResponse response, std::exception_ptr error)>;
using InferFn = UniqueFunction<void(InferRequest request, InferDone done)>;
// The answer, or the exception to answer with (a cserve::Error's code picks the status).
using HttpAnswer = UniqueFunction<void(Response response, std::exception_ptr error)>;

// Answers one protocol request to this replica's model (`req.full_path()` is
// /v2/models/{name}[/versions/{v}] with nothing more, "/ready" or "/infer"): metadata, readiness
// or an inference through `infer`. Bad input fails with kInvalidArgument (400) and an unknown
// version with kNotFound (404), answered with the protocol's {"error": ...} body.
void serve_inference_http(const Request& req, const ModelMetadata& metadata, InferFn infer, HttpAnswer done);

// The pieces, for tests: how a client asked for its outputs, and the codec.
struct RestInfer {
  InferRequest request;
  bool all_binary = false;             // "binary_data_output": true
  std::set<std::string> binary;        // outputs asked for with "binary_data": true
};
// Decodes a POST .../infer body (with Inference-Header-Content-Length for binary tensors).
// Throws Error (kInvalidArgument) naming what is wrong.
RestInfer decode_rest_infer(const Request& req);
Response encode_rest_infer(const std::string& model, const RestInfer& asked, InferResponse response);

}  // namespace cserve::detail
