#!/usr/bin/env bash
# A resend storm: registers that resend what they already sent (after an outage, a lost ack).
# `ofd emulate --resend-check` sends each document, then sends it again with the same bytes and
# requires the same ack back, so half the frames are resends that the writer settles against the
# stored copy. REGISTERS x PER documents, all registers in flight, closed loop, ROUNDS times on
# one store; with BASE=<another ofd binary> each round runs BASE first and then OFD, on the same
# store and fresh seeds, so the ratio survives a noisy machine.
# Prints per run: documents acked/s, exchange p99, resends answered identically, and the
# server's CPU (user + system) per frame.
# CONFLICTS=1: a conflict storm instead — one run stores a seed's documents first, then every
# run sends that seed's keys again without --resend-check; the emulator stamps each document
# with the time it is made, so every frame is a conflict (same key, other bytes), kept in
# `conflicts` and answered with the stored ack (CPU per frame is then per document).
# Usage: OFD=target/release/ofd [BASE=/tmp/ofd-old] [DB=postgres://…/db] \
#        benches/resend_storm.sh [registers] [per register] [rounds]
# DB defaults to a fresh SQLite file; a PostgreSQL database must exist (it is migrated).
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/support/common.sh
OFD=$(realpath "${OFD:-target/release/ofd}")
BASE=${BASE:+$(realpath "$BASE")}
REGISTERS=${1:-1000}
PER=${2:-20}
ROUNDS=${3:-2}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null; rm -rf "$WORK"' EXIT
DB=${DB:-"sqlite://$WORK/ofd.db"}
"$OFD" migrate --database "$DB" >/dev/null
TICK=$(getconf CLK_TCK)
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg); commit $(git rev-parse --short HEAD)"

run() { # binary, seed
    local bin=$1 seed=$2 ingest metrics server c0 c1 summary
    ingest=$(port); metrics=$(port)
    "$bin" serve --listen "127.0.0.1:$ingest" --metrics-listen "127.0.0.1:$metrics" \
        --database "$DB" --accept-unregistered true --source-rate 0 2>/dev/null &
    server=$!
    sleep 1
    c0=$(awk '{print $14 + $15}' "/proc/$server/stat")
    local check=(--resend-check)
    [ -n "${CONFLICTS:-}" ] && check=()
    summary=$("$bin" emulate --target "127.0.0.1:$ingest" --dialect ru --registers "$REGISTERS" \
        --documents-per-register "$PER" --concurrency "$REGISTERS" --seed "$seed" \
        "${check[@]}" --json 2>/dev/null | tail -1)
    c1=$(awk '{print $14 + $15}' "/proc/$server/stat")
    kill "$server"; wait "$server" 2>/dev/null || true
    python3 -c "
import json, sys
d = json.loads(sys.argv[1])
frames = d['frames_sent'] + d['resend_checks']['identical'] + d['resend_checks']['different']
print(f\"{sys.argv[2]}: {d['acked_per_s']:.0f} documents/s, exchange p99 \"
      f\"{d['exchange_latency_ms']['p99']:.0f} ms, resends identical \"
      f\"{d['resend_checks']['identical']} of {d['acked']}, server CPU per frame \"
      f\"{($c1 - $c0) / $TICK / frames * 1e6:.0f} us\")
" "$summary" "$(basename "$bin")"
}

seed=$((RANDOM * 1000))
if [ -n "${CONFLICTS:-}" ]; then
    echo -n "stored first: "; run "$OFD" "$seed"
fi
next_seed() { [ -n "${CONFLICTS:-}" ] || seed=$((seed + 1)); }
for round in $(seq 1 "$ROUNDS"); do
    if [ -n "$BASE" ]; then
        next_seed; run "$BASE" "$seed"
    fi
    next_seed; run "$OFD" "$seed"
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
