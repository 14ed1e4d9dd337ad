"""Measurement overhead of the probes: probe-reported latency minus the server's own handling
time (its Server-Timing header), on loopback against the testbed. Target: median under 2 ms.

    python benchmarks/bench_probe_overhead.py [--requests 300]

The testbed runs in a process of its own (as a real portal would), release v1.0. Prints a final
JSON line with the figures measured in this run.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from benchmarks.testbed_process import testbed_process  # noqa: E402
from collectors.probes import run_once  # noqa: E402
from config.app import AppConfig  # noqa: E402
from config.probes import load_probes  # noqa: E402

TARGET_MS = 2.0



def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=300)
    args = ap.parse_args()
    with testbed_process("v1.0") as base:
        full = load_probes(AppConfig().monitor.probes)
        home = full.model_copy(update={"checks": [c for c in full.checks if c.name == "home"], "journeys": []})
        for _ in range(10):  # warm-up
            run_once(home, base_url=base)
        overhead, totals, servers = [], [], []
        for _ in range(args.requests):
            r = run_once(home, base_url=base)[0]
            if r.ok and r.server_ms is not None:
                overhead.append(r.total_ms - r.server_ms)
                totals.append(r.total_ms)
                servers.append(r.server_ms)
    overhead.sort()
    med = statistics.median(overhead)
    print(json.dumps({
        "benchmark": "probe_overhead",
        "requests": len(overhead),
        "median_total_ms": round(statistics.median(totals), 2),
        "median_server_ms": round(statistics.median(servers), 2),
        "median_overhead_ms": round(med, 3),
        "p95_overhead_ms": round(overhead[int(0.95 * (len(overhead) - 1))], 3),
        "target_median_ms": TARGET_MS,
        "ratio_to_target": round(med / TARGET_MS, 3),
        "pass": med < TARGET_MS and len(overhead) == args.requests,
    }))


if __name__ == "__main__":
    main()
