#!/usr/bin/env bash
# Forwarder figures for benches/README.md, over loopback with real processes:
#   1. steady state: `ofd emulate` loads `ofd serve` while `ofd forward` sends to `ofd tax-sink`;
#      reports the ack-to-confirmation percentiles (documents.sent_at - received_at).
#   2. drain: with the forwarder stopped, a backlog is ingested; then the forwarder is started
#      and the rate at which it empties the backlog is the forwarding throughput.
# Usage: benches/forward_load.sh [registers] [seconds] [backlog registers]   (release build)
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/support/common.sh
OFD=${OFD:-target/release/ofd}
REGISTERS=${1:-200}
SECONDS_OF_LOAD=${2:-30}
BACKLOG_REGISTERS=${3:-500}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
SINK=$(port); INGEST=$(port); METRICS=$(port); FWD_METRICS=$(port)
DB="sqlite://$WORK/ofd.db"

"$OFD" tax-sink --listen "127.0.0.1:$SINK" --db "$WORK/sink.db" &
"$OFD" serve --listen "127.0.0.1:$INGEST" --metrics-listen "127.0.0.1:$METRICS" \
    --database "$DB" --accept-unregistered true --source-rate 0 &
sleep 1
"$OFD" forward --database "$DB" --sink-url "http://127.0.0.1:$SINK/v1/batches" \
    --metrics-listen "127.0.0.1:$FWD_METRICS" &
FORWARDER=$!
sleep 1

echo "== steady state: $REGISTERS registers for $SECONDS_OF_LOAD s"
"$OFD" emulate --target "127.0.0.1:$INGEST" --registers "$REGISTERS" --concurrency "$REGISTERS" \
    --documents-per-register 1000000 --duration "$SECONDS_OF_LOAD"
until "$OFD" forward status --database "$DB" --json | grep -q '"pending": 0'; do sleep 0.5; done
"$OFD" forward status --database "$DB" --window 1000000
curl -s "127.0.0.1:$SINK/stats"; echo

echo "== drain: backlog of $BACKLOG_REGISTERS x 100 documents"
kill -INT "$FORWARDER"; wait "$FORWARDER" || true
"$OFD" emulate --target "127.0.0.1:$INGEST" --registers "$BACKLOG_REGISTERS" --concurrency 100 \
    --documents-per-register 100 > /dev/null
BACKLOG=$("$OFD" forward status --database "$DB" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pending"])')
echo "backlog $BACKLOG documents"
"$OFD" forward --database "$DB" --sink-url "http://127.0.0.1:$SINK/v1/batches" &
until "$OFD" forward status --database "$DB" --json | grep -q '"pending": 0'; do sleep 0.5; done
"$OFD" forward status --database "$DB" --window "$BACKLOG"
curl -s "127.0.0.1:$SINK/stats"; echo
