#!/usr/bin/env bash
# bench/cluster_requests: a request across nodes against the same request on one node, in one
# run. A real etcd and two `cserve start` nodes (127.0.0.1 and 127.0.0.2); one replica of the
# who_answers example (examples/cluster_app), placed on node-1 by a custom resource only node-1 has. wrk drives GET
# /who through node-1's proxy (same node: proxy -> replica in that process) and through
# node-2's proxy (across nodes: proxy -> node-1's peer port over TCP -> replica), at 1 and 64
# keep-alive connections. With max_ongoing_requests 100 the one replica is not the limit at 64.
#
#   ./bench/cluster_requests.sh [DURATION_SECONDS]       (default 10)
# Prints a Markdown table: requests/s, p50 and p99 latency, and the cross-node/same-node ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
cserve=build/release/cserve
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

source bench/etcd.sh
start_etcd "$work"
pids+=("$etcd_pid")

declare -A http admin
start_node() {  # start_node I EXTRA_ARGS...
  local i=$1 log="$work/node-$1.out"; shift
  CSERVE_ACCESS_LOG=0 CSERVE_LOG_LEVEL=warning "$cserve" start --foreground --etcd "$etcd_url" --node-name "node-$i" \
    --node-ip "127.0.0.$i" --http-host "127.0.0.$i" --http-port 0 --admin-host "127.0.0.$i" --admin-port 0 \
    --lease-ttl-s 5 "$@" >"$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 300); do
    if grep -q "admin API on" "$log"; then
      http[$i]=$(grep -o 'listening on http://[0-9.:]*' "$log" | head -1 | sed 's/listening on //')
      admin[$i]=$(grep -o 'admin API on http://[0-9.:]*' "$log" | sed 's/admin API on //')
      return
    fi
    sleep 0.1
  done
  echo "node-$i did not start" >&2; cat "$log" >&2; exit 1
}
start_node 1 --resources '{"bench": 1}'
start_node 2

cat >"$work/app.yaml" <<YAML
applications:
  - name: who
    route_prefix: /who
    import_path: $PWD/build/release/examples/libcluster_app.so:who_answers
    deployments:
      - name: Who
        num_replicas: 1
        max_ongoing_requests: 100
        ray_actor_options: {num_cpus: 0, resources: {bench: 1}}
YAML
"$cserve" deploy "$work/app.yaml" --address "${admin[2]}" --timeout-s 60 >/dev/null
# Node-2 serves once its router holds node-1's stand-in.
for _ in $(seq 1 100); do curl -sf "${http[2]}/who" >/dev/null && break; sleep 0.1; done

measure() {  # measure URL CONNECTIONS -> "req/s p50 p99"
  local url=$1 conns=$2 out
  wrk -t1 -c"$conns" -d2s "$url" >/dev/null 2>&1 || true   # warm-up
  out=$(wrk -t1 -c"$conns" -d"${duration}s" --latency "$url")
  echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(awk '$1=="50%" {print $2}' <<<"$out") $(awk '$1=="99%" {print $2}' <<<"$out")"
}

echo "| path | connections | req/s | p50 | p99 |"
echo "|---|---|---|---|---|"
declare -A result
for conns in 1 64; do
  for path in same-node cross-node; do
    url="${http[1]}/who"; [[ $path == cross-node ]] && url="${http[2]}/who"
    read -r rps p50 p99 < <(measure "$url" "$conns")
    result[$path-$conns]=$rps
    echo "| $path | $conns | $rps | $p50 | $p99 |"
  done
done
for conns in 1 64; do
  /usr/bin/python3 -c "import sys; print('cross-node/same-node req/s at %s connections: %.2f' % (sys.argv[1], float(sys.argv[3]) / float(sys.argv[2])))" \
    "$conns" "${result[same-node-$conns]}" "${result[cross-node-$conns]}"
done
