#!/usr/bin/env bash
# A resend storm against a store larger than memory (issue 18): registers resend documents the
# store took long ago, so each stored ack is a disk read, while other registers keep sending new
# receipts at a steady rate. Do the resends slow down, and do they hold up the new receipts?
#   1. build the store: SEEDS runs of REGISTERS x PER RU documents, each seed with its own fleet
#      and a fixed clock one day after the previous seed's (`ofd emulate --clock-start`), so that
#      running a seed again sends its documents again byte for byte;
#   2. per round, warm: a storm is sent once untimed, so that its pages are cached, then again
#      while a new fleet sends RATE new documents/s. A storm is STORM old seeds spread over the
#      store, the first REGISTERS/STORM registers of each, every register in flight, closed
#      loop: its documents lie scattered, each on a page of its own (one seed's registers
#      alone would read their block of the store nearly in order);
#   3. per round, cold: the server is stopped, the kernel's page cache dropped, and the server
#      started again in a memory cgroup of MEMORY (its own memory and the page cache it reads
#      through, SQLite), so the store is many times what it may cache; a storm of the seeds
#      next to the warm one's is sent the same way. On PostgreSQL the cluster is also
#      restarted (`pg_ctlcluster`), and its memory is not limited: each page is cold only until
#      it is first read.
# Prints per phase: resends acked/s and their exchange p99, the new documents' delivery p99,
# the server's CPU per frame, the bytes it read from disk (/proc/PID/io; PostgreSQL's backends
# read for it there) and the disk's reads and their mean time, with the page cache state.
# Every resend must be answered with the stored ack: `--metrics-url` fails the run on any
# conflict.
# Needs root for the page cache and the cgroup; without them it says so and the "cold" phase
# is not cold.
# DB=postgres://… must name an empty database; "cold" restarts the machine's first cluster.
# Usage: OFD=target/release/ofd [DB=postgres://…/db] [MEMORY=256M] [RATE=500] \
#        benches/cold_resend_storm.sh [seeds] [registers] [per register] [rounds] [storm seeds]
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/support/common.sh
OFD=$(realpath "${OFD:-target/release/ofd}")
SEEDS=${1:-100}
REGISTERS=${2:-1000}
PER=${3:-20}
ROUNDS=${4:-2}
STORM=${5:-10}
RATE=${RATE:-500}
MEMORY=${MEMORY:-256M}
WORK=$(mktemp -d)
CGROUP=""
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null; [ -n "$CGROUP" ] && rmdir "$CGROUP" 2>/dev/null; rm -rf "$WORK"' EXIT
DB=${DB:-"sqlite://$WORK/ofd.db"}
"$OFD" migrate --database "$DB" >/dev/null
TICK=$(getconf CLK_TCK)
# Seed i was "made" on day i of the year before the run.
DAY0=$(( $(date +%s) - 400 * 86400 ))
clock_of() { echo $((DAY0 + $1 * 86400)); }
fleet_of() { echo $((700000 + $1)); }
echo "# commit $(git rev-parse --short HEAD), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# store: $SEEDS seeds x $REGISTERS registers x $PER documents; storms of $STORM seeds x $((REGISTERS / STORM)) registers beside $RATE new documents/s"

SERVER=""; METRICS=""; INGEST=""
start_server() { # [cgroup dir]
    INGEST=$(port); METRICS=$(port)
    (
        [ -n "${1:-}" ] && echo "$BASHPID" > "$1/cgroup.procs"
        exec "$OFD" serve --listen "127.0.0.1:$INGEST" --metrics-listen "127.0.0.1:$METRICS" \
            --database "$DB" --accept-unregistered true --source-rate 0 2>>"$WORK/server.log"
    ) &
    SERVER=$!
    for _ in $(seq 1 100); do (echo >"/dev/tcp/127.0.0.1/$INGEST") 2>/dev/null && return; sleep 0.1; done
    echo "server did not start: $(tail -3 "$WORK/server.log")" >&2; exit 1
}
stop_server() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; }
store_size() {
    case $DB in
        sqlite://*) du -cb "${DB#sqlite://}"* | tail -1 | awk '{print $1}' | numfmt --to=iec ;;
        *) psql "$DB" -Atc "SELECT pg_size_pretty(pg_database_size(current_database()))" ;;
    esac
}
# A memory cgroup of MEMORY (v2: memory.max; v1: memory.limit_in_bytes), or nothing.
make_cgroup() {
    local bytes
    bytes=$(numfmt --from=iec "$MEMORY")
    if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
        CGROUP=/sys/fs/cgroup/ofd_cold_storm_$$
        mkdir "$CGROUP" 2>/dev/null && echo "$bytes" > "$CGROUP/memory.max" 2>/dev/null && return
    elif [ -d /sys/fs/cgroup/memory ]; then
        CGROUP=/sys/fs/cgroup/memory/ofd_cold_storm_$$
        mkdir "$CGROUP" 2>/dev/null && echo "$bytes" > "$CGROUP/memory.limit_in_bytes" 2>/dev/null && return
    fi
    CGROUP=""
}
# Drop what the kernel caches of the store (and PostgreSQL's own buffers); false when not allowed.
# Reads the disk under the store completed, and milliseconds spent on them (/sys/block/*/stat).
DISK=$(basename "$(df --output=source "$WORK" | tail -1)")
disk_reads() { awk '{print $1, $4}' "/sys/block/$DISK/stat" 2>/dev/null || echo "0 0"; }
make_cold() {
    case $DB in
        sqlite://*) ;;
        *) pg_ctlcluster "$(pg_lsclusters -h | awk 'NR==1{print $1}')" main restart 2>/dev/null || return 1 ;;
    esac
    sync && echo 3 > /proc/sys/vm/drop_caches 2>/dev/null
}

emulate() { # seed, extra args...
    local seed=$1; shift
    "$OFD" emulate --target "127.0.0.1:$INGEST" --dialect ru --seed "$seed" \
        --fleet "$(fleet_of "$seed")" --clock-start "$(clock_of "$seed")" --json "$@" 2>/dev/null | tail -1
}

start_server
built=$(date +%s.%N)
for seed in $(seq 1 "$SEEDS"); do
    emulate "$seed" --registers "$REGISTERS" --documents-per-register "$PER" \
        --concurrency "$REGISTERS" > "$WORK/build.json"
    if [ $((seed % 20)) -eq 0 ] || [ "$seed" -eq "$SEEDS" ]; then
        echo "built $seed seeds, $(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['acked'])" "$WORK/build.json") acked in the last; $(store_size) on disk"
    fi
done
echo "# store built in $(python3 -c "import sys,time; print(f'{time.time()-float(sys.argv[1]):.0f}')" "$built") s: $(store_size)"

# The storm: STORM old seeds at once, the first REGISTERS/STORM registers of each, all in
# flight; so the documents resent lie scattered over the store instead of in one seed's block.
storm_seeds() { # first seed
    local j
    for j in $(seq 0 $((STORM - 1))); do echo $(( ($1 + j * SEEDS / STORM - 1) % SEEDS + 1 )); done
}
storm() { # first seed, [extra args...]: run the storm, one summary per seed in $WORK/storm.*.json
    local first=$1 seed pids=()
    shift
    for seed in $(storm_seeds "$first"); do
        emulate "$seed" --registers $((REGISTERS / STORM)) --documents-per-register "$PER" \
            --concurrency $((REGISTERS / STORM)) "$@" > "$WORK/storm.$seed.json" &
        pids+=($!)
    done
    local failed=0
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    return $failed
}
phase() { # label, first storm seed, fresh fleet
    local label=$1 first=$2 fresh=$3 c0 c1 r0 r1 t0 t1 fresh_pid d0 d1
    rm -f "$WORK"/storm.*.json
    c0=$(awk '{print $14 + $15}' "/proc/$SERVER/stat")
    r0=$(awk '/^read_bytes/{print $2}' "/proc/$SERVER/io")
    d0=$(disk_reads)
    # A new fleet at a steady rate, the cashiers during the storm; stopped when the storm ends.
    "$OFD" emulate --target "127.0.0.1:$INGEST" --dialect ru --registers 200 --concurrency 200 \
        --documents-per-register 1000000 --duration 3600 --rate "$RATE" --fleet "$fresh" \
        --json 2>/dev/null > "$WORK/fresh.out" &
    fresh_pid=$!
    sleep 1
    t0=$(date +%s.%N)
    storm "$first" --metrics-url "http://127.0.0.1:$METRICS/metrics" \
        || echo "$label: a storm run failed (see its summary)"
    t1=$(date +%s.%N)
    kill -INT "$fresh_pid"; wait "$fresh_pid" || true
    c1=$(awk '{print $14 + $15}' "/proc/$SERVER/stat")
    r1=$(awk '/^read_bytes/{print $2}' "/proc/$SERVER/io")
    d1=$(disk_reads)
    python3 - "$label" "$WORK" "$t0" "$t1" "$c0" "$c1" "$r0" "$r1" "$TICK" $d0 $d1 <<'PY'
import glob, json, sys
label, work = sys.argv[1], sys.argv[2]
t0, t1 = map(float, sys.argv[3:5])
c0, c1, r0, r1, hz, n0, ms0, n1, ms1 = map(int, sys.argv[5:])
storms = [json.loads(open(p).read().strip().splitlines()[-1]) for p in glob.glob(f"{work}/storm.*.json")]
fresh = json.loads(open(f"{work}/fresh.out").read().strip().splitlines()[-1])
acked = sum(s["acked"] for s in storms)
documents = sum(s["documents"] for s in storms)
conflicts = sum(s.get("server_growth", {}).get("conflicts", 0) for s in storms)
p99 = max(s["exchange_latency_ms"]["p99"] for s in storms)
frames = sum(s["frames_sent"] for s in storms) + fresh["frames_sent"]
print(f"{label}: resends {acked} of {documents} acked in {t1 - t0:.1f} s = {acked / (t1 - t0):.0f}/s, "
      f"exchange p99 {p99:.0f} ms (worst of {len(storms)} seeds), conflicts +{conflicts}; "
      f"meanwhile new {fresh['acked']} of {fresh['documents']} at {fresh['offered_rate']:.0f}/s, "
      f"delivery p99 {fresh['delivery_latency_ms']['p99']:.1f} ms, max {fresh['delivery_latency_ms']['max']:.0f} ms; "
      f"server CPU {(c1 - c0) / hz / max(frames, 1) * 1e6:.0f} us per frame, read {(r1 - r0) / 2**20:.0f} MiB "
      f"from disk ({(r1 - r0) / max(acked, 1) / 1024:.1f} KiB per resend); the disk: {n1 - n0} reads, "
      f"{(ms1 - ms0) / max(n1 - n0, 1):.2f} ms each")
PY
}

for round in $(seq 1 "$ROUNDS"); do
    # Two storms of the same ages: the warm one, then the cold one a seed later.
    warm_seed=$((2 * round - 1))
    cold_seed=$((2 * round))
    echo "== round $round (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    storm "$warm_seed"
    phase "warm" "$warm_seed" $((800000 + 2 * round))
    stop_server
    cold="page cache dropped"
    make_cold || cold="NOT COLD: the page cache could not be dropped"
    make_cgroup
    if [ -n "$CGROUP" ]; then
        cold="$cold, server in $MEMORY"
        case $DB in sqlite://*) ;; *) cold="$cold (PostgreSQL's memory not limited)" ;; esac
    else
        cold="$cold, NO memory limit (no cgroup could be made)"
    fi
    start_server "$CGROUP"
    phase "cold ($cold)" "$cold_seed" $((800001 + 2 * round))
    if [ -n "$CGROUP" ]; then
        peak=$(cat "$CGROUP/memory.max_usage_in_bytes" 2>/dev/null || cat "$CGROUP/memory.peak" 2>/dev/null || echo 0)
        echo "   the cgroup's peak: $(numfmt --to=iec "$peak") of $MEMORY"
    fi
    stop_server
    [ -n "$CGROUP" ] && { rmdir "$CGROUP" 2>/dev/null || true; CGROUP=""; }
    start_server
done
