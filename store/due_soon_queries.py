"""Dossiers due soon (sắp đến hạn): the working time left to each pending dossier's deadline.

  due_soon(agency=None, days=2, as_of=None, limit=200, rollup=True)   the list, most urgent first
  due_soon_by_agency(agency=None, days=2, as_of=None)                  counts per agency, and the total

A dossier is due soon at `as_of` (default: now) when, as the last refresh knows it, it is pending at
that instant (not resolved by then; not waiting for a supplement: its clock is stopped), its deadline
has not passed yet, and the
working time left until the deadline is at most `days` office days. Working time passes only on the
working days of the calendar the results were judged with (sla_calendar) and inside the office
sessions of the dossier's rule version (sla_rule_versions), counted by the engine's own definition
of office time (sla_rules.constants.office_position_sql): across weekends, holidays and the lunch
break. The deadline is the instant the dossier becomes late (late_from): a day-based deadline ends
with the office close of its due day, so nothing of the evening counts.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from config.clock import local_now
from config.vocabulary import DUE_SOON_DAYS, RESOLVED_STATUSES, quoted_list
from sla_rules.constants import office_position_sql, time_of_day_us
from store.dashboard_queries import _ts
from store.errors import QueryError
from store.queries import _AGENCY_NAMES, _flag, _in_scope, _limit, _run
from store.reference import agency_tree_ctes
from store.registry import Table, named_query
from store.sla import due_at_sql

MAX_DAYS = 60
MINUTE_US = 60_000_000


def _days(value: Any, query: str) -> float:
    try:
        n = float(value)
    except (TypeError, ValueError):
        n = -1.0
    if isinstance(value, bool) or not 0 < n <= MAX_DAYS:
        raise QueryError(f"{query}: days must be a number of working days above 0 and at most {MAX_DAYS}, "
                         f"got {value!r}")
    return n


def _instant(value: Any, query: str) -> dt.datetime:
    """`as_of` as given (a date means its first instant), or now."""
    return _ts(value, query, "as_of", optional=True) or local_now().replace(microsecond=0)


def _left_sql(con: duckdb.DuckDBPyConnection, query: str, now: dt.datetime) -> tuple[str, str]:
    """SQL over a row with received_at, late_from and the calendar facts of late_from's date
    (ld.is_working, ld.wd_index): (working µs left from `now` to late_from, µs of an office day),
    each by the dossier's rule version. A QueryError when `now` is outside the stored calendar."""
    versions = con.execute("SELECT effective_from, session_starts, session_ends FROM sla_rule_versions "
                           "ORDER BY effective_from").fetchall()
    if not versions or versions[0][1] is None:
        raise QueryError(f"{query}: the store has no calendar of the results yet; run a full recompute "
                         "(app.py sla recompute)")
    today = con.execute("SELECT is_working, wd_index FROM sla_calendar WHERE d = $d",
                        {"d": now.date()}).fetchone()
    if today is None:
        raise QueryError(f"{query}: {now:%Y-%m-%d} is outside the calendar the results were judged with")
    tod_now = time_of_day_us(now.time())
    late_tod = f"(epoch_us(s.late_from) - epoch_us(date_trunc('day', s.late_from)))"
    lefts, days = [], []
    for eff, starts, ends in versions:
        sessions = [(time_of_day_us(a), time_of_day_us(b)) for a, b in zip(starts, ends)]
        now_pos = office_position_sql(str(tod_now), str(today[1]), "TRUE" if today[0] else "FALSE", sessions)
        late_pos = office_position_sql(late_tod, "ld.wd_index", "ld.is_working", sessions)
        lefts.append((eff, f"{late_pos} - {now_pos}"))
        days.append((eff, str(sum(b - a for a, b in sessions))))

    def by_version(exprs: list[tuple[dt.datetime, str]]) -> str:
        if len(exprs) == 1:
            return f"({exprs[0][1]})"
        whens = " ".join(f"WHEN d.received_at >= TIMESTAMP '{eff.isoformat(sep=' ')}' THEN {e}"
                         for eff, e in reversed(exprs[1:]))
        return f"(CASE {whens} ELSE {exprs[0][1]} END)"

    return by_version(lefts), by_version(days)


def _with(agency: str | None) -> str:
    """The WITH clause: the agency tree only when an agency narrows the answer (building it costs
    more than the rest of the query at ten million dossiers), the agencies' names always."""
    tree = f"RECURSIVE {agency_tree_ctes('$tree_date', False)}, " if agency else ""
    return f"WITH {tree}{_AGENCY_NAMES}"


def _scope_sql(agency: str | None, col: str, rollup: bool = True) -> str:
    return _in_scope(col, rollup) if agency else "TRUE"


def _due_soon_sql(con: duckdb.DuckDBPyConnection, query: str, now: dt.datetime, days: float) -> str:
    """SELECT of the due-soon dossiers at `now` (every agency): their row, deadline and time left."""
    left, day = _left_sql(con, query, now)
    # A superset first, on the deadline alone: nothing later than the working day after the
    # `days`-th from today can have at most `days` office days left.
    bound = f"""(SELECT coalesce(min(d) FILTER (WHERE is_working AND wd_index >= (
                     SELECT wd_index FROM sla_calendar WHERE d = DATE '{now.date()}') + {int(days) + 2}), max(d) + 1)
                 FROM sla_calendar)"""
    due_at = due_at_sql(con, "s.late_from", "d.time_unit", "d.time_limit", "d.received_at")
    return f"""
        SELECT d.dossier_code, d.agency_code, d.procedure_code, d.received_at, {due_at} AS due_at, s.late_from,
               {left} AS left_us, {day} AS day_us
        FROM sla_results s
        JOIN dossiers d ON d.dossier_id = s.dossier_id
        JOIN sla_calendar ld ON ld.d = CAST(s.late_from AS DATE)
        WHERE (s.status IN ('pending_in_time', 'pending_overdue')
               OR (s.status IN ({quoted_list(RESOLVED_STATUSES)})
                   AND coalesce(d.finished_at, d.returned_at) > TIMESTAMP '{now.isoformat(sep=' ')}'))
          AND s.late_from > TIMESTAMP '{now.isoformat(sep=' ')}'
          AND d.received_at <= TIMESTAMP '{now.isoformat(sep=' ')}'
          AND s.late_from < CAST({bound} AS TIMESTAMP)
          AND {left} <= {days} * {day}"""


@named_query("due_soon", scope="agency", roles=("agency",))
def due_soon(con: duckdb.DuckDBPyConnection, agency: str | None = None, days: float = DUE_SOON_DAYS, as_of: str | None = None,
             limit: int = 200, rollup: bool = True) -> Table:
    """Pending dossiers due within `days` working days of `as_of` (default now), most urgent first:
    agency, procedure, deadline (due_at), and the working time left (working_minutes_left, and
    working_days_left in office days of the dossier's rule version)."""
    n, d = _limit(limit, "due_soon"), _days(days, "due_soon")
    now = _instant(as_of, "due_soon")
    return _run(con, f"""
        {_with(agency)},
        o AS ({_due_soon_sql(con, 'due_soon', now, d)})
        SELECT o.dossier_code, o.agency_code, an.name AS agency_name, o.procedure_code, pr.name AS procedure_name,
               o.received_at, o.due_at, o.late_from,
               CAST(o.left_us // {MINUTE_US} AS BIGINT) AS working_minutes_left,
               round(o.left_us / o.day_us, 2) AS working_days_left,
               CAST(o.day_us // {MINUTE_US} AS BIGINT) AS office_day_minutes,
               TIMESTAMP '{now.isoformat(sep=' ')}' AS as_of
        FROM o LEFT JOIN agency_names an ON an.code = o.agency_code
        LEFT JOIN procedures pr ON pr.code = o.procedure_code
        WHERE {_scope_sql(agency, 'o.agency_code', _flag(rollup))}
        ORDER BY o.left_us, o.late_from, o.dossier_code
        LIMIT {n}""", {"agency": agency or None, "tree_date": now.date()})


@named_query("due_soon_by_agency", scope="agency", roles=("agency",))
def due_soon_by_agency(con: duckdb.DuckDBPyConnection, agency: str | None = None, days: float = DUE_SOON_DAYS,
                       as_of: str | None = None) -> Table:
    """Due-soon dossiers per agency (the dossier's own agency, within `agency`'s subtree when
    given) and a total row: `due_soon` within `days` working days, `due_within_one_day` within
    one, and the most urgent one's working minutes left (and its office day's length in minutes).
    Agencies with none are not listed."""
    d = _days(days, "due_soon_by_agency")
    now = _instant(as_of, "due_soon_by_agency")
    return _run(con, f"""
        {_with(agency)},
        o AS ({_due_soon_sql(con, 'due_soon_by_agency', now, d)})
        SELECT CASE WHEN grouping(o.agency_code) = 0 THEN 'agency' ELSE 'total' END AS row_kind,
               o.agency_code, CASE WHEN grouping(o.agency_code) = 0 THEN any_value(an.name) END AS agency_name,
               count(*) AS due_soon,
               count(*) FILTER (WHERE o.left_us <= o.day_us) AS due_within_one_day,
               CAST(min(o.left_us) // {MINUTE_US} AS BIGINT) AS min_working_minutes_left,
               CAST(arg_min(o.day_us, o.left_us) // {MINUTE_US} AS BIGINT) AS office_day_minutes,
               TIMESTAMP '{now.isoformat(sep=' ')}' AS as_of, CAST({d} AS DOUBLE) AS days
        FROM o LEFT JOIN agency_names an ON an.code = o.agency_code
        WHERE {_scope_sql(agency, 'o.agency_code')}
        GROUP BY GROUPING SETS ((o.agency_code), ())
        ORDER BY row_kind = 'agency', due_soon DESC, o.agency_code""", {"agency": agency or None,
                                                                        "tree_date": now.date()})

