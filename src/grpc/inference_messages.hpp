// inference_messages.hpp — the Open Inference Protocol's gRPC messages in the REST form that a
// model's replica serves (detail/inference_http.hpp), so that one code path (in-process or in a
// worker) checks and runs every inference:
//   ModelInferRequest  -> POST /v2/models/{name}[/versions/{v}]/infer with the binary tensor
//                         extension: each input's bytes after the JSON (from raw_input_contents,
//                         or from typed `contents`, each value range-checked), every output asked
//                         for as binary data;
//   the REST answer    -> ModelInferResponse with raw_output_contents;
//   metadata JSON      -> ModelMetadataResponse.
// Parameters cross both ways (bool, int64, uint64, double, string). The REST request carries one
// more request parameter than the client sent: "binary_data_output": true.
// Thread-safety: pure functions.
#pragma once

#include "open_inference.pb.h"

#include <cserve/http.hpp>
#include <cserve/json.hpp>

#include <string>

namespace cserve::grpc_ingress {

// /v2/models/{name}, with /versions/{version} when a version is named.
std::string model_path(const std::string& name, const std::string& version);

// Throws Error (kInvalidArgument) naming the tensor when the message cannot be a valid request:
// raw_input_contents not one per input, an input with both raw and typed contents, typed values
// in the wrong field for the datatype or out of its range, FP16 as typed contents.
// Takes the raw bytes out of `message`.
Request rest_infer_request(inference::ModelInferRequest& message);

// Throws Error (kInternal) when `rest` is not a well-formed REST inference answer.
void fill_infer_response(const Response& rest, inference::ModelInferResponse& out);

void fill_model_metadata(const Json& metadata, inference::ModelMetadataResponse& out);

}  // namespace cserve::grpc_ingress
