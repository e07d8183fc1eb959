# Shared by the load scripts of benches/: sourced right after each one's `cd` to the top of the
# repository.

# One host plays every register: the per-source limits (rate and open connections, defaults
# against a hostile source) would throttle it, so they are off for the load test.
export OFD_SOURCE_RATE=0 OFD_MAX_OPEN_PER_SOURCE=0 OFD_MAX_OPEN_PER_NETWORK=0

# A free TCP port on loopback (the kernel's choice of an unused one).
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The server's warnings only: its info lines would cost CPU the figures should not include.
export RUST_LOG=warn

# A thousand registers in flight need more open files than a login shell's 1,024: 20,000, or
# as many as the hard limit allows.
hard_files=$(ulimit -Hn)
if [ "$hard_files" = unlimited ] || [ "$hard_files" -ge 20000 ]; then
    ulimit -n 20000
else
    ulimit -n "$hard_files"
fi

# Wait until loopback's TIME_WAIT sockets leave room in the kernel's table
# (net.ipv4.tcp_max_tw_buckets) for the NEXT connections the coming run will close (default: half
# the table). Every closed connection leaves one for 60 s; once the table is full the kernel stops
# making them, and a connection then costs about a third of the kernel CPU it costs otherwise
# (`tcp_floor` 16,500/s against 45,000/s on one machine, benches/README.md, "TIME_WAIT"). Runs
# back to back fill it, so without this wait a later run measures another kernel than an earlier
# one.
settle_time_wait() {
    local max next count waited=0
    max=$(cat /proc/sys/net/ipv4/tcp_max_tw_buckets 2>/dev/null || echo 0)
    next=${1:-$((max / 2))}
    [ "$max" -gt 0 ] || return 0
    if [ "$next" -ge "$max" ]; then
        echo "# the next run's $next connections overflow the TIME_WAIT table ($max): its end runs on the cheaper kernel" >&2
        next=$((max - 1000))
    fi
    while count=$(($(ss -Htan state time-wait | wc -l))); [ $((count + next)) -ge "$max" ]; do
        sleep 2; waited=$((waited + 2))
    done
    [ "$waited" -eq 0 ] || echo "# waited ${waited} s for TIME_WAIT sockets to leave room for $next (now $count of $max)" >&2
}
