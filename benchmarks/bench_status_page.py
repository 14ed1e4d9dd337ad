"""The public status page under citizens' load: served as `app.py run` serves it, read by Locust.

    python benchmarks/bench_status_page.py [--rps 500] [--seconds 20] [--users 50]

In this process, as in `app.py run`: a real store (a fresh file) holding 90 days of probe rollups
for every probe the services use and a few incidents with their histories, the simulated portal
(release v2.0) on loopback with the probe scheduler running against it and writing into the
store, and the status page's server (statuspage/server.py, default cache_seconds) over the system's
composition root. Locust runs in a process of its own (never imported here: it patches a process
with gevent), `--users` users each paced at rps/users requests per second for `--seconds`
seconds (85 % the Vietnamese page, 10 % the English one, 5 % the Atom feed, gzip asked for, as
browsers do), on loopback only. Every response's time after a 3 s warm-up is kept
(benchmarks/locust/status_page.py), so the percentiles are exact, not Locust's buckets.

Targets: the achieved rate ≥ 98 % of --rps, p95 < 50 ms, no failure. Prints a line per figure and a
final JSON line (achieved rps, p50/p95/p99/max, failures, this process's CPU over the whole Locust
run, its start-up included, so a lower bound of the serving cost; how many named queries the page
ran against the store meanwhile, targets and `pass`).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.app import load_config  # noqa: E402
from config.clock import local_now  # noqa: E402
from probes.runner import ProbeResult  # noqa: E402
from statuspage.server import StatusPageServer  # noqa: E402
from store.probe_writes import write_results  # noqa: E402
from system import Motcua  # noqa: E402

LOCUSTFILE = Path(__file__).resolve().parent / "locust" / "status_page.py"
P95_TARGET_MS = 50.0
RATE_SHARE = 0.98
WARMUP_S = 3.0


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * len(s) + 0.5) - 1))] if s else float("nan")


def fill(app: Motcua) -> dict[str, int]:
    """90 days of every service probe's results (a run an hour, one day in twenty with failures),
    today's latest results, and three incidents (one resolved) with updates."""
    sp = app.status_page
    refs = [r for rs in sp.refs.values() for r in rs]
    today = local_now().date()
    rows = 0
    for back in range(89, 0, -1):
        day = today - dt.timedelta(days=back)
        batch = []
        for h in range(24):
            t = dt.datetime.combine(day, dt.time(h, 7))
            for r in refs:
                ok = not (back % 20 == 0 and h < 3)
                batch.append(ProbeResult(r.name, "journey" if r.step else "check", r.step, t, ok, total_ms=150.0))
                if r.step and r.step != "*":
                    batch.append(ProbeResult(r.name, "journey", "*", t, ok, total_ms=900.0))
        write_results(app.store, batch, raw_retention_days=35, now=max(b.started_at for b in batch))
        rows += len(batch)
    first = app.status_incident("open", actor="bench", service="dang-nhap-tai-khoan-cu", impact="outage")
    app.status_incident("post", actor="bench", incident_id=first["incident_id"], status="identified",
                        message_vi="Đã xác định nguyên nhân; dự kiến khắc phục trong ngày.")
    app.status_incident("open", actor="bench", service="thanh-toan-truc-tuyen")
    done = app.status_incident("open", actor="bench", service="dong-bo-dvcqg")
    app.status_incident("resolve", actor="bench", incident_id=done["incident_id"])
    return {"probe_rows": rows}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rps", type=float, default=500)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--users", type=int, default=50)
    args = ap.parse_args()

    from probes.scheduler import ProbeScheduler
    from testbed.portal.server import running

    with tempfile.TemporaryDirectory(prefix="bench-status-") as tmp:
        tmpd = Path(tmp)
        cfg = load_config(environ={"MOTCUA_STORE__PATH": str(tmpd / "data" / "motcua.duckdb")})
        app = Motcua(cfg)
        t0 = time.perf_counter()
        filled = fill(app)
        print(f"store: {filled['probe_rows']:,} probe results over 90 days in {time.perf_counter() - t0:.1f} s",
              flush=True)
        sp = app.status_page
        reads = {"n": 0}
        query = sp.query

        def counted(name, **params):
            reads["n"] += 1
            return query(name, **params)

        sp.query = counted
        with running("v2.0", port=0) as base:
            probes = ProbeScheduler(cfg.monitor.probes, app.store, base_url=base)
            probes.start()
            server = StatusPageServer(sp, "127.0.0.1", 0)
            url = server.start().rstrip("/")
            try:
                r = httpx.get(url + "/", headers={"Accept-Encoding": "gzip"}, timeout=10)
                r.raise_for_status()
                size, gz = len(r.content), int(r.headers.get("content-length", 0))
                print(f"page: {size:,} bytes, {gz:,} gzipped; cache {cfg.status_page.cache_seconds:g} s", flush=True)
                out = tmpd / "times.json"
                env = {**os.environ, "MOTCUA_SP_RATE": str(args.rps / args.users), "MOTCUA_SP_OUT": str(out),
                       "MOTCUA_SP_WARMUP": str(WARMUP_S), "PYTHONPATH": str(ROOT)}
                me = psutil.Process()
                cpu0, wall0, reads0 = sum(me.cpu_times()[:2]), time.time(), reads["n"]
                cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary",
                       "--loglevel", "WARNING", "--exit-code-on-error", "0", "--host", url,
                       "-u", str(args.users), "-r", str(args.users), "-t", f"{args.seconds:g}s"]
                proc = subprocess.run(cmd, cwd=tmpd, env=env, capture_output=True, text=True,
                                      timeout=args.seconds + 120)
                cpu = 100.0 * (sum(me.cpu_times()[:2]) - cpu0) / (time.time() - wall0)
                store_queries = reads["n"] - reads0
            finally:
                server.stop()
                probes.shutdown()
        app.close()
        if not out.exists():
            sys.exit(f"locust did not report ({proc.returncode}): {proc.stderr[-2000:]}")
        m = json.loads(out.read_text())
    times = m["times_ms"]
    seconds = (m["to_at"] - m["from_at"]) if m["from_at"] else 0
    rps = (len(times) + m["failures"]) / seconds if seconds else 0.0
    res = {"bench": "status_page", "target_rps": args.rps, "users": args.users, "seconds": round(seconds, 1),
           "requests": len(times) + m["failures"], "failures": m["failures"], "rps": round(rps, 1),
           "p50_ms": round(_pct(times, 0.50), 2), "p95_ms": round(_pct(times, 0.95), 2),
           "p99_ms": round(_pct(times, 0.99), 2), "max_ms": round(max(times), 2) if times else None,
           "server_process_cpu_pct": round(cpu, 1), "store_queries": store_queries, "page_bytes": size,
           "page_gzip_bytes": gz, "target_p95_ms": P95_TARGET_MS, "target_rps_share": RATE_SHARE}
    res["pass"] = bool(times) and rps >= RATE_SHARE * args.rps and res["p95_ms"] < P95_TARGET_MS \
        and m["failures"] == 0
    print(f"achieved {res['rps']:.1f} req/s of {args.rps:g} over {res['seconds']} s: p50 {res['p50_ms']} ms, "
          f"p95 {res['p95_ms']} ms, p99 {res['p99_ms']} ms, {res['failures']} failures; server process "
          f"{res['server_process_cpu_pct']} % of a core, {store_queries} store queries", flush=True)
    print(json.dumps(res))
    return 0 if res["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
