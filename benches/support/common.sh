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
