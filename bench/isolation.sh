#!/usr/bin/env bash
# bench/isolation: what the process boundary costs. Each workload runs twice in one go, with the
# deployment's replica in the serving process (isolation: thread) and in a worker process
# (isolation: process), through the same `cserve run`:
#   - the seed's Counter over HTTP, wrk at 1 and 64 keep-alive connections (max_ongoing_requests
#     5, Ray's default, and 64);
#   - a 1 MiB POST body echoed back (wrk, 1 connection);
#   - typed handle calls from an in-process ingress to the model, 64 in flight and 1 at a time;
#     from an isolated ingress to an in-process model; the items of a stream through a handle.
#
#   ./bench/isolation.sh [DURATION_SECONDS]
# Prints a Markdown table; the ratio is process / thread.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
build=build/release
lib=$PWD/$build/bench/libbench_isolation_apps.so
[[ -f $lib ]] || { echo "build first: cmake --build --preset release" >&2; exit 1; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# serve TARGET ARGS...: starts `cserve run TARGET ARGS...` in the background and sets $port.
serve() {
  local log
  log=$(mktemp)
  CSERVE_ACCESS_LOG=0 "$build/cserve" run "$@" --http-port 0 --admin-port 0 --cpus 8 >"$log" 2>/dev/null &
  pids+=($!)
  for _ in $(seq 1 200); do
    if grep -q "listening on" "$log"; then
      port=$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$log" | grep -o '[0-9]*$')
      rm -f "$log"
      return
    fi
    sleep 0.05
  done
  echo "cserve did not start: $*" >&2; exit 1
}
stop_all() { cleanup; pids=(); }

# wrk: "requests/s p50 p99".
measure() {
  local url=$1 conns=$2 script=${3:-} out
  local extra=()
  [[ -n "$script" ]] && extra=(-s "$script")
  wrk -t1 -c"$conns" -d2s "${extra[@]}" "$url" >/dev/null 2>&1 || true  # warm-up
  out=$(wrk -t1 -c"$conns" -d"${duration}s" --latency "${extra[@]}" "$url")
  echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(awk '$1=="50%" {print $2}' <<<"$out") $(awk '$1=="99%" {print $2}' <<<"$out")"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }

echo "| workload | thread: req/s (p50, p99) | process: req/s (p50, p99) | process/thread |"
echo "|---|---|---|---|"
for mo in 5 64; do
  for conns in 1 64; do
    declare -A r=()
    for iso in thread process; do
      serve "$lib:counter" --args "{\"max_ongoing_requests\": $mo}" --isolation $iso
      r[$iso]=$(measure "http://127.0.0.1:$port/" "$conns")
      stop_all
    done
    read -r ta tp50 tp99 <<<"${r[thread]}"
    read -r pa pp50 pp99 <<<"${r[process]}"
    echo "| Counter, $conns conn, max_ongoing $mo | $ta ($tp50, $tp99) | $pa ($pp50, $pp99) | $(ratio "$pa" "$ta") |"
  done
done

body=$(mktemp --suffix=.lua)
cat >"$body" <<'LUA'
wrk.method = "POST"
wrk.body = string.rep("\0\1\2\3\4\5\6\7", 131072)
wrk.headers["Content-Type"] = "application/octet-stream"
LUA
declare -A e=()
for iso in thread process; do
  serve "$lib:echo" --isolation $iso
  e[$iso]=$(measure "http://127.0.0.1:$port/" 1 "$body")
  stop_all
done
rm -f "$body"
read -r ta tp50 tp99 <<<"${e[thread]}"
read -r pa pp50 pp99 <<<"${e[process]}"
echo "| 1 MiB echo, 1 conn | $ta ($tp50, $tp99) | $pa ($pp50, $pp99) | $(ratio "$pa" "$ta") |"

# Handle calls and streams: the ingress (Hop) reports calls (or items) and seconds. Its query
# picks the workload; placements say where Hop and the Model run.
# hop_rate QUERY HOP_ISOLATION MODEL_ISOLATION: the best rate of three runs.
hop_rate() {
  local query=$1 hop=$2 model=$3 cfg out rate best=0
  cfg=$(mktemp --suffix=.yaml)
  printf 'applications:\n  - name: hop\n    route_prefix: /\n    import_path: %s:hop\n    deployments:\n      - name: Hop\n        isolation: %s\n      - name: Model\n        isolation: %s\n' \
    "$lib" "$hop" "$model" >"$cfg"
  serve "$cfg"
  curl -s "http://127.0.0.1:$port/?calls=2000&in_flight=64" >/dev/null  # warm-up
  for _ in 1 2 3; do
    out=$(curl -s "http://127.0.0.1:$port/?$query")
    rate=$(python3 -c "import json,sys; j=json.loads(sys.argv[1]); print(round(j['calls']/j['seconds']))" "$out")
    (( rate > best )) && best=$rate
  done
  stop_all
  rm -f "$cfg"
  echo "$best"
}
hop_row() {  # LABEL QUERY UNIT THREAD_PLACEMENT PROCESS_PLACEMENT
  local t p
  t=$(hop_rate "$2" $4)
  p=$(hop_rate "$2" $5)
  echo "| $1 (best of 3) | $t $3/s ($(awk -v r="$t" 'BEGIN { printf "%.1f", 1e6 / r }') us each) |" \
       "$p $3/s ($(awk -v r="$p" 'BEGIN { printf "%.1f", 1e6 / r }') us each) | $(ratio "$p" "$t") |"
}
hop_row "typed handle calls to the model, 64 in flight" "calls=200000&in_flight=64" calls "thread thread" "thread process"
hop_row "typed handle calls to the model, 1 in flight" "calls=20000&in_flight=1" calls "thread thread" "thread process"
hop_row "typed handle calls from an isolated caller, 64 in flight" "calls=200000&in_flight=64" calls "thread thread" "process thread"
hop_row "a stream through a handle (items)" "stream=200000" items "thread thread" "thread process"
