"""Writing a load-test run (loadtests/runner.py) to the store: one transaction, idempotent.

    write_run(store, payload) -> {"run_id": ..., "rows": {...}}

The payload is plain JSON (it also travels through the owner's API, store/service.py):
{"run": {...loadtest_runs columns}, "endpoints": [...], "series": [...], "generator": [...],
 "nodes": [...], "failures": [...], "verdicts": [...], "capacity": [...]}. Writing a run again
(the runner writes it when it starts, then when it ends) replaces every row of that run_id.
Unknown keys are refused with a message naming them, so a typo never loses a column silently.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from store.errors import StoreError

RUN_COLUMNS = (
    "run_id", "scenario", "release", "target", "status", "message", "started_at", "finished_at", "duration_s",
    "elapsed_s", "shape", "users_target", "users_peak", "workers", "requests", "failures", "rps", "error_rate",
    "p50_ms", "p95_ms", "p99_ms", "generator_cpu_max", "generator_cpu_avg", "generator_overloaded", "criteria",
    "verdict", "knee_users", "knee_rps", "capacity_users", "capacity_rps", "max_rps", "exit_code",
    "locust_version", "report_path", "config_json",
)
CHILDREN: dict[str, tuple[str, ...]] = {
    "endpoints": ("method", "name", "kind", "requests", "failures", "error_rate", "rps", "avg_ms", "min_ms",
                  "max_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "hist_json"),
    "series": ("t_s", "at_time", "method", "name", "users", "requests", "failures", "rps", "avg_ms", "p50_ms",
               "p90_ms", "p95_ms", "p99_ms", "max_ms"),
    "generator": ("t_s", "node", "cpu_pct", "users"),
    "nodes": ("node", "requests", "failures"),
    "failures": ("method", "name", "error", "occurrences", "first_t_s"),
    "verdicts": ("criterion", "selector", "expression", "metric", "op", "threshold", "method", "name", "observed",
                 "required_users", "at_users", "window_s", "passed", "note"),
    "capacity": ("step", "users", "planned_users", "t_start", "t_end", "requests", "rps", "p50_ms", "p95_ms",
                 "p99_ms", "error_rate", "is_knee"),
}
TABLES = {k: f"loadtest_{k}" for k in CHILDREN}
MAX_MESSAGE = 500


def _ts(v: Any) -> Any:
    if isinstance(v, str) and v:
        try:
            return dt.datetime.fromisoformat(v)
        except ValueError:
            raise StoreError(f"loadtest run: {v!r} is not a timestamp") from None
    return v


def write_run(store, payload: dict[str, Any]) -> dict[str, Any]:
    run = payload.get("run")
    if not isinstance(run, dict) or not run.get("run_id"):
        raise StoreError("loadtest run: payload.run.run_id is missing")
    unknown = sorted(set(run) - set(RUN_COLUMNS))
    if unknown:
        raise StoreError(f"loadtest run: unknown run field(s) {', '.join(unknown)}")
    extra = sorted(set(payload) - set(CHILDREN) - {"run"})
    if extra:
        raise StoreError(f"loadtest run: unknown part(s) {', '.join(extra)}")
    for k in ("scenario", "release", "target", "status", "started_at"):
        if run.get(k) in (None, ""):
            raise StoreError(f"loadtest run {run['run_id']}: field {k} is missing")
    run = dict(run)
    run["started_at"], run["finished_at"] = _ts(run.get("started_at")), _ts(run.get("finished_at"))
    if run.get("message"):
        run["message"] = str(run["message"])[:2000]
    run_id = str(run["run_id"])
    counts: dict[str, int] = {}
    with store.transaction() as con:
        con.execute("DELETE FROM loadtest_runs WHERE run_id = ?", [run_id])
        for t in TABLES.values():
            con.execute(f"DELETE FROM {t} WHERE run_id = ?", [run_id])
        cols = [c for c in RUN_COLUMNS if c in run]
        con.execute(f"INSERT INTO loadtest_runs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                    [run[c] for c in cols])
        for part, columns in CHILDREN.items():
            rows = payload.get(part) or []
            if not rows:
                counts[part] = 0
                continue
            for r in rows:
                bad = set(r) - set(columns)
                if bad:
                    raise StoreError(f"loadtest run {run_id}: {part}: unknown field(s) {', '.join(sorted(bad))}")
            values = []
            for r in rows:
                row = [run_id] + [r.get(c) for c in columns]
                if part == "series":
                    row[2] = _ts(row[2])
                if part == "failures":
                    row[3] = str(row[3] or "")[:MAX_MESSAGE]
                values.append(row)
            con.executemany(f"INSERT INTO {TABLES[part]} (run_id, {', '.join(columns)}) "
                            f"VALUES ({', '.join('?' * (len(columns) + 1))})", values)
            counts[part] = len(values)
    return {"run_id": run_id, "rows": counts}
