"""Named queries over probe results for SLOs and the slowdown detector (alerting/slo.py).

Results come from several locations (018_probe_locations.sql): each query says how it treats
them. The burn rates are read per location (`probe_window_locations`), so that the alerter can
ask how many places see the portal fail; an SLO's standing and the slowdown detector read one
location (the central by default)."""
from __future__ import annotations

import datetime as dt

import duckdb

from config.agents import LOCAL_LOCATION
from store.registry import Table, named_query, run


@named_query("probe_window", scope="free", roles=("vendor",))
def probe_window(con: duckdb.DuckDBPyConnection, probe: str, step: str, since: dt.datetime,
                 until: dt.datetime, slow_ms: float | None = None, location: str | None = None) -> Table:
    """Runs, failures and slow runs (total_ms > slow_ms) of one probe step in [since, until), and
    the first run's time in it, at one `location`; None counts the runs of every location
    together (one row: a share of all runs, never a mix of percentiles)."""
    return run(con, """
        SELECT count(*) AS runs, min(started_at) AS first_run,
               count(*) FILTER (WHERE NOT ok) AS failures,
               count(*) FILTER (WHERE ok AND $slow_ms IS NOT NULL AND total_ms > $slow_ms) AS slow
        FROM probe_results
        WHERE name = $probe AND step = $step AND started_at >= $since AND started_at < $until
          AND ($location IS NULL OR location = $location)""",
        {"probe": probe, "step": step, "since": since, "until": until, "slow_ms": slow_ms, "location": location})


@named_query("probe_window_locations", scope="free", roles=("vendor",))
def probe_window_locations(con: duckdb.DuckDBPyConnection, probe: str, step: str, until: dt.datetime,
                           minutes: list[int], slow_ms: float | None = None) -> Table:
    """Per location that ran the probe step and per trailing window of `minutes` ending at
    `until`: runs, failures and slow runs (total_ms > slow_ms), in one pass; a location without a
    run in a window has no row for it. The inputs of the burn rates, location by location."""
    return run(con, """
        SELECT r.location, w.minutes, count(*) AS runs, count(*) FILTER (WHERE NOT r.ok) AS failures,
               count(*) FILTER (WHERE r.ok AND $slow_ms IS NOT NULL AND r.total_ms > $slow_ms) AS slow
        FROM (SELECT unnest($minutes::INTEGER[]) AS minutes) w
        JOIN probe_results r
          ON r.name = $probe AND r.step = $step AND r.started_at < $until
         AND r.started_at >= $until - to_minutes(w.minutes)
        GROUP BY ALL ORDER BY r.location, w.minutes""",
        {"probe": probe, "step": step, "until": until, "minutes": [int(m) for m in minutes], "slow_ms": slow_ms})


@named_query("probe_hour_baseline", scope="free", roles=("vendor",))
def probe_hour_baseline(con: duckdb.DuckDBPyConnection, hour: dt.datetime, weeks: int = 4,
                        min_samples: int = 5, location: str = LOCAL_LOCATION) -> Table:
    """For each probe step measured from `location` (the central by default): p95 of the hour
    starting at `hour` (from raw results), and its baseline: the median of that location's hourly
    p95 at the same hour of the week over the previous weeks. One location's latency includes its
    own network path, so it is compared only with its own past."""
    return run(con, """
        WITH now_hour AS (
            SELECT name, step, count(*) AS n, quantile_cont(total_ms, 0.95) AS p95_ms
            FROM probe_results
            WHERE ok AND started_at >= $hour AND started_at < $hour + INTERVAL 1 HOUR AND location = $location
            GROUP BY name, step HAVING count(*) >= $min_samples
        ), past AS (
            SELECT name, step, median(p95_ms) AS baseline_ms, count(*) AS weeks_seen
            FROM probe_rollup_hourly
            WHERE hour IN (SELECT $hour - to_weeks(w) FROM range(1, $weeks + 1) t(w))
              AND p95_ms IS NOT NULL AND location = $location
            GROUP BY name, step
        )
        SELECT n.name, n.step, n.n AS samples, n.p95_ms, p.baseline_ms, p.weeks_seen
        FROM now_hour n JOIN past p USING (name, step)
        ORDER BY n.name, n.step""",
        {"hour": hour, "weeks": weeks, "min_samples": min_samples, "location": location})
