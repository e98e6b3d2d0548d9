#!/usr/bin/env bash
# bench/http_ab: two builds of the Counter example, and the minimal Beast server, measured
# interleaved (A, B, minimal, A, B, minimal, ...) so that the machine's drift over the run hits
# all of them alike; prints each run and the medians of requests/s and of the server's CPU time
# per request (user + system, all its threads: steadier than throughput on a shared machine),
# and their ratios.
#
#   ./bench/http_ab.sh BUILD_A BUILD_B [ROUNDS=6] [CONNECTIONS=64] [SECONDS=4]
#   e.g. ./bench/http_ab.sh /tmp/before/build/release build/release
#   ENV_A=CSERVE_ACCESS_LOG=0 ENV_B=CSERVE_ACCESS_LOG=1 ./bench/http_ab.sh build/release build/release
#       (one build, two environments: the cost of access logs)
set -euo pipefail
cd "$(dirname "$0")/.."
a=$1 b=$2 rounds=${3:-6} conns=${4:-64} secs=${5:-4}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run() {  # run BINARY ARGS...: "requests/s cpu-us-per-request" of one measurement
  local log; log=$(mktemp)
  "$@" >"$log" 2>/dev/null &
  local pid=$!
  for _ in $(seq 1 200); do grep -q "listening on" "$log" && break; sleep 0.05; done
  local port; port=$(grep -o '[0-9]*$' "$log" | head -1); rm -f "$log"
  wrk -t1 -c"$conns" -d1s "http://127.0.0.1:$port/Counter" >/dev/null 2>&1 || true
  local before after out
  before=$(cpu_ticks "$pid")
  out=$(wrk -t1 -c"$conns" -d"${secs}s" "http://127.0.0.1:$port/Counter")
  after=$(cpu_ticks "$pid")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" '/^ +[0-9]+ requests in/ {n=$1} /Requests\/sec/ {r=$2}
       END {printf "%s %.2f\n", r, t / hz * 1e6 / n}' <<<"$out"
}

declare -A rps cpu
for i in $(seq 1 "$rounds"); do
  for who in A B M; do
    case $who in
      A) read -r r c < <(run env "${ENV_A:-CSERVE_ACCESS_LOG=0}" "$a/examples/counter" --port 0) ;;
      B) read -r r c < <(run env "${ENV_B:-CSERVE_ACCESS_LOG=0}" "$b/examples/counter" --port 0) ;;
      M) read -r r c < <(run build/release/bench/minimal_beast_server 0) ;;
    esac
    rps[$who]+="$r "
    cpu[$who]+="$c "
  done
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
echo "| server | requests/s (each run) | CPU us/request (each run) | median req/s | median CPU us/req |"
echo "|---|---|---|---|---|"
for who in A B M; do
  case $who in A) name="A: $a ${ENV_A:-}" ;; B) name="B: $b ${ENV_B:-}" ;; M) name="minimal-beast" ;; esac
  echo "| $name | ${rps[$who]}| ${cpu[$who]}| $(median "${rps[$who]}") | $(median "${cpu[$who]}") |"
done
awk -v a="$(median "${rps[A]}")" -v b="$(median "${rps[B]}")" -v m="$(median "${rps[M]}")" \
    -v ca="$(median "${cpu[A]}")" -v cb="$(median "${cpu[B]}")" -v c="$conns" 'BEGIN {
  printf "%s connections: A/minimal %.2fx, B/minimal %.2fx, B/A %.2fx requests/s; CPU per request B/A %.2fx\n",
         c, a/m, b/m, b/a, cb/ca }'
