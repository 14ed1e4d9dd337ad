"""Named queries over probe results (store/migrations/003_probes.sql, 018_probe_locations.sql).

Results come from several locations (the central's own probes, `central`, and remote agents):
every query here keeps them apart, with a `location` column and a `location` parameter (None:
every location, one row per location), so that nothing mixes one place's latest row or
percentiles with another's.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from config.agents import LOCAL_LOCATION
from config.clock import local_now
from store.errors import QueryError
from store.registry import Table, named_query, run

RESULT_COLS = ("run_id, location, name, kind, step, grp, started_at, ok, reason, status_code, total_ms, dns_ms, "
               "connect_ms, tls_ms, ttfb_ms, transfer_ms, bytes, cert_days_left, url")


def _when(value: Any, query: str, name: str) -> dt.datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise QueryError(f"{query}: {name} must be a date-time (ISO), got {value!r}") from None


@named_query("probe_latest", scope="free", roles=("vendor",))
def probe_latest(con, probe: str | None = None, location: str | None = None) -> Table:
    """The latest result of every check / journey step at every location (one row per location,
    name and step; `location` narrows to one), and for a failing one `failing_since`: its first
    failed run at that location since that location's last run that passed (within the raw
    retention: at least since then). Locations are never mixed: one place's failure never hides
    another's success."""
    return run(con, f"""
        WITH newest AS (  -- grouped first: a window over every raw row sorted them all (1.6 s at 4 M)
            SELECT location, name, step, max(started_at) AS t FROM probe_results
            WHERE ($probe IS NULL OR name = $probe) AND ($location IS NULL OR location = $location)
            GROUP BY ALL
        ), latest AS (
            SELECT {', '.join('r.' + c.strip() for c in RESULT_COLS.split(','))}
            FROM probe_results r JOIN newest n
              ON r.location = n.location AND r.name = n.name AND r.step = n.step AND r.started_at = n.t
            QUALIFY row_number() OVER (PARTITION BY r.location, r.name, r.step ORDER BY r.run_id DESC) = 1
        ), failing AS (SELECT location, name, step FROM latest WHERE NOT ok
        ), last_ok AS (
            SELECT location, name, step, max(started_at) AS t FROM probe_results JOIN failing USING (location, name, step)
            WHERE ok GROUP BY ALL
        ), since AS (
            SELECT f.location, f.name, f.step, min(f.started_at) AS failing_since
            FROM probe_results f JOIN failing USING (location, name, step)
            LEFT JOIN last_ok USING (location, name, step)
            WHERE NOT f.ok AND (last_ok.t IS NULL OR f.started_at > last_ok.t)
            GROUP BY ALL
        )
        SELECT latest.*, since.failing_since FROM latest LEFT JOIN since USING (location, name, step)
        ORDER BY name, step, location = '{LOCAL_LOCATION}' DESC, location""",
               {"probe": probe, "location": location})


@named_query("probe_results", scope="free", roles=("vendor",))
def probe_results(con, probe: str | None = None, since: dt.datetime | None = None, failed_only: bool = False,
                  limit: int = 1000, location: str | None = None) -> Table:
    """Raw results, newest first (kept raw_retention_days), each with its location; `location`
    narrows to one."""
    if not 1 <= int(limit) <= 100_000:
        raise QueryError("limit must be between 1 and 100000")
    return run(con, f"""
        SELECT {RESULT_COLS} FROM probe_results
        WHERE ($probe IS NULL OR name = $probe) AND ($since IS NULL OR started_at >= $since)
          AND (NOT $failed_only OR NOT ok) AND ($location IS NULL OR location = $location)
        ORDER BY started_at DESC, run_id DESC, name, step, location LIMIT {int(limit)}""",
               {"probe": probe, "since": since, "failed_only": bool(failed_only), "location": location})


@named_query("probe_rollup", scope="free", roles=("vendor",))
def probe_rollup(con, grain: str = "hourly", probe: str | None = None, since: dt.datetime | None = None,
                 location: str | None = None) -> Table:
    """Hourly or daily count, failures, p50/p95/max latency per location, check and step (the
    rollups are kept per location; percentiles of two places are never merged). `location`
    narrows to one."""
    if grain not in ("hourly", "daily"):
        raise QueryError("grain must be 'hourly' or 'daily'")
    table, col = ("probe_rollup_hourly", "hour") if grain == "hourly" else ("probe_rollup_daily", "day")
    return run(con, f"""
        SELECT {col} AS bucket, location, name, kind, step, count, failures,
               round(1 - failures / count, 4) AS success_ratio, p50_ms, p95_ms, max_ms
        FROM {table}
        WHERE ($probe IS NULL OR name = $probe) AND ($since IS NULL OR {col} >= $since)
          AND ($location IS NULL OR location = $location)
        ORDER BY bucket, location, name, step""", {"probe": probe, "since": since, "location": location})


@named_query("probe_runs", scope="free", roles=("vendor",))
def probe_runs(con, limit: int = 100) -> Table:
    """Recent probe batches (a `probe --once` run, one scheduled job, or one agent's batch)."""
    if not 1 <= int(limit) <= 100_000:
        raise QueryError("limit must be between 1 and 100000")
    return run(con, f"SELECT * FROM probe_runs ORDER BY started_at DESC, run_id DESC LIMIT {int(limit)}")


@named_query("probe_locations", scope="free", roles=("vendor",))
def probe_locations(con, fresh_minutes: float = 10, at: Any = None) -> Table:
    """Every location that reported: the central (always listed: its own probes, even before the
    first result) and each agent seen (agent_contacts) or with results kept. Per location:
    last_result_at (its newest result's own time, kept raw or counted by the agent's contact),
    fresh (that time at most `fresh_minutes` before `at`, default now: the location counts as
    reporting), results_1h and failures_1h (results in the hour before `at`), failing_checks and
    failing_names (checks and journeys whose latest result in that hour failed), and for an agent
    first_seen_at, last_seen_at (its last batch), batches, duplicates (results sent again and left
    out), agent_version. The central first, then by location."""
    try:
        fresh = float(fresh_minutes)
    except (TypeError, ValueError):
        fresh = -1.0
    if not 0 < fresh <= 1440:
        raise QueryError(f"probe_locations: fresh_minutes must be a number of minutes in (0, 1440], got {fresh_minutes!r}")
    t = _when(at, "probe_locations", "at") or local_now().replace(microsecond=0)
    return run(con, f"""
        WITH kept AS (
            SELECT location, max(started_at) AS last_at FROM probe_results GROUP BY location
        ), hour AS (
            SELECT location, count(*) AS results_1h, count(*) FILTER (WHERE NOT ok) AS failures_1h
            FROM probe_results WHERE started_at > $at - INTERVAL 1 HOUR AND started_at <= $at GROUP BY location
        ), latest AS (
            SELECT location, name, ok FROM probe_results
            WHERE started_at > $at - INTERVAL 1 HOUR AND started_at <= $at AND step IN ('', '*')
            QUALIFY row_number() OVER (PARTITION BY location, name ORDER BY started_at DESC, run_id DESC) = 1
        ), failing AS (
            SELECT location, count(*) AS failing_checks, list(name ORDER BY name) AS failing_names
            FROM latest WHERE NOT ok GROUP BY location
        ), places AS (
            SELECT '{LOCAL_LOCATION}' AS location UNION SELECT location FROM kept UNION SELECT location FROM agent_contacts
        )
        SELECT p.location, greatest(k.last_at, c.last_result_at) AS last_result_at,
               coalesce(greatest(k.last_at, c.last_result_at) >= $at - to_seconds(CAST($fresh * 60 AS BIGINT)),
                        FALSE) AS fresh,
               coalesce(h.results_1h, 0) AS results_1h, coalesce(h.failures_1h, 0) AS failures_1h,
               coalesce(f.failing_checks, 0) AS failing_checks, coalesce(f.failing_names, []) AS failing_names,
               c.first_seen_at, c.last_seen_at, c.batches, c.duplicates, c.agent_version
        FROM places p LEFT JOIN kept k USING (location) LEFT JOIN hour h USING (location)
        LEFT JOIN failing f USING (location) LEFT JOIN agent_contacts c USING (location)
        ORDER BY p.location <> '{LOCAL_LOCATION}', p.location""", {"at": t, "fresh": fresh})
