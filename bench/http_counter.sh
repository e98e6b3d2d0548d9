#!/usr/bin/env bash
# bench/http_counter: the seed's Counter through cserve's full HTTP path, side by side in one run
# with (a) a minimal Boost.Beast server answering the same JSON and (b) the same Counter on
# FastAPI + uvicorn. wrk drives each at 1 and 64 keep-alive connections on loopback.
#
#   ./bench/http_counter.sh [DURATION_SECONDS]     (run `make bench` to build and run it)
# Prints a Markdown table: requests/s, p50 and p99 latency, and cserve's ratio to the baseline.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
build=build/release
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# Starts "$@" in the background and echoes the port it printed.
start_server() {
  local log; log=$(mktemp)
  "$@" >"$log" 2>/dev/null &
  pids+=($!)
  for _ in $(seq 1 200); do
    if grep -q "listening on" "$log"; then grep -o '[0-9]*$' "$log" | head -1; rm -f "$log"; return; fi
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

cserve_port=$(start_server "$build/examples/counter" --port 0)
beast_port=$(start_server "$build/bench/minimal_beast_server" 0)
fastapi_port=$(free_port)
/usr/bin/python3 -m uvicorn --app-dir bench fastapi_counter:app --host 127.0.0.1 --port "$fastapi_port" \
  --log-level warning >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$fastapi_port/Counter" >/dev/null && break; sleep 0.1; done

echo "| server | connections | requests/s | p50 | p99 |"
echo "|---|---|---|---|---|"
declare -A rps
for conns in 1 64; do
  for name in minimal-beast cserve fastapi-uvicorn; do
    case $name in
      minimal-beast) port=$beast_port ;;
      cserve) port=$cserve_port ;;
      fastapi-uvicorn) port=$fastapi_port ;;
    esac
    read -r r p50 p99 < <(measure "http://127.0.0.1:$port/Counter" "$conns")
    rps[$name.$conns]=$r
    echo "| $name | $conns | $r | $p50 | $p99 |"
  done
done
echo
for conns in 1 64; do
  awk -v c="${rps[cserve.$conns]}" -v b="${rps[minimal-beast.$conns]}" -v f="${rps[fastapi-uvicorn.$conns]}" -v n="$conns" \
    'BEGIN { printf "%s connections: cserve / minimal-beast = %.2fx, cserve / fastapi-uvicorn = %.1fx\n", n, c/b, c/f }'
done
