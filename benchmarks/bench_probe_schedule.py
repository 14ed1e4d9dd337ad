"""500 checks every 15 s against the testbed from one process. Targets: schedule lag p99 under
250 ms, and the probe process under 15 % of one core.

    python benchmarks/bench_probe_schedule.py [--checks 500] [--interval 15] [--seconds 60]

The testbed runs in a process of its own (release v1.0, enough workers for the rate). The probes
run in this process with probes.scheduler.ProbeScheduler, as `app.py run` runs them, writing
their results into a real DuckDB store (in a temporary directory) that already holds
--prefill-hours of results at this rate (23 h ≈ 2.8M rows: the end of a day, when recomputing the
day's rollups costs most); --no-store measures the probes alone. Lag = when a check's run started
minus when it was scheduled. CPU counts every thread of the process (DuckDB's too). Prints a final
JSON line with the figures measured in this run.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from apscheduler.events import EVENT_JOB_SUBMITTED  # noqa: E402

from benchmarks.testbed_process import testbed_process  # noqa: E402
from config.clock import local_now  # noqa: E402
from config.app import AppConfig  # noqa: E402
from config.probes import ProbesFile, load_probes  # noqa: E402
from probes.scheduler import ProbeScheduler  # noqa: E402
from store.db import Store  # noqa: E402

TARGET_LAG_MS = 250.0
TARGET_CPU = 0.15



class TimedScheduler(ProbeScheduler):
    """Records, for every run, how late it started against its scheduled time (and both times, as
    Unix seconds, to pick the runs of a window)."""

    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self.scheduled: dict[str, float] = {}
        self.lags_ms: list[float] = []
        self.timed: list[tuple[float, float]] = []  # (scheduled, started)
        self.lock = threading.Lock()
        self.scheduler.add_listener(self._submitted, EVENT_JOB_SUBMITTED)

    def _submitted(self, event) -> None:
        self.scheduled[event.job_id] = event.scheduled_run_times[-1].timestamp()

    async def _job(self, name: str) -> None:
        planned = self.scheduled.get(f"check:{name}")
        if planned is not None:
            started = time.time()
            with self.lock:
                self.lags_ms.append((started - planned) * 1000)
                self.timed.append((planned, started))
        await super()._job(name)


def probe_config(checks: int, interval: float) -> ProbesFile:
    """The probes file's `home` check `checks` times (home-000, home-001, ...) every `interval` s,
    no journeys."""
    full = load_probes(AppConfig().monitor.probes)
    home = next(c for c in full.checks if c.name == "home")
    copies = [home.model_copy(update={"name": f"home-{i:03d}", "interval": interval}) for i in range(checks)]
    return full.model_copy(update={"checks": copies, "journeys": []})


def lag_percentiles(lags_ms: list[float]) -> tuple[float | None, float | None]:
    """The p50 and p99 of the lags (ms); None, None when there are none."""
    lags = sorted(lags_ms)
    if not lags:
        return None, None
    return lags[len(lags) // 2], lags[int(0.99 * (len(lags) - 1))]


def prefilled_rows(args) -> int:
    return int(args.prefill_hours * 3600 / args.interval) * args.checks


def prefill(store, checks: int, interval: float, hours: float) -> None:
    """As many results as `hours` at the benchmark's rate gives (run_id 0), all of them today,
    packed between midnight and now whatever the time: each write recomputes the rollups of its
    day and hour, so this is the cost of the last writes before midnight (the current hour is
    fuller than it would be, which only makes the figure worse)."""
    now = local_now()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    n = int(hours * 3600 / interval) * checks
    step_us = max(1, int((now - midnight).total_seconds() * 1e6 / n))
    with store.transaction() as con:
        con.execute("""
            INSERT INTO probe_results (run_id, name, kind, step, started_at, ok, total_ms)
            SELECT 0, printf('home-%03d', i % $checks), 'check', '',
                   $start + to_microseconds(CAST(i * $step_us AS BIGINT)), true, 12.0 + (i % 7)
            FROM range($n) t(i)""", {"checks": checks, "n": n, "step_us": step_us, "start": midnight})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checks", type=int, default=500)
    ap.add_argument("--interval", type=float, default=15.0)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--no-store", action="store_true", help="probes only, no store writes")
    ap.add_argument("--prefill-hours", type=float, default=23.0)
    args = ap.parse_args()
    with contextlib.ExitStack() as stack:
        base = stack.enter_context(testbed_process("v1.0"))
        store = None
        if not args.no_store:
            tmp = stack.enter_context(tempfile.TemporaryDirectory())
            store = stack.enter_context(Store(Path(tmp) / "bench.duckdb"))
            prefill(store, args.checks, args.interval, args.prefill_hours)
        sched = TimedScheduler(probe_config(args.checks, args.interval), store, base_url=base)
        ru0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        sched.start()
        time.sleep(args.seconds)
        sched.shutdown(wait=True)
        ru1, elapsed = resource.getrusage(resource.RUSAGE_SELF), time.monotonic() - t0
        stored = store.cursor().execute("SELECT count(*) FROM probe_results WHERE run_id > 0").fetchone()[0] \
            if store is not None else None
    cpu = (ru1.ru_utime - ru0.ru_utime + ru1.ru_stime - ru0.ru_stime) / elapsed
    p50, p99 = lag_percentiles(sched.lags_ms)
    results = list(sched.last_results.values())
    print(json.dumps({
        "benchmark": "probe_schedule",
        "checks": args.checks,
        "interval_s": args.interval,
        "seconds": round(elapsed, 1),
        "runs": len(sched.lags_ms),
        "expected_runs": round(args.checks * elapsed / args.interval),  # first runs spread over one interval
        "failed_last": sum(not r.ok for r in results),
        "store": store is not None,
        "prefilled_rows": prefilled_rows(args) if store is not None else 0,
        "stored_results": stored,
        "store_writes": sched.writes,
        "lag_p50_ms": round(p50, 1) if p50 is not None else None,
        "lag_p99_ms": round(p99, 1) if p99 is not None else None,
        "cpu_share_of_one_core": round(cpu, 3),
        "target_lag_p99_ms": TARGET_LAG_MS,
        "target_cpu_share": TARGET_CPU,
        "pass": p99 is not None and p99 < TARGET_LAG_MS and cpu < TARGET_CPU,
    }))


if __name__ == "__main__":
    main()
