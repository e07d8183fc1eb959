#!/usr/bin/env bash
# The forwarder alone emptying a backlog, with what it costs: wall time, CPU per document and
# bytes written per document (/proc/PID/io, the forwarder process only: its SQLite WAL and
# checkpoints, not the sink's), and the sink's CPU per document (it does nothing before).
#   1. `ofd serve` (SQLite) takes REGISTERS x 100 RU receipts from `ofd emulate`, then stops;
#   2. `ofd forward` (defaults) sends them to `ofd tax-sink` until none is pending.
# Usage: OFD=target/release/ofd benches/forward_drain.sh [registers]
# DB=postgres://… runs on that (empty) database instead of a fresh SQLite file.
# Prints one line; run two builds in turn (OFD=…) and compare within the same minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/support/common.sh
OFD=${OFD:-target/release/ofd}
REGISTERS=${1:-300}
DOCUMENTS=$((REGISTERS * 100))
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
SINK=$(port); INGEST=$(port); METRICS=$(port)
DB=${DB:-"sqlite://$WORK/ofd.db"}

"$OFD" tax-sink --listen "127.0.0.1:$SINK" --db "$WORK/sink.db" &
TAX_SINK=$!
"$OFD" serve --listen "127.0.0.1:$INGEST" --metrics-listen "127.0.0.1:$METRICS" \
    --database "$DB" --accept-unregistered true --source-rate 0 &
SERVER=$!
sleep 1
"$OFD" emulate --target "127.0.0.1:$INGEST" --registers "$REGISTERS" --concurrency 100 \
    --documents-per-register 100 >/dev/null 2>&1
kill -INT "$SERVER"; wait "$SERVER" || true

started=$(date +%s.%N)
"$OFD" forward --database "$DB" --sink-url "http://127.0.0.1:$SINK/v1/batches" &
FORWARDER=$!
until "$OFD" forward status --database "$DB" --json 2>/dev/null | grep -q '"pending": 0'; do
    sleep 0.2
done
ended=$(date +%s.%N)
ticks=$(awk '{print $14 + $15}' "/proc/$FORWARDER/stat")
written=$(awk '/^write_bytes/ {print $2}' "/proc/$FORWARDER/io")
sink_ticks=$(awk '{print $14 + $15}' "/proc/$TAX_SINK/stat")
python3 -c "
seconds = $ended - $started
print(f'commit $(git rev-parse --short HEAD), load average $(cut -d' ' -f1 /proc/loadavg): '
      f'{$DOCUMENTS} documents drained in {seconds:.2f} s ({$DOCUMENTS / seconds:.0f}/s); '
      f'forwarder CPU {$ticks / $(getconf CLK_TCK) / $DOCUMENTS * 1e6:.0f} us and '
      f'{$written / $DOCUMENTS:.0f} bytes written per document; '
      f'sink CPU {$sink_ticks / $(getconf CLK_TCK) / $DOCUMENTS * 1e6:.0f} us per document')"
