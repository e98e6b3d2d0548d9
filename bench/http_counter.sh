#!/usr/bin/env bash
# bench/http_counter: the seed's Counter through cserve's full HTTP path, side by side in one run
# with (a) a minimal Boost.Beast server answering the same JSON, (b) the same cserve with access
# logs on (stderr to /dev/null) and (c) the same Counter on FastAPI + uvicorn. wrk drives each at
# 1 and 64 keep-alive connections on loopback.
#
#   ./bench/http_counter.sh [DURATION_SECONDS]     (run `make bench` to build and run it)
#   CSERVE_BEFORE=/path/to/other/build ./bench/http_counter.sh 5
#       adds "cserve-before": the counter example of another build (e.g. a checkout of an
#       earlier commit, built with `cmake --build --preset release --target counter`)
#   FASTAPI=0 ./bench/http_counter.sh               leaves FastAPI out
# Prints a Markdown table: requests/s, p50 and p99 latency, and cserve's ratios to the baseline.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
build=build/release
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

declare -A port
# start_server NAME ENV COMMAND...: starts COMMAND in the background with ENV (an assignment, or
# "-") and records the port it prints ("listening on ...:PORT") as port[NAME].
start_server() {
  local name=$1 env=$2 log; shift 2
  log=$(mktemp)
  if [[ "$env" == - ]]; then "$@" >"$log" 2>/dev/null & else env "$env" "$@" >"$log" 2>/dev/null & fi
  pids+=($!)
  for _ in $(seq 1 200); do
    if grep -q "listening on" "$log"; then port[$name]=$(grep -o '[0-9]*$' "$log" | head -1); rm -f "$log"; return; fi
    sleep 0.05
  done
  echo "server did not start: $*" >&2; exit 1
}

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wrk's Requests/sec, 50% and 99% latency for one run.
measure() {
  local url=$1 conns=$2 out
  wrk -t1 -c"$conns" -d2s "$url" >/dev/null 2>&1 || true   # warm-up
  out=$(wrk -t1 -c"$conns" -d"${duration}s" --latency "$url")
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  echo "$rps $p50 $p99"
}

names=(minimal-beast cserve)
start_server minimal-beast - "$build/bench/minimal_beast_server" 0
start_server cserve CSERVE_ACCESS_LOG=0 "$build/examples/counter" --port 0
if [[ -n "${CSERVE_BEFORE:-}" ]]; then
  names+=(cserve-before)
  start_server cserve-before CSERVE_ACCESS_LOG=0 "$CSERVE_BEFORE/examples/counter" --port 0
fi
names+=(cserve+access-log)
start_server cserve+access-log CSERVE_ACCESS_LOG=1 "$build/examples/counter" --port 0
if [[ "${FASTAPI:-1}" != 0 ]]; then
  names+=(fastapi-uvicorn)
  port[fastapi-uvicorn]=$(free_port)
  /usr/bin/python3 -m uvicorn --app-dir bench fastapi_counter:app --host 127.0.0.1 --port "${port[fastapi-uvicorn]}" \
    --log-level warning >/dev/null 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:${port[fastapi-uvicorn]}/Counter" >/dev/null && break; sleep 0.1; done
fi

echo "| server | connections | requests/s | p50 | p99 |"
echo "|---|---|---|---|---|"
declare -A rps p50s
for conns in 1 64; do
  for name in "${names[@]}"; do
    read -r r p50 p99 < <(measure "http://127.0.0.1:${port[$name]}/Counter" "$conns")
    rps[$name.$conns]=$r
    p50s[$name.$conns]=$p50
    echo "| $name | $conns | $r | $p50 | $p99 |"
  done
done
echo
for conns in 1 64; do
  line="$conns connections: cserve / minimal-beast = $(awk -v c="${rps[cserve.$conns]}" -v b="${rps[minimal-beast.$conns]}" 'BEGIN { printf "%.2fx", c/b }')"
  if [[ -n "${CSERVE_BEFORE:-}" ]]; then
    line+=", cserve-before / minimal-beast = $(awk -v c="${rps[cserve-before.$conns]}" -v b="${rps[minimal-beast.$conns]}" 'BEGIN { printf "%.2fx", c/b }')"
  fi
  line+=", access log on / off = $(awk -v a="${rps[cserve+access-log.$conns]}" -v c="${rps[cserve.$conns]}" 'BEGIN { printf "%.2fx", a/c }')"
  if [[ "${FASTAPI:-1}" != 0 ]]; then
    line+=", cserve / fastapi-uvicorn = $(awk -v c="${rps[cserve.$conns]}" -v f="${rps[fastapi-uvicorn.$conns]}" 'BEGIN { printf "%.1fx", c/f }')"
  fi
  echo "$line"
done
echo "p50 at 1 connection: cserve ${p50s[cserve.1]}, minimal-beast ${p50s[minimal-beast.1]}"
