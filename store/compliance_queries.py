"""Named queries of the compliance register (store/migrations/005_compliance.sql) and the probe
evidence it judges. Read-only: none of them writes.

  compliance_history(item_kind=None, item_id=None, limit=1000)    events, oldest first (who, when, what)
  compliance_history_verify()                                      one row: is the hash chain intact?
  compliance_requests(status=None, agency=None, request_id=None)   current state, derived from the events
  compliance_evidence(request_id=None)                             evidence items attached to requests
  compliance_judgements(criterion=None)                            latest judgement of person-judged criteria
  compliance_files(sha256=None)                                    evidence files' metadata
  compliance_import_rejects(file_sha256=None, limit=200)           spreadsheet rows not imported, with reasons
  compliance_check_status(checks=None, group=None, since, until)   per check: latest result, since when, runs
  compliance_probe_buckets(checks=None, group=None, since, until, bucket='hour')   runs, failures, avg/max/p95 per bucket
  compliance_evidence_checks(until, request_id=None)              per check evidence: runs and failures since its time
  compliance_audit_months(start, end)                             audit_by_agency's total row, for many months in one pass
  compliance_sync_months(start, end)                              sync_by_agency's total and per-system rows, per month
The last two build on the audit and sync SQL of store/queries.py (its `_audit_base_sql`,
`_AUDIT_SCOPE`, `_sync_base_sql`), so the classification has one source; when those are not
there they raise QueryError and compliance/evidence.py reads month by month instead.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

import duckdb

from config.agents import LOCAL_LOCATION
from store.compliance_writes import event_hash
from store.errors import QueryError
from store.registry import Table, named_query, run

REQUEST_FIELDS = ("agency", "requested_on", "description", "criterion", "check_name", "status", "vendor_answer")
MAX_LIMIT = 100_000


def _limit(value: Any, query: str) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if isinstance(value, bool) or not 1 <= n <= MAX_LIMIT:
        raise QueryError(f"{query}: limit must be a whole number from 1 to {MAX_LIMIT}, got {value!r}")
    return n


def _time(value: Any, query: str, name: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    try:
        return dt.datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        raise QueryError(f"{query}: {name} must be a date or time (YYYY-MM-DD[ HH:MM]), "
                                   f"got {value!r}") from None


# -- history -----------------------------------------------------------------------------------

@named_query("compliance_history")
def compliance_history(con: duckdb.DuckDBPyConnection, item_kind: str | None = None, item_id: str | None = None,
                       limit: int = 1000) -> Table:
    """Events oldest first: event_id, item_kind, item_id, action, actor, via, at, data (JSON text), note, hash."""
    n = _limit(limit, "compliance_history")
    return run(con, f"""
        SELECT event_id, item_kind, item_id, action, actor, via, recorded_at AS at, CAST(data AS VARCHAR) AS data, note, hash
        FROM compliance_events
        WHERE ($kind IS NULL OR item_kind = $kind) AND ($id IS NULL OR item_id = $id)
        ORDER BY event_id LIMIT {n}""", {"kind": item_kind, "id": item_id})


@named_query("compliance_history_verify")
def compliance_history_verify(con: duckdb.DuckDBPyConnection) -> Table:
    """One row: events, intact, first_bad_event_id, problem. Recomputes every event's hash from its
    content and the previous event's hash: a changed, removed or inserted event breaks the chain."""
    rows = con.execute("""
        SELECT event_id, item_kind, item_id, action, actor, via, recorded_at, CAST(data AS VARCHAR), note, prev_hash, hash
        FROM compliance_events ORDER BY event_id""").fetchall()
    prev = ""
    bad_id, problem = None, None
    for (eid, kind, iid, action, actor, via, at, data, note, prev_hash, h) in rows:
        if prev_hash != prev:
            bad_id, problem = eid, "the event before it was changed or removed"
            break
        if event_hash(prev_hash, eid, kind, iid, action, actor, via, at, data, note) != h:
            bad_id, problem = eid, "its content was changed after it was recorded"
            break
        prev = h
    return Table(["events", "intact", "first_bad_event_id", "problem"], [(len(rows), bad_id is None, bad_id, problem)],
                 ["BIGINT", "BOOLEAN", "BIGINT", "VARCHAR"])


# -- requests (current state derived from the history) ------------------------------------------

def _field(name: str) -> str:
    # the value of the last event that set the field (an explicit null clears it)
    return (f"arg_max_null(data->>'{name}', event_id) FILTER (WHERE json_exists(data, '$.{name}')) AS {name}")


_REQUESTS_SQL = f"""
    SELECT item_id AS request_id, {', '.join(_field(f) for f in REQUEST_FIELDS)},
           count(*) FILTER (WHERE action = 'evidence_added') AS evidence_items,
           min(recorded_at) AS created_at, arg_min(actor, event_id) AS created_by,
           max(recorded_at) AS updated_at, arg_max(actor, event_id) AS updated_by,
           max(recorded_at) FILTER (WHERE action = 'resolved') AS resolved_at,
           count(*) AS changes
    FROM compliance_events WHERE item_kind = 'request' GROUP BY item_id"""


@named_query("compliance_requests")
def compliance_requests(con: duckdb.DuckDBPyConnection, status: str | None = None, agency: str | None = None,
                        request_id: str | None = None) -> Table:
    """Every request's current state (folded from its events): request_id, agency, requested_on,
    description, criterion, check_name, status, vendor_answer, evidence_items, created/updated
    (at, by), resolved_at, changes. Ordered by date requested, then id."""
    return run(con, f"""
        SELECT request_id, agency, CAST(requested_on AS DATE) AS requested_on, description, criterion, check_name,
               status, vendor_answer, evidence_items, created_at, created_by, updated_at, updated_by,
               CASE WHEN status = 'resolved' THEN resolved_at END AS resolved_at, changes
        FROM ({_REQUESTS_SQL})
        WHERE ($status IS NULL OR status = $status) AND ($agency IS NULL OR agency = $agency)
          AND ($id IS NULL OR request_id = $id)
        ORDER BY requested_on, request_id""", {"status": status, "agency": agency, "id": request_id})


@named_query("compliance_evidence")
def compliance_evidence(con: duckdb.DuckDBPyConnection, request_id: str | None = None) -> Table:
    """Evidence attached to requests, oldest first: kind (check | criterion | file), the check or
    criterion and the date it must have passed since, or the file (sha256, name, size) and its note."""
    return run(con, """
        SELECT e.item_id AS request_id, e.event_id, data->>'kind' AS kind, data->>'check' AS check_name,
               data->>'criterion' AS criterion, CAST(data->>'since' AS TIMESTAMP) AS since,
               data->>'sha256' AS sha256, coalesce(data->>'file_name', f.file_name) AS file_name, f.size,
               coalesce(data->>'note', e.note) AS note, e.recorded_at AS at, e.actor
        FROM compliance_events e LEFT JOIN compliance_files f ON f.sha256 = e.data->>'sha256'
        WHERE e.item_kind = 'request' AND e.action = 'evidence_added' AND ($id IS NULL OR e.item_id = $id)
        ORDER BY e.event_id""", {"id": request_id})


@named_query("compliance_judgements")
def compliance_judgements(con: duckdb.DuckDBPyConnection, criterion: str | None = None) -> Table:
    """The latest judgement of each person-judged criterion: status, note, evidence file, at, actor."""
    return run(con, """
        SELECT item_id AS criterion, arg_max(data->>'status', event_id) AS status,
               arg_max(coalesce(data->>'note', note), event_id) AS note,
               arg_max(data->>'sha256', event_id) AS sha256, arg_max(data->>'file_name', event_id) AS file_name,
               max(recorded_at) AS at, arg_max(actor, event_id) AS actor, count(*) AS judgements
        FROM compliance_events
        WHERE item_kind = 'criterion' AND action = 'judged' AND ($c IS NULL OR item_id = $c)
        GROUP BY item_id ORDER BY item_id""", {"c": criterion})


@named_query("compliance_files")
def compliance_files(con: duckdb.DuckDBPyConnection, sha256: str | None = None) -> Table:
    """Evidence files kept by SHA-256 (bytes under the data dir; see compliance/files)."""
    return run(con, """
        SELECT sha256, file_name, size, content_type, stored_at, stored_by FROM compliance_files
        WHERE $sha IS NULL OR sha256 = $sha ORDER BY stored_at, sha256""", {"sha": sha256})


@named_query("compliance_import_rejects")
def compliance_import_rejects(con: duckdb.DuckDBPyConnection, file_sha256: str | None = None,
                              limit: int = 200) -> Table:
    """Rows of request spreadsheets that were not imported, with file, row, field, value and reason."""
    n = _limit(limit, "compliance_import_rejects")
    return run(con, f"""
        SELECT file_name, file_sha256, row_no, field, value, reason, CAST(raw AS VARCHAR) AS raw, imported_at
        FROM compliance_import_rejects WHERE $sha IS NULL OR file_sha256 = $sha
        ORDER BY imported_at DESC, file_sha256, row_no, field LIMIT {n}""", {"sha": file_sha256})


# -- probe evidence -------------------------------------------------------------------------------

def _selection(checks: Any, group: Any, query: str, alias: str = "") -> tuple[str, dict[str, Any]]:
    """SQL condition on (name, step) for check names ('name' = a check or a journey's summary,
    'journey/step' = one step) and/or a probes group, with its parameters; results measured from
    the central only (the register's figures are the province's own monitor's, as they were
    before remote locations existed; a remote location's trouble is not the portal's)."""
    if isinstance(checks, str):
        checks = [c for c in checks.split(",") if c.strip()]
    checks = list(checks or [])
    if not checks and not group:
        raise QueryError(f"{query}: give checks (names) or a group")
    p = f"{alias}." if alias else ""
    conds, params = [], {}
    for i, c in enumerate(checks):
        name, _, step = str(c).strip().partition("/")
        params[f"n{i}"] = name
        if step:
            params[f"s{i}"] = step
            conds.append(f"({p}name = $n{i} AND {p}step = $s{i})")
        else:
            conds.append(f"({p}name = $n{i} AND {p}step IN ('', '*'))")
    if group:
        params["grp"] = str(group)
        conds.append(f"({p}step IN ('', '*') AND {p}name IN (SELECT DISTINCT name FROM probe_results WHERE grp = $grp))")
    return "((" + " OR ".join(conds) + f") AND {p}location = '{LOCAL_LOCATION}')", params


@named_query("compliance_check_status")
def compliance_check_status(con: duckdb.DuckDBPyConnection, since: Any, until: Any, checks: Any = None,
                            group: str | None = None) -> Table:
    """Per selected check / journey step: its latest result in [since, until) (ok, last_at,
    last_reason), since_at (the first result of the run of equal verdicts it ends; before the period
    when the run started earlier), changed_at (the last result with the other verdict, NULL when
    every kept result agrees), and in the period runs, failures, avg_ms, max_ms, the last failure.
    Raw results first; hours older than the raw results count from the hourly rollups. Measured
    from the central only (`location = 'central'`)."""
    t0, t1 = _time(since, "compliance_check_status", "since"), _time(until, "compliance_check_status", "until")
    sel, params = _selection(checks, group, "compliance_check_status")
    sel_h, _ = _selection(checks, group, "compliance_check_status", "h")
    params.update(since=t0, until=t1)
    return run(con, f"""
        WITH raw AS (
            SELECT name, step, started_at AS t, ok, reason, total_ms FROM probe_results
            WHERE {sel} AND started_at < $until),
        first_raw AS (SELECT name, step, min(t) AS first_at FROM raw GROUP BY ALL),
        obs AS (
            SELECT name, step, t, ok, reason, total_ms, 1 AS runs, CASE WHEN ok THEN 0 ELSE 1 END AS failures FROM raw
            UNION ALL
            SELECT h.name, h.step, h.hour, h.failures = 0,
                   CASE WHEN h.failures > 0 THEN h.failures || ' of ' || h.count || ' runs failed (hourly rollup)' END,
                   NULL::DOUBLE, h.count, h.failures
            FROM probe_rollup_hourly h LEFT JOIN first_raw f ON f.name = h.name AND f.step = h.step
            WHERE {sel_h} AND h.hour < $until AND (f.first_at IS NULL OR h.hour < date_trunc('hour', f.first_at))),
        latest AS (
            SELECT name, step, max(t) AS last_at, arg_max(ok, t) AS ok, arg_max(reason, t) AS last_reason
            FROM obs WHERE t >= $since GROUP BY ALL),
        flip AS (
            SELECT o.name, o.step, max(o.t) AS changed_at FROM obs o JOIN latest l USING (name, step)
            WHERE o.ok <> l.ok GROUP BY ALL),
        streak AS (
            SELECT o.name, o.step, min(o.t) AS since_at FROM obs o JOIN latest l USING (name, step)
            LEFT JOIN flip f USING (name, step) WHERE f.changed_at IS NULL OR o.t > f.changed_at GROUP BY ALL),
        period AS (
            SELECT name, step, CAST(sum(runs) AS BIGINT) AS runs, CAST(sum(failures) AS BIGINT) AS failures,
                   avg(total_ms) AS avg_ms, max(total_ms) AS max_ms,
                   max(t) FILTER (WHERE NOT ok) AS last_failure_at,
                   arg_max(reason, t) FILTER (WHERE NOT ok) AS last_failure_reason
            FROM obs WHERE t >= $since GROUP BY ALL)
        SELECT l.name, l.step, l.ok, l.last_at, l.last_reason, s.since_at, f.changed_at, p.runs, p.failures,
               p.avg_ms, p.max_ms, p.last_failure_at, p.last_failure_reason
        FROM latest l JOIN streak s USING (name, step) JOIN period p USING (name, step)
        LEFT JOIN flip f USING (name, step)
        ORDER BY l.name, l.step""", params)


@named_query("compliance_probe_buckets")
def compliance_probe_buckets(con: duckdb.DuckDBPyConnection, since: Any, until: Any, checks: Any = None,
                             group: str | None = None, bucket: str = "hour") -> Table:
    """Per hour or day in [since, until), over the selected checks: runs, failures, avg_ms, max_ms,
    p95_ms (every run's total time, failed runs included), from_rollup. Buckets older than the raw
    results come from the hourly rollups, which keep no average (avg_ms NULL there; p95_ms is then
    the highest hourly p95). Measured from the central only (`location = 'central'`)."""
    if bucket not in ("hour", "day"):
        raise QueryError(f"compliance_probe_buckets: bucket must be 'hour' or 'day', got {bucket!r}")
    t0, t1 = _time(since, "compliance_probe_buckets", "since"), _time(until, "compliance_probe_buckets", "until")
    sel, params = _selection(checks, group, "compliance_probe_buckets")
    sel_h, _ = _selection(checks, group, "compliance_probe_buckets", "h")
    params.update(since=t0, until=t1)
    return run(con, f"""
        WITH rawb AS (
            SELECT date_trunc('{bucket}', started_at) AS bucket, CAST(count(*) AS BIGINT) AS runs,
                   CAST(count(*) FILTER (WHERE NOT ok) AS BIGINT) AS failures, avg(total_ms) AS avg_ms,
                   max(total_ms) AS max_ms, quantile_cont(total_ms, 0.95) AS p95_ms, FALSE AS from_rollup
            FROM probe_results WHERE {sel} AND started_at >= $since AND started_at < $until GROUP BY 1),
        rollb AS (
            SELECT date_trunc('{bucket}', h.hour) AS bucket, CAST(sum(h.count) AS BIGINT) AS runs,
                   CAST(sum(h.failures) AS BIGINT) AS failures, NULL::DOUBLE AS avg_ms, max(h.max_ms) AS max_ms,
                   max(h.p95_ms) AS p95_ms, TRUE AS from_rollup
            FROM probe_rollup_hourly h
            WHERE {sel_h} AND h.hour >= $since AND h.hour < $until
              AND date_trunc('{bucket}', h.hour) NOT IN (SELECT bucket FROM rawb)
            GROUP BY 1)
        SELECT * FROM rawb UNION ALL SELECT * FROM rollb ORDER BY bucket""", params)


@named_query("compliance_evidence_checks")
def compliance_evidence_checks(con: duckdb.DuckDBPyConnection, until: Any, request_id: str | None = None) -> Table:
    """Every 'check' evidence item (of one request, or all) in one pass: runs and failures of its
    check (or journey step) from its `since` to `until`, and the last failure with its reason.
    Raw results first; hours before the raw results count from the hourly rollups. Measured from
    the central only (`location = 'central'`)."""
    t1 = _time(until, "compliance_evidence_checks", "until")
    return run(con, """
        WITH ev AS (
            SELECT event_id, item_id AS request_id, data->>'check' AS check_name,
                   CAST(data->>'since' AS TIMESTAMP) AS since,
                   split_part(data->>'check', '/', 1) AS name,
                   CASE WHEN contains(data->>'check', '/') THEN split_part(data->>'check', '/', 2) END AS step
            FROM compliance_events
            WHERE item_kind = 'request' AND action = 'evidence_added' AND data->>'kind' = 'check'
              AND ($id IS NULL OR item_id = $id)),
        raw AS (
            SELECT ev.event_id, p.name, p.step, p.started_at AS t, p.ok, p.reason
            FROM ev JOIN probe_results p ON p.name = ev.name AND p.location = $central
             AND ((ev.step IS NULL AND p.step IN ('', '*')) OR p.step = ev.step)
             AND p.started_at >= ev.since AND p.started_at < $until),
        first_raw AS (
            SELECT name, step, min(started_at) AS first_at FROM probe_results
            WHERE name IN (SELECT name FROM ev) AND location = $central GROUP BY ALL),
        roll AS (
            SELECT ev.event_id, h.hour AS t, h.count AS runs, h.failures,
                   CASE WHEN h.failures > 0 THEN h.failures || ' of ' || h.count || ' runs failed (hourly rollup)' END
                       AS reason
            FROM ev JOIN probe_rollup_hourly h ON h.name = ev.name AND h.location = $central
             AND ((ev.step IS NULL AND h.step IN ('', '*')) OR h.step = ev.step)
             AND h.hour >= ev.since AND h.hour < $until
            LEFT JOIN first_raw f ON f.name = h.name AND f.step = h.step
            WHERE f.first_at IS NULL OR h.hour < date_trunc('hour', f.first_at)),
        agg AS (
            SELECT event_id, count(*) AS runs, count(*) FILTER (WHERE NOT ok) AS failures,
                   max(t) FILTER (WHERE NOT ok) AS last_failure_at,
                   arg_max(reason, t) FILTER (WHERE NOT ok) AS last_failure_reason
            FROM raw GROUP BY event_id
            UNION ALL
            SELECT event_id, sum(runs), sum(failures), max(t) FILTER (WHERE failures > 0),
                   arg_max(reason, t) FILTER (WHERE failures > 0)
            FROM roll GROUP BY event_id)
        SELECT ev.event_id, ev.request_id, ev.check_name, ev.since,
               CAST(coalesce(sum(a.runs), 0) AS BIGINT) AS runs, CAST(coalesce(sum(a.failures), 0) AS BIGINT) AS failures,
               max(a.last_failure_at) AS last_failure_at,
               arg_max(a.last_failure_reason, a.last_failure_at) AS last_failure_reason
        FROM ev LEFT JOIN agg a USING (event_id)
        GROUP BY ALL ORDER BY ev.event_id""", {"until": t1, "id": request_id, "central": LOCAL_LOCATION})


def _month_bounds(start: Any, end: Any, query: str) -> tuple[dt.date, dt.date]:
    def month(v: Any, name: str) -> dt.date:
        text = str(v or "")
        try:
            return dt.date.fromisoformat(text[:7] + "-01")
        except ValueError:
            raise QueryError(f"{query}: {name} must be a month YYYY-MM, got {v!r}") from None
    a, b = month(start, "start"), month(end, "end")
    return a, dt.date(b.year + b.month // 12, b.month % 12 + 1, 1)


def _queries_sql(*names: str) -> list[Any]:
    import store.queries as sq

    missing = [n for n in names if not hasattr(sq, n)]
    if missing:
        raise QueryError(f"store/queries.py has no {', '.join(missing)}: read the months one by one")
    return [getattr(sq, n) for n in names]


@named_query("compliance_audit_months")
def compliance_audit_months(con: duckdb.DuckDBPyConnection, start: Any, end: Any) -> Table:
    """Per month from start to end (YYYY-MM): the figures of audit_by_agency(month)'s total row
    (dossiers, one count per kind, mismatches, reported_overdue, recomputed_overdue), in one pass."""
    from store.queries import AUDIT_KINDS

    base, scope, valid = _queries_sql("_audit_base_sql", "_AUDIT_SCOPE", "_dashboard_counts_valid")
    a, b = _month_bounds(start, end, "compliance_audit_months")
    if valid(con):  # the recompute's per-agency month counts (migration 009) describe the store
        cols = ["dossiers", *AUDIT_KINDS, "mismatches", "reported_overdue", "recomputed_overdue"]
        sums = ", ".join(f"CAST(sum({c}) AS BIGINT) AS {c}" for c in cols)
        return run(con, f"""
            SELECT month, {sums} FROM agency_month_audit
            WHERE month >= CAST($a AS DATE) AND month < CAST($b AS DATE) GROUP BY 1 ORDER BY 1""",
                   {"a": a, "b": b})
    kinds = ", ".join(f"count(*) FILTER (WHERE kind = '{k}') AS {k}" for k in AUDIT_KINDS)
    return run(con, f"""
        SELECT CAST(date_trunc('month', coalesce(resolved_at, received_at)) AS DATE) AS month,
               count(*) AS dossiers, {kinds}, count(kind) AS mismatches,
               count(*) FILTER (WHERE reported_overdue) AS reported_overdue,
               count(*) FILTER (WHERE our_overdue) AS recomputed_overdue
        FROM ({base()}) a
        WHERE {scope.replace('$month IS NULL', 'TRUE')}
          AND coalesce(resolved_at, received_at) >= $a AND coalesce(resolved_at, received_at) < $b
        GROUP BY 1 ORDER BY 1""", {"a": a, "b": b, "month": None, "month_end": None})


@named_query("compliance_sync_months")
def compliance_sync_months(con: duckdb.DuckDBPyConnection, start: Any, end: Any) -> Table:
    """Per month (resolved in) from start to end: sync_by_agency(month)'s total row and one row per
    source system (row_kind total | source_system; resolved, unsynced), in one pass."""
    base, valid = _queries_sql("_sync_base_sql", "_dashboard_counts_valid")
    a, b = _month_bounds(start, end, "compliance_sync_months")
    if valid(con):  # the recompute's per-agency month counts (migration 009) describe the store
        return run(con, """
            SELECT month, CASE WHEN grouping(source_system) = 0 THEN 'source_system' ELSE 'total' END AS row_kind,
                   source_system, CAST(sum(resolved) AS BIGINT) AS resolved, CAST(sum(unsynced) AS BIGINT) AS unsynced
            FROM agency_month_sync
            WHERE month >= CAST($a AS DATE) AND month < CAST($b AS DATE)
            GROUP BY GROUPING SETS ((1, source_system), (1)) ORDER BY 1, 2 DESC, 3""", {"a": a, "b": b})
    return run(con, f"""
        SELECT CAST(date_trunc('month', resolved_at) AS DATE) AS month,
               CASE WHEN grouping(source_system) = 0 THEN 'source_system' ELSE 'total' END AS row_kind,
               source_system, count(*) AS resolved, count(problem) AS unsynced
        FROM ({base()}) b
        WHERE resolved_at >= $a AND resolved_at < $b
        GROUP BY GROUPING SETS ((1, source_system), (1)) ORDER BY 1, 2 DESC, 3""", {"a": a, "b": b})


def data_json(text: str | None) -> dict[str, Any]:
    """The `data` column of compliance_history, parsed."""
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return {}
