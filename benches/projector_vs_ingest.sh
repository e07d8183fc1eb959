#!/usr/bin/env bash
# Issue 14's "projector throughput ≥ 2× the ingest's own ack rate", measured on documents that
# came in through the real ingest port: `ofd serve` (no projector) takes REGISTERS x PER RU
# documents closed loop (one connection per document, all in flight) and its ack rate is printed;
# then `ofd project --rebuild` projects the same documents ROUNDS times with each worker count in
# WORKERS (concurrent steps on different shards; PostgreSQL only, SQLite runs one), and prints
# each rate and its ratio to the ack rate. The database is loaded once, so every rebuild reads
# the same documents.
# Usage: OFD=target/release/ofd benches/projector_vs_ingest.sh [registers] [per register] [rounds]
# PG=postgres://user@host:port runs on PostgreSQL (a fresh database, dropped at the end);
# WORKERS="1 2 4" (default "1 2"); BATCH documents per step (default 1000).
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/support/common.sh
OFD=$(realpath "${OFD:-target/release/ofd}")
REGISTERS=${1:-1000}
PER=${2:-100}
ROUNDS=${3:-2}
WORKERS=${WORKERS:-1 2}
WORK=$(mktemp -d)
PG=${PG:-}
PGDB="ofd_projector_vs_ingest_$$"
DB="sqlite://$WORK/ofd.db"
cleanup() {
    kill $(jobs -p) 2>/dev/null || true
    wait 2>/dev/null || true
    if [ -n "$PG" ]; then psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" >/dev/null 2>&1 || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
if [ -n "$PG" ]; then
    psql "$PG/postgres" -qc "CREATE DATABASE $PGDB" >/dev/null
    DB="$PG/$PGDB"
fi
echo "# commit $(git rev-parse --short HEAD), load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

"$OFD" migrate --database "$DB" >/dev/null
ingest=$(port)
"$OFD" serve --listen "127.0.0.1:$ingest" --database "$DB" --accept-unregistered true --source-rate 0 &
server=$!
sleep 2
out=$("$OFD" emulate --target "127.0.0.1:$ingest" --dialect ru --registers "$REGISTERS" \
    --documents-per-register "$PER" --concurrency "$REGISTERS" --seed 1 --json 2>/dev/null | tail -1)
kill $server; wait $server 2>/dev/null || true
acked_per_s=$(python3 -c 'import json,sys; print(round(json.loads(sys.argv[1])["acked_per_s"]))' "$out")
echo "RESULT ingest: $(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["acked"])' "$out") acked, $acked_per_s/s closed loop"
if [ -n "$PG" ]; then psql -qtA "$DB" -c "ANALYZE" >/dev/null; fi

for round in $(seq 1 "$ROUNDS"); do
    for workers in $WORKERS; do
        line=$("$OFD" project --rebuild --database "$DB" --batch "${BATCH:-1000}" --workers "$workers")
        python3 - "$line" "$acked_per_s" "$workers" "$round" <<'PY'
import re, sys
line, acked, workers, rnd = sys.argv[1:]
documents = int(re.search(r"from (\d+) documents", line).group(1))
rate = float(re.search(r"([0-9.]+) documents/s", line).group(1))
print(f"RESULT round {rnd} workers {workers}: {documents} projected, {rate:.0f}/s, "
      f"{rate / float(acked):.2f}x the ack rate")
PY
    done
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
