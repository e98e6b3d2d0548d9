#!/usr/bin/env bash
# bench/batching: examples/batching with batching off (max_batch_size 1) and on (32), driven by
# the same closed-loop load: wrk, 64 keep-alive connections POSTing 512-number inputs.
#
#   ./bench/batching.sh [DURATION_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
server=build/release/examples/batching
pid=""
work=$(mktemp -d)
trap '[[ -n "$pid" ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"' EXIT

body=$(/usr/bin/python3 -c 'import json; print(json.dumps([i / 512 for i in range(512)]))')
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$body'
LUA

echo "| max_batch_size | requests/s | p50 | p99 | mean batch size |"
echo "|---|---|---|---|---|"
for size in 1 32; do
  log="$work/server.log"
  CSERVE_LOG_LEVEL=warning "$server" --port 0 --max-batch-size "$size" >"$log" 2>/dev/null &
  pid=$!
  for _ in $(seq 1 200); do grep -q "listening on" "$log" && break; sleep 0.05; done
  port=$(grep -o '[0-9]*$' "$log" | head -1)
  url="http://127.0.0.1:$port/model"
  out=$(wrk -t1 -c64 -d"${duration}s" --latency -s "$work/post.lua" "$url")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  [[ -z "$errors" ]] || { echo "non-2xx responses: $errors" >&2; exit 1; }
  mean=$(curl -s "$url/stats" | /usr/bin/python3 -c 'import json,sys; print(round(json.load(sys.stdin)["mean_batch_size"], 1))')
  echo "| $size | $rps | $p50 | $p99 | $mean |"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
done
