"""Named queries over probe results for SLOs and the slowdown detector (alerting/slo.py)."""
from __future__ import annotations

import datetime as dt

import duckdb

from store.registry import Table, named_query, run


@named_query("probe_window", scope="free", roles=("vendor",))
def probe_window(con: duckdb.DuckDBPyConnection, probe: str, step: str, since: dt.datetime,
                 until: dt.datetime, slow_ms: float | None = None) -> Table:
    """Runs, failures and slow runs (total_ms > slow_ms) of one probe step in [since, until), and
    the first run's time in it."""
    return run(con, """
        SELECT count(*) AS runs, min(started_at) AS first_run,
               count(*) FILTER (WHERE NOT ok) AS failures,
               count(*) FILTER (WHERE ok AND $slow_ms IS NOT NULL AND total_ms > $slow_ms) AS slow
        FROM probe_results
        WHERE name = $probe AND step = $step AND started_at >= $since AND started_at < $until""",
        {"probe": probe, "step": step, "since": since, "until": until, "slow_ms": slow_ms})


@named_query("probe_hour_baseline", scope="free", roles=("vendor",))
def probe_hour_baseline(con: duckdb.DuckDBPyConnection, hour: dt.datetime, weeks: int = 4,
                        min_samples: int = 5) -> Table:
    """For each probe step: p95 of the hour starting at `hour` (from raw results), and its
    baseline: the median of the hourly p95 at the same hour of the week over the previous weeks."""
    return run(con, """
        WITH now_hour AS (
            SELECT name, step, count(*) AS n, quantile_cont(total_ms, 0.95) AS p95_ms
            FROM probe_results
            WHERE ok AND started_at >= $hour AND started_at < $hour + INTERVAL 1 HOUR
            GROUP BY name, step HAVING count(*) >= $min_samples
        ), past AS (
            SELECT name, step, median(p95_ms) AS baseline_ms, count(*) AS weeks_seen
            FROM probe_rollup_hourly
            WHERE hour IN (SELECT $hour - to_weeks(w) FROM range(1, $weeks + 1) t(w))
              AND p95_ms IS NOT NULL
            GROUP BY name, step
        )
        SELECT n.name, n.step, n.n AS samples, n.p95_ms, p.baseline_ms, p.weeks_seen
        FROM now_hour n JOIN past p USING (name, step)
        ORDER BY n.name, n.step""",
        {"hour": hour, "weeks": weeks, "min_samples": min_samples})
