#!/usr/bin/env bash
# bench/composition: the cost of one composition hop over HTTP. The same request goes through
# 0 (the baseline: the ingress answers itself), 1, 2 and 3 handle hops; wrk measures p50/p99
# at 1 connection and requests/s at 64.
#
#   ./bench/composition.sh [DURATION_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-5}
server=build/release/bench/chain_server
pid=""
trap '[[ -n "$pid" ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true' EXIT

echo "| hops | p50 (1 conn) | p99 (1 conn) | requests/s (64 conns) |"
echo "|---|---|---|---|"
for depth in 0 1 2 3; do
  log=$(mktemp)
  CSERVE_LOG_LEVEL=warning "$server" "$depth" 0 >"$log" 2>/dev/null &
  pid=$!
  for _ in $(seq 1 200); do grep -q "listening on" "$log" && break; sleep 0.05; done
  port=$(grep -o '[0-9]*$' "$log" | head -1)
  url="http://127.0.0.1:$port/chain"
  [[ $(curl -s "$url") == "{\"hops\":$depth}" ]] || { echo "unexpected answer at depth $depth" >&2; exit 1; }
  wrk -t1 -c1 -d2s "$url" >/dev/null
  one=$(wrk -t1 -c1 -d"${duration}s" --latency "$url")
  many=$(wrk -t1 -c64 -d"${duration}s" "$url")
  p50=$(awk '$1=="50%" {print $2}' <<<"$one")
  p99=$(awk '$1=="99%" {print $2}' <<<"$one")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$many")
  echo "| $depth | $p50 | $p99 | $rps |"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; rm -f "$log"
done
