"""Named queries over probe results (store/migrations/003_probes.sql)."""
from __future__ import annotations

import datetime as dt

from store.errors import QueryError
from store.registry import Table, named_query, run

RESULT_COLS = ("run_id, name, kind, step, grp, started_at, ok, reason, status_code, total_ms, dns_ms, "
               "connect_ms, tls_ms, ttfb_ms, transfer_ms, bytes, cert_days_left, url")


@named_query("probe_latest", scope="free", roles=("vendor",))
def probe_latest(con, probe: str | None = None) -> Table:
    """The latest result of every check / journey step (one row per name and step), and for a
    failing one `failing_since`: its first failed run since the last run that passed (within the
    raw retention: at least since then)."""
    return run(con, f"""
        WITH latest AS (
            SELECT {RESULT_COLS} FROM probe_results
            WHERE $probe IS NULL OR name = $probe
            QUALIFY row_number() OVER (PARTITION BY name, step ORDER BY started_at DESC, run_id DESC) = 1
        ), failing AS (SELECT name, step FROM latest WHERE NOT ok
        ), last_ok AS (
            SELECT name, step, max(started_at) AS t FROM probe_results JOIN failing USING (name, step)
            WHERE ok GROUP BY name, step
        ), since AS (
            SELECT f.name, f.step, min(f.started_at) AS failing_since
            FROM probe_results f JOIN failing USING (name, step) LEFT JOIN last_ok USING (name, step)
            WHERE NOT f.ok AND (last_ok.t IS NULL OR f.started_at > last_ok.t)
            GROUP BY f.name, f.step
        )
        SELECT latest.*, since.failing_since FROM latest LEFT JOIN since USING (name, step)
        ORDER BY name, step""", {"probe": probe})


@named_query("probe_results", scope="free", roles=("vendor",))
def probe_results(con, probe: str | None = None, since: dt.datetime | None = None, failed_only: bool = False,
                  limit: int = 1000) -> Table:
    """Raw results, newest first (kept raw_retention_days)."""
    if not 1 <= int(limit) <= 100_000:
        raise QueryError("limit must be between 1 and 100000")
    return run(con, f"""
        SELECT {RESULT_COLS} FROM probe_results
        WHERE ($probe IS NULL OR name = $probe) AND ($since IS NULL OR started_at >= $since)
          AND (NOT $failed_only OR NOT ok)
        ORDER BY started_at DESC, run_id DESC, name, step LIMIT {int(limit)}""",
               {"probe": probe, "since": since, "failed_only": bool(failed_only)})


@named_query("probe_rollup", scope="free", roles=("vendor",))
def probe_rollup(con, grain: str = "hourly", probe: str | None = None, since: dt.datetime | None = None) -> Table:
    """Hourly or daily count, failures, p50/p95/max latency per check and step."""
    if grain not in ("hourly", "daily"):
        raise QueryError("grain must be 'hourly' or 'daily'")
    table, col = ("probe_rollup_hourly", "hour") if grain == "hourly" else ("probe_rollup_daily", "day")
    return run(con, f"""
        SELECT {col} AS bucket, name, kind, step, count, failures,
               round(1 - failures / count, 4) AS success_ratio, p50_ms, p95_ms, max_ms
        FROM {table}
        WHERE ($probe IS NULL OR name = $probe) AND ($since IS NULL OR {col} >= $since)
        ORDER BY bucket, name, step""", {"probe": probe, "since": since})


@named_query("probe_runs", scope="free", roles=("vendor",))
def probe_runs(con, limit: int = 100) -> Table:
    """Recent probe batches (a `probe --once` run or one scheduled job)."""
    if not 1 <= int(limit) <= 100_000:
        raise QueryError("limit must be between 1 and 100000")
    return run(con, f"SELECT * FROM probe_runs ORDER BY started_at DESC, run_id DESC LIMIT {int(limit)}")
