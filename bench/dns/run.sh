#!/usr/bin/env bash
# DNS queries per second on one core: Trellis's VPC resolver and dnsmasq,
# side by side, serving the same answer (orders.example.com A 127.171.0.1,
# authoritative, nothing forwarded). Each server is pinned to one CPU
# (taskset; Trellis with GOMAXPROCS=1), dnsperf to another. The servers take
# turns, ROUNDS times, DURATION seconds each; the medians are compared.
#
#   bench/dns/run.sh                 # 3 rounds of 10 s
#   ROUNDS=1 DURATION=5 bench/dns/run.sh
#
# Needs dnsperf and dnsmasq (bench/dns/install.sh installs them, as root).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
bench/dns/install.sh
DNSMASQ=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
API_PORT=$(free_port)
TPORT=$(free_port)
MPORT=$(free_port)

go build -o "$work/trellis" ./cmd/trellis
export TRELLIS_ENDPOINT="http://127.0.0.1:$API_PORT"
GOMAXPROCS=1 taskset -c "$SERVER_CPU" "$work/trellis" serve --data-dir "$work/data" --api-addr "127.0.0.1:$API_PORT" \
  --dns-port "$TPORT" --dns-upstream none --log-level warn >"$work/trellis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -s "$work/data/credentials.json" ] && curl -s -o /dev/null "$TRELLIS_ENDPOINT" && break; sleep 0.1; done
t() { "$work/trellis" --data-dir "$work/data" "$@" >/dev/null; }
t service-network create --name bench
t service create --name orders --custom-domain-name orders.example.com
t service-network-service-association create --service-network bench --service orders
t service-network-vpc-association create --service-network bench --vpc vpc-0000000000000000b
ADDR=$("$work/trellis" --data-dir "$work/data" vpc get vpc-0000000000000000b | python3 -c 'import json,sys; print(json.load(sys.stdin)["ingressAddress"])')

taskset -c "$SERVER_CPU" "$DNSMASQ" --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --no-dhcp-interface=lo \
  --listen-address=127.0.0.1 --bind-interfaces --port="$MPORT" --host-record=orders.example.com,"$ADDR" \
  --local-ttl=10 --pid-file="$work/dnsmasq.pid" --user="$(id -un)" >"$work/dnsmasq.log" 2>&1 &
pids+=($!)

# Both must answer the same before anything is measured.
for _ in $(seq 50); do
  a=$(dig +short +tries=1 +time=1 @"$ADDR" -p "$TPORT" orders.example.com A || true)
  b=$(dig +short +tries=1 +time=1 @127.0.0.1 -p "$MPORT" orders.example.com A || true)
  [ "$a" = "$ADDR" ] && [ "$b" = "$ADDR" ] && break
  sleep 0.1
done
if [ "$a" != "$ADDR" ] || [ "$b" != "$ADDR" ]; then
  echo "bench/dns: the servers do not answer alike: trellis '$a', dnsmasq '$b' (want $ADDR)" >&2
  cat "$work/trellis.log" "$work/dnsmasq.log" >&2
  exit 1
fi
echo "orders.example.com A" >"$work/queries"

qps() { # server port -> queries per second
  taskset -c "$CLIENT_CPU" dnsperf -s "$1" -p "$2" -d "$work/queries" -l "$DURATION" -c 8 -q 200 -S 0 2>&1 |
    awk '/Queries per second/ {print $4} /Queries lost/ {lost=$3} END {if (lost+0 > 0) print "lost " lost > "/dev/stderr"}'
}
declare -a TQ MQ
for r in $(seq "$ROUNDS"); do
  TQ+=("$(qps "$ADDR" "$TPORT")")
  MQ+=("$(qps 127.0.0.1 "$MPORT")")
  echo "round $r: trellis ${TQ[-1]} q/s, dnsmasq ${MQ[-1]} q/s" >&2
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
tm=$(median "${TQ[@]}"); mm=$(median "${MQ[@]}")
python3 - "$tm" "$mm" "$ROUNDS" "$DURATION" <<'PY'
import sys
t, m, rounds, dur = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
print(f"DNS, one core each, {rounds} rounds of {dur}s (median):")
print(f"  trellis  {t:10.0f} q/s")
print(f"  dnsmasq  {m:10.0f} q/s")
print(f"  ratio trellis/dnsmasq {t/m:.2f}")
PY
