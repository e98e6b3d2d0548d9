#!/usr/bin/env bash
# bench/models: examples/models (the digits application) under load.
#   1. Per framework (TorchScript on LibTorch, XGBoost, ONNX on OpenCV DNN, and the ensemble of
#      the three), batching off (max_batch_size 1) and on (16): wrk, 64 keep-alive connections
#      POSTing one held-out image's 64 numbers.
#   2. Multiplexed per-customer XGBoost models, one connection: a hit (the same customer every
#      time: its model stays loaded) against a miss (ten customers in turn over two replicas that
#      keep three each: every request loads its model).
#
#   ./bench/models.sh [DURATION_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
server=build/release/examples/models/digits
pid=""
work=$(mktemp -d)
trap '[[ -n "$pid" ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"' EXIT

body=$(python3 -c 'import json; print(json.dumps(json.load(open("examples/models/artifacts/digits_test.json"))["inputs"][0]))')
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$body'
LUA
cat >"$work/hit.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["serve_multiplexed_model_id"] = "customer_0"
LUA
cat >"$work/miss.lua" <<LUA
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", nil, {["serve_multiplexed_model_id"] = "customer_" .. (n % 10)}, '$body')
end
LUA

start_server() {
  log="$work/server.log"
  CSERVE_LOG_LEVEL=warning "$server" --port 0 "$@" >"$log" 2>/dev/null &
  pid=$!
  for _ in $(seq 1 400); do grep -q "listening on" "$log" && break; sleep 0.05; done
  port=$(grep -o '[0-9]*$' "$log" | head -1)
}
stop_server() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }

# wrk's figures: "rps p50 p99"; fails on any non-2xx answer.
measure() {
  local out
  out=$(wrk -t1 "$@" --latency)
  local errors
  errors=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  [[ -z "$errors" ]] || { echo "non-2xx responses: $errors" >&2; exit 1; }
  echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(awk '$1=="50%" {print $2}' <<<"$out") $(awk '$1=="99%" {print $2}' <<<"$out")"
}

echo "| model | max_batch_size | requests/s | p50 | p99 | mean batch size |"
echo "|---|---|---|---|---|---|"
for size in 1 16; do
  start_server --max-batch-size "$size"
  for model in torch xgb onnx ensemble; do
    before=$(curl -s "http://127.0.0.1:$port/digits/stats")
    read -r rps p50 p99 < <(measure -c64 -d"${duration}s" -s "$work/post.lua" "http://127.0.0.1:$port/digits/$model")
    after=$(curl -s "http://127.0.0.1:$port/digits/stats")
    mean=$(python3 -c '
import json, sys
b, a, m = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
names = ["torch", "xgb", "onnx"] if m == "ensemble" else [m]
inputs = sum(a[n]["inputs"] - b[n]["inputs"] for n in names)
batches = sum(a[n]["batches"] - b[n]["batches"] for n in names)
print(round(inputs / max(1, batches), 1))' "$before" "$after" "$model")
    echo "| $model | $size | $rps | $p50 | $p99 | $mean |"
  done
  stop_server
done

echo
echo "| multiplexed customer model | requests/s | p50 | p99 |"
echo "|---|---|---|---|"
start_server
for kind in hit miss; do
  read -r rps p50 p99 < <(measure -c1 -d"${duration}s" -s "$work/$kind.lua" "http://127.0.0.1:$port/digits/customer")
  echo "| $kind | $rps | $p50 | $p99 |"
done
stop_server
