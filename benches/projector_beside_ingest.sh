#!/usr/bin/env bash
# Issue 14's "ingest ack rate unchanged with the projector running": `ofd serve` on a fresh
# SQLite file, closed loop (REGISTERS x PER RU documents, one connection per document, all in
# flight), three ways in each round — serve alone; serve with `ofd project` beside it; serve with
# `ofd project` at the lowest CPU priority (`nice -n 19`, what `CPUWeight=`/`Nice=` in its systemd
# unit give) — ROUNDS times, so that a change in the machine's load hits every way. Prints the
# ack rate of each run and how many documents the read tables still lacked 2 s after the last
# ack (the projector's lag; 0 means it kept up).
# Usage: OFD=target/release/ofd benches/projector_beside_ingest.sh [registers] [per register] [rounds]
# PG=postgres://user@host:port runs on PostgreSQL instead: a fresh database there for each run.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/support/common.sh
OFD=$(realpath "${OFD:-target/release/ofd}")
REGISTERS=${1:-1000}
PER=${2:-20}
ROUNDS=${3:-2}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null; rm -rf "$WORK"' EXIT
PG=${PG:-}
PGDB="ofd_projector_beside_$$"
if [ -n "$PG" ]; then
    trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null; psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
fi
# Rows of a table: the documents' file and the read file on SQLite, the one database on PostgreSQL.
count() {
    if [ -n "$PG" ]; then psql -qtA "$PG/$PGDB" -c "SELECT COUNT(*) FROM $1"
    elif [ "$1" = documents ]; then sqlite3 "$WORK/ofd.db" "SELECT COUNT(*) FROM $1"
    else sqlite3 "$WORK/ofd.db-read" "SELECT COUNT(*) FROM $1"; fi
}
echo "# commit $(git rev-parse --short HEAD), load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

one_run() { # way round
    local way=$1 round=$2 db="sqlite://$WORK/ofd.db" projector=""
    rm -f "$WORK"/ofd.db*
    if [ -n "$PG" ]; then
        psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" -c "CREATE DATABASE $PGDB" >/dev/null 2>&1
        db="$PG/$PGDB"
    fi
    local ingest metrics; ingest=$(port); metrics=$(port)
    "$OFD" migrate --database "$db" >/dev/null
    "$OFD" serve --listen "127.0.0.1:$ingest" --metrics-listen "127.0.0.1:$metrics" \
        --database "$db" --accept-unregistered true --source-rate 0 &
    local server=$!
    case $way in
        beside) "$OFD" project --database "$db" & projector=$! ;;
        niced) nice -n 19 "$OFD" project --database "$db" & projector=$! ;;
    esac
    sleep 2
    "$OFD" emulate --target "127.0.0.1:$ingest" --dialect ru --registers 100 \
        --documents-per-register 5 --concurrency 100 --seed 900 --json >/dev/null 2>&1
    local out
    out=$("$OFD" emulate --target "127.0.0.1:$ingest" --dialect ru --registers "$REGISTERS" \
        --documents-per-register "$PER" --concurrency "$REGISTERS" --seed "$round" --json 2>/dev/null | tail -1)
    sleep 2
    local documents indexed
    documents=$(count documents); indexed=$(count doc_index)
    [ -n "$projector" ] && { kill "$projector"; wait "$projector" 2>/dev/null || true; }
    kill $server; wait $server 2>/dev/null || true
    python3 - "$out" "$way" "$round" "$documents" "$indexed" <<'PY'
import json, sys
d = json.loads(sys.argv[1]); way, rnd = sys.argv[2], sys.argv[3]
documents, indexed = int(sys.argv[4]), int(sys.argv[5])
lag = "-" if way == "alone" else documents - indexed
print(f"RESULT round {rnd} {way:6}: acked {d['acked']}, {d['acked_per_s']:.0f}/s, "
      f"not indexed 2 s after: {lag} of {documents}")
PY
}
for round in $(seq 1 "$ROUNDS"); do
    for way in alone beside niced; do
        one_run "$way" "$round"
    done
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
