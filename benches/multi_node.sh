#!/usr/bin/env bash
# Several ingest nodes as separate hosts on one PostgreSQL, for manual load (the layout of
# tests/multi_node.rs): each `ofd serve` runs in a network namespace of its own, joined to this
# one by a veth pair on a /30 of its own; PostgreSQL (which listens on loopback) is reached from
# each namespace through a socat relay on the link's host side. One `ofd emulate` per node, each
# with a fleet of its own, spreads the registers over the nodes; with KILL_AFTER=<seconds> the
# first node is killed with SIGKILL that far into the load (`ofd emulate` has one target, so that
# node's emulator reports its documents undelivered; moving registers to the other nodes is what
# tests/multi_node.rs checks).
# Needs root (ip netns), socat and psql.
# Usage: benches/multi_node.sh [nodes] [registers per node] [seconds] [docs/s per node]
#        (release build; OFD_PG defaults to postgres://postgres@127.0.0.1:5432)
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/support/common.sh
OFD=$(realpath "${OFD:-target/release/ofd}")
NODES=${1:-3}
REGISTERS=${2:-100}
SECONDS_OF_LOAD=${3:-10}
RATE=${4:-500}
PG=${OFD_PG:-postgres://postgres@127.0.0.1:5432}
DBNAME="ofd_multi_node_$$"
WORK=$(mktemp -d)
NET="10.77"

cleanup() {
    kill $(jobs -p) 2>/dev/null || true
    wait 2>/dev/null || true
    for n in $(seq 1 "$NODES"); do
        ip netns delete "ofdbench$n" 2>/dev/null || true
        ip link delete "ofdbh$n" 2>/dev/null || true
    done
    psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DBNAME WITH (FORCE)" || true
    rm -rf "$WORK"
}
trap cleanup EXIT

psql "$PG/postgres" -qc "CREATE DATABASE $DBNAME"
"$OFD" migrate --database "$PG/$DBNAME" >/dev/null

for n in $(seq 1 "$NODES"); do
    ns="ofdbench$n"; gw="$NET.$n.1"; addr="$NET.$n.2"
    ip netns add "$ns"
    ip link add "ofdbh$n" type veth peer name "ofdbn$n"
    ip link set "ofdbn$n" netns "$ns"
    ip addr add "$gw/30" dev "ofdbh$n"; ip link set "ofdbh$n" up
    ip netns exec "$ns" ip addr add "$addr/30" dev "ofdbn$n"
    ip netns exec "$ns" ip link set "ofdbn$n" up
    ip netns exec "$ns" ip link set lo up
    socat "TCP-LISTEN:5432,bind=$gw,fork,reuseaddr" TCP:127.0.0.1:5432 &
    sleep 0.2
    ip netns exec "$ns" "$OFD" serve --listen "$addr:7777" --metrics-listen "$addr:9898" \
        --database "postgres://postgres@$gw:5432/$DBNAME" --accept-unregistered true \
        --source-rate 0 &
    echo "node $n: $addr:7777 (pid $!)"
    echo $! > "$WORK/node$n.pid"
done
sleep 2

for n in $(seq 1 "$NODES"); do
    "$OFD" emulate --target "$NET.$n.2:7777" --registers "$REGISTERS" --concurrency "$REGISTERS" \
        --documents-per-register 1000000 --duration "$SECONDS_OF_LOAD" --rate "$RATE" \
        --fleet "$((900000 + n))" --json > "$WORK/emulate$n.json" &
    echo $! > "$WORK/emulate$n.pid"
done
if [ -n "${KILL_AFTER:-}" ]; then
    sleep "$KILL_AFTER"
    kill -KILL "$(cat "$WORK/node1.pid")"
    echo "node 1 killed with SIGKILL after $KILL_AFTER s"
fi
for n in $(seq 1 "$NODES"); do
    wait "$(cat "$WORK/emulate$n.pid")" || echo "emulator $n reported failures"
    echo "node $n:"; cat "$WORK/emulate$n.json"; echo
done
psql "$PG/$DBNAME" -Atc "SELECT 'stored documents: ' || COUNT(*) FROM documents"
uptime
