#!/usr/bin/env bash
# User-space instructions per acked request of one `ofd serve` (SQLite) under callgrind: a
# figure that survives a noisy shared machine, unlike wall time and CPU time (issue 20). The
# kernel is not counted (valgrind does not see it).
#   1. `ofd serve` under `valgrind --tool=callgrind`;
#   2. a warm-up pass of the emulator (provisioning, first reads), then the counters are zeroed;
#   3. a measured pass: REGISTERS registers x 25 requests, all in flight; then a dump.
# Usage: OFD=target/release/ofd benches/instructions_per_request.sh [ru|kz] [registers]
# KEEP=DIR keeps the measured pass's callgrind dumps there (for callgrind_annotate).
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/support/common.sh
OFD=${OFD:-target/release/ofd}
DIALECT=${1:-kz}
REGISTERS=${2:-20}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
INGEST=$(port); METRICS=$(port)
DB="sqlite://$WORK/ofd.db"
"$OFD" migrate --database "$DB" >/dev/null
valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out" "$OFD" serve \
    --listen "127.0.0.1:$INGEST" --metrics-listen "127.0.0.1:$METRICS" --database "$DB" \
    --accept-unregistered true --source-rate 0 2>"$WORK/valgrind.log" &
SERVER=$!
for _ in $(seq 1 240); do (echo >"/dev/tcp/127.0.0.1/$INGEST") 2>/dev/null && break; sleep 0.5; done
run() {
    "$OFD" emulate --target "127.0.0.1:$INGEST" --dialect "$DIALECT" --registers "$REGISTERS" \
        --documents-per-register 25 --concurrency "$REGISTERS" --provision "$DB" --seed "$1" \
        --json 2>/dev/null | tail -1
}
run 1 >/dev/null
callgrind_control -z "$SERVER" >/dev/null
measured=$(run 2)
callgrind_control -d "$SERVER" >/dev/null
sleep 1
acked=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['acked'])" "$measured")
total=$(for dump in "$WORK"/cg.out.*; do grep -m1 -E '^(summary|totals):' "$dump" | awk '{print $2}'; done | paste -sd+ | bc)
if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp "$WORK"/cg.out.* "$KEEP"/; fi
echo "$DIALECT: acked $acked, instructions $total, per acked request $((total / acked)); commit $(git rev-parse --short HEAD)"
