#!/usr/bin/env bash
# Issue 14's "projector throughput >= 2x the ingest's own ack rate, so it never falls behind",
# on a store that is already large (e.g. the 10M-document SQLite file `benches/read_models.rs`
# leaves with OFD_BENCH_DB): each round, `ofd serve` takes REGISTERS x PER more RU documents
# closed loop (one connection per document, all in flight, a new seed each round) and its ack
# rate is printed; then `ofd project` starts over the same store and catches up over them with
# the large read tables, timed from its start until every shard's cursor has reached the last
# document of its shard. Prints each rate and the ratio.
# Usage: OFD=target/release/ofd benches/projector_on_large_store.sh <sqlite file | postgres URL> \
#            [registers] [per register] [rounds]
# On PostgreSQL the projector runs its default workers (steps on different shards at once).
# SEED (default 700): round N sends the fleet of seed SEED + N; a second run on the same store
# needs another SEED, or every document is a resend of one already stored.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/support/common.sh
OFD=$(realpath "${OFD:-target/release/ofd}")
REGISTERS=${2:-1000}
PER=${3:-100}
ROUNDS=${4:-3}
case "$1" in
    postgres://*|postgresql://*)
        DB=$1
        documents() { psql "$DB" -qAtc "$1"; }
        read_models() { psql "$DB" -qAtc "$1"; }
        ;;
    *)
        FILE=$(realpath "$1")
        DB="sqlite://$FILE"
        documents() { sqlite3 "$FILE" "$1"; }
        read_models() { sqlite3 "$FILE-read" "$1"; }
        ;;
esac
SHARDS=4 # src/project/apply.rs SHARDS
cleanup() {
    kill $(jobs -p) 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT
echo "# commit $(git rev-parse --short HEAD), $(documents 'SELECT COUNT(*) FROM documents') documents stored, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

for round in $(seq 1 "$ROUNDS"); do
    ingest=$(port)
    "$OFD" serve --listen "127.0.0.1:$ingest" --database "$DB" --accept-unregistered true \
        --source-rate 0 --metrics-listen "127.0.0.1:$(port)" &
    server=$!
    sleep 2
    out=$("$OFD" emulate --target "127.0.0.1:$ingest" --dialect ru --registers "$REGISTERS" \
        --documents-per-register "$PER" --concurrency "$REGISTERS" --seed $((${SEED:-700} + round)) \
        --json 2>/dev/null | tail -1)
    kill $server; wait $server 2>/dev/null || true
    acked=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["acked"])' "$out")
    acked_per_s=$(python3 -c 'import json,sys; print(round(json.loads(sys.argv[1])["acked_per_s"]))' "$out")
    # The last document id of each shard (ids are dense at the end: the last few hundred hold
    # every shard's).
    targets=$(documents "SELECT id % $SHARDS, MAX(id) FROM \
        (SELECT id FROM documents ORDER BY id DESC LIMIT 1000) AS last GROUP BY 1" | tr '\n' ' ')
    start=$(date +%s.%N)
    "$OFD" project --database "$DB" --metrics-listen "127.0.0.1:$(port)" &
    projector=$!
    while :; do
        done_all=1
        for pair in $targets; do
            shard=${pair%%|*}; last=${pair##*|}
            at=$(read_models "SELECT last_id FROM project_cursor WHERE name = 'documents/$shard'" 2>/dev/null || echo 0)
            if [ "${at:-0}" -lt "$last" ]; then done_all=0; break; fi
        done
        [ $done_all = 1 ] && break
        sleep 0.05
    done
    end=$(date +%s.%N)
    kill $projector; wait $projector 2>/dev/null || true
    python3 - "$acked" "$acked_per_s" "$start" "$end" "$round" <<'PY'
import sys
acked, acked_per_s, start, end, rnd = sys.argv[1:]
rate = int(acked) / (float(end) - float(start))
print(f"RESULT round {rnd}: ingest {acked} acked, {acked_per_s}/s closed loop; "
      f"projector caught up in {float(end) - float(start):.1f} s = {rate:.0f}/s, "
      f"{rate / float(acked_per_s):.2f}x the ack rate")
PY
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
