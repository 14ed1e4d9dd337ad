"""Named queries for the monthly briefing (reports/briefing/): the portal's month as the probes
saw it.

Raw probe results are kept only `raw_retention_days` (14 by default), so a month's figures come
from the hourly and daily rollups (kept 400 days, store/migrations/003_probes.sql). Only checks
(step '') and journey summaries (step '*') count, so a journey's steps are not counted twice.

  probe_month_summary(month)                        availability and latency per check, and a total
  probe_month_daily(month)                          the same per day, all checks together
  probe_month_incidents(month, min_failure_ratio=0.5, limit=200)   outage periods per check

Latency over a month is summarised from the hourly rollups: p50_ms / p95_ms are the medians of
the hourly p50 / p95 (a typical hour), worst_hour_p95_ms the highest hourly p95, max_ms the
slowest single run. Availability = successful runs / runs.

Every figure is measured from the central (`location = 'central'`, the province's own monitor),
as before remote locations existed: a remote agent's network trouble is not the portal's, and
percentiles of two places are never merged. The alerts (alerting/slo.py) judge outages by the
quorum of locations; the briefing reports what the central measured.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from config.agents import LOCAL_LOCATION
from store.errors import QueryError
from store.registry import Table, named_query, run

SUMMARY_STEPS = "step IN ('', '*')"
CENTRAL = f"location = '{LOCAL_LOCATION}'"


def _month(value: Any, query: str) -> tuple[dt.datetime, dt.datetime]:
    """'YYYY-MM' → [first instant, first instant of the next month) as naive local timestamps."""
    text = str(value or "").strip()
    try:
        d = dt.datetime.strptime(text[:7], "%Y-%m") if len(text) in (7, 10) else None
    except ValueError:
        d = None
    if d is None:
        raise QueryError(f"{query}: month must be a month YYYY-MM, got {value!r}")
    return d, dt.datetime(d.year + d.month // 12, d.month % 12 + 1, 1)


@named_query("probe_month_summary", scope="free", roles=("agency",))
def probe_month_summary(con: duckdb.DuckDBPyConnection, month: str) -> Table:
    """One row per check / journey and a total row (row_kind 'total' first): runs, failures,
    availability, p50_ms, p95_ms (medians of the hourly values), worst_hour_p95_ms, max_ms,
    hours_measured (hours with at least one run), first_hour, last_hour. No rows: no probe data."""
    start, end = _month(month, "probe_month_summary")
    return run(con, f"""
        SELECT CASE WHEN grouping(name) = 1 THEN 'total' ELSE 'check' END AS row_kind,
               name, CASE WHEN grouping(name) = 0 THEN any_value(kind) END AS kind,
               CAST(sum(count) AS BIGINT) AS runs, CAST(sum(failures) AS BIGINT) AS failures,
               1 - sum(failures) / CAST(sum(count) AS DOUBLE) AS availability,
               median(p50_ms) AS p50_ms, median(p95_ms) AS p95_ms, max(p95_ms) AS worst_hour_p95_ms,
               max(max_ms) AS max_ms, count(DISTINCT hour) AS hours_measured,
               min(hour) AS first_hour, max(hour) AS last_hour
        FROM probe_rollup_hourly
        WHERE hour >= $start AND hour < $end AND {SUMMARY_STEPS} AND {CENTRAL} AND count > 0
        GROUP BY GROUPING SETS ((name), ())
        HAVING sum(count) > 0
        ORDER BY row_kind <> 'total', availability, name""", {"start": start, "end": end})


@named_query("probe_month_daily", scope="free", roles=("agency",))
def probe_month_daily(con: duckdb.DuckDBPyConnection, month: str) -> Table:
    """Per day of the month with probe data: runs, failures, availability, p50_ms / p95_ms (median
    over the checks of their daily values) and worst_p95_ms (the slowest check's daily p95)."""
    start, end = _month(month, "probe_month_daily")
    return run(con, f"""
        SELECT day, CAST(sum(count) AS BIGINT) AS runs, CAST(sum(failures) AS BIGINT) AS failures,
               1 - sum(failures) / CAST(sum(count) AS DOUBLE) AS availability,
               median(p50_ms) AS p50_ms, median(p95_ms) AS p95_ms, max(p95_ms) AS worst_p95_ms
        FROM probe_rollup_daily
        WHERE day >= $start AND day < $end AND {SUMMARY_STEPS} AND {CENTRAL} AND count > 0
        GROUP BY day ORDER BY day""", {"start": start.date(), "end": end.date()})


@named_query("probe_month_incidents", scope="free", roles=("agency",))
def probe_month_incidents(con: duckdb.DuckDBPyConnection, month: str, min_failure_ratio: float = 0.5,
                          limit: int = 200) -> Table:
    """Outages: for each check / journey, runs of consecutive hours in which at least
    `min_failure_ratio` of its runs failed. Columns: name, kind, started_at (start of the first
    hour), ended_at (end of the last hour), hours, runs, failures, reason (the most frequent failure
    reason in that period while raw results are still kept, else NULL). Longest first."""
    start, end = _month(month, "probe_month_incidents")
    try:
        ratio = float(min_failure_ratio)
    except (TypeError, ValueError):
        ratio = -1.0
    if not 0 < ratio <= 1:
        raise QueryError(f"probe_month_incidents: min_failure_ratio must be a number in (0, 1], got {min_failure_ratio!r}")
    n = int(limit)
    if not 1 <= n <= 100_000:
        raise QueryError("probe_month_incidents: limit must be between 1 and 100000")
    return run(con, f"""
        WITH bad AS (
            SELECT name, kind, hour, count, failures,
                   hour - to_hours(CAST(row_number() OVER (PARTITION BY name ORDER BY hour) AS BIGINT)) AS island
            FROM probe_rollup_hourly
            WHERE hour >= $start AND hour < $end AND {SUMMARY_STEPS} AND {CENTRAL} AND count > 0
              AND failures >= $ratio * count
        ), inc AS (
            SELECT name, any_value(kind) AS kind, min(hour) AS started_at, max(hour) + INTERVAL 1 HOUR AS ended_at,
                   count(*) AS hours, CAST(sum(count) AS BIGINT) AS runs, CAST(sum(failures) AS BIGINT) AS failures
            FROM bad GROUP BY name, island
        ), reasons AS (
            SELECT i.name, i.started_at, mode(r.reason) AS reason
            FROM inc i JOIN probe_results r
              ON r.name = i.name AND r.started_at >= i.started_at AND r.started_at < i.ended_at
             AND NOT r.ok AND r.{SUMMARY_STEPS} AND r.{CENTRAL}
            GROUP BY i.name, i.started_at
        )
        SELECT inc.name, inc.kind, inc.started_at, inc.ended_at, inc.hours, inc.runs, inc.failures, reasons.reason
        FROM inc LEFT JOIN reasons USING (name, started_at)
        ORDER BY inc.hours DESC, inc.failures DESC, inc.started_at, inc.name
        LIMIT {n}""", {"start": start, "end": end, "ratio": ratio})
