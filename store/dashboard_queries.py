"""Named queries the dashboard needs beyond store/queries.py. Same conventions: plain JSON-able
parameters, a `Table` back, bad parameters raise QueryError naming the query and the parameter.

  dashboard_status()                                   dossiers held, last recompute (cheap: every page asks)
  dashboard_months()                                   months with figures, newest first
  agency_scope(agency=None, as_of=None)                agencies valid on a date, one subtree or all
  dossier_engine_input(codes, agency=None)             engine input of listed dossiers (for explain)
  dossier_engine_events(codes, agency=None)            their events (supplement cycles, pauses)
  probe_summary(since, location=None)                  availability and latency per location, check and step
  probe_heatmap(since, probe=None, step=None, location=None)  failures and p95 by day of week and hour
  probe_phases(since, location=None)                   mean time per phase (dns/connect/tls/ttfb/transfer)
  probe_windows(probe, step, until, minutes, slow_ms=None, location=None)   runs/failures/slow per trailing window
  alert_timeline(since=None, limit=500)                notifications sent, newest first
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from config.clock import local_now
from store.errors import QueryError
from store.reference import agency_tree_ctes
from store.registry import Table, named_query, run

MAX_CODES = 1000


def _ts(value: Any, query: str, name: str, optional: bool = False) -> dt.datetime | None:
    if value in (None, "") and optional:
        return None
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise QueryError(f"{query}: {name} must be a date or date-time (ISO), got {value!r}") from None


def _scope(col: str) -> str:
    """`col` is $agency, or a code under $agency on the tree (needs agency_rollup); all when NULL."""
    return (f"($agency IS NULL OR {col} = $agency OR {col} IN "
            f"(SELECT agency_code FROM agency_rollup WHERE ancestor_code = $agency))")


@named_query("dashboard_status", scope="free", roles=("vendor", "agency"), cache="until_write")
def dashboard_status(con: duckdb.DuckDBPyConnection) -> Table:
    """One row: dossiers in the store, the last finished recompute (its as_of and end) and the last
    import: together the data's version, which keys the dashboard's cached answers. Cheap enough
    for every page view, unlike store_stats."""
    return run(con, """
        SELECT (SELECT count(*) FROM dossiers) AS dossiers,
               (SELECT count(*) FROM quarantine) AS quarantined_rows,
               (SELECT max(batch_id) FROM import_batches) AS last_batch_id,
               r.as_of AS last_recompute_as_of, r.finished_at AS last_recompute_at, r.run_id AS last_run_id
        FROM (SELECT 1) LEFT JOIN (SELECT * FROM sla_runs WHERE finished_at IS NOT NULL
                                   ORDER BY run_id DESC LIMIT 1) r ON TRUE""")


@named_query("dashboard_months", scope="free", roles=("vendor", "agency"), cache="until_write")
def dashboard_months(con: duckdb.DuckDBPyConnection) -> Table:
    """Months that have figures in agency_month_stats, newest first, with the recompute's as_of."""
    return run(con, """
        SELECT month, max(as_of) AS as_of, CAST(sum(received_total) AS BIGINT) AS received_total,
               CAST(sum(resolved_total) AS BIGINT) AS resolved_total
        FROM agency_month_stats GROUP BY month ORDER BY month DESC""")


@named_query("agency_scope", scope="agency", cache="until_write")
def agency_scope(con: duckdb.DuckDBPyConnection, agency: str | None = None, as_of: str | None = None) -> Table:
    """Agencies valid on `as_of` (default today): the subtree of `agency` (itself first) or all,
    in tree order, with depth below the subtree's root."""
    day = _ts(as_of, "agency_scope", "as_of", optional=True)
    return run(con, f"""
        WITH RECURSIVE {agency_tree_ctes('$day', False)},
        sub AS (SELECT code, depth AS rel_depth FROM agency_up WHERE $agency IS NULL OR ancestor_code = $agency)
        SELECT n.code, n.name, n.level, n.parent_code, p.depth, min(s.rel_depth) AS rel_depth
        FROM agency_node n JOIN agency_path p USING (code) JOIN sub s USING (code)
        WHERE n.is_valid OR n.code = $agency
        GROUP BY ALL ORDER BY any_value(p.path)""",
               {"day": (day or local_now()).date(), "agency": agency or None})


def _check_codes(query: str, codes: Any) -> None:
    if isinstance(codes, str) or not isinstance(codes, (list, tuple)):
        raise QueryError(f"{query}: codes must be a list of dossier codes")
    if len(codes) > MAX_CODES:
        raise QueryError(f"{query}: at most {MAX_CODES} codes, got {len(codes)}")


@named_query("dossier_engine_input", scope="agency")
def dossier_engine_input(con: duckdb.DuckDBPyConnection, codes: list[str], agency: str | None = None) -> Table:
    """The SLA engine's input columns of the listed dossiers (at most 1000), limited to `agency`'s
    subtree when given: what `explain` needs to tell why a dossier is late."""
    _check_codes("dossier_engine_input", codes)
    return run(con, f"""
        WITH RECURSIVE {agency_tree_ctes('current_date', False)}
        SELECT dossier_code, agency_code, received_at, time_limit, time_unit, supplement_requested_at,
               supplement_received_at, extended_due_at, finished_at, returned_at, state
        FROM dossiers
        WHERE dossier_code IN (SELECT unnest($codes::VARCHAR[])) AND {_scope('agency_code')}
        ORDER BY dossier_code""", {"codes": [str(c) for c in codes], "agency": agency or None})


@named_query("dossier_engine_events", scope="agency")
def dossier_engine_events(con: duckdb.DuckDBPyConnection, codes: list[str], agency: str | None = None) -> Table:
    """The events of the listed dossiers (at most 1000, in `agency`'s subtree when given): the
    supplement cycles and pauses an explanation must see, as the recompute sees them."""
    _check_codes("dossier_engine_events", codes)
    return run(con, f"""
        WITH RECURSIVE {agency_tree_ctes('current_date', False)}
        SELECT e.dossier_code, e.event, e."at"
        FROM dossier_events e JOIN dossiers d ON d.dossier_code = e.dossier_code
        WHERE e.dossier_code IN (SELECT unnest($codes::VARCHAR[])) AND {_scope('d.agency_code')}
        ORDER BY e.dossier_code, e."at" """, {"codes": [str(c) for c in codes], "agency": agency or None})


# -- the portal as citizens meet it (probe results) ----------------------------------------------

@named_query("probe_summary", scope="free", roles=("vendor",))
def probe_summary(con: duckdb.DuckDBPyConnection, since: str, location: str | None = None) -> Table:
    """Per location and check / journey step since `since`: runs, failures, availability, latency
    p50/p95/max of successful runs, the latest run there and whether it failed (and why). One row
    per location (`location` narrows to one): a place's latest run and percentiles are its own."""
    t = _ts(since, "probe_summary", "since")
    return run(con, """
        SELECT location, name, kind, step, any_value(grp) AS grp, count(*) AS runs,
               count(*) FILTER (WHERE NOT ok) AS failures,
               1 - count(*) FILTER (WHERE NOT ok) / count(*) AS availability,
               quantile_cont(total_ms, 0.5) FILTER (WHERE ok) AS p50_ms,
               quantile_cont(total_ms, 0.95) FILTER (WHERE ok) AS p95_ms,
               max(total_ms) FILTER (WHERE ok) AS max_ms,
               max(started_at) AS last_at,
               arg_max(ok, started_at) AS last_ok,
               arg_max(reason, started_at) AS last_reason
        FROM probe_results WHERE started_at >= $since AND ($location IS NULL OR location = $location)
        GROUP BY location, name, kind, step
        ORDER BY kind, name, step, location <> 'central', location""", {"since": t, "location": location})


@named_query("probe_heatmap", scope="free", roles=("vendor",))
def probe_heatmap(con: duckdb.DuckDBPyConnection, since: str, probe: str | None = None,
                  step: str | None = None, location: str | None = None) -> Table:
    """Failures and the slowest hourly p95 by ISO day of week (1 = Monday) and hour of day, from
    the hourly rollups since `since` (all checks, or one probe / step), at one `location` or (None)
    every location: runs and failures are then counted together and p95_ms is the slowest single
    location-hour's p95 (a maximum, never a sum or a mean of percentiles)."""
    t = _ts(since, "probe_heatmap", "since")
    return run(con, """
        SELECT CAST(isodow(hour) AS INTEGER) AS dow, CAST(hour(hour) AS INTEGER) AS hour_of_day,
               CAST(sum(count) AS BIGINT) AS runs, CAST(sum(failures) AS BIGINT) AS failures,
               sum(failures) / sum(count) AS failure_ratio, max(p95_ms) AS p95_ms
        FROM probe_rollup_hourly
        WHERE hour >= $since AND ($probe IS NULL OR name = $probe) AND ($step IS NULL OR step = $step)
          AND step <> '*' AND ($location IS NULL OR location = $location)
        GROUP BY ALL ORDER BY dow, hour_of_day""", {"since": t, "probe": probe, "step": step, "location": location})


@named_query("probe_phases", scope="free", roles=("vendor",))
def probe_phases(con: duckdb.DuckDBPyConnection, since: str, location: str | None = None) -> Table:
    """Mean time per phase of successful runs since `since`, per check and journey step, at one
    `location` or (None) over the raw runs of every location together (a mean of runs, not of
    locations' means)."""
    t = _ts(since, "probe_phases", "since")
    return run(con, """
        SELECT name, step, count(*) AS runs,
               avg(coalesce(dns_ms, 0)) AS dns_ms, avg(coalesce(connect_ms, 0)) AS connect_ms,
               avg(coalesce(tls_ms, 0)) AS tls_ms, avg(coalesce(ttfb_ms, 0)) AS ttfb_ms,
               avg(coalesce(transfer_ms, 0)) AS transfer_ms, avg(total_ms) AS total_ms
        FROM probe_results WHERE ok AND started_at >= $since AND step <> '*'
          AND ($location IS NULL OR location = $location)
        GROUP BY name, step ORDER BY total_ms DESC""", {"since": t, "location": location})


@named_query("probe_windows", scope="free", roles=("vendor",))
def probe_windows(con: duckdb.DuckDBPyConnection, probe: str, step: str, until: str, minutes: list[int],
                  slow_ms: float | None = None, location: str | None = None) -> Table:
    """Runs, failures and slow runs (total_ms > slow_ms) of one probe step in each trailing window
    of `minutes` ending at `until`: the inputs of an SLO's burn rates, in one pass; at one
    `location`, or (None) the runs of every location counted together (per location:
    probe_window_locations)."""
    end = _ts(until, "probe_windows", "until")
    if not isinstance(minutes, (list, tuple)) or not minutes or not all(
            isinstance(m, int) and 0 < m <= 60 * 24 * 90 for m in minutes):
        raise QueryError("probe_windows: minutes must be a list of whole minutes (1 to 129600)")
    return run(con, """
        SELECT w.minutes, count(r.ok) AS runs, count(*) FILTER (WHERE NOT r.ok) AS failures,
               count(*) FILTER (WHERE r.ok AND $slow_ms IS NOT NULL AND r.total_ms > $slow_ms) AS slow
        FROM (SELECT unnest($minutes::INTEGER[]) AS minutes) w
        LEFT JOIN probe_results r
          ON r.name = $probe AND r.step = $step AND r.started_at < $until
         AND r.started_at >= $until - to_minutes(w.minutes) AND ($location IS NULL OR r.location = $location)
        GROUP BY w.minutes ORDER BY w.minutes""",
               {"probe": probe, "step": step, "until": end, "minutes": list(minutes), "slow_ms": slow_ms,
                "location": location})


@named_query("alert_timeline", scope="free", roles=("vendor",))
def alert_timeline(con: duckdb.DuckDBPyConnection, since: str | None = None, limit: int = 500) -> Table:
    """Alert notifications (firing, repeat, resolved) since `since`, newest first."""
    t = _ts(since, "alert_timeline", "since", optional=True)
    n = int(limit)
    if not 1 <= n <= 100_000:
        raise QueryError("alert_timeline: limit must be a whole number from 1 to 100000")
    return run(con, f"""
        SELECT "at", kind, key, title, body, delivered, failed FROM alert_events
        WHERE $since IS NULL OR "at" >= $since
        ORDER BY "at" DESC, key LIMIT {n}""", {"since": t})
