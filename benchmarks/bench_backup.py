"""A backup of 10 million dossiers while the probes run, and its restore. Targets: backup under 60 s,
restore under 60 s, the probes' schedule lag p99 during the backup under 250 ms.

    python benchmarks/bench_backup.py [--dossiers 10000000] [--checks 100] [--interval 5]

The store (bench_sla's synthetic dossiers, recomputed once so that the results and every table
derived from them are full, plus --prefill-hours of probe results) is built by a child process, so
that this process is the owner alone: it opens the store as `app.py run` does, runs --checks
checks every --interval s with probes.scheduler.ProbeScheduler against the testbed (a process of
its own, loopback), writing into the store, and after --settle s takes a backup with
backup.snapshot.take_backup in a thread while the probes go on. Lag = when a check's run started
minus when it was scheduled (bench_probe_schedule's TimedScheduler); the runs of the backup are
those started after it began and scheduled before it ended (a run it delayed past its end counts),
the baseline's those started in the same length of time just before it (at most --settle s). The
owner's resident memory is sampled during the backup. The restore (backup.restore.restore, which
checks every checksum and the row counts against the manifest) runs in a fresh child process, so
that its peak resident memory (VmHWM) is its own. Prints a final JSON line with the figures.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backup import manifest as mf  # noqa: E402
from backup.restore import restore  # noqa: E402
from backup.snapshot import take_backup  # noqa: E402
from benchmarks.bench_probe_schedule import TimedScheduler, lag_percentiles, prefill, probe_config  # noqa: E402
from benchmarks.bench_sla import AS_OF, build_store, own_peak_rss_mb  # noqa: E402
from benchmarks.testbed_process import testbed_process  # noqa: E402
from config.app import AppConfig  # noqa: E402
from config.clock import local_now  # noqa: E402
from store.db import Store  # noqa: E402

TARGET_BACKUP_S = 60.0
TARGET_RESTORE_S = 60.0
TARGET_LAG_MS = 250.0


def rss_mb() -> float | None:
    """This process's resident memory now (MB, /proc/self/status VmRSS); None off Linux."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def child_prepare(path: Path, dossiers: int, checks: int, interval: float, prefill_hours: float) -> None:
    """Runs in its own process: the store as the owner finds it, recomputed and with probe results."""
    from sla_rules.engine import SlaEngine
    from store.sla import recompute

    build_s = build_store(path, dossiers)
    cfg = AppConfig()
    engine = SlaEngine.from_files(cfg.sla.rule_set, cfg.sla.calendar_overrides)
    with Store(path, memory_limit=cfg.store.memory_limit, threads=cfg.store.threads) as store:
        t0 = time.perf_counter()
        recompute(store, engine, AS_OF, full=True)
        recompute_s = time.perf_counter() - t0
        prefill(store, checks, interval, prefill_hours)
        probe_results = store.cursor().execute("SELECT count(*) FROM probe_results").fetchall()[0][0]
    print(json.dumps({"build_store_s": build_s, "recompute_s": recompute_s, "probe_results": probe_results}))


def child_restore(backup: Path, to: Path) -> None:
    """Runs in its own process: the restore as `app.py restore --to` makes it, timed, and its peak RSS."""
    t0 = time.perf_counter()
    res = restore(backup, to, now=local_now(), memory_limit=AppConfig().store.memory_limit)
    elapsed = time.perf_counter() - t0
    print(json.dumps({"restore_s": elapsed, "peak_rss_mb": own_peak_rss_mb(), "tables": res["tables"],
                      "schema_version": res["schema_version"]}))


def run_child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{args[0]} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def lag_figures(timed: list[tuple[float, float]], start: float, end: float, scheduled_before: float) -> dict:
    """p50, p99, max and count of the lags (ms) of the runs started in [start, end) and scheduled
    before `scheduled_before`."""
    lags = [(s - p) * 1000 for p, s in timed if start <= s < end and p < scheduled_before]
    p50, p99 = lag_percentiles(lags)
    return {"p50_ms": round(p50, 1) if p50 is not None else None,
            "p99_ms": round(p99, 1) if p99 is not None else None,
            "max_ms": round(max(lags), 1) if lags else None, "runs": len(lags)}


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dossiers", type=int, default=10_000_000)
    ap.add_argument("--checks", type=int, default=100)
    ap.add_argument("--interval", type=float, default=5.0)
    ap.add_argument("--settle", type=float, default=10.0,
                    help="seconds the probes run before the backup (the baseline is taken from them)")
    ap.add_argument("--prefill-hours", type=float, default=0.1,
                    help="probe results already stored, in hours at this rate (default 0.1)")
    ap.add_argument("--prepare", help=argparse.SUPPRESS)
    ap.add_argument("--restore", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.prepare:
        child_prepare(Path(args.prepare), args.dossiers, args.checks, args.interval, args.prefill_hours)
        return
    if args.restore:
        child_restore(Path(args.restore[0]), Path(args.restore[1]))
        return
    cfg = AppConfig()
    with tempfile.TemporaryDirectory(prefix="motcua-bench-") as tmp:
        path = Path(tmp) / "bench.duckdb"
        prep = run_child("--prepare", str(path), "--dossiers", str(args.dossiers), "--checks", str(args.checks),
                         "--interval", str(args.interval), "--prefill-hours", str(args.prefill_hours))
        load_before = os.getloadavg()[0]
        with contextlib.ExitStack() as stack:
            base = stack.enter_context(testbed_process("v1.0"))
            store = stack.enter_context(Store(path, memory_limit=cfg.store.memory_limit, threads=cfg.store.threads))
            sched = TimedScheduler(probe_config(args.checks, args.interval), store, base_url=base)
            sched.start()
            stack.callback(sched.shutdown, True)
            probes_from = time.time()
            time.sleep(args.settle)

            done: dict = {}

            def backup() -> None:
                cur = store.cursor()
                try:
                    t = time.perf_counter()
                    done["res"] = take_backup(cur, Path(tmp) / "backups", None, local_now())
                    done["s"] = time.perf_counter() - t
                except BaseException as e:  # noqa: BLE001 - reported by the main thread
                    done["error"] = e
                finally:
                    cur.close()

            rss_before, hwm_before = rss_mb(), own_peak_rss_mb()
            rss_peak = rss_before
            worker = threading.Thread(target=backup, name="backup")
            b_start = time.time()
            worker.start()
            while worker.is_alive():  # the owner's memory while the backup runs
                worker.join(0.05)
                now_rss = rss_mb()
                if now_rss is not None and rss_peak is not None:
                    rss_peak = max(rss_peak, now_rss)
            b_end = time.time()
            hwm_after = own_peak_rss_mb()
            if "error" in done:
                raise done["error"]
            time.sleep(1.0)  # the runs scheduled before the end have started
            sched.shutdown(wait=True)
            stored = store.cursor().execute("SELECT count(*) FROM probe_results WHERE run_id > 0").fetchall()[0][0]
        load_after = os.getloadavg()[0]
        store_bytes = path.stat().st_size
        res = done["res"]
        folder = Path(res["path"])
        window = b_end - b_start
        base_from = max(probes_from, b_start - window)
        during = lag_figures(sched.timed, b_start, float("inf"), b_end)
        baseline = lag_figures(sched.timed, base_from, b_start, b_start)
        rest = run_child("--restore", str(folder), str(Path(tmp) / "restored.duckdb"))
        manifest = mf.read(folder)
        restored_bytes = (Path(tmp) / "restored.duckdb").stat().st_size
        backup_bytes = folder_bytes(folder)
    if rss_peak is not None and hwm_after > hwm_before:
        rss_peak = max(rss_peak, hwm_after)  # a peak between two samples
    equal = rest["tables"] == manifest.tables
    figures = {
        "benchmark": "backup_restore",
        "dossiers": args.dossiers,
        "checks": args.checks,
        "interval_s": args.interval,
        "build_store_s": round(prep["build_store_s"], 2),
        "recompute_s": round(prep["recompute_s"], 2),
        "probe_results_before": prep["probe_results"],
        "probe_results_stored_during_run": stored,
        "store_bytes": store_bytes,
        "backup_bytes": backup_bytes,
        "restored_bytes": restored_bytes,
        "tables": len(manifest.tables),
        "rows": sum(manifest.tables.values()),
        "backup_s": round(done["s"], 2),
        "restore_s": round(rest["restore_s"], 2),
        "owner_rss_before_backup_mb": round(rss_before) if rss_before is not None else None,
        "owner_peak_rss_backup_mb": round(rss_peak) if rss_peak is not None else None,
        "restore_peak_rss_mb": round(rest["peak_rss_mb"]),
        "lag_backup": during,
        "lag_baseline": {**baseline, "window_s": round(b_start - base_from, 1)},
        "expected_runs_backup": round(args.checks * window / args.interval),
        "load_avg_1m": [round(load_before, 2), round(load_after, 2)],
        "equal": equal,
        "target_backup_s": TARGET_BACKUP_S,
        "target_restore_s": TARGET_RESTORE_S,
        "target_lag_p99_ms": TARGET_LAG_MS,
        "pass": (equal and done["s"] < TARGET_BACKUP_S and rest["restore_s"] < TARGET_RESTORE_S
                 and during["p99_ms"] is not None and during["p99_ms"] < TARGET_LAG_MS),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
