#!/usr/bin/env bash
# bench/cuda_mlp: examples/cuda_mlp (two replicas sharing one GPU) with batching off
# (max_batch_size 1) and on (32), driven by wrk: 64 keep-alive connections POSTing 256-number
# inputs. Needs a GPU and a release build with the CUDA toolkit (scripts/gpu_check.sh runs it).
#
#   ./bench/cuda_mlp.sh [DURATION_SECONDS] [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
server=${2:-build/release}/examples/cuda_mlp/cuda_mlp
pid=""
work=$(mktemp -d)
trap '[[ -n "$pid" ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"' EXIT
command -v wrk >/dev/null || { echo "bench/cuda_mlp.sh needs wrk (Debian package wrk)" >&2; exit 1; }

body=$(python3 -c 'import json, math; print(json.dumps([round(math.sin(0.01 * i), 4) for i in range(256)]))')
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$body'
LUA

echo "| max_batch_size | requests/s | p50 | p99 | mean batch size |"
echo "|---|---|---|---|---|"
for size in 1 32; do
  log="$work/server.log"
  CSERVE_LOG_LEVEL=warning "$server" --port 0 --max-batch-size "$size" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 400); do grep -q "listening on" "$log" && break; sleep 0.05; done
  port=$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$log" | grep -o '[0-9]*$')
  url="http://127.0.0.1:$port/mlp"
  out=$(wrk -t2 -c64 -d"${duration}s" --latency -s "$work/post.lua" "$url")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  [[ -z "$errors" ]] || { echo "non-2xx responses: $errors" >&2; exit 1; }
  # Each replica's stats (two replicas: ask until both answered).
  mean=$(for _ in $(seq 1 8); do curl -s "$url/stats"; echo; done | python3 -c '
import json, sys
seen = {}
for line in sys.stdin:
    if line.strip():
        s = json.loads(line)
        seen[s["replica"]] = s
print(round(sum(s["inputs"] for s in seen.values()) / max(1, sum(s["batches"] for s in seen.values())), 1))')
  echo "| $size | $rps | $p50 | $p99 | $mean |"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
done
