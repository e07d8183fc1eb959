#!/usr/bin/env python3
"""A timeline of one run, to find *when* the slow acks of a paced run happen.

A run's percentiles say how many acks were slow, not when: a p99 set by the first 0.2 s of a
10 s run (registers' first requests, the load generator's own start) and one set by a stall
every two seconds call for different answers. `record` samples, every INTERVAL seconds until
killed, the server's ack-latency histogram (`ofd_ingest_ack_latency_seconds`) from its
/metrics, the CPU of its threads split by nice value (`ofd all` runs the background roles at a
lower priority) and the machine's idle share (/proc/stat); `show` prints one line per interval:
acks, acks over 25 ms, idle %, CPU ticks of nice-0 and niced threads, the busiest threads.

Usage: timeline.py record FILE INTERVAL PID METRICS_URL
       timeline.py show FILE [--slow-only]
"""
import json
import os
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from histogram_delta import buckets_in  # noqa: E402 (benches/histogram_delta.py)

ACK = "ofd_ingest_ack_latency_seconds"


def threads(pid):
    """CPU ticks (user + system) per (thread name, nice) of process `pid`."""
    ticks = {}
    try:
        names = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return ticks
    for tid in names:
        try:
            stat = open(f"/proc/{pid}/task/{tid}/stat", encoding="utf-8").read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        key = f"{name}|{fields[16]}"
        ticks[key] = ticks.get(key, 0) + int(fields[11]) + int(fields[12])
    return ticks


def acks(url):
    """(acks so far, acks over 25 ms so far) from the server's /metrics."""
    text = urllib.request.urlopen(url, timeout=1).read().decode()
    counts = buckets_in(text.splitlines(), ACK)
    total = counts.get(float("inf"), 0.0)
    return total, total - counts.get(0.025, 0.0)


def record(path, interval, pid, url):
    with open(path, "w", encoding="utf-8") as out:
        while True:
            started = time.time()
            sample = {"t": started, "threads": threads(pid),
                      "cpu": open("/proc/stat", encoding="utf-8").readline().split()[1:8]}
            try:
                sample["acks"], sample["slow"] = acks(url)
            except OSError:
                pass
            out.write(json.dumps(sample) + "\n")
            out.flush()
            time.sleep(max(0.0, interval - (time.time() - started)))


def show(path, slow_only):
    samples = [json.loads(line) for line in open(path, encoding="utf-8")]
    samples = [s for s in samples if "acks" in s]
    if not samples:
        print("no samples")
        return
    print("   t s  acks  >25ms  idle%  nice0  niced  busiest threads (ticks)")
    for before, after in zip(samples, samples[1:]):
        slow = after["slow"] - before["slow"]
        if slow_only and slow <= 0:
            continue
        cpu0, cpu1 = list(map(int, before["cpu"])), list(map(int, after["cpu"]))
        total = sum(cpu1) - sum(cpu0)
        idle = 100.0 * (cpu1[3] - cpu0[3]) / total if total else 0.0
        grew = {k: v - before["threads"].get(k, 0) for k, v in after["threads"].items()}
        nice0 = sum(v for k, v in grew.items() if k.endswith("|0"))
        niced = sum(v for k, v in grew.items() if not k.endswith("|0"))
        busiest = sorted(((v, k) for k, v in grew.items() if v > 0), reverse=True)[:3]
        print(f"{after['t'] - samples[0]['t']:6.1f} {after['acks'] - before['acks']:5.0f} "
              f"{slow:6.0f} {idle:6.1f} {nice0:6d} {niced:6d}  "
              + ", ".join(f"{k} {v}" for v, k in busiest))
    total_slow = samples[-1]["slow"] - samples[0]["slow"]
    total_acks = samples[-1]["acks"] - samples[0]["acks"]
    print(f"acks over 25 ms: {total_slow:.0f} of {total_acks:.0f}")


if __name__ == "__main__":
    if len(sys.argv) >= 6 and sys.argv[1] == "record":
        record(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    elif len(sys.argv) >= 3 and sys.argv[1] == "show":
        show(sys.argv[2], "--slow-only" in sys.argv[3:])
    else:
        sys.exit(__doc__)
