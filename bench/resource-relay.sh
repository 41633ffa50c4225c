#!/usr/bin/env bash
# The resource relay side by side: raw TCP to an echo server reached
# directly, through HAProxy in TCP mode, and through Trellis (a client VPC
# reaching a resource configuration through its resource gateway, by the
# address the VPC's resolver gives its generated name). Everything on
# loopback. The proxies run on CPU 0, the echo server and the load on CPU 1,
# as in the harness (bench/harness). Rounds alternate the targets.
#
#   bash bench/resource-relay.sh               # 3 rounds x 5 s per mode and target
#   ROUNDS=5 DUR=10s C=64 bash bench/resource-relay.sh
#
# Modes (bench/protoload): tcp = 64-byte round trips on held connections;
# tcpconn = a new connection per round trip (connect, 64 bytes each way,
# close). Prints one line per run and a summary of medians and ratios.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DUR=${DUR:-5s}
WARM=${WARM:-1s}
C=${C:-32}
CPU_PROXY=${CPU_PROXY:-0}
CPU_LOAD=${CPU_LOAD:-1}
API_PORT=${API_PORT:-18786}
ECHO_PORT=${ECHO_PORT:-19701}
HAPROXY_PORT=${HAPROXY_PORT:-19702}
DNS_PORT=${DNS_PORT:-19753}

command -v haproxy >/dev/null || { echo "haproxy is needed (bash bench/install.sh)"; exit 1; }
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/trellis" ./cmd/trellis
go build -o "$tmp/backend" ./bench/backend
go build -o "$tmp/protoload" ./bench/protoload

taskset -c "$CPU_LOAD" "$tmp/backend" -addr 127.0.0.1:0 -tcp-echo-addr "127.0.0.1:$ECHO_PORT" 2>"$tmp/backend.log" &
pids+=($!)

cat >"$tmp/haproxy.cfg" <<CFG
global
  nbthread 1
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend relay
  bind 127.0.0.1:$HAPROXY_PORT
  default_backend echo
backend echo
  server echo 127.0.0.1:$ECHO_PORT
CFG
taskset -c "$CPU_PROXY" haproxy -f "$tmp/haproxy.cfg" -db 2>"$tmp/haproxy.log" &
pids+=($!)

taskset -c "$CPU_PROXY" "$tmp/trellis" serve --data-dir "$tmp/data" --api-addr "127.0.0.1:$API_PORT" --dns-port "$DNS_PORT" \
  2>"$tmp/trellis.log" &
pids+=($!)
for _ in $(seq 50); do [ -s "$tmp/data/credentials.json" ] && break; sleep 0.1; done
t() { "$tmp/trellis" --endpoint "http://127.0.0.1:$API_PORT" --data-dir "$tmp/data" "$@"; }
for _ in $(seq 50); do t vpc list >/dev/null 2>&1 && break; sleep 0.1; done

# The resource: the echo server, behind a gateway in one VPC, reached from
# another VPC through a service network. The echo listens on ECHO_PORT; the
# configuration maps the port one to one, so the gateway dials ECHO_PORT.
t vpc put vpc-0000000000000aaa1 >/dev/null
t vpc put vpc-0000000000000bbb1 >/dev/null
t rgw create --name echo-gw --vpc vpc-0000000000000aaa1 >/dev/null
t rcfg create --name echo --type SINGLE --resource-gateway echo-gw --port-range "$ECHO_PORT" --ip 127.0.0.1 >/dev/null
t service-network create --name bench >/dev/null
t snva create --service-network bench --vpc vpc-0000000000000bbb1 >/dev/null
snra=$(t snra create --service-network bench --resource-configuration echo | sed -n 's/.*"id": "\(snra-[^"]*\)".*/\1/p')
name=$(t snra get "$snra" | python3 -c 'import json,sys; print(json.load(sys.stdin)["dnsEntry"]["domainName"])')
addr=""
for _ in $(seq 50); do
  addr=$(t dns lookup "$name" --vpc vpc-0000000000000bbb1 --output json 2>/dev/null \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); print((d.get("addresses") or [""])[0])' 2>/dev/null || true)
  [ -n "$addr" ] && break
  sleep 0.1
done
[ -n "$addr" ] || { echo "the client VPC's resolver gives no address for $name"; t dns lookup "$name" --vpc vpc-0000000000000bbb1 --output json; exit 1; }
echo "resource $name -> $addr:$ECHO_PORT"

declare -A targets=([direct]="127.0.0.1:$ECHO_PORT" [haproxy]="127.0.0.1:$HAPROXY_PORT" [trellis]="$addr:$ECHO_PORT")
order=(direct haproxy trellis)
results="$tmp/results"
for mode in tcp tcpconn; do
  for r in $(seq "$ROUNDS"); do
    for tg in "${order[@]}"; do
      out=$(taskset -c "$CPU_LOAD" "$tmp/protoload" -mode "$mode" -addr "${targets[$tg]}" -c "$C" -duration "$DUR" -warmup "$WARM")
      rate=$(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(int(d["perSec"]) if d["errors"]==0 else "ERR")')
      echo "$mode round $r $tg: $rate/s"
      echo "$mode $tg $rate" >>"$results"
    done
  done
  order=("${order[2]}" "${order[0]}" "${order[1]}")
done
python3 - "$results" <<'PY'
import sys, statistics, collections
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    mode, tg, rate = line.split()
    if rate == "ERR":
        sys.exit(f"{mode} {tg}: a run had errors")
    runs[(mode, tg)].append(int(rate))
print("\n| mode | direct | HAProxy | Trellis | Trellis ÷ HAProxy | Trellis ÷ direct |\n|---|---:|---:|---:|---:|---:|")
for mode in ("tcp", "tcpconn"):
    m = {tg: statistics.median(runs[(mode, tg)]) for tg in ("direct", "haproxy", "trellis")}
    print(f"| {mode} | {m['direct']:,.0f}/s | {m['haproxy']:,.0f}/s | {m['trellis']:,.0f}/s | {m['trellis']/m['haproxy']:.2f}× | {m['trellis']/m['direct']:.2f}× |")
PY
