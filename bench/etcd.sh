# bench/etcd.sh — sourced by the cluster benchmarks: `start_etcd DIR` starts a one-member etcd on
# free loopback ports with its data in DIR, waits until it answers, and sets etcd_pid and
# etcd_url (http://127.0.0.1:PORT).
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_etcd() {
  local dir=$1 client peer
  client=$(free_port) peer=$(free_port)
  etcd --data-dir "$dir/etcd" --listen-client-urls "http://127.0.0.1:$client" \
    --advertise-client-urls "http://127.0.0.1:$client" --listen-peer-urls "http://127.0.0.1:$peer" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer" --initial-cluster "default=http://127.0.0.1:$peer" \
    >"$dir/etcd.log" 2>&1 &
  etcd_pid=$!
  etcd_url="http://127.0.0.1:$client"
  for _ in $(seq 1 100); do curl -sf "$etcd_url/health" >/dev/null && return; sleep 0.1; done
  echo "etcd did not start: $(tail -3 "$dir/etcd.log")" >&2
  exit 1
}
