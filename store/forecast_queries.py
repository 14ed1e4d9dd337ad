"""The month-end forecast: the on-time ratio and the 766 progress score of a month as they stand,
at best and at worst, per agency and for the province.

  month_forecast(month, agency=None, score_denominator=...)

As it stands: Biểu 06's rows for the month (store/queries.py bieu06, by agency, rolled up; read
from agency_month_stats as the last recompute left them). While the month is in progress (its first
instant at or before the stored results' as_of, its end after it), two readings of the dossiers
pending at as_of:

- best: every pending dossier in time (waiting for a supplement and without a deadline included)
  is resolved by its deadline, in this month: resolved on time. The overdue ones stay pending
  (resolving them could only lower the ratio).
- worst: every pending dossier whose deadline (late_from) falls before the month's end is resolved
  late in this month, the overdue ones too; the others stay pending. A dossier whose clock is
  stopped by an open supplement request, or without a deadline, cannot become late in the month
  (it is not counted as due).

Dossiers received after as_of are unknown and not counted. A month over (or not begun) at as_of
has best = worst = as it stands. The readings change only the resolved and pending columns, never
the score's denominator (received, carried over).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from sla_rules.constants import FLAG_STOPPED
from store.queries import (DEFAULT_SCORE_DENOMINATOR, SCORE_DENOMINATORS, _bieu06_params, _bieu06_sql,
                           _denominator, _month, _next_month, _run, ratios_sql)
from store.reference import agency_tree_ctes
from store.registry import Table, named_query
from store.month_key import key_field_sql
from store.sla import data_as_of


# Codes seen in the month's figures or among the dossiers due: nodes even when unknown to the
# reference data, as bieu06 makes them.
_CODES = "SELECT agency_code FROM due_src UNION SELECT agency_code FROM agency_month_stats WHERE month = $month"


def _due_sql() -> str:
    """Per node of the agency subtree (agency_path's order) and a total row: the dossiers pending at
    $as_of, in time, whose deadline falls before the month's end ($next_month), rolled up along the
    tree of $tree_date as bieu06 rolls up the month's figures.

    Pending and in time as the monthly figures count it: from the facts the recompute packed in
    month_key (store/month_key.py: counted, so not excluded and received before as_of; R = 0, not resolved
    before as_of; L = 0, not late by as_of) and its agency (sla_agencies), which agency_month_stats
    is counted from; and no open request (flag STOPPED). A row without those keys (not written by a
    recompute) is judged from its dossier by the same rules (month_keys_sql), as refresh_month_stats
    counts it. Reading sla_results alone keeps the query off the dossiers table."""
    due = (f"$open AND s.status <> 'excluded' AND coalesce(s.flags & {FLAG_STOPPED}, 0) = 0 "
           f"AND s.late_from > $as_of AND s.late_from < $next_month")
    due_src = f"""
        SELECT agency_code, count(*) AS due FROM (
            SELECT a.agency_code
            FROM sla_results s JOIN sla_agencies a ON a.agency_ix = s.agency_ix
            WHERE {due} AND s.month_key IS NOT NULL
              AND {key_field_sql('rm', 's.month_key')} = 0 AND {key_field_sql('lm', 's.month_key')} = 0
            UNION ALL
            SELECT d.agency_code
            FROM sla_results s JOIN dossiers d ON d.dossier_id = s.dossier_id
            WHERE {due} AND (s.month_key IS NULL OR s.agency_ix IS NULL)
              AND d.received_at < $as_of
              AND NOT coalesce(d.state <> 'withdrawn' AND coalesce(d.finished_at, d.returned_at) < $as_of, FALSE))
        GROUP BY agency_code"""
    return f"""
    WITH RECURSIVE due_src AS MATERIALIZED ({due_src}),
    {agency_tree_ctes('$tree_date', '$follow', _CODES)},
    subtree AS (SELECT code FROM agency_up WHERE $agency IS NULL OR ancestor_code = $agency),
    scoped AS (
        SELECT due_src.* FROM due_src JOIN agency_rollup r0 ON r0.agency_code = due_src.agency_code AND r0.depth = 0
        WHERE r0.ancestor_code IN (SELECT code FROM subtree)
    ),
    per AS (
        SELECT r.ancestor_code AS key, sum(due) AS due
        FROM scoped JOIN agency_rollup r ON r.agency_code = scoped.agency_code
        GROUP BY r.ancestor_code
    )
    SELECT 'total' AS row_kind, NULL::VARCHAR AS key, NULL::VARCHAR AS path, coalesce(sum(due), 0) AS due FROM scoped
    UNION ALL
    SELECT 'agency', ap.code, ap.path, coalesce(p.due, 0)
    FROM agency_path ap LEFT JOIN per p ON p.key = ap.code
    WHERE ap.code IN (SELECT code FROM subtree)"""


@named_query("month_forecast", scope="agency", roles=("agency",), cache="until_write", scored=True)
def month_forecast(con: duckdb.DuckDBPyConnection, month: str, agency: str | None = None,
                   score_denominator: str = DEFAULT_SCORE_DENOMINATOR) -> Table:
    """The month's on-time ratio and 766 score as they stand, at best and at worst (the readings:
    the module's docstring), per agency and for the province.

    Rows as bieu06(month, by='agency', agency=agency): a total row, then one row per agency of the
    subtree in tree order, with bieu06's columns (as it stands) and:
      due_in_month         pending in time at as_of, due before the month's end (worst: late)
      best_resolved_total, best_resolved_on_time, best_pending_total, best_on_time_ratio, best_score_766
      worst_resolved_total, worst_resolved_overdue, worst_pending_total, worst_on_time_ratio, worst_score_766
      in_progress          the month is under way at as_of (otherwise best = worst = as it stands)
      as_of                the instant the figures are judged at (NULL before any recompute)
    """
    m = _month(month, "month_forecast")
    den = _denominator(score_denominator, "month_forecast")
    as_of = data_as_of(con)
    nxt = _next_month(m)
    in_progress = as_of is not None and dt.datetime.combine(m, dt.time()) <= as_of < dt.datetime.combine(nxt, dt.time())
    params: dict[str, Any] = {**_bieu06_params(m, agency, True, False), "as_of": as_of,
                              "next_month": dt.datetime.combine(nxt, dt.time()), "open": in_progress}
    den_sql = SCORE_DENOMINATORS[den]
    good = "resolved_early + resolved_on_time"
    # best: the pending in time join the resolved on time; worst: the overdue and those due in the month
    # join the resolved overdue. Outside the month's course pit and late are 0: the figures as they stand.
    return _run(con, f"""
        WITH f AS (
            SELECT b.*, d.path, CAST(coalesce(d.due, 0) AS BIGINT) AS due_in_month,
                   CASE WHEN $open THEN b.pending_in_time ELSE 0 END AS pit,
                   CASE WHEN $open THEN b.pending_overdue + coalesce(d.due, 0) ELSE 0 END AS late
            FROM ({_bieu06_sql('agency', score_denominator=den)}) b
            LEFT JOIN ({_due_sql()}) d ON d.row_kind = b.row_kind AND d.key IS NOT DISTINCT FROM b.key
        )
        SELECT row_kind, key, name, level, depth, parent_code, received_total, received_online,
               received_direct_postal, carried_over, resolved_total, resolved_early, resolved_on_time,
               resolved_overdue, pending_total, pending_in_time, pending_overdue, on_time_ratio, score_766,
               due_in_month,
               resolved_total + pit AS best_resolved_total, resolved_on_time + pit AS best_resolved_on_time,
               pending_total - pit AS best_pending_total,
               {ratios_sql(good + ' + pit', 'resolved_total + pit', den_sql, 'best_')},
               resolved_total + late AS worst_resolved_total, resolved_overdue + late AS worst_resolved_overdue,
               pending_total - late AS worst_pending_total,
               {ratios_sql(good, 'resolved_total + late', den_sql, 'worst_')},
               $open AS in_progress, CAST($as_of AS TIMESTAMP) AS as_of
        FROM f
        ORDER BY row_kind <> 'total', path NULLS LAST, key""", params)
