"""Recomputing every dossier's deadline and status, and the figures built on them.

`recompute(store, engine, as_of, full)` brings `sla_results` (read through the view `dossier_sla`)
to `as_of` from `dossiers` (+ `dossier_events`) with the SLA engine's output, in one transaction,
records an `sla_runs` row and rebuilds the per-agency tables (the monthly figures
`agency_month_stats`, the dashboard's audit and sync counts) from keys the engine pass writes
beside each result: in full, one pass over every dossier; incrementally (`full=False`, when
`refresh_plan` allows it), a pass over the dossiers whose result may have changed only.

How a dossier counts in a month (the Biểu số 06/VPCP/KSTT rules, month boundaries in local time)
-----------------------------------------------------------------------------------------------
Let the month be [start, end) and its cut = min(end, as_of) (the current month is cut at as_of).
Withdrawn and rejected dossiers are never counted. A dossier is resolved at
coalesce(finished_at, returned_at) when its state is finished or returned and that instant is
not after as_of (the engine's view: later facts are not known at as_of).
- received in the month: start <= received_at < cut; online or direct/postal by its channel;
- carried over: received before start and not resolved before start;
- resolved in the month: start <= resolved_at < cut, classed early / on_time / overdue by the
  engine's final_status;
- pending at the end of the month: received before the cut and not resolved before it; overdue
  when it is late at the month's last instant (late_from before the next month's first instant,
  and not after as_of), in time otherwise: a dossier due on the month's last day is in time at
  that month's end. A dossier whose clock the engine found stopped by an open supplement request
  (flag STOPPED) counts as pending **in time** in every month: the request was lawful only before
  the deadline, so the months before it were in time, and from it the clock is stopped.
- A dossier without a deadline (engine status no_deadline: time limit missing or invalid) cannot
  be late: resolved, it counts as on time; pending, as in time. store_stats counts them
  (dossiers_no_deadline) so the data gap stays visible.
So received_total = online + direct/postal + carried over = resolved_total + pending_total.
Pending dossiers are judged against their final late_from (the clock after their last restart,
as known at recompute time). A finished month stays as it was: facts dated after its end only
restart a clock after a lawful request (never a month already late) or are ignored (the engine).
"""
from __future__ import annotations

from collections.abc import Callable

import datetime as dt
import time
from typing import Any, Protocol

import duckdb

from config.clock import local_now, to_local
from config.vocabulary import BIEU06_COUNT_NAMES, LAST_YEAR, RESOLVED_STATUSES, quoted_list
from sla_rules.constants import FLAG_STOPPED, office_time_sql
from store import dossier_facts
from store.month_key import month_keys_sql, month_stats_sql, pass_layers, status_of_key_sql
from store.vendor import audit_key_of_pass, early_facts, write_dashboard_counts

ENGINE_INPUT_COLUMNS = ["dossier_code", "received_at", "time_limit", "time_unit", "supplement_requested_at",
                        "supplement_received_at", "extended_due_at", "finished_at", "returned_at", "state"]
# Columns of the view dossier_sla (the engine's output columns but clock_start_at, which is not
# stored: migration 010).
DOSSIER_SLA_COLUMNS = ["dossier_code", "rule_version", "due_date", "due_at", "late_from",
                       "final_status", "status", "computed_as_of"]
STAT_COLUMNS = list(BIEU06_COUNT_NAMES)  # agency_month_stats' counts, the columns of Biểu 06


class Engine(Protocol):
    """What recompute needs from sla_rules.engine.SlaEngine."""

    name: str
    counts_late_refusals: bool  # a refusal after the deadline counts as resolved overdue
    event_kinds: tuple[str, ...]  # the dossier events the engine reads

    def rule_versions(self) -> list[tuple[str, dt.datetime, dt.time, list[dt.time], list[dt.time]]]: ...
    def calendar_sql(self) -> str: ...
    def fingerprint(self) -> str: ...
    def install(self, con: duckdb.DuckDBPyConnection) -> None: ...
    def compute_sql(self, source: str, as_of: dt.datetime, events: str | None = None,
                    with_reasons: bool = False, lang: str = "vi", extra: Any = (),
                    status_type: str | None = None, internals: Any = (), early: Any = (),
                    cycle_flag: str | None = None, cycle_source: str | None = None) -> str: ...


def to_local_naive(value: dt.datetime | dt.date | str) -> dt.datetime:
    """An instant as the store keeps it: naive local time. A bare date means the end of that day."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = dt.datetime.fromisoformat(text) if len(text) > 10 else dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"as_of must be an ISO date or date-time, got {value!r}") from None
    value = to_local(value) if isinstance(value, dt.datetime) else dt.datetime.combine(value, dt.time.max)
    if value.year > LAST_YEAR:  # every month up to it would be a row of each agency's figures
        raise ValueError(f"as_of must be in {LAST_YEAR} or earlier (a dossier's dates are), got {value:%Y-%m-%d}")
    return value


# -- per dossier and month ------------------------------------------------------------------

# The SLA results as the view dossier_sla shows them but due_at (see due_at_sql), keyed by
# dossier_id (for joins).
SLA_ROWS_SQL = f"""(SELECT dossier_id,
        CAST(late_from - INTERVAL 1 MICROSECOND AS DATE) AS due_date, late_from,
        CASE WHEN status IN ({quoted_list(RESOLVED_STATUSES)}) THEN CAST(status AS VARCHAR) END AS final_status,
        CAST(status AS VARCHAR) AS status, (SELECT max(as_of) FROM sla_result_set) AS computed_as_of
    FROM sla_results)"""


def due_at_sql(con: duckdb.DuckDBPyConnection, late_from: str, time_unit: str, time_limit: str,
               received_at: str) -> str:
    """SQL for a dossier's due_at from its late_from, as the engine gives it and the view
    dossier_sla shows it: the instant before late_from for an office-time deadline, else the office
    close (of the dossier's rule version, sla_rule_versions) on the due date. The versions are
    read now and written into the expression, so it costs a comparison or two a row."""
    versions = con.execute("SELECT effective_from, office_close FROM sla_rule_versions "
                           "ORDER BY effective_from").fetchall()

    def close(t: dt.time | None) -> str:
        return f"TIME '{t.isoformat()}'" if t is not None else "CAST(NULL AS TIME)"

    if not versions:
        close_sql = "CAST(NULL AS TIME)"
    else:
        whens = " ".join(f"WHEN {received_at} >= TIMESTAMP '{f.isoformat(sep=' ')}' THEN {close(c)}"
                         for f, c in reversed(versions[1:]))
        close_sql = f"CASE {whens} ELSE {close(versions[0][1])} END" if whens else close(versions[0][1])
    day = f"CAST({late_from} - INTERVAL 1 MICROSECOND AS DATE)"
    return (f"(CASE WHEN {late_from} IS NULL THEN NULL WHEN {office_time_sql(time_unit, time_limit)} "
            f"THEN {late_from} - INTERVAL 1 MICROSECOND ELSE {day} + {close_sql} END)")


def month_facts_sql(as_of: str = "$as_of", m_from: str = "$m_from", m_to: str = "$m_to",
                    results: str = "sla_results") -> str:
    """SELECT of one row per (counted dossier, month it is open in), with the Biểu 06 flags.

    Arguments are SQL expressions: the cut instant (TIMESTAMP) and the first and last month
    (DATE, first of month) to produce; a NULL month bound means unbounded. Columns: dossier and
    SLA columns, month, cut, stopped, is_received, is_carried, is_resolved, is_pending,
    is_pending_overdue. Used for one month at a time (Biểu 06 by field, procedure or channel;
    the overdue list of a month); the monthly table itself is counted by running sums
    (`month_stats_sql`), which gives the same figures without expanding dossiers into months.
    `results`: the SLA results to count, sla_results or a subset of its rows (a query scoped to
    some agencies and months narrows them first: store/queries.py, _scoped_results_sql).
    """
    return f"""
    WITH base AS (
        SELECT d.dossier_code, d.agency_code, d.procedure_code, d.field, d.channel, d.source_system,
               d.received_at,
               CASE WHEN d.state <> 'withdrawn' AND coalesce(d.finished_at, d.returned_at) <= {as_of}
                    THEN greatest(coalesce(d.finished_at, d.returned_at), d.received_at) END AS resolved_at,
               CASE s.status WHEN 'early' THEN 'early' WHEN 'overdue' THEN 'overdue'
                    ELSE 'on_time' END AS final_status,  -- no deadline: cannot be late
               CAST(s.status AS VARCHAR) AS status,
               CAST(s.late_from - INTERVAL 1 MICROSECOND AS DATE) AS due_date, s.late_from,
               coalesce((s.flags & {FLAG_STOPPED}) <> 0, false) AS stopped
        FROM dossiers d
        JOIN {results} s ON s.dossier_id = d.dossier_id
        WHERE s.status <> 'excluded' AND d.received_at < {as_of}
    ),
    bounded AS (
        SELECT b.*, date_trunc('month', b.received_at) AS first_month,
               least(date_trunc('month', coalesce(b.resolved_at, {as_of})), date_trunc('month', {as_of})) AS last_month
        FROM base b
        WHERE ({m_to} IS NULL OR b.received_at < CAST({m_to} AS DATE) + INTERVAL 1 MONTH)
          AND ({m_from} IS NULL OR b.resolved_at IS NULL OR b.resolved_at >= {m_from})
    ),
    months AS (  -- one pass (no second read of `bounded`, which would be materialised)
        SELECT * EXCLUDE (first_month, last_month, m), CAST(m AS DATE) AS month
        FROM (SELECT *, unnest(CASE WHEN first_month = last_month THEN [first_month]
                                    ELSE generate_series(greatest(first_month, {m_from}), least(last_month, {m_to}),
                                                         INTERVAL 1 MONTH) END) AS m
              FROM bounded)
        WHERE ({m_from} IS NULL OR m >= {m_from}) AND ({m_to} IS NULL OR m <= {m_to})
    ),
    cut AS (SELECT *, least(month + INTERVAL 1 MONTH, {as_of}) AS cut FROM months),
    flagged AS (
        SELECT *,
               received_at >= month AS is_received,
               received_at < month AS is_carried,
               resolved_at IS NOT NULL AND resolved_at >= month AND resolved_at < cut AS is_resolved,
               resolved_at IS NULL OR resolved_at >= cut AS is_pending
        FROM cut
    )
    -- late at the month's last instant (late_from before the next month's first, and known at
    -- as_of); never while the clock is stopped for a supplement (a lawful request comes before the
    -- deadline, so the months before it were in time too)
    SELECT *,
           is_pending AND NOT stopped AND late_from IS NOT NULL AND late_from < month + INTERVAL 1 MONTH
               AND late_from <= {as_of} AS is_pending_overdue
    FROM flagged"""


COUNTS_SQL = """
    count(*) FILTER (WHERE is_received OR is_carried)                      AS received_total,
    count(*) FILTER (WHERE is_received AND channel = 'online')             AS received_online,
    count(*) FILTER (WHERE is_received AND channel IS DISTINCT FROM 'online') AS received_direct_postal,
    count(*) FILTER (WHERE is_carried)                                     AS carried_over,
    count(*) FILTER (WHERE is_resolved)                                    AS resolved_total,
    count(*) FILTER (WHERE is_resolved AND final_status = 'early')         AS resolved_early,
    count(*) FILTER (WHERE is_resolved AND final_status = 'on_time')       AS resolved_on_time,
    count(*) FILTER (WHERE is_resolved AND final_status = 'overdue')       AS resolved_overdue,
    count(*) FILTER (WHERE is_pending)                                     AS pending_total,
    count(*) FILTER (WHERE is_pending AND NOT is_pending_overdue)          AS pending_in_time,
    count(*) FILTER (WHERE is_pending_overdue)                             AS pending_overdue"""


# -- the monthly table, from the month keys (store/month_key.py) ------------------------------

def _write_month_stats(con: duckdb.DuckDBPyConnection, grouped: str, as_of: dt.datetime) -> int:
    con.execute("DELETE FROM agency_month_stats")
    con.execute(f"""
        INSERT INTO agency_month_stats (month, agency_code, {', '.join(STAT_COLUMNS)}, as_of)
        SELECT month, agency_code, {', '.join(STAT_COLUMNS)}, $as_of FROM ({month_stats_sql(grouped, as_of)})""",
                {"as_of": as_of})
    return con.execute("SELECT count(*) FROM agency_month_stats").fetchone()[0]


def refresh_month_stats(con: duckdb.DuckDBPyConnection, as_of: dt.datetime) -> int:
    """Rebuild agency_month_stats from dossiers + sla_results at `as_of`. Returns rows written.

    Run inside the caller's transaction. A recompute counts the same way from the month facts
    it wrote beside each result (sla_results.month_key), without this join.
    """
    rel = f"""(SELECT s.status, s.late_from, s.flags, d.agency_code, d.channel, d.received_at,
                  d.finished_at, d.returned_at, d.state
              FROM dossiers d JOIN sla_results s ON s.dossier_id = d.dossier_id)"""
    grouped = (f"(SELECT agency_code, month_key, count(*) AS n FROM ({month_keys_sql(rel, as_of)}) "
               f"WHERE month_key IS NOT NULL GROUP BY ALL)")
    return _write_month_stats(con, grouped, as_of)


def data_as_of(con: duckdb.DuckDBPyConnection) -> dt.datetime | None:
    """The as_of of the statuses in sla_results (the last recompute), None when empty."""
    return con.execute("SELECT max(as_of) FROM sla_result_set").fetchone()[0]


# -- recompute ----------------------------------------------------------------------------------

def _empty_sla_results(con: duckdb.DuckDBPyConnection) -> None:
    """Empty sla_results by re-creating it from its own definition in the catalog.

    Dropping and re-creating the table inside the transaction costs nothing, where deleting ten
    million rows and writing as many again keeps both in the file until the next checkpoint;
    the schema's definition (migration 010_sla_narrow.sql) stays the only one.
    """
    # this database's: a backup's snapshot attaches another one for a while (store/snapshot.py)
    ddl = con.execute("SELECT sql FROM duckdb_tables() WHERE table_name = 'sla_results' "
                      "AND schema_name = 'main' AND NOT temporary AND database_name = current_database()").fetchone()[0]
    con.execute("DROP TABLE main.sla_results")
    con.execute(ddl)


# The key count tables and the sla_results column each is counted from (the sync counts are the
# dossiers' own: _write_key_counts).
_KEY_TABLES = (("sla_month_counts", "month_key"), ("sla_audit_counts", "audit_key"))
_KEYS = "agency_ix, month_key, audit_key"
# An incremental refresh judging more than this share of the dossiers again runs as a full one.
INCREMENTAL_SHARE = 0.3


def _start_run(con: duckdb.DuckDBPyConnection, engine: Engine, as_of: dt.datetime, kind: str) -> int:
    engine.install(con)
    run_id = con.execute("SELECT nextval('sla_run_seq')").fetchone()[0]
    # Python's clock: DuckDB's localtimestamp is the transaction's start, the same at both ends.
    con.execute("INSERT INTO sla_runs (run_id, rule_set, as_of, started_at, kind) VALUES (?, ?, ?, ?, ?)",
                [run_id, engine.name, as_of, local_now(), kind])
    return run_id


def _set_result_set(con: duckdb.DuckDBPyConnection, engine: Engine, as_of: dt.datetime, run_id: int) -> None:
    """The results' as_of, run and engine, and the last import they include."""
    con.execute("DELETE FROM sla_result_set")
    con.execute("INSERT INTO sla_result_set (as_of, run_id, engine_key, batch_id) "
                "SELECT ?, ?, ?, (SELECT max(batch_id) FROM import_batches)", [as_of, run_id, engine.fingerprint()])


def _engine_pass(con: duckdb.DuckDBPyConnection, engine: Engine, as_of: dt.datetime, only: str | None) -> None:
    """INSERT into sla_results the engine's results at `as_of` with their month, audit and sync keys,
    for every dossier or (`only`) those whose dossier_id is in that relation. The dossiers' stored
    facts (store/dossier_facts.py) must be filled."""
    dossiers = "dossiers"
    if only:  # read once, then by every step of the pass
        con.execute(f"CREATE OR REPLACE TEMP TABLE sla_pass_dossiers AS "
                    f"SELECT * FROM dossiers WHERE dossier_id IN (SELECT dossier_id FROM {only})")
        dossiers = "temp.sla_pass_dossiers"
    inputs = ", ".join(f"d.{c}" for c in ENGINE_INPUT_COLUMNS if c != "dossier_code")
    row = (f"SELECT d.dossier_id AS dossier_code, {inputs}, d.fx_agency AS agency_ix, d.fx_audit, d.fx_rdue, "
           f"d.fx_month, d.fx_cycle FROM {{}} d")
    con.execute(f"CREATE OR REPLACE TEMP VIEW v_sla_input AS {row.format(dossiers)}")
    cycles = None
    if not only:  # every dossier: those with fx_cycle from their copies (store/dossier_facts.py)
        if con.execute("SELECT EXISTS (SELECT 1 FROM dossiers WHERE fx_cycle IS NULL)").fetchone()[0]:
            raise RuntimeError("the dossiers' stored facts are not filled (store/dossier_facts.py, fill)")
        con.execute(f"CREATE OR REPLACE TEMP VIEW v_sla_cycles AS {row.format('cycle_dossiers')}")
        cycles = "v_sla_cycles"
    con.execute('CREATE OR REPLACE TEMP VIEW v_sla_events AS SELECT d.dossier_id AS dossier_code, e.event, e."at" '
                f'FROM dossier_events e JOIN {dossiers} d ON d.dossier_code = e.dossier_code')
    early, month_key = pass_layers(as_of, engine.counts_late_refusals)
    early = [{**early[0], **early_facts()}, *early[1:]]
    # the events relation only when there are events the engine reads (a join less per dossier)
    events = "v_sla_events" if con.execute(
        f"SELECT EXISTS (SELECT 1 FROM dossier_events WHERE event IN ({quoted_list(engine.event_kinds)}))"
    ).fetchone()[0] else None
    sql = engine.compute_sql("v_sla_input", as_of, events=events, extra=("agency_ix",),
                             status_type="sla_status", internals=("late_us", "late_month", "flags"),
                             early=early, cycle_flag="fx_cycle", cycle_source=cycles)
    con.execute(f"""
        INSERT INTO sla_results (dossier_id, status, late_from, month_key, agency_ix, flags, audit_key)
        SELECT dossier_code, status, late_from, {month_key}, agency_ix, flags, {audit_key_of_pass()}
        FROM ({sql})""")


def _key_groups(rows: str, sign: int = 1) -> str:
    """(table, agency_ix, key, n) of `rows` (sla_results rows) for each key count table."""
    return " UNION ALL ".join(
        f"SELECT '{t}' AS t, agency_ix, {k} AS key, {sign} * count(*) AS n FROM {rows} WHERE {k} IS NOT NULL GROUP BY ALL"
        for t, k in _KEY_TABLES)


def _write_key_counts(con: duckdb.DuckDBPyConnection, changes: str | None) -> None:
    """The key count tables: counted from sla_results (changes None), or added `changes`
    (t, agency_ix, key, n) rows to, keeping the groups that still hold dossiers. The sync key is
    the dossier's own stored fact (no rule or as_of changes it): its counts come from the dossiers,
    whole, every time."""
    con.execute("DELETE FROM sla_sync_counts")
    con.execute("INSERT INTO sla_sync_counts (agency_ix, sync_key, n) SELECT fx_agency, fx_sync, count(*) "
                "FROM dossiers WHERE fx_sync IS NOT NULL GROUP BY ALL")
    if changes is None:
        con.execute(f"CREATE OR REPLACE TEMP TABLE sla_key_groups AS {_key_groups('sla_results')}")
    else:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE sla_key_groups AS
            SELECT t, agency_ix, key, sum(n) AS n FROM (
                {' UNION ALL '.join(f"SELECT '{t}' AS t, agency_ix, {k} AS key, n FROM {t}" for t, k in _KEY_TABLES)}
                UNION ALL SELECT * FROM {changes})
            GROUP BY ALL HAVING sum(n) <> 0""")
    for t, k in _KEY_TABLES:
        con.execute(f"DELETE FROM {t}")
        con.execute(f"INSERT INTO {t} (agency_ix, {k}, n) SELECT agency_ix, key, n FROM temp.sla_key_groups "
                    f"WHERE t = '{t}'")
    con.execute("DROP TABLE temp.sla_key_groups")


def _write_figures(con: duckdb.DuckDBPyConnection, as_of: dt.datetime, run_id: int) -> tuple[dict[str, int], int]:
    """From the key counts: agency_month_stats, the dashboard's audit and sync tables, and the
    statuses of every result. Returns (statuses, month rows)."""
    statuses = {str(k): int(v) for k, v in con.execute(f"""
        SELECT status, sum(n) FROM (
            SELECT {status_of_key_sql()} AS status, n
            FROM sla_month_counts
            UNION ALL SELECT status, 1 FROM sla_results WHERE month_key IS NULL)
        GROUP BY status ORDER BY CAST(status AS VARCHAR)""").fetchall()}
    month_rows = _write_month_stats(con, """(
        SELECT a.agency_code, g.month_key, g.n FROM sla_month_counts g JOIN sla_agencies a USING (agency_ix))""",
                                    as_of)
    write_dashboard_counts(con, run_id)
    return statuses, month_rows


def _finish_run(con: duckdb.DuckDBPyConnection, run_id: int, dossiers: int) -> None:
    con.execute("UPDATE sla_runs SET finished_at = ?, dossiers = ? WHERE run_id = ?",
                [local_now(), dossiers, run_id])


def _compute(con: duckdb.DuckDBPyConnection, store: Any, engine: Engine, as_of: dt.datetime,
             step: Callable[[str], None], flush: bool) -> tuple[int, int, dict[str, int], int]:
    """A full recompute's writes in the caller's transaction: (run id, dossiers, statuses, month rows)."""
    run_id = _start_run(con, engine, as_of, "full")
    _empty_sla_results(con)
    _set_result_set(con, engine, as_of, run_id)
    con.execute("DELETE FROM sla_rule_versions")
    con.executemany("INSERT INTO sla_rule_versions (rule_version, effective_from, office_close, session_starts, "
                    "session_ends) VALUES (?, ?, ?, ?, ?)", engine.rule_versions())
    # the calendar the results were judged with: the working time left to a deadline is counted in it
    con.execute("DELETE FROM sla_calendar")
    con.execute(f"INSERT INTO sla_calendar {engine.calendar_sql()}")
    step("prepare")
    _engine_pass(con, engine, as_of, None)
    step("engine_and_results")
    # the results' pages go to disk while the figures are counted, not all at COMMIT
    if flush:
        store.start_flush()
    # one pass over the results: dossiers per agency and key, which also hold the status of every
    # counted dossier (the rows without a month key are read again for theirs alone)
    _write_key_counts(con, None)
    statuses, month_rows = _write_figures(con, as_of, run_id)
    dossiers = sum(statuses.values())
    step("month_stats")
    _finish_run(con, run_id, dossiers)
    return run_id, dossiers, statuses, month_rows


def _previous(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The stored results' as_of, run, engine and last import, when their counts are all there."""
    row = con.execute("""
        SELECT rs.as_of, rs.run_id, rs.engine_key, rs.batch_id, r.started_at
        FROM sla_result_set rs JOIN sla_runs r USING (run_id)
        WHERE r.finished_at IS NOT NULL
          AND (SELECT run_id FROM dashboard_counts_state) = rs.run_id""").fetchone()
    if row is None:
        return None
    return dict(zip(("as_of", "run_id", "engine_key", "batch_id", "started_at"), row))


def refresh_plan(con: duckdb.DuckDBPyConnection, engine: Engine, as_of: dt.datetime) -> tuple[str, str]:
    """('incremental', '') when the stored results can be brought to `as_of` by judging again only
    the dossiers that changed, else ('full', why not)."""
    return _plan(_previous(con), engine, as_of)


def _plan(prev: dict[str, Any] | None, engine: Engine, as_of: dt.datetime) -> tuple[str, str]:
    if prev is None:
        return "full", "no complete results stored yet"
    if prev["engine_key"] != engine.fingerprint():
        return "full", "the rule set, the calendar or the engine changed since the last recompute"
    if as_of < prev["as_of"]:
        return "full", "as_of is earlier than the stored results'"
    if as_of.date() != prev["as_of"].date():
        return "full", "a new day: every pending dossier's status may have moved"
    return "incremental", ""


def _touched(con: duckdb.DuckDBPyConnection, prev: dict[str, Any], as_of: dt.datetime) -> int:
    """TEMP table sla_touched(dossier_id): the dossiers whose result may differ between the stored
    results (at prev as_of) and `as_of`: written by an import since (their rows or their events),
    with a fact dated between the two instants (known now, not then), or whose deadline falls
    between them. Any other dossier's result is the same at both instants (its facts and its
    deadline are on the same side of both); both ends are included, so a boundary is never missed."""
    facts = ("received_at", "supplement_requested_at", "supplement_received_at", "extended_due_at",
             "finished_at", "returned_at")
    # one scan per condition, each filter pushed into its column's scan: half the time of one
    # scan testing them all
    conds = ["batch_id > coalesce($batch, 0)", "updated_at >= $started",
             *(f"{c} BETWEEN $old AND $new" for c in facts)]
    con.execute(f"""CREATE OR REPLACE TEMP TABLE sla_touched AS
        {' UNION '.join(f'SELECT dossier_id FROM dossiers WHERE {c}' for c in conds)}
        UNION SELECT d.dossier_id FROM dossiers d SEMI JOIN (
            SELECT dossier_code FROM dossier_events WHERE batch_id > coalesce($batch, 0) OR "at" BETWEEN $old AND $new) e
          ON d.dossier_code = e.dossier_code
        UNION SELECT dossier_id FROM sla_results WHERE late_from BETWEEN $old AND $new""",
                {"batch": prev["batch_id"], "started": prev["started_at"], "old": prev["as_of"], "new": as_of})
    return con.execute("SELECT count(*) FROM temp.sla_touched").fetchone()[0]


def _incremental(con: duckdb.DuckDBPyConnection, engine: Engine, prev: dict[str, Any], as_of: dt.datetime,
                 step: Callable[[str], None]) -> tuple[int, int, dict[str, int], int, int] | None:
    """Bring the stored results to `as_of` judging again only the touched dossiers (_touched), in
    the caller's transaction: (run id, dossiers, statuses, month rows, judged again), or None when
    so many changed that a full recompute costs less. `prev`: the stored results (_previous)."""
    touched = _touched(con, prev, as_of)
    total = con.execute("SELECT count(*) FROM dossiers").fetchone()[0]
    if touched > INCREMENTAL_SHARE * total:
        return None
    run_id = _start_run(con, engine, as_of, "incremental")
    step("prepare")
    # their old keys out, their new keys in (each set of rows read once)
    is_touched = "dossier_id IN (SELECT dossier_id FROM temp.sla_touched)"
    con.execute(f"CREATE OR REPLACE TEMP TABLE sla_touched_keys AS SELECT {_KEYS} FROM sla_results WHERE {is_touched}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE sla_key_changes AS {_key_groups('temp.sla_touched_keys', -1)}")
    con.execute(f"DELETE FROM sla_results WHERE {is_touched}")
    _engine_pass(con, engine, as_of, "temp.sla_touched")
    step("engine_and_results")
    con.execute(f"CREATE OR REPLACE TEMP TABLE sla_touched_keys AS SELECT {_KEYS} FROM sla_results WHERE {is_touched}")
    con.execute(f"INSERT INTO temp.sla_key_changes {_key_groups('temp.sla_touched_keys')}")
    con.execute("DROP TABLE temp.sla_touched_keys")
    _write_key_counts(con, "temp.sla_key_changes")
    con.execute("DROP TABLE temp.sla_key_changes")
    _set_result_set(con, engine, as_of, run_id)
    statuses, month_rows = _write_figures(con, as_of, run_id)
    dossiers = sum(statuses.values())
    con.execute("DROP TABLE temp.sla_touched")
    con.execute("DROP TABLE temp.sla_pass_dossiers")
    step("month_stats")
    _finish_run(con, run_id, dossiers)
    return run_id, dossiers, statuses, month_rows, touched


def recompute(store: Any, engine: Engine, as_of: dt.datetime | dt.date | str, full: bool = True) -> dict[str, Any]:
    """Bring the SLA results and every figure derived from them to `as_of`, in one transaction.

    full: replace every result (one pass of the engine over every dossier); otherwise judge again
    only what changed since the stored results when that gives the same tables (refresh_plan:
    same engine, same day), else replace everything and say why (`full_reason`). Each result is
    written with its month, audit and sync keys (store/vendor.py); the per-agency month tables
    (agency_month_stats, the dashboard's audit and sync counts) are counted from the key counts
    alone. Records an sla_runs row, the rule versions and the agency numbering used. Any failure
    (or Ctrl-C) leaves the previous results untouched. Last, a checkpoint frees the previous
    results' blocks in the file for the next recompute (Store.checkpoint; `checkpointed` False when
    a concurrent reader made DuckDB refuse it, left to the owner's retry). Returns JSON-able counts,
    `kind` (full | incremental), `judged` (dossiers the engine judged), the time of each step,
    `sla_duration_s` (everything, committed) and `duration_s` (with the checkpoint).
    """
    as_of = to_local_naive(as_of)
    t0 = time.perf_counter()
    steps: dict[str, float] = {}
    mark = [t0]

    def step(name: str) -> None:
        now = time.perf_counter()
        steps[name] = round(now - mark[0], 3)
        mark[0] = now

    kind, why = "full", "asked for" if full else ""
    with store.transaction() as con:
        facts_filled, facts_redone = dossier_facts.fill(con)
        step("facts")
        done = None
        if not full:
            prev = _previous(con)
            kind, why = _plan(prev, engine, as_of)
            if kind == "incremental" and facts_redone:
                kind, why = "full", "the dossiers' stored facts are computed differently since the last refresh"
            if kind == "incremental":
                done = _incremental(con, engine, prev, as_of, step)
                if done is None:
                    kind, why = "full", f"more than {INCREMENTAL_SHARE:.0%} of the dossiers changed"
        if done is None:
            run_id, dossiers, statuses, month_rows = _compute(con, store, engine, as_of, step, flush=True)
            judged = dossiers
        else:
            run_id, dossiers, statuses, month_rows, judged = done
    step("commit")
    sla_duration = time.perf_counter() - t0
    # the previous results' blocks are free for the next recompute only after a checkpoint
    checkpointed = store.checkpoint() if kind == "full" else None
    step("checkpoint")
    return {
        "run_id": run_id,
        "kind": kind,
        **({"full_reason": why} if kind == "full" else {}),
        "rule_set": engine.name,
        "as_of": as_of.isoformat(sep=" "),
        "dossiers": dossiers,
        "judged": judged,
        "facts_filled": facts_filled,
        "statuses": statuses,
        "month_stats_rows": month_rows,
        "duration_s": round(time.perf_counter() - t0, 3),
        "sla_duration_s": round(sla_duration, 3),
        "checkpointed": checkpointed,
        "steps_s": steps,
    }


def figures_at(store: Any, engine: Engine, as_of: dt.datetime | dt.date | str,
               reads: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    """The named queries' answers as a recompute at `as_of` would leave the store, with nothing
    stored: the recompute runs in a transaction that is rolled back once the queries have read it
    (the dashboard and every other reader keep the stored figures meanwhile)."""
    as_of = to_local_naive(as_of)
    with store.scratch() as con:
        dossier_facts.fill(con)
        _compute(con, store, engine, as_of, lambda _name: None, flush=False)
        return [store.query_in(con, name, **params) for name, params in reads]
