#!/usr/bin/env bash
# SQLite against PostgreSQL in one session, paced: where the p99 comes from.
# For each backend: a fresh database, `ofd serve`, `ofd emulate --rate R` for S seconds; then the
# emulator's delivery percentiles, the server's own histograms (ack latency, commit duration,
# commit batch size; read from /metrics), and CPU per acked document from /proc/PID/stat of the
# server (user + system) and, on PostgreSQL, of the database backends serving it.
# Usage: [BACKENDS="sqlite postgres"] benches/backend_tail.sh [docs/s] [seconds] [registers]
#        (release build)
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/support/common.sh
OFD=$(realpath "${OFD:-target/release/ofd}")
RATE=${1:-2000}
SECS=${2:-10}
REGISTERS=${3:-200}
PG=${OFD_PG:-postgres://postgres@127.0.0.1:5432}
WORK=$(mktemp -d)
PGDB="ofd_backend_tail_$$"
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null; psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" || true; rm -rf "$WORK"' EXIT
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # user + system, clock ticks
pg_ticks() {   # CPU of the PostgreSQL backends connected to $PGDB
    local sum=0
    for pid in $(psql "$PG/postgres" -Atc "SELECT pid FROM pg_stat_activity WHERE datname = '$PGDB'"); do
        [ -r "/proc/$pid/stat" ] && sum=$((sum + $(ticks "$pid")))
    done
    echo "$sum"
}
psql "$PG/postgres" -qc "CREATE DATABASE $PGDB"
echo "commit $(git rev-parse --short HEAD), $(nproc) CPUs, rate $RATE/s for $SECS s, $REGISTERS registers"
for backend in ${BACKENDS:-sqlite postgres}; do
    case $backend in
        sqlite) DB="sqlite://$WORK/ofd.db" ;;
        postgres) DB="$PG/$PGDB" ;;
    esac
    INGEST=$(port); METRICS=$(port)
    settle_time_wait $((RATE * SECS + 2 * REGISTERS + 1000))
    "$OFD" serve --listen "127.0.0.1:$INGEST" --metrics-listen "127.0.0.1:$METRICS" \
        --database "$DB" --accept-unregistered true --source-rate 0 &
    SERVER=$!
    sleep 2
    # A short warm-up so that pools and caches are filled.
    "$OFD" emulate --target "127.0.0.1:$INGEST" --registers "$REGISTERS" --concurrency "$REGISTERS" \
        --documents-per-register 2 --fleet 880001 >/dev/null
    before=$(ticks $SERVER); pg_before=0
    [ $backend = postgres ] && pg_before=$(pg_ticks)
    curl -s "127.0.0.1:$METRICS/metrics" > "$WORK/before.txt"
    echo "== $backend (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    "$OFD" emulate --target "127.0.0.1:$INGEST" --registers "$REGISTERS" --concurrency "$REGISTERS" \
        --documents-per-register 1000000 --duration "$SECS" --rate "$RATE" --fleet 880002 --json \
        > "$WORK/emulate.json"
    after=$(ticks $SERVER); pg_after=0
    [ $backend = postgres ] && pg_after=$(pg_ticks)
    curl -s "127.0.0.1:$METRICS/metrics" > "$WORK/after.txt"
    python3 - "$WORK" "$before" "$after" "$pg_before" "$pg_after" "$(getconf CLK_TCK)" <<'PY'
import json, re, sys
work, before, after, pg_before, pg_after, hz = sys.argv[1], *map(int, sys.argv[2:])
run = json.load(open(f"{work}/emulate.json"))
acked = run["acked"]
d = run["delivery_latency_ms"]
print(f"acked {acked} of {run['documents']}; delivery p50 {d['p50']} / p99 {d['p99']} / p999 {d['p999']} ms")
# Where a late delivery's time went, as the client saw it: its own late start (a timer firing late
# on the shared cores), the TCP handshake, the exchange once connected.
parts = [("late start", "start_latency_ms"), ("connect", "connect_latency_ms"), ("exchange", "exchange_latency_ms")]
print("  of which p99: " + ", ".join(f"{label} {run[key]['p99']} ms" for label, key in parts if key in run))
def hist(path, name):
    buckets, total, count = {}, 0.0, 0
    for line in open(path):
        m = re.match(rf'{name}_bucket\{{(?:[^}}]*,)?le="([^"]+)"(?:,[^}}]*)?\}} (\S+)', line)
        if m:
            buckets[m.group(1)] = buckets.get(m.group(1), 0) + float(m.group(2))
        elif line.startswith(f"{name}_sum"):
            total += float(line.split()[-1])
        elif line.startswith(f"{name}_count"):
            count += float(line.split()[-1])
    return buckets, total, count
def delta(name):
    b1, s1, c1 = hist(f"{work}/before.txt", name)
    b2, s2, c2 = hist(f"{work}/after.txt", name)
    b = {k: b2[k] - b1.get(k, 0) for k in b2}
    return b, s2 - s1, c2 - c1
def quantile(b, count, q):
    for le in sorted(b, key=lambda k: float("inf") if k == "+Inf" else float(k)):
        if b[le] >= q * count:
            return le
for name, unit in [("ofd_ingest_ack_latency_seconds", "s"), ("ofd_store_commit_duration_seconds", "s"),
                   ("ofd_store_commit_batch_size_documents", "documents")]:
    b, s, c = delta(name)
    if c:
        print(f"{name}: count {int(c)}, mean {s / c:.4g} {unit}, p50 <= {quantile(b, c, .5)}, p99 <= {quantile(b, c, .99)}")
cpu = (after - before) / hz
print(f"server CPU {cpu:.2f} s = {cpu / max(acked, 1) * 1e6:.0f} us per acked document")
if pg_after:
    pg = (pg_after - pg_before) / hz
    print(f"PostgreSQL backends CPU {pg:.2f} s = {pg / max(acked, 1) * 1e6:.0f} us per acked document")
PY
    kill -TERM $SERVER; wait $SERVER || true
done
