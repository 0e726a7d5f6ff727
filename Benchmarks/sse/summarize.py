#!/usr/bin/env python3
"""Reads run.sh's RESULT lines on stdin; prints journal-server next to nginx+nchan with ratios.

Columns: journal-server (default durability, every-ack), journal-server with --durability none
(publish cases only), nchan. The ratio is journal-server (every-ack) / nchan; for latency and
memory lower is better, for rates higher is better.
"""
import json
import sys

SERVERS = ["journal-server", "journal-server-none", "nchan"]
METRICS = ["events_per_s", "lat_us_p50", "lat_us_p99", "req_per_s", "chunks_per_s", "msgs_per_s", "req_us_p50",
           "kb_per_subscriber", "server_cpu_us_per_event", "verdict", "ok"]

rows = {}
for line in sys.stdin:
    if not line.startswith("RESULT "):
        continue
    d = json.loads(line[7:])
    if "case" in d and "server" in d:
        rows.setdefault(d["case"], {})[d["server"]] = d


def fmt(v):
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


print(f"{'case':34} {'metric':24} {'journal-server':>15} {'(durability none)':>17} {'nchan':>12} {'ratio':>7}")
for case, servers in rows.items():
    for metric in METRICS:
        values = [servers.get(s, {}).get(metric, "-") for s in SERVERS]
        if all(v == "-" for v in values):
            continue
        a, _, b = values
        ratio = ""
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and b:
            ratio = f"{a / b:.2f}x"
        print(f"{case:34} {metric:24} {fmt(values[0]):>15} {fmt(values[1]):>17} {fmt(values[2]):>12} {ratio:>7}")
