"""Distributed mode: a Locust master and two workers give one merged result whose request counts
equal the sum of what each worker counted itself.

    python benchmarks/bench_loadtest_distributed.py [--users 40] [--seconds 10] [--workers 2]

Runs the `smoke` scenario (citizens and officers, config/loadtests.yaml) through `run_loadtest`
with --workers 2 against the testbed (v1.0, a process of its own), into a throwaway store; each
worker writes its own tally (loadtests/locustfile.py, WorkerTally). Prints a final JSON line.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.testbed_process import testbed_process  # noqa: E402
from config.app import load_config  # noqa: E402
from loadtests.runner import LoadRequest, run_loadtest  # noqa: E402
from system import Motcua  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, testbed_process("v1.0") as base:
        app = Motcua(load_config(environ={"MOTCUA_STORE__PATH": str(Path(tmp) / "bench.duckdb")}))
        try:
            res = run_loadtest(app, LoadRequest("smoke", base, "bench", users=args.users, duration=args.seconds,
                                                workers=args.workers), runs_dir=Path(tmp) / "runs",
                               out=lambda s: print(s, flush=True), progress_every=5, report=False)
            run = app.query("loadtest_run", run_id=res.run_id).one()
            nodes = app.query("loadtest_nodes", run_id=res.run_id).to_dicts()
            ends = app.query("loadtest_endpoints", run_id=res.run_id).to_dicts()
        finally:
            app.close()
    merged = run["requests"]
    per_endpoint = sum(e["requests"] for e in ends if e["kind"] == "request")
    workers_sum = sum(n["requests"] for n in nodes)
    print(json.dumps({"benchmark": "loadtest_distributed", "workers": args.workers, "users": args.users,
                      "seconds": args.seconds, "status": run["status"], "merged_requests": merged,
                      "merged_per_endpoint_sum": per_endpoint, "worker_requests": [n["requests"] for n in nodes],
                      "workers_sum": workers_sum, "rps": round(run["rps"] or 0, 1),
                      "generator_cpu_max": run["generator_cpu_max"],
                      "equal": merged == workers_sum == per_endpoint and len(nodes) == args.workers}))


if __name__ == "__main__":
    main()
