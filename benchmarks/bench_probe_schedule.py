"""500 checks every 15 s against the testbed from one process. Targets: schedule lag p99 under
250 ms, and the probe process under 15 % of one core.

    python benchmarks/bench_probe_schedule.py [--checks 500] [--interval 15] [--seconds 60]

The testbed runs in a process of its own (release v1.0, enough workers for the rate). The probes
run in this process with collectors.probes.ProbeScheduler, as `app.py run` runs them, without a
store (writing is measured by the store's own benchmarks). Lag = when a check's run started minus
when it was scheduled. Prints a final JSON line with the figures measured in this run.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from apscheduler.events import EVENT_JOB_SUBMITTED  # noqa: E402

from benchmarks.testbed_process import testbed_process  # noqa: E402
from collectors.probes import ProbeScheduler  # noqa: E402
from config.app import AppConfig  # noqa: E402
from config.probes import load_probes  # noqa: E402

TARGET_LAG_MS = 250.0
TARGET_CPU = 0.15



class TimedScheduler(ProbeScheduler):
    """Records, for every run, how late it started against its scheduled time."""

    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self.scheduled: dict[str, float] = {}
        self.lags_ms: list[float] = []
        self.lock = threading.Lock()
        self.scheduler.add_listener(self._submitted, EVENT_JOB_SUBMITTED)

    def _submitted(self, event) -> None:
        self.scheduled[event.job_id] = event.scheduled_run_times[-1].timestamp()

    async def _job(self, name: str) -> None:
        planned = self.scheduled.get(f"check:{name}")
        if planned is not None:
            with self.lock:
                self.lags_ms.append((time.time() - planned) * 1000)
        await super()._job(name)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checks", type=int, default=500)
    ap.add_argument("--interval", type=float, default=15.0)
    ap.add_argument("--seconds", type=float, default=60.0)
    args = ap.parse_args()
    with testbed_process("v1.0") as base:
        full = load_probes(AppConfig().monitor.probes)
        home = next(c for c in full.checks if c.name == "home")
        checks = [home.model_copy(update={"name": f"home-{i:03d}", "interval": args.interval})
                  for i in range(args.checks)]
        cfg = full.model_copy(update={"checks": checks, "journeys": []})
        sched = TimedScheduler(cfg, None, base_url=base)
        ru0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        sched.start()
        time.sleep(args.seconds)
        sched.shutdown(wait=True)
        ru1, elapsed = resource.getrusage(resource.RUSAGE_SELF), time.monotonic() - t0
    cpu = (ru1.ru_utime - ru0.ru_utime + ru1.ru_stime - ru0.ru_stime) / elapsed
    lags = sorted(sched.lags_ms)
    results = list(sched.last_results.values())
    p99 = lags[int(0.99 * (len(lags) - 1))] if lags else None
    print(json.dumps({
        "benchmark": "probe_schedule",
        "checks": args.checks,
        "interval_s": args.interval,
        "seconds": round(elapsed, 1),
        "runs": len(lags),
        "expected_runs": round(args.checks * elapsed / args.interval),  # first runs spread over one interval
        "failed_last": sum(not r.ok for r in results),
        "lag_p50_ms": round(lags[len(lags) // 2], 1) if lags else None,
        "lag_p99_ms": round(p99, 1) if p99 is not None else None,
        "cpu_share_of_one_core": round(cpu, 3),
        "target_lag_p99_ms": TARGET_LAG_MS,
        "target_cpu_share": TARGET_CPU,
        "pass": p99 is not None and p99 < TARGET_LAG_MS and cpu < TARGET_CPU,
    }))


if __name__ == "__main__":
    main()
