#!/usr/bin/python3
"""A gRPC client for cserve's tests, written against Python's grpcio and stubs that grpc_tools
generates from the project's .proto: nothing of cserve's own code is on this side.

Usage: oip_client.py PROTO_DIR PORT < operations.json > results.json
Each operation is an object with "op"; each result says the call's status "code" (a
grpc.StatusCode name), its "details", and what the response held. Tensor bytes travel as hex.
"""
import json
import sys
import tempfile
import threading
import time

import grpc
from grpc_tools import protoc


def load_stubs(proto_dir):
    out = tempfile.mkdtemp(prefix="cserve_oip_stubs_")
    rc = protoc.main(["protoc", "-I" + proto_dir, "--python_out=" + out, "--grpc_python_out=" + out,
                      proto_dir + "/open_inference.proto"])
    if rc != 0:
        raise SystemExit("grpc_tools.protoc failed: %d" % rc)
    sys.path.insert(0, out)
    import open_inference_pb2 as pb
    import open_inference_pb2_grpc as pb_grpc
    return pb, pb_grpc


def metadata_of(op):
    return [(k, v) for k, v in op.get("metadata", {}).items()]


def failure(e):
    return {"code": e.code().name, "details": e.details()}


def tensors_of(pb, op):
    request = pb.ModelInferRequest(model_name=op["model"], model_version=op.get("version", ""), id=op.get("id", ""))
    for key, value in op.get("parameters", {}).items():
        p = request.parameters[key]
        if isinstance(value, bool):
            p.bool_param = value
        elif isinstance(value, int):
            p.int64_param = value
        else:
            p.string_param = value
    for t in op["inputs"]:
        tensor = request.inputs.add(name=t["name"], datatype=t["datatype"], shape=t["shape"])
        if "typed" in t:
            field, values = t["typed"]
            if field == "bytes_contents":
                values = [v.encode() for v in values]
            getattr(tensor.contents, field).extend(values)
        else:
            request.raw_input_contents.append(bytes.fromhex(t["raw"]))
    for name in op.get("outputs", []):
        request.outputs.add(name=name)
    return request


def infer_result(response):
    return {"code": "OK", "model_name": response.model_name, "model_version": response.model_version,
            "id": response.id,
            "outputs": [{"name": o.name, "datatype": o.datatype, "shape": list(o.shape)} for o in response.outputs],
            "raw": [r.hex() for r in response.raw_output_contents]}


def run(pb, pb_grpc, channel, op):
    stub = pb_grpc.GRPCInferenceServiceStub(channel)
    kind = op["op"]
    try:
        if kind == "server_live":
            return {"code": "OK", "live": stub.ServerLive(pb.ServerLiveRequest()).live}
        if kind == "server_ready":
            return {"code": "OK", "ready": stub.ServerReady(pb.ServerReadyRequest()).ready}
        if kind == "server_metadata":
            r = stub.ServerMetadata(pb.ServerMetadataRequest())
            return {"code": "OK", "name": r.name, "version": r.version, "extensions": list(r.extensions)}
        if kind == "model_ready":
            r = stub.ModelReady(pb.ModelReadyRequest(name=op["name"], version=op.get("version", "")))
            return {"code": "OK", "ready": r.ready}
        if kind == "model_metadata":
            r = stub.ModelMetadata(pb.ModelMetadataRequest(name=op["name"], version=op.get("version", "")))
            tensors = lambda ts: [{"name": t.name, "datatype": t.datatype, "shape": list(t.shape)} for t in ts]
            return {"code": "OK", "name": r.name, "versions": list(r.versions), "platform": r.platform,
                    "inputs": tensors(r.inputs), "outputs": tensors(r.outputs)}
        if kind == "infer":
            request = tensors_of(pb, op)
            if "pad_bytes" in op:  # a message over the server's limit
                request.raw_input_contents.append(b"\0" * op["pad_bytes"])
            if "cancel_after" in op:
                future = stub.ModelInfer.future(request, metadata=metadata_of(op))
                time.sleep(op["cancel_after"])
                future.cancel()
                return {"code": "CANCELLED" if future.cancelled() else "NOT_CANCELLED"}
            response, call = stub.ModelInfer.with_call(request, metadata=metadata_of(op), timeout=op.get("timeout"))
            result = infer_result(response)
            result["initial_metadata"] = {k: v for k, v in call.initial_metadata()}
            return result
        if kind == "stream_method":
            call = channel.unary_stream(op["method"], request_serializer=None, response_deserializer=None)
            responses = call(bytes.fromhex(op["message"]), metadata=metadata_of(op), timeout=op.get("timeout"))
            messages = []
            try:
                for m in responses:
                    messages.append(m.hex())
                    if len(messages) == op.get("cancel_after_items", -1):
                        responses.cancel()
            except grpc.RpcError as e:
                return dict(failure(e), messages=messages)
            return {"code": "OK", "messages": messages}
        if kind == "method":
            call = channel.unary_unary(op["method"], request_serializer=None, response_deserializer=None)
            response = call(bytes.fromhex(op["message"]), metadata=metadata_of(op), timeout=op.get("timeout"))
            return {"code": "OK", "message": response.hex()}
        if kind == "concurrent_infer":  # n clients at once, each its own call
            results = [None] * op["n"]

            def one(i):
                try:
                    results[i] = infer_result(stub.ModelInfer(tensors_of(pb, op["each"][i])))
                except grpc.RpcError as e:
                    results[i] = failure(e)

            threads = [threading.Thread(target=one, args=(i,)) for i in range(op["n"])]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return {"code": "OK", "results": results}
        return {"code": "BAD_OPERATION", "details": kind}
    except grpc.RpcError as e:
        return failure(e)


def main():
    pb, pb_grpc = load_stubs(sys.argv[1])
    options = [("grpc.max_send_message_length", 64 << 20), ("grpc.max_receive_message_length", 64 << 20)]
    with grpc.insecure_channel("127.0.0.1:" + sys.argv[2], options=options) as channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        json.dump([run(pb, pb_grpc, channel, op) for op in json.load(sys.stdin)], sys.stdout)


if __name__ == "__main__":
    main()
