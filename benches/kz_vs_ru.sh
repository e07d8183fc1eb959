#!/usr/bin/env bash
# KZ against RU on one `ofd serve` (SQLite), same emulator settings, in one run, so the ratio
# survives a noisy machine (issue 20's target: KZ closed loop >= 0.8 x RU).
#   1. closed loop: RU then KZ, REGISTERS registers x PER requests, all in flight;
#   2. paced: KZ at RATE requests/s (open loop), p50/p99 from each request's due time.
# Usage: OFD=target/release/ofd benches/kz_vs_ru.sh [registers] [per register] [rate] [rounds]
# ROLE=all runs `ofd all` (forwarder, projector, account API and the bundled tax sink beside
# ingest, on free ports) instead of `ofd serve`.
# TIMELINE=FILE records the paced run every 100 ms (benches/support/timeline.py) and prints the
# intervals that had acks over 25 ms: when they came, not only how many.
# Prints one JSON line per emulator run (the emulator's own --json summary) and a ratio line.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/support/common.sh
OFD=${OFD:-target/release/ofd}
REGISTERS=${1:-200}
PER=${2:-25}
RATE=${3:-2000}
ROUNDS=${4:-2}
ROLE=${ROLE:-serve}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
INGEST=$(port); METRICS=$(port)
# DB=postgres://… runs on that (empty) database instead of a fresh SQLite file.
DB=${DB:-"sqlite://$WORK/ofd.db"}

"$OFD" migrate --database "$DB" >/dev/null
EXTRA=()
if [ "$ROLE" = all ]; then
    FORWARD_METRICS=$(port); PROJECT_METRICS=$(port)
    EXTRA=(--forward-metrics-listen "127.0.0.1:$FORWARD_METRICS" --account-listen "127.0.0.1:$(port)"
        --tax-sink-listen "127.0.0.1:$(port)" --tax-sink-db "$WORK/sink.db")
    export OFD_PROJECT_METRICS_LISTEN="127.0.0.1:$PROJECT_METRICS"
fi
"$OFD" "$ROLE" --listen "127.0.0.1:$INGEST" --metrics-listen "127.0.0.1:$METRICS" \
    --database "$DB" --accept-unregistered true --source-rate 0 "${EXTRA[@]}" &
SERVER=$!
sleep 1
# Server CPU (user + system) in clock ticks so far.
cpu() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; }
TICK=$(getconf CLK_TCK)

run() { # dialect, extra args...
    local dialect=$1; shift
    settle_time_wait $((REGISTERS * PER + 1000))
    "$OFD" emulate --target "127.0.0.1:$INGEST" --dialect "$dialect" --registers "$REGISTERS" \
        --documents-per-register "$PER" --concurrency "$REGISTERS" --provision "$DB" \
        --json "$@" 2>/dev/null | tail -1
}
field() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(d$2)" "$1"; }

# One untimed pass of each dialect first, so the first round's RU pass does not pay for the
# server's start alone (RU's first pass ran 10-25 % slower than its later ones, which made the
# first round's ratio look better than the rest). WARMUP=0 leaves it out.
if [ "${WARMUP:-1}" = 1 ]; then
    run ru --seed 1000 >/dev/null
    run kz --seed 1000 >/dev/null
fi
echo "# ofd $ROLE; load average before: $(cut -d' ' -f1-3 /proc/loadavg); commit $(git rev-parse --short HEAD)"
metrics() { curl -s "http://127.0.0.1:$METRICS/metrics"; }
# Bytes the server process has written so far (its SQLite WAL and checkpoints).
written() { awk '/^write_bytes/ {print $2}' "/proc/$SERVER/io"; }
# Group commits and the documents in them so far (the batch-size histogram's count and sum).
commits() { metrics | awk '$1 == "ofd_store_commit_batch_size_documents_count" {c = $2}
    $1 == "ofd_store_commit_batch_size_documents_sum" {s = $2} END {print c + 0, s + 0}'; }
for round in $(seq 1 "$ROUNDS"); do
    c0=$(cpu); w0=$(written); m0=$(commits); ru=$(run ru --seed "$round")
    c1=$(cpu); w1=$(written); m1=$(commits); kz=$(run kz --seed "$round")
    c2=$(cpu); w2=$(written); m2=$(commits)
    echo "$ru"
    echo "$kz"
    r=$(field "$ru" "['acked_per_s']"); k=$(field "$kz" "['acked_per_s']")
    ra=$(field "$ru" "['acked']"); ka=$(field "$kz" "['acked']")
    python3 -c "
r, k = float('$r'), float('$k')
ru_us = ($c1 - $c0) / $TICK / float('$ra') * 1e6
kz_us = ($c2 - $c1) / $TICK / float('$ka') * 1e6
print(f'round $round closed loop: RU {r:.0f}/s, KZ {k:.0f}/s, KZ/RU = {k / r:.2f}; '
      f'server CPU per acked request: RU {ru_us:.0f} us, KZ {kz_us:.0f} us')
m0, m1, m2 = [tuple(map(float, m.split())) for m in ('$m0', '$m1', '$m2')]
def per_commit(a, b):
    commits = b[0] - a[0]
    return (b[1] - a[1]) / commits if commits else 0.0
ru_kib = ($w1 - $w0) / float('$ra') / 1024
kz_kib = ($w2 - $w1) / float('$ka') / 1024
print(f'round $round written per request: RU {ru_kib:.1f} KiB, '
      f'KZ {kz_kib:.1f} KiB; documents per group commit: '
      f'RU {per_commit(m0, m1):.1f}, KZ {per_commit(m1, m2):.1f}')"
done
metrics > "$WORK/before.prom"
if [ -n "${TIMELINE:-}" ]; then
    python3 benches/support/timeline.py record "$TIMELINE" 0.1 "$SERVER" \
        "http://127.0.0.1:$METRICS/metrics" &
    TIMELINE_PID=$!
fi
paced_from=$(date +%s.%N)
paced=$(run kz --seed 99 --rate "$RATE")
paced_to=$(date +%s.%N)
metrics > "$WORK/after.prom"
if [ -n "${TIMELINE:-}" ]; then
    sleep 0.2; kill "$TIMELINE_PID"; wait "$TIMELINE_PID" 2>/dev/null || true
    echo "timeline of the paced run ($TIMELINE), intervals with acks over 25 ms:"
    python3 benches/support/timeline.py show "$TIMELINE" --slow-only
fi
echo "$paced"
# The share of the paced run during which each side held the SQLite write turn (counters).
python3 - "$WORK/before.prom" "$WORK/after.prom" "$paced_from" "$paced_to" <<'PY'
import re, sys
def held(path):
    found = {}
    for line in open(path, encoding="utf-8"):
        m = re.match(r'^ofd_store_write_turn_held_seconds_total\{holder="(\w+)"\} (\S+)$', line.strip())
        if m:
            found[m.group(1)] = float(m.group(2))
    return found
before, after = held(sys.argv[1]), held(sys.argv[2])
span = float(sys.argv[4]) - float(sys.argv[3])
shares = {h: (after.get(h, 0.0) - before.get(h, 0.0)) / span for h in after}
if shares:
    print("write turn held during the paced run (%.1f s): " % span
          + ", ".join(f"{h} {v:.0%}" for h, v in sorted(shares.items()))
          + f", together {sum(shares.values()):.0%}")
PY
echo "paced KZ at $RATE/s: acked $(field "$paced" "['acked']"), delivery p50 $(field "$paced" "['delivery_latency_ms']['p50']") ms, p99 $(field "$paced" "['delivery_latency_ms']['p99']") ms"
# Of that, the load generator's own lateness (a request's first attempt starting after it was
# due: a late timer on the shared cores) and the exchange once sent.
echo "  emulator's late start p50 $(field "$paced" "['start_latency_ms']['p50']") ms, p99 $(field "$paced" "['start_latency_ms']['p99']") ms; exchange p99 $(field "$paced" "['exchange_latency_ms']['p99']") ms"
# The server's own view of the paced run (the histograms' growth over it): where the emulator's
# latency is spent, in the server (frame read to ack written, and the commit) or before it.
python3 benches/histogram_delta.py "$WORK/before.prom" "$WORK/after.prom" \
    ofd_ingest_ack_latency_seconds ofd_store_commit_duration_seconds ofd_store_commit_turn_wait_seconds \
    ofd_store_commit_batch_size_documents
if [ "$ROLE" = all ]; then
    # Whether the projector and the forwarder kept up: their backlogs right after the paced run
    # and how long they took to empty (the gauges are refreshed about once a second).
    gauge() { curl -s "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m {print $2}'; }
    start=$(date +%s.%N)
    echo "backlog after the paced run: projector $(gauge "$PROJECT_METRICS" ofd_project_lag_documents), forwarder $(gauge "$FORWARD_METRICS" ofd_forward_backlog_documents) documents"
    for _ in $(seq 1 120); do
        sleep 1
        if [ "$(gauge "$PROJECT_METRICS" ofd_project_lag_documents)" = 0 ] &&
            [ "$(gauge "$FORWARD_METRICS" ofd_forward_backlog_documents)" = 0 ]; then
            echo "both backlogs empty $(python3 -c "import time; print(f'{time.time() - $start:.0f}')") s later"
            break
        fi
    done
fi
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
