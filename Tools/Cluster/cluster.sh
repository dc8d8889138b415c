#!/usr/bin/env bash
# A Meridian network as separate hosts would run it: 4 validators and a full node, each in its own
# Linux network namespace with its own address on a bridge, configured only through
# `meridian-node init` (node.json) with real addresses and TLS (a CA and one certificate per node
# for its address, made with openssl). Nothing of the host's own network changes but one veth
# interface with the cluster's private /24 (so the host can reach the nodes); `down` removes it all.
#
#   cluster.sh up DIR              create the network, keys, certificates and data directories; start
#                                  every node; return once each API answers over HTTPS
#   cluster.sh status DIR          each node's height and its block hash at the lowest height all hold
#   cluster.sh partition DIR I...  cut nodes I... off from the others (iptables DROP inside each namespace)
#   cluster.sh heal DIR            remove every cut
#   cluster.sh kill DIR I          kill -9 node I
#   cluster.sh start DIR I         start node I again on its data directory
#   cluster.sh down DIR            stop every node, delete the namespaces and the host's interface
#
# Needs root (ip netns, iptables): run it as root or through sudo. BIN is where meridian-node and
# meridian-demo are (default .build/release); MERIDIAN_PASSPHRASE seals the keystores (default: a
# demo passphrase). Used by `make cluster` and by the test suite (EndToEndTests.ClusterTests).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-.build/release}
export MERIDIAN_PASSPHRASE=${MERIDIAN_PASSPHRASE:-meridian-cluster-demo}
NAMES=(hospital-ribeira klinikum-spree hopital-rhone clinique-leman sakura-general)
VALIDATORS=4
P2P_PORT=26656
API_PORT=26657

die() { echo "cluster: $*" >&2; exit 1; }
[ $# -ge 2 ] || die "usage: cluster.sh up|status|partition|heal|kill|start|down DIR [I...]"
cmd=$1; dir=$2; shift 2
[ "$(id -u)" = 0 ] || die "needs root (network namespaces and iptables): run it with sudo"

load() {
  [ -f "$dir/cluster.env" ] || die "$dir/cluster.env is missing: run cluster.sh up $dir first"
  # shellcheck disable=SC1091
  . "$dir/cluster.env"
}
ns() { echo "mc${ID}n$1"; }
addr() { echo "$PREFIX.$((11 + $1))"; }
count() { echo "${#NAMES[@]}"; }

start_node() {
  local i=$1 d="$dir/node-$1"
  # setsid: the node outlives this script; its own pid file (node.pid) names it.
  ip netns exec "$(ns "$i")" setsid "$BIN/meridian-node" start --data-dir "$d" >>"$d/node.log" 2>&1 < /dev/null &
}

api_ready() {
  curl -sf --max-time 2 --cacert "$dir/tls/ca.pem" "https://$(addr "$1"):$API_PORT/v1/status" >/dev/null
}

wait_api() {
  local i=$1 tries=0
  until api_ready "$i"; do
    tries=$((tries + 1))
    [ $tries -le 600 ] || die "node $i (${NAMES[$i]}) did not answer at https://$(addr "$i"):$API_PORT in 300 s: $(tail -n 5 "$dir/node-$i/node.log")"
    sleep 0.5
  done
}

node_pid() { cat "$dir/node-$1/node.pid" 2>/dev/null || true; }

case $cmd in
up)
  [ ! -e "$dir/cluster.env" ] || die "$dir already holds a cluster (cluster.sh down $dir first)"
  for b in meridian-node meridian-demo; do [ -x "$BIN/$b" ] || die "$BIN/$b is missing (swift build -c release)"; done
  for t in ip iptables openssl curl setsid; do command -v $t >/dev/null || die "$t is missing (make setup installs iproute2, iptables, openssl, curl)"; done
  mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
  # A fresh id and a private /24 that no interface or route of this host uses.
  for _ in $(seq 1 50); do
    ID=$(od -An -N2 -tx2 /dev/urandom | tr -d ' ')
    PREFIX="10.$((200 + 0x${ID:0:2} % 50)).$((0x${ID:2:2}))"
    ip netns list | grep -q "^mc${ID}" && continue
    ip -4 addr | grep -q " $PREFIX\." && continue
    [ -z "$(ip -4 route show to match "$PREFIX.1" | grep -v '^default')" ] || continue
    break
  done
  printf 'ID=%s\nPREFIX=%s\n' "$ID" "$PREFIX" > "$dir/cluster.env"
  # The switch: a namespace of its own holding the bridge; each node's namespace and the host join it by a veth.
  sw="mc${ID}s"
  ip netns add "$sw"
  ip -n "$sw" link add br0 type bridge
  ip -n "$sw" link set br0 up
  ip link add "mc${ID}h" type veth peer name "mc${ID}g"
  ip link set "mc${ID}g" netns "$sw"
  ip -n "$sw" link set "mc${ID}g" master br0 up
  ip addr add "$PREFIX.1/24" dev "mc${ID}h"
  ip link set "mc${ID}h" up
  for i in $(seq 0 $(( $(count) - 1 ))); do
    n=$(ns "$i")
    ip netns add "$n"
    ip link add "mc${ID}a$i" type veth peer name "mc${ID}b$i"
    ip link set "mc${ID}a$i" netns "$n"
    ip -n "$n" link set "mc${ID}a$i" name eth0
    ip -n "$n" addr add "$(addr "$i")/24" dev eth0
    ip -n "$n" link set eth0 up
    ip -n "$n" link set lo up
    ip link set "mc${ID}b$i" netns "$sw"
    ip -n "$sw" link set "mc${ID}b$i" master br0 up
  done
  # TLS: a CA, and each node's certificate for its own address (server and client authentication).
  mkdir -p "$dir/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/O=Meridian cluster/CN=Meridian cluster CA $ID" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$dir/tls/ca-key.pem" -out "$dir/tls/ca.pem" 2>/dev/null
  for i in $(seq 0 $(( $(count) - 1 ))); do
    base="$dir/tls/${NAMES[$i]}"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=Meridian cluster/CN=${NAMES[$i]}" \
      -keyout "$base-key.pem" -out "$base.csr" 2>/dev/null
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:%s\n' "$(addr "$i")" > "$base.ext"
    openssl x509 -req -in "$base.csr" -CA "$dir/tls/ca.pem" -CAkey "$dir/tls/ca-key.pem" -CAcreateserial -days 30 -extfile "$base.ext" -out "$base.cert" 2>/dev/null
    cat "$base.cert" "$dir/tls/ca.pem" > "$base.pem"
    chmod 600 "$base-key.pem"
  done
  # Keys: the demo hospitals' (the demo genesis names them); each node's data directory from init.
  "$BIN/meridian-demo" keys --dir "$dir/keys" $(for i in $(seq 0 $(( $(count) - 1 ))); do
    [ "$i" -lt $VALIDATORS ] && echo "${NAMES[$i]}/validator"; echo "${NAMES[$i]}/worker"; done) > /dev/null
  for i in $(seq 0 $(( $(count) - 1 ))); do
    peers=(); for j in $(seq 0 $((VALIDATORS - 1))); do [ "$j" = "$i" ] || peers+=(--peer "$(addr "$j"):$P2P_PORT"); done
    records=(); for j in $(seq 0 $(( $(count) - 1 ))); do [ "$j" = "$i" ] || records+=(--record-node "${NAMES[$j]}=https://$(addr "$j"):$API_PORT"); done
    if [ "$i" -lt $VALIDATORS ]; then keys=(--validator-keystore "$dir/keys/${NAMES[$i]}+validator.json")
    else keys=(--full-node); fi
    "$BIN/meridian-node" init --data-dir "$dir/node-$i" --genesis Genesis/demo.json "${keys[@]}" \
      --worker-keystore "$dir/keys/${NAMES[$i]}+worker.json" \
      --p2p-host "$(addr "$i")" --p2p-port $P2P_PORT "${peers[@]}" \
      --api-host "$(addr "$i")" --api-port $API_PORT "${records[@]}" \
      --tls-certificate "$dir/tls/${NAMES[$i]}.pem" --tls-key "$dir/tls/${NAMES[$i]}-key.pem" --tls-ca "$dir/tls/ca.pem" \
      --block-interval-ms 500 > "$dir/node-$i.init.log"
  done
  for i in $(seq 0 $(( $(count) - 1 ))); do start_node "$i"; done
  for i in $(seq 0 $(( $(count) - 1 ))); do wait_api "$i"; done
  for i in $(seq 0 $(( $(count) - 1 ))); do
    echo "${NAMES[$i]}: https://$(addr "$i"):$API_PORT (namespace $(ns "$i"), p2p $(addr "$i"):$P2P_PORT)"
  done
  echo "CA: $dir/tls/ca.pem"
  ;;
status)
  load
  for i in $(seq 0 $(( $(count) - 1 ))); do
    h=$(curl -sf --max-time 2 --cacert "$dir/tls/ca.pem" "https://$(addr "$i"):$API_PORT/v1/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["height"])' 2>/dev/null || echo down)
    echo "${NAMES[$i]} $(addr "$i") height $h"
  done
  ;;
partition)
  load
  [ $# -ge 1 ] || die "partition: name the nodes to cut off (0-$(( $(count) - 1 )))"
  inside=" $* "
  for i in $(seq 0 $(( $(count) - 1 ))); do
    for j in $(seq 0 $(( $(count) - 1 ))); do
      [ "$i" = "$j" ] && continue
      a=no; b=no; [[ $inside == *" $i "* ]] && a=yes; [[ $inside == *" $j "* ]] && b=yes
      if [ "$a" != "$b" ]; then
        ip netns exec "$(ns "$i")" iptables -A INPUT -s "$(addr "$j")" -j DROP
        ip netns exec "$(ns "$i")" iptables -A OUTPUT -d "$(addr "$j")" -j DROP
      fi
    done
  done
  echo "cut off: $*"
  ;;
heal)
  load
  for i in $(seq 0 $(( $(count) - 1 ))); do ip netns exec "$(ns "$i")" iptables -F; done
  echo "healed"
  ;;
kill)
  load
  pid=$(node_pid "$1"); [ -n "$pid" ] || die "node $1 is not running"
  kill -9 "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -f "$dir/node-$1/node.pid"
  echo "killed node $1 (${NAMES[$1]}, pid $pid)"
  ;;
start)
  load
  start_node "$1"; wait_api "$1"
  echo "started node $1 (${NAMES[$1]})"
  ;;
down)
  [ -f "$dir/cluster.env" ] || exit 0
  load
  for i in $(seq 0 $(( $(count) - 1 ))); do
    pid=$(node_pid "$i"); [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
  done
  for i in $(seq 0 $(( $(count) - 1 ))); do
    pid=$(node_pid "$i"); [ -n "$pid" ] || continue
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  for i in $(seq 0 $(( $(count) - 1 ))); do ip netns del "$(ns "$i")" 2>/dev/null || true; done
  ip netns del "mc${ID}s" 2>/dev/null || true
  ip link del "mc${ID}h" 2>/dev/null || true
  rm -f "$dir/cluster.env"
  echo "cluster $ID removed"
  ;;
*) die "unknown command $cmd" ;;
esac
