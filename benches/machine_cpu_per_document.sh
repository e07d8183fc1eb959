#!/usr/bin/env bash
# CPU of the whole machine per acked document — ofd, the emulator and, on PostgreSQL, the
# database's backends — from /proc/stat around one closed-loop run of `ofd serve`: a figure
# that survives a host whose speed changes from minute to minute better than the rate does
# (a busy neighbour shows as steal time, which is left out).
#   1. a warm-up run (50 registers x 10 documents), then
#   2. the measured run: REGISTERS registers x PER documents, all in flight.
# Usage: OFD=target/release/ofd [DB=postgres://…/empty_db] benches/machine_cpu_per_document.sh \
#            [ru|kz] [registers] [per register]
# Nothing else of yours should run meanwhile.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/support/common.sh
OFD=${OFD:-target/release/ofd}
DIALECT=${1:-ru}
REGISTERS=${2:-200}
PER=${3:-50}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
DB=${DB:-"sqlite://$WORK/ofd.db"}
INGEST=$(port); METRICS=$(port)
"$OFD" migrate --database "$DB" >/dev/null
"$OFD" serve --listen "127.0.0.1:$INGEST" --metrics-listen "127.0.0.1:$METRICS" --database "$DB" \
    --accept-unregistered true --source-rate 0 2>/dev/null &
SERVER=$!
sleep 1
emulate() { # registers per-register seed
    "$OFD" emulate --target "127.0.0.1:$INGEST" --dialect "$DIALECT" --registers "$1" \
        --documents-per-register "$2" --concurrency "$1" --seed "$3" --provision "$DB" \
        >/dev/null 2>&1
}
emulate 50 10 7
before=$(head -1 /proc/stat); started=$(date +%s.%N)
emulate "$REGISTERS" "$PER" 8
after=$(head -1 /proc/stat); ended=$(date +%s.%N)
kill -INT "$SERVER"; wait "$SERVER" || true
python3 -c "
before = list(map(int, '$before'.split()[1:]))
after = list(map(int, '$after'.split()[1:]))
d = [b - a for a, b in zip(before, after)]
# user, nice, system, irq, softirq; not idle, iowait or steal.
busy = d[0] + d[1] + d[2] + d[5] + d[6]
documents = $REGISTERS * $PER
print(f'commit $(git rev-parse --short HEAD), {\"$DB\".split(\":\")[0]}, $DIALECT: '
      f'{documents / ($ended - $started):.0f} acked/s, machine CPU '
      f'{busy / $(getconf CLK_TCK) / documents * 1e6:.0f} us per document '
      f'(steal {d[7] / $(getconf CLK_TCK):.2f} s)')"
