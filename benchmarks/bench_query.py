"""The dashboard's query for one month (on-time ratio per agency, 20 worst) on 10 million
dossiers, warm. Target: under 50 ms.

    python benchmarks/bench_query.py [--dossiers 10000000] [--runs 30]

Prints a final JSON line with the figures measured in this run.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_sla import AS_OF, build_store  # noqa: E402
from config.app import AppConfig  # noqa: E402
from store.db import Store  # noqa: E402

TARGET_MS = 50.0
MONTH = "2026-03"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dossiers", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    from sla_rules.engine import SlaEngine
    from store.sla import recompute

    cfg = AppConfig()
    with tempfile.TemporaryDirectory(prefix="motcua-bench-") as tmp:
        path = Path(tmp) / "bench.duckdb"
        build_store(path, args.dossiers)
        engine = SlaEngine.from_files(cfg.sla.rule_set, cfg.sla.calendar_overrides)
        with Store(path, memory_limit=cfg.store.memory_limit) as store:
            recompute(store, engine, AS_OF)
            times = {}
            for name, params in (("agency_ratio_month", {"month": MONTH, "limit": 20}),
                                 ("bieu06", {"month": MONTH}),
                                 ("province_month_series", {"months": 12, "end_month": MONTH})):
                for _ in range(3):
                    t = store.query(name, **params)
                samples = []
                for _ in range(args.runs):
                    t0 = time.perf_counter()
                    t = store.query(name, **params)
                    samples.append((time.perf_counter() - t0) * 1000)
                samples.sort()
                times[name] = {"p50_ms": round(statistics.median(samples), 2),
                               "p95_ms": round(samples[int(0.95 * (len(samples) - 1))], 2),
                               "rows": len(t)}
    main_q = times["agency_ratio_month"]
    figures = {
        "benchmark": "dashboard_query",
        "dossiers": args.dossiers,
        "month": MONTH,
        "queries": times,
        "target_ms": TARGET_MS,
        "ratio_to_target": round(main_q["p95_ms"] / TARGET_MS, 3),
        "pass": main_q["p95_ms"] < TARGET_MS and main_q["rows"] == 20,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
