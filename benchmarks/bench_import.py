"""Import of a 1-million-row canonical CSV into a fresh store file. Target: under 15 s.

    python benchmarks/bench_import.py [--rows 1000000]

Prints a final JSON line with the figures measured in this run.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb  # noqa: E402

from benchmarks.synth import write_csv  # noqa: E402
from imports.dossiers import import_dossiers  # noqa: E402
from store.db import Store  # noqa: E402

TARGET_S = 15.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="motcua-bench-") as tmp:
        csv = Path(tmp) / "dossiers.csv"
        t0 = time.perf_counter()
        write_csv(duckdb.connect(), str(csv), args.rows)
        gen_s = time.perf_counter() - t0
        csv_mb = round(csv.stat().st_size / 1e6, 1)
        with Store(Path(tmp) / "bench.duckdb") as store:
            t0 = time.perf_counter()
            first = import_dossiers(store, csv)
            first_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            again = import_dossiers(store, csv)
            again_s = time.perf_counter() - t0
            stored = store.cursor().execute("SELECT count(*) FROM dossiers").fetchone()[0]
    figures = {
        "benchmark": "import_csv",
        "rows": args.rows,
        "csv_mb": csv_mb,
        "generate_s": round(gen_s, 2),
        "import_s": round(first_s, 2),
        "rows_per_s": round(args.rows / first_s),
        "reimport_s": round(again_s, 2),
        "inserted": first.inserted,
        "quarantined": first.quarantined,
        "reimport_inserted": again.inserted,
        "reimport_unchanged": again.unchanged,
        "stored": stored,
        "target_s": TARGET_S,
        "ratio_to_target": round(first_s / TARGET_S, 3),
        "pass": first_s < TARGET_S and stored == first.inserted and again.inserted == 0,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
