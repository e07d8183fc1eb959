#!/usr/bin/env bash
# Issue 18's closed-loop targets in one session: the loopback ceiling (`tcp_floor`), then
# `ofd serve` on SQLite and on PostgreSQL, each closed loop (REGISTERS registers x PER documents,
# one connection per document, all in flight), ROUNDS times, alternating backends so that a
# change in the machine's load hits both. Prints each run's acked/s, the ratio to the floor,
# PostgreSQL / SQLite, and CPU per acked document: the server's (user + system from
# /proc/PID/stat) and, on PostgreSQL, its database backends', and the emulator's (user + system,
# from /usr/bin/time).
# Usage: OFD=target/release/ofd FLOOR=<tcp_floor bench binary> benches/ingest_vs_floor.sh \
#            [registers] [per register] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/support/common.sh
OFD=$(realpath "${OFD:-target/release/ofd}")
FLOOR=${FLOOR:-$(ls -t target/release/deps/tcp_floor-* | grep -v '\.d$' | head -1)}
REGISTERS=${1:-1000}
PER=${2:-20}
ROUNDS=${3:-2}
PG=${OFD_PG:-postgres://postgres@127.0.0.1:5432}
WORK=$(mktemp -d)
PGDB="ofd_vs_floor_$$"
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null; psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
pg_ticks() {
    local sum=0
    for pid in $(psql "$PG/postgres" -Atc "SELECT pid FROM pg_stat_activity WHERE datname = '$PGDB'"); do
        [ -r "/proc/$pid/stat" ] && sum=$((sum + $(ticks "$pid")))
    done
    echo "$sum"
}
TICK=$(getconf CLK_TCK)
echo "# commit $(git rev-parse --short HEAD), load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
settle_time_wait
floor=$("$FLOOR" | tee /dev/stderr | grep -oE '[0-9]+ connections/s' | grep -oE '^[0-9]+' | head -1)
echo "tcp_floor: $floor connections/s"

one_run() { # backend round
    local backend=$1 round=$2 db
    case $backend in
        sqlite) rm -f "$WORK"/ofd.db*; db="sqlite://$WORK/ofd.db" ;;
        postgres) psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" >/dev/null
                  psql "$PG/postgres" -qc "CREATE DATABASE $PGDB"; db="$PG/$PGDB" ;;
    esac
    local ingest metrics; ingest=$(port); metrics=$(port)
    settle_time_wait
    "$OFD" migrate --database "$db" >/dev/null
    "$OFD" serve --listen "127.0.0.1:$ingest" --metrics-listen "127.0.0.1:$metrics" \
        --database "$db" --accept-unregistered true --source-rate 0 &
    local server=$!
    sleep 2
    # warm-up: pools, caches and the first pages
    "$OFD" emulate --target "127.0.0.1:$ingest" --dialect ru --registers 100 \
        --documents-per-register 5 --concurrency 100 --seed 900 --json >/dev/null 2>&1
    local s0 p0=0 out s1 p1=0
    s0=$(ticks $server); [ "$backend" = postgres ] && p0=$(pg_ticks)
    out=$(/usr/bin/time -f "%U %S" -o "$WORK/emulator.cpu" "$OFD" emulate \
        --target "127.0.0.1:$ingest" --dialect ru --registers "$REGISTERS" \
        --documents-per-register "$PER" --concurrency "$REGISTERS" --seed "$round" --json \
        2>/dev/null | tail -1)
    s1=$(ticks $server); [ "$backend" = postgres ] && p1=$(pg_ticks)
    kill $server; wait $server 2>/dev/null || true
    python3 - "$out" "$backend" "$round" "$floor" "$((s1 - s0))" "$((p1 - p0))" "$TICK" "$(cat "$WORK/emulator.cpu")" <<'PY'
import json, sys
d = json.loads(sys.argv[1]); backend, rnd, floor = sys.argv[2], sys.argv[3], float(sys.argv[4])
srv, pg, tick = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
emulator = sum(float(x) for x in sys.argv[8].split())
acked = d["acked"]; rate = d["acked_per_s"]
lat = d.get("delivery_latency_ms", {})
print(f"RESULT {backend} round {rnd}: acked {acked}, {rate:.0f}/s = {rate / floor:.0%} of floor, "
      f"p50/p99 {lat.get('p50')}/{lat.get('p99')} ms, CPU per acked doc: ofd {srv / tick / acked * 1e6:.0f} us"
      + (f", PostgreSQL backends {pg / tick / acked * 1e6:.0f} us" if backend == "postgres" else "")
      + f", emulator {emulator / acked * 1e6:.0f} us; resends {d['resends']}"
      + (f", errors {d['errors']}" if d.get("errors") else ""))
PY
}
for round in $(seq 1 "$ROUNDS"); do
    one_run sqlite "$round"
    one_run postgres "$round"
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
