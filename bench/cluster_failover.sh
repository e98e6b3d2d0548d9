#!/usr/bin/env bash
# bench/cluster_failover: how long a cluster is without a controller leader when the leader's
# process is SIGKILLed — from the kill to another node's status naming a new leader — with a real
# etcd and three `cserve start` nodes on 127.0.0.1-3. ROUNDS kills (the killed node restarts
# between rounds); prints each time and the median.
#
#   ./bench/cluster_failover.sh [ROUNDS] [LEASE_TTL_S]      (defaults: 5 rounds, the default TTL 10 s)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
ttl=${2:-10}
cserve=build/release/cserve
work=$(mktemp -d)
declare -A pid admin
cleanup() {
  for p in "${pid[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  [[ -n "${etcd_pid:-}" ]] && kill -9 "$etcd_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

source bench/etcd.sh
start_etcd "$work"

start_node() {  # start_node I
  local i=$1 log="$work/node-$1.out"
  : >"$log"
  "$cserve" start --foreground --etcd "$etcd_url" --node-name "node-$i" --node-ip "127.0.0.$i" \
    --http-host "127.0.0.$i" --http-port 0 --admin-host "127.0.0.$i" --admin-port 0 --lease-ttl-s "$ttl" >"$log" 2>&1 &
  pid[node-$i]=$!
  disown "${pid[node-$i]}"
  for _ in $(seq 1 $((10 * ttl + 100))); do
    if grep -q "admin API on" "$log"; then admin[node-$i]=$(grep -o 'admin API on http://[0-9.:]*' "$log" | sed 's/admin API on //'); return; fi
    sleep 0.1
  done
  echo "node-$i did not start" >&2; exit 1
}

leader_at() {  # leader_at ADMIN_URL: the leader that node names, or nothing
  curl -sf "$1/api/serve/applications/" 2>/dev/null |
    /usr/bin/python3 -c 'import json,sys; print(next((n["node_id"] for n in json.load(sys.stdin)["nodes"] if n["controller_leader"]), ""))' 2>/dev/null || true
}

for i in 1 2 3; do start_node "$i"; done
times=()
for round in $(seq 1 "$rounds"); do
  leader=""
  while [[ -z "$leader" ]]; do leader=$(leader_at "${admin[node-1]}"); [[ -z "$leader" ]] && sleep 0.1; done
  other=node-1; [[ "$leader" == node-1 ]] && other=node-2
  t0=$(date +%s.%N)
  kill -9 "${pid[$leader]}"
  while :; do
    now=$(leader_at "${admin[$other]}")
    if [[ -n "$now" && "$now" != "$leader" ]]; then break; fi
    sleep 0.02
  done
  t1=$(date +%s.%N)
  t=$(/usr/bin/python3 -c "print(round($t1 - $t0, 2))")
  echo "round $round: $leader killed, $now leads after $t s"
  times+=("$t")
  start_node "${leader#node-}"
done
/usr/bin/python3 -c "import statistics,sys; print('median failover: %.2f s (lease TTL %s s)' % (statistics.median(map(float, sys.argv[2:])), sys.argv[1]))" "$ttl" "${times[@]}"
