#!/usr/bin/env bash
# bench/inference: the Open Inference Protocol over REST (JSON tensors and binary tensor data) and
# over gRPC (raw_input_contents), for a small tensor (4 FP32) and a 1 MiB one (262144 FP32), in
# one run against one server. wrk drives POST /v2/models/doubler/infer, and grpc_infer_load
# (bench/grpc_infer_load.cpp) ModelInfer, at 64 connections (and 1, for the latency of one
# request); each connection keeps one request in flight.
#
#   ./bench/inference.sh [DURATION_SECONDS]
# Prints a Markdown table: requests/s, p50, p99, and the MB/s of tensor data in.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
build=build/release
lib=$PWD/$build/bench/libbench_inference_apps.so
[[ -f $lib ]] || { echo "build first: cmake --build --preset release" >&2; exit 1; }
work=$(mktemp -d)
pid=
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

log=$work/serve.log
CSERVE_ACCESS_LOG=0 "$build/cserve" run "$lib:doubler" --http-port 0 --admin-port 0 --grpc-port 0 --cpus 8 >"$log" 2>/dev/null &
pid=$!
for _ in $(seq 1 200); do grep -q "gRPC on" "$log" && break; sleep 0.05; done
port=$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$log" | grep -o '[0-9]*$')
grpc_port=$(grep -o 'gRPC on [0-9.]*:[0-9]*' "$log" | grep -o '[0-9]*$')
url="http://127.0.0.1:$port/v2/models/doubler/infer"

# script NAME ELEMENTS BINARY: a wrk script posting an FP32 tensor of ELEMENTS values, as JSON
# data or (BINARY=1) as binary data after the JSON, asking for the output the same way.
script() {
  local file=$work/$1.lua
  cat >"$file" <<LUA
local n = $2
wrk.method = "POST"
if $3 == 1 then
  local json = '{"inputs":[{"name":"x","shape":[' .. n .. '],"datatype":"FP32","parameters":{"binary_data_size":' .. (4 * n) .. '}}],"parameters":{"binary_data_output":true}}'
  wrk.body = json .. string.rep("\0\0\128\63", n)   -- 1.0f, little-endian
  wrk.headers["Content-Type"] = "application/octet-stream"
  wrk.headers["Inference-Header-Content-Length"] = tostring(#json)
else
  local data = string.rep("1.5,", n - 1) .. "1.5"
  wrk.body = '{"inputs":[{"name":"x","shape":[' .. n .. '],"datatype":"FP32","data":[' .. data .. ']}]}'
  wrk.headers["Content-Type"] = "application/json"
end
LUA
  echo "$file"
}

measure() {  # SCRIPT CONNECTIONS -> "requests/s p50 p99"
  local out
  wrk -t1 -c"$2" -d2s -s "$1" "$url" >/dev/null 2>&1 || true  # warm-up
  out=$(wrk -t1 -c"$2" -d"${duration}s" --latency -s "$1" "$url")
  echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(awk '$1=="50%" {print $2}' <<<"$out") $(awk '$1=="99%" {print $2}' <<<"$out")"
}

# A check that the model answers each shape before measuring.
curl -sf -o /dev/null "$url" -d '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}' ||
  { echo "the model does not answer" >&2; exit 1; }

echo "| tensor | encoding | connections | requests/s | p50 | p99 | tensor MB/s in |"
echo "|---|---|---|---|---|---|---|"
for elements in 4 262144; do
  for binary in 0 1; do
    s=$(script "t${elements}_${binary}" "$elements" "$binary")
    for conns in 1 64; do
      read -r rps p50 p99 <<<"$(measure "$s" "$conns")"
      mbs=$(awk -v r="$rps" -v n="$elements" 'BEGIN { printf "%.1f", r * n * 4 / 1e6 }')
      echo "| $( ((elements == 4)) && echo "4 FP32" || echo "1 MiB (262144 FP32)") | REST $( ((binary)) && echo binary || echo JSON) | $conns | $rps | $p50 | $p99 | $mbs |"
    done
  done
  for conns in 1 64; do
    read -r rps p50 p99 <<<"$("$build/bench/grpc_infer_load" "$grpc_port" "$conns" "$duration" "$elements")"
    mbs=$(awk -v r="$rps" -v n="$elements" 'BEGIN { printf "%.1f", r * n * 4 / 1e6 }')
    echo "| $( ((elements == 4)) && echo "4 FP32" || echo "1 MiB (262144 FP32)") | gRPC raw | $conns | $rps | $p50 | $p99 | $mbs |"
  done
done
