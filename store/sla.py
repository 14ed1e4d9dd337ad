"""Recomputing every dossier's deadline and status, and the monthly figures built on them.

`recompute(store, engine, as_of)` replaces `dossier_sla` from `dossiers` (+ `dossier_events`) with
the SLA engine's output, in one transaction, records an `sla_runs` row and rebuilds the per-agency
monthly table `agency_month_stats`.

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
  when cut >= late_from, in time otherwise. A dossier waiting for a supplement at the cut (latest
  request before the cut, complete dossier not back before it) counts as pending **in time**: its
  clock is stopped and restarts from zero (ND 61 art. 19.4).
- A dossier without a deadline (engine status no_deadline: time limit missing or invalid) cannot
  be late: resolved, it counts as on time; pending, as in time. store_stats counts them
  (dossiers_no_deadline) so the data gap stays visible.
So received_total = online + direct/postal + carried over = resolved_total + pending_total.
Pending dossiers are judged against their final late_from (the clock after their last restart,
as known at recompute time).
"""
from __future__ import annotations

import datetime as dt
import time
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import duckdb

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

ENGINE_INPUT_COLUMNS = ["dossier_code", "received_at", "time_limit", "time_unit", "supplement_requested_at",
                        "supplement_received_at", "extended_due_at", "finished_at", "returned_at", "state"]
DOSSIER_SLA_COLUMNS = ["dossier_code", "rule_version", "clock_start_at", "due_date", "due_at", "late_from",
                       "final_status", "status", "computed_as_of"]
STAT_COLUMNS = ["received_total", "received_online", "received_direct_postal", "carried_over",
                "resolved_total", "resolved_early", "resolved_on_time", "resolved_overdue",
                "pending_total", "pending_in_time", "pending_overdue"]


class Engine(Protocol):
    """What recompute needs from sla_rules.engine.SlaEngine (contract 2)."""

    name: str

    def install(self, con: duckdb.DuckDBPyConnection) -> None: ...
    def compute_sql(self, source: str, as_of: dt.datetime, events: str | None = None,
                    with_reasons: bool = False, lang: str = "vi") -> str: ...


def _now() -> dt.datetime:
    return dt.datetime.now(LOCAL_TZ).replace(tzinfo=None)


def to_local_naive(value: dt.datetime | dt.date | str) -> dt.datetime:
    """An instant as the store keeps it: naive local time. A bare date means the end of that day."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = dt.datetime.fromisoformat(text) if len(text) > 10 else dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"as_of must be an ISO date or date-time, got {value!r}") from None
    if isinstance(value, dt.datetime):
        return value.astimezone(LOCAL_TZ).replace(tzinfo=None) if value.tzinfo else value
    return dt.datetime.combine(value, dt.time.max)


# -- per dossier and month ------------------------------------------------------------------

def month_facts_sql(as_of: str = "$as_of", m_from: str = "$m_from", m_to: str = "$m_to") -> str:
    """SELECT of one row per (counted dossier, month it is open in), with the Biểu 06 flags.

    Arguments are SQL expressions: the cut instant (TIMESTAMP) and the first and last month
    (DATE, first of month) to produce; a NULL month bound means unbounded. Columns: dossier and
    SLA columns, month, cut, is_received, is_carried, is_resolved, is_pending, is_waiting,
    is_pending_overdue.
    """
    return f"""
    WITH sup_ev AS (
        SELECT dossier_code,
               max("at") FILTER (WHERE event = 'supplement_requested') AS ev_req,
               max("at") FILTER (WHERE event = 'supplement_received') AS ev_rcv
        FROM dossier_events
        WHERE event IN ('supplement_requested', 'supplement_received')
        GROUP BY dossier_code
    ),
    base AS (
        SELECT d.dossier_code, d.agency_code, d.procedure_code, d.field, d.channel, d.source_system,
               d.received_at,
               CASE WHEN d.state IN ('finished', 'returned') AND coalesce(d.finished_at, d.returned_at) <= {as_of}
                    THEN greatest(coalesce(d.finished_at, d.returned_at), d.received_at) END AS resolved_at,
               coalesce(s.final_status, 'on_time') AS final_status,  -- no deadline: cannot be late
               s.status, s.due_date, s.due_at, s.late_from,
               greatest(d.supplement_requested_at, e.ev_req) AS sup_req,
               greatest(d.supplement_received_at, e.ev_rcv) AS sup_rcv
        FROM dossiers d
        JOIN dossier_sla s USING (dossier_code)
        LEFT JOIN sup_ev e USING (dossier_code)
        WHERE d.state NOT IN ('withdrawn', 'rejected') AND s.status <> 'excluded'
          AND d.received_at < {as_of}
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
               resolved_at IS NULL OR resolved_at >= cut AS is_pending,
               sup_req IS NOT NULL AND sup_req < cut
                   AND NOT coalesce(sup_rcv >= sup_req AND sup_rcv < cut, FALSE) AS is_waiting
        FROM cut
    )
    SELECT *,
           is_pending AND NOT is_waiting AND late_from IS NOT NULL AND cut >= late_from AS is_pending_overdue
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


def refresh_month_stats(con: duckdb.DuckDBPyConnection, as_of: dt.datetime) -> int:
    """Rebuild agency_month_stats from dossiers + dossier_sla at `as_of`. Returns rows written.

    Run inside the caller's transaction (recompute does); also usable on its own.
    """
    con.execute("DELETE FROM agency_month_stats")
    con.execute(f"""
        INSERT INTO agency_month_stats (month, agency_code, {', '.join(STAT_COLUMNS)}, as_of)
        SELECT month, agency_code, {COUNTS_SQL}, $as_of
        FROM ({month_facts_sql()}) f
        GROUP BY month, agency_code""", {"as_of": as_of, "m_from": None, "m_to": None})
    return con.execute("SELECT count(*) FROM agency_month_stats").fetchone()[0]


def data_as_of(con: duckdb.DuckDBPyConnection) -> dt.datetime | None:
    """The as_of of the statuses in dossier_sla (the last recompute), None when empty."""
    return con.execute("SELECT max(computed_as_of) FROM dossier_sla").fetchone()[0]


# -- recompute ----------------------------------------------------------------------------------

def _empty_dossier_sla(con: duckdb.DuckDBPyConnection) -> None:
    """Empty dossier_sla by re-creating it from its own definition in the catalog.

    DELETE followed by re-inserting the same primary keys in one transaction is pathological in
    DuckDB at our scale (10 million rows: out of memory at 1 GB, minutes at best); dropping and
    re-creating the table inside the transaction costs nothing and keeps the schema's definition
    (001_initial.sql) the only one.
    """
    ddl = con.execute("SELECT sql FROM duckdb_tables() WHERE table_name = 'dossier_sla' "
                      "AND schema_name = 'main' AND NOT temporary").fetchone()[0]
    con.execute("DROP TABLE main.dossier_sla")
    con.execute(ddl)


def recompute(store: Any, engine: Engine, as_of: dt.datetime | dt.date | str) -> dict[str, Any]:
    """Replace dossier_sla with the engine's output at `as_of`, in one transaction.

    Records an sla_runs row and rebuilds agency_month_stats. Any failure (or Ctrl-C) leaves the
    previous results untouched. Returns JSON-able counts.
    """
    as_of = to_local_naive(as_of)
    t0 = time.perf_counter()
    cols = ", ".join(DOSSIER_SLA_COLUMNS)
    with store.transaction() as con:
        engine.install(con)
        con.execute(f"CREATE OR REPLACE TEMP VIEW v_sla_input AS SELECT {', '.join(ENGINE_INPUT_COLUMNS)} FROM dossiers")
        con.execute('CREATE OR REPLACE TEMP VIEW v_sla_events AS SELECT dossier_code, event, "at" FROM dossier_events')
        run_id = con.execute("SELECT nextval('sla_run_seq')").fetchone()[0]
        # Python's clock: DuckDB's localtimestamp is the transaction's start, the same at both ends.
        con.execute("INSERT INTO sla_runs (run_id, rule_set, as_of, started_at) VALUES (?, ?, ?, ?)",
                    [run_id, engine.name, as_of, _now()])
        _empty_dossier_sla(con)
        sql = engine.compute_sql("v_sla_input", as_of, events="v_sla_events")
        con.execute(f"INSERT INTO dossier_sla ({cols}) SELECT {cols} FROM ({sql}) AS engine_output")
        statuses = dict(con.execute(
            "SELECT status, count(*) FROM dossier_sla GROUP BY status ORDER BY status").fetchall())
        dossiers = sum(statuses.values())
        month_rows = refresh_month_stats(con, as_of)
        con.execute("UPDATE sla_runs SET finished_at = ?, dossiers = ? WHERE run_id = ?",
                    [_now(), dossiers, run_id])
    return {
        "run_id": run_id,
        "rule_set": engine.name,
        "as_of": as_of.isoformat(sep=" "),
        "dossiers": dossiers,
        "statuses": statuses,
        "month_stats_rows": month_rows,
        "duration_s": round(time.perf_counter() - t0, 3),
    }
