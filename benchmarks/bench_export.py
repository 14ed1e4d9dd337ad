"""A month's briefing in all three formats (DOCX, XLSX, PDF) for a province-sized store: the demo
province, a year at 30,000 dossiers a month (as `app.py run` makes it), with a month of probe
results (20 checks every 10 minutes). Target: under 10 s for the three files together.

    python benchmarks/bench_export.py [--months 12] [--per-month 30000] [--runs 3]

Prints a final JSON line with the figures measured in this run (the median of the runs, and the
parts: reading the store, drawing the charts, rendering each format).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config.app import load_config  # noqa: E402
from probes.runner import ProbeResult  # noqa: E402
from reports import files  # noqa: E402
from reports.briefing.collect import collect  # noqa: E402
from reports.briefing.model import FORMATS  # noqa: E402
from store.probe_writes import write_results  # noqa: E402
from system import Motcua  # noqa: E402

TARGET_S = 10.0
END = dt.date(2026, 11, 1)
MONTH = "2026-10"


def probe_month(n_checks: int = 20, every_min: int = 10) -> list[ProbeResult]:
    out = []
    t = dt.datetime(2026, 10, 1)
    k = 0
    while t < dt.datetime(2026, 11, 1):
        for c in range(n_checks):
            ok = (k + c) % 97 != 0 and not (c == 0 and dt.datetime(2026, 10, 14, 9) <= t < dt.datetime(2026, 10, 14, 11))
            out.append(ProbeResult(f"check-{c:02d}", "check", "", t, ok=ok, reason="" if ok else "HTTP 503",
                                   total_ms=150.0 + (k * 7 + c * 13) % 900))
        t += dt.timedelta(minutes=every_min)
        k += 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument("--per-month", type=int, default=30_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="motcua-bench-export-") as tmp:
        cfg = load_config(environ={"MOTCUA_STORE__PATH": str(Path(tmp) / "bench.duckdb")})
        app = Motcua(cfg)
        t0 = time.perf_counter()
        res = app.demo_data(out_dir=Path(tmp) / "demo", months=args.months, per_month=args.per_month, end=END)
        probes = probe_month()
        write_results(app.store, probes, now=dt.datetime(2026, 11, 1), raw_retention_days=400)
        setup_s = time.perf_counter() - t0
        dossiers = int(res["import"]["inserted"])

        totals, parts, sizes = [], [], {}
        for _ in range(args.runs):
            t0 = time.perf_counter()
            written = files.build_all(app, MONTH, cfg=cfg)
            totals.append(time.perf_counter() - t0)
            sizes = {name.rsplit(".", 1)[1]: len(data) for name, data in written}
            # the same work in its parts
            p: dict[str, float] = {}
            t = time.perf_counter()
            b = collect(app, MONTH, cfg=cfg)
            p["collect_s"] = time.perf_counter() - t
            from reports.charts import draw_charts

            t = time.perf_counter()
            b.charts = draw_charts(b)
            p["charts_s"] = time.perf_counter() - t
            for fmt in FORMATS:
                t = time.perf_counter()
                files.render(b, fmt)
                p[f"{fmt}_s"] = time.perf_counter() - t
            parts.append(p)
        app.close()
    median = statistics.median(totals)
    figures = {
        "benchmark": "export_briefing",
        "dossiers": dossiers,
        "months": args.months,
        "probe_results": len(probes),
        "month": MONTH,
        "setup_s": round(setup_s, 1),
        "all_formats_s": round(median, 2),
        "all_formats_runs_s": [round(x, 2) for x in totals],
        **{k: round(statistics.median(p[k] for p in parts), 3) for k in parts[0]},
        "bytes": sizes,
        "target_s": TARGET_S,
        "ratio_to_target": round(median / TARGET_S, 3),
        "meets_target": median < TARGET_S,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
