"""Measurement overhead of the probes: probe-reported latency minus the server's own handling
time (its Server-Timing header), on loopback against the testbed. Target: median under 2 ms.

    python benchmarks/bench_probe_overhead.py [--requests 300]

The testbed runs in a process of its own (as a real portal would), release v1.0. The checks run as
the scheduler runs them (one runner, one event loop, a fresh connection per run); the same check
through `run_once` (a new event loop per call, as `app.py probe --once`) is reported beside it.
Prints a final JSON line with the figures measured in this run.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from benchmarks.testbed_process import testbed_process  # noqa: E402
from config.app import AppConfig  # noqa: E402
from config.probes import load_probes  # noqa: E402
from probes.runner import Runner, run_once  # noqa: E402

TARGET_MS = 2.0



def overheads(results) -> list[float]:
    return sorted(r.total_ms - r.server_ms for r in results if r.ok and r.server_ms is not None)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=300)
    args = ap.parse_args()
    with testbed_process("v1.0") as base:
        full = load_probes(AppConfig().monitor.probes)
        home = full.model_copy(update={"checks": [c for c in full.checks if c.name == "home"], "journeys": []})
        check = home.checks[0]
        # as the scheduler runs them: one runner on one event loop, a fresh client and connection
        # for every run (the connect is part of what a citizen waits for)
        runner = Runner(home, None, base)

        async def runs(n: int) -> list:
            out = []
            for _ in range(n):
                out += await runner.run_check(check)
                await asyncio.sleep(0.005)  # runs are apart in a schedule, not back to back
            return out

        loop = asyncio.new_event_loop()
        loop.run_until_complete(runs(10))  # warm-up
        scheduled = loop.run_until_complete(runs(args.requests))
        loop.close()
        once = [run_once(home, base_url=base)[0] for _ in range(args.requests // 3)]  # app.py probe --once
    overhead, once_overhead = overheads(scheduled), overheads(once)
    totals = sorted(r.total_ms for r in scheduled if r.ok)
    servers = sorted(r.server_ms for r in scheduled if r.ok and r.server_ms is not None)
    phases_gap = [r.total_ms - sum(x or 0.0 for x in (r.dns_ms, r.connect_ms, r.tls_ms, r.ttfb_ms, r.transfer_ms))
                  for r in scheduled if r.ok]
    med = statistics.median(overhead)
    print(json.dumps({
        "benchmark": "probe_overhead",
        "requests": len(overhead),
        "median_total_ms": round(statistics.median(totals), 2),
        "median_server_ms": round(statistics.median(servers), 2),
        "median_connect_ms": round(statistics.median(r.connect_ms for r in scheduled if r.ok), 3),
        "median_overhead_ms": round(med, 3),
        "p95_overhead_ms": round(overhead[int(0.95 * (len(overhead) - 1))], 3),
        "run_once_median_overhead_ms": round(statistics.median(once_overhead), 3),
        "max_abs_total_minus_phases_ms": round(max(abs(g) for g in phases_gap), 6),
        "target_median_ms": TARGET_MS,
        "ratio_to_target": round(med / TARGET_MS, 3),
        "pass": med < TARGET_MS and len(overhead) == args.requests,
    }))


if __name__ == "__main__":
    main()
