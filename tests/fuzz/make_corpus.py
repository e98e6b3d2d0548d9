#!/usr/bin/env python3
"""Writes the frame fuzzer's seed corpus (tests/fuzz/corpus/frame): valid streams of frames as
docs/wire.md specifies them, so that fuzzing starts from inputs that reach every decoder.
Run it again after a change of the wire format: python3 tests/fuzz/make_corpus.py"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "frame")


def msgpack(value):
    """A minimal MessagePack encoder: maps, strings, non-negative ints, nil."""
    if value is None:
        return b"\xc0"
    if isinstance(value, int):
        return b"\xcf" + struct.pack(">Q", value)
    if isinstance(value, str):
        data = value.encode()
        return bytes([0xD9, len(data)]) + data
    if isinstance(value, dict):
        out = bytes([0x80 | len(value)])
        for k, v in value.items():
            out += msgpack(k) + msgpack(v)
        return out
    raise TypeError(value)


def frame(kind, call_id, payload=b""):
    return struct.pack("<IBBQ", 10 + len(payload), kind, 0, call_id) + payload


def call(call_id, method, args, kind="value"):
    header = msgpack({"deployment": "Model", "method": method, "request_id": "req-1", "kind": kind, "credits": 1})
    body = struct.pack("<I", len(header)) + header + struct.pack("<I", len(args))
    for a in args:
        body += struct.pack("<I", len(a)) + a
    return frame(2, call_id, body)


def string(s):
    data = s.encode() if isinstance(s, str) else s
    return struct.pack("<I", len(data)) + data


def pairs(items):
    return struct.pack("<I", len(items)) + b"".join(string(k) + string(v) for k, v in items)


def http_request(body=b""):
    return (string("POST") + string("/items/7") + string("/api/items/7") + string("q=1") + string("req-1") +
            pairs([("content-type", "application/octet-stream")]) + pairs([("id", "7")]) + body)


def http_response(body=b""):
    return struct.pack("<I", 200) + string("text/plain") + pairs([("x-a", "b")]) + body


hello = frame(1, 0, msgpack({"protocol": "cserve-wire", "version": 1, "max_frame_bytes": 1 << 20, "role": "worker", "pid": 7}))
seeds = {
    "hello": hello,
    "call_value": hello + call(1, "__call__", [msgpack(41), b"raw bytes"]),
    "call_stream": call(3, "tokens", [msgpack(3)], kind="stream") + frame(8, 3, struct.pack("<I", 4)),
    "call_http": call(5, "__http__", [http_request(b"\x00\x01body")], kind="http"),
    "call_typed": call(9, "scale", [msgpack(2), b"raw"], kind="typed"),
    "call_typed_stream": call(11, "images", [msgpack(4)], kind="typed_stream") + frame(6, 11, b"\x00\x01") +
                         frame(8, 11, struct.pack("<I", 1)) + frame(4, 11, msgpack({"code": 6, "message": "cancelled"})),
    "http_answer": frame(3, 5, http_response(b"ok")) +
                   frame(10, 7, struct.pack("<I", len(http_response())) + http_response() + b"\x01first"),
    "result_and_stream": frame(3, 1, msgpack(42)) + frame(6, 3, b"item") + frame(7, 3),
    "error": frame(4, 1, msgpack({"code": 8, "message": "replica died: SIGSEGV"})),
    "cancel_goaway": frame(5, 1) + frame(9, 0),
}
os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    # the first byte is the fuzzer's piece size
    for piece, suffix in ((0, "bytewise"), (255, "whole")):
        with open(os.path.join(OUT, f"{name}_{suffix}"), "wb") as f:
            f.write(bytes([piece]) + data)
print(f"wrote {2 * len(seeds)} seeds to {OUT}")
