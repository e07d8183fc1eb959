#!/usr/bin/env python3
"""Growth of Prometheus histograms between two scrapes of /metrics.

Usage: histogram_delta.py BEFORE.prom AFTER.prom NAME...

For each histogram NAME prints the observations made between the scrapes and the share of them
at or under each bucket bound, plus the bucket the 50th and 99th percentiles fall in, so a bench
can say which part of a client's latency the server itself accounts for.
"""
import re
import sys

LINE = re.compile(r'^(\w+)_bucket\{(?:[^}]*,)?le="([^"]+)"(?:,[^}]*)?\} (\S+)$')


def buckets_in(lines, name):
    """Cumulative counts per bucket bound of histogram `name` in scraped `lines`, summed over
    its label sets."""
    found = {}
    for line in lines:
        match = LINE.match(line.strip())
        if match and match.group(1) == name:
            bound = float("inf") if match.group(2) == "+Inf" else float(match.group(2))
            found[bound] = found.get(bound, 0.0) + float(match.group(3))
    return found


def buckets(path, name):
    with open(path, encoding="utf-8") as text:
        return buckets_in(text, name)


def main():
    before_path, after_path, names = sys.argv[1], sys.argv[2], sys.argv[3:]
    for name in names:
        before, after = buckets(before_path, name), buckets(after_path, name)
        grown = sorted((bound, after[bound] - before.get(bound, 0.0)) for bound in after)
        total = grown[-1][1] if grown else 0.0
        if total <= 0:
            print(f"{name}: no observations")
            continue
        shares = ", ".join(
            f"<= {bound:g}: {count / total:.1%}" for bound, count in grown if bound != float("inf")
        )
        p50 = next(bound for bound, count in grown if count >= 0.5 * total)
        p99 = next(bound for bound, count in grown if count >= 0.99 * total)
        print(f"{name}: {total:.0f} observations; p50 <= {p50:g}, p99 <= {p99:g}; {shares}")


if __name__ == "__main__":
    main()
