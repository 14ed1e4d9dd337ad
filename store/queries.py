"""The store's answers: named queries for reports, the dashboard, audits and the CLI.

Every query takes plain JSON-able parameters (str, int, bool, None) and returns a `Table`.
Counting rules of the monthly figures: see store/sla.py (module docstring); agency roll-up rules:
see store/reference.py. Month parameters are 'YYYY-MM' (local time). Bad parameters raise
QueryError (store/errors.py) naming the query and the parameter.

  bieu06(month, by='agency', agency=None, rollup=True, follow_successor=False)   Biểu số 06 rows
  agency_ratio_month(month, limit=20, worst_first=True, level=None, rollup=True, min_resolved=1,
                     follow_successor=False)                  the dashboard's ranking (aggregate table)
  province_month_series(months=12, end_month=None), province_month(month)          trend, one month
    (these four, declared scored, also take score_denominator: SCORE_DENOMINATORS, the 766 score's
    denominator)
  figures_provenance(), sla_rule_versions()     the as_of, run and rule versions the figures come from
  audit_dossiers(month=None, agency=None, kind=None, limit=200, rollup=True)   vendor vs recomputed
  audit_by_agency(month=None, agency=None), vendor_statuses()
  audit_findings(month=None, agency=None, finding=None, limit=200, rollup=True)   the engine's findings
  sync_unsynced(agency=None, source_system=None, limit=200, rollup=True), sync_by_agency(month=None)
  dossiers_overdue(agency=None, month=None, limit=200, rollup=True)
  dossier_detail(code), dossier_events(code)
  quarantine_list(file_sha256=None, limit=200), import_batches(limit=20), sla_runs(limit=20), store_stats()
  (store/reference.py:) agencies_current(as_of=None), agency_history(code=None),
  rollup(as_of=None, follow_successor=False), procedures(field=None)
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

import duckdb

from config.clock import local_now, local_today
from config.index766 import PROGRESS_MAX
from config.vocabulary import EXCLUDED_STATES, RESOLVED_STATES, quoted_list
from sla_rules.constants import FLAG_NEGATIVE_LATE
from store.errors import QueryError
from store.reference import agency_tree_ctes, natural_key_sql
from store.registry import Table, named_query, run
from store.month_key import key_field_sql, key_month_sql
from store.sla import COUNTS_SQL, SLA_ROWS_SQL, STAT_COLUMNS, data_as_of, due_at_sql, month_facts_sql
from store.vendor import (AUDIT_COUNTS, AUDIT_FINDINGS, AUDIT_KINDS, FINDING_COUNTS, FINDINGS_MASK, SYNC_COUNTS,
                          SYNC_PROBLEMS, SYNC_STATUS_CLASSES, VENDOR_STATUS_CLASSES, audit_facts_sql,
                          bucket_differs_sql, class_mask_sql, classes_sql, classify_sql, due_bucket_sql, kind_name_sql,
                          sync_problem_sql, vendor_classes_sql)

BIEU06_DIMENSIONS = {"agency": None, "field": "field", "procedure": "procedure_code", "channel": "channel"}
MAX_LIMIT = 100_000


# -- parameters -------------------------------------------------------------------------------

def _month(value: Any, query: str, name: str = "month") -> dt.date:
    if isinstance(value, dt.date):
        return value.replace(day=1)
    m = re.fullmatch(r"\s*(\d{4})-(\d{1,2})\s*", str(value or ""))
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise QueryError(f"{query}: {name} must be a month YYYY-MM, got {value!r}")
    return dt.date(int(m.group(1)), int(m.group(2)), 1)


def _opt_month(value: Any, query: str, name: str = "month") -> dt.date | None:
    return None if value in (None, "") else _month(value, query, name)


def _next_month(m: dt.date) -> dt.date:
    return dt.date(m.year + m.month // 12, m.month % 12 + 1, 1)


def _month_end(m: dt.date) -> dt.date:
    """Last day of the month: the date of the agency tree used for that month."""
    return _next_month(m) - dt.timedelta(days=1)


def _int(value: Any, query: str, name: str, lo: int, hi: int) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = lo - 1
    if not lo <= n <= hi or isinstance(value, bool):
        raise QueryError(f"{query}: {name} must be a whole number from {lo} to {hi}, got {value!r}")
    return n


def _limit(value: Any, query: str) -> int:
    return _int(value, query, "limit", 1, MAX_LIMIT)


def _choice(value: Any, allowed: list[str] | dict[str, Any], query: str, name: str) -> Any:
    if value not in allowed:
        raise QueryError(f"{query}: {name} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


# -- shared SQL pieces --------------------------------------------------------------------------

def _run(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> Table:
    """run() with only the parameters the SQL uses (DuckDB refuses unused ones)."""
    used = set(re.findall(r"\$(\w+)", sql))
    return run(con, sql, {k: v for k, v in params.items() if k in used})


def _ratio(num: str, den: str) -> str:
    return f"CASE WHEN {den} > 0 THEN ({num}) / CAST({den} AS DOUBLE) END"


# The 766 progress score's denominator (setting reports.score_766.denominator, config/app.py): the
# official formula is not published, and a public re-implementation divides by "dossiers received"
# without saying whether those carried over from the last period count.
SCORE_DENOMINATORS = {
    "received_and_carried": "received_total",                            # online + direct/postal + carried over
    "received": "(received_online + received_direct_postal)",            # received in the period only
}
DEFAULT_SCORE_DENOMINATOR = "received_and_carried"


def ratios_sql(good: str, resolved: str, den: str, prefix: str = "") -> str:
    """<prefix>on_time_ratio = good / resolved and <prefix>score_766 = 20 × good / den (the 766
    progress score: PROGRESS_MAX points), from SQL expressions of the dossiers resolved early or on
    time, all resolved, and the score's denominator. Both are NULL, not 0, while nothing is
    resolved: no dossier has been judged yet, so there is no progress to score (and none to rank
    last)."""
    return (f"{_ratio(good, resolved)} AS {prefix}on_time_ratio, "
            f"CASE WHEN {resolved} > 0 THEN {_ratio(f'{PROGRESS_MAX!r} * ({good})', den)} END AS {prefix}score_766")


def _ratios(score_denominator: str = DEFAULT_SCORE_DENOMINATOR) -> str:
    """on_time_ratio and score_766 of the month's counts (ratios_sql)."""
    return ratios_sql("resolved_early + resolved_on_time", "resolved_total", SCORE_DENOMINATORS[score_denominator])


def _denominator(value: Any, query: str) -> str:
    return _choice(value or DEFAULT_SCORE_DENOMINATOR, SCORE_DENOMINATORS, query, "score_denominator")


def _sums(prefix: str = "") -> str:
    return ", ".join(f"CAST(coalesce(sum({prefix}{c}), 0) AS BIGINT) AS {c}" for c in STAT_COLUMNS)


_SUMS = _sums()
_COLS = ", ".join(STAT_COLUMNS)
_ZEROS = ", ".join(f"coalesce(p.{c}, 0) AS {c}" for c in STAT_COLUMNS)

# Latest name/level of every agency code (closed agencies keep their last name).
_AGENCY_NAMES = """agency_names AS (
    SELECT code, arg_max(name, valid_from) AS name, arg_max(level, valid_from) AS level
    FROM agencies GROUP BY code)"""


def _in_scope(col: str, rollup: bool = True) -> str:
    """`col` is $agency or (rollup) a code counted under $agency on the tree (needs agency_rollup)."""
    if not rollup:
        return f"($agency IS NULL OR {col} = $agency)"
    return (f"($agency IS NULL OR {col} = $agency OR {col} IN "
            f"(SELECT agency_code FROM agency_rollup WHERE ancestor_code = $agency))")


# -- narrowing the SLA results before counting ------------------------------------------------
#
# sla_results holds, beside each status, the dossier's months packed in month_key (store/month_key.py:
# the month received, and resolved before as_of) and its agency as numbered in sla_agencies. A query about one
# month and some agencies first keeps the rows that can count there (a superset: received by the
# month's end, not resolved before it, agency in scope), then applies the exact rules of
# month_facts_sql to those alone. Rows the numbers cannot vouch for are always kept: no month_key
# (not written by a recompute) and dossiers changed since the last recompute.

def _scope_codes(con: duckdb.DuckDBPyConnection, agency: str | None, tree_date: dt.date,
                 follow: bool = False) -> list[str] | None:
    """Every agency code whose dossiers can count under `agency` on the tree of `tree_date` (the
    agency itself, its subtree and, with follow, agencies handing over to them); None: no scope."""
    if not agency:
        return None
    rows = con.execute(f"""
        WITH RECURSIVE {agency_tree_ctes('$day', bool(follow))}
        SELECT DISTINCT agency_code FROM agency_rollup WHERE ancestor_code = $agency""",
                       {"day": tree_date, "agency": agency}).fetchall()
    return sorted({agency, *(r[0] for r in rows)})


_CHANGED_SINCE_RECOMPUTE = """dossier_id IN (SELECT dossier_id FROM dossiers WHERE updated_at >
    (SELECT max(started_at) FROM sla_runs WHERE finished_at IS NOT NULL))"""


def _scoped_results_sql(con: duckdb.DuckDBPyConnection, codes: list[str] | None, month: dt.date | None = None,
                        where: str = "TRUE") -> str:
    """The rows of sla_results that can count for agencies `codes` (None: all) in `month` (None:
    any) and satisfy `where` (a condition on sla_results' own columns), plus every row whose month
    facts or agency may be out of date. A superset: the caller applies the exact rules. The
    agencies' numbers and whether any dossier changed since the recompute are looked up first, so
    the scan of sla_results filters on constants."""
    conds = [where]
    if codes is not None:
        ixs = [r[0] for r in con.execute("SELECT agency_ix FROM sla_agencies WHERE list_contains($c, agency_code)",
                                         {"c": codes}).fetchall()]
        conds.append(f"agency_ix IN ({', '.join(str(int(i)) for i in ixs)})" if ixs else "FALSE")
    as_of = data_as_of(con)
    if month is not None and as_of is not None:
        # received by the month's end, not resolved before it (month_key's layout: store/month_key.py)
        mi = month.year * 12 + month.month - 1
        f = key_month_sql(key_field_sql("fm"))
        r = key_month_sql(key_field_sql("rm"))
        conds.append(f"{f} <= {mi} AND ({r} IS NULL OR {r} >= {mi} OR {f} >= {mi})")  # R never before F
    exact = " AND ".join(f"({c})" for c in conds)
    sql = (f"SELECT * FROM sla_results WHERE (month_key IS NOT NULL AND agency_ix IS NOT NULL AND {exact}) "
           f"OR ((month_key IS NULL OR agency_ix IS NULL) AND ({where}))")
    changed = con.execute(f"SELECT count(*) FROM sla_results WHERE {_CHANGED_SINCE_RECOMPUTE}").fetchone()[0]
    return f"({sql} OR {_CHANGED_SINCE_RECOMPUTE})" if changed else f"({sql})"


# Off only to compare with counting from every row (tests).
NARROW_RESULTS = True


def _narrowed(con: duckdb.DuckDBPyConnection, agency: str | None, tree_date: dt.date, follow: bool,
              month: dt.date | None, where: str = "TRUE") -> str:
    """sla_results narrowed to `agency`'s scope, `month` and `where` (see _scoped_results_sql)."""
    if not NARROW_RESULTS:
        return "sla_results"
    return _scoped_results_sql(con, _scope_codes(con, agency, tree_date, follow), month, where)


# -- Biểu số 06/VPCP/KSTT -------------------------------------------------------------------------

def _bieu06_sql(by: str, results: str = "sla_results", score_denominator: str = DEFAULT_SCORE_DENOMINATOR,
                months: bool = False) -> str:
    """Rows of the form for $month, grouped `by`, scope $agency, roll-up $rollup, successors $follow
    (by field/procedure/channel: counted from `results`, sla_results or the rows of it in scope).
    `months` (by agency only): the rows of every month of the list $months at once, on the tree of
    $tree_date (months whose trees are the same), each row with its `month`."""
    if months and by != "agency":
        raise ValueError("_bieu06_sql: several months at once only by agency")
    # one month is the list of it: the same statement either way
    mo, mo_sel, mo_key = ("month, ", "month, ", "month, ") if months else ("", "", "")
    if by == "agency":
        where = "list_contains($months, month)" if months else "month = $month"
        src = f"SELECT {mo}agency_code, agency_code AS key, {_COLS} FROM agency_month_stats WHERE {where}"
    else:
        src = (f"SELECT agency_code, {BIEU06_DIMENSIONS[by]} AS key, {COUNTS_SQL} "
               f"FROM ({month_facts_sql('$as_of', '$month', '$month', results)}) f GROUP BY ALL")
    # by agency, the report covers the subtree and rollup decides what each row adds up; by
    # field/procedure/channel, rollup decides whether the agency's subtree is counted or only itself.
    scope = ("r0.ancestor_code IN (SELECT code FROM subtree)" if by == "agency" else
             "(($rollup AND r0.ancestor_code IN (SELECT code FROM subtree)) OR $agency IS NULL "
             "OR r0.ancestor_code = $agency)")
    head = f"""
    WITH RECURSIVE src AS ({src}),
    {agency_tree_ctes('$tree_date', '$follow', 'SELECT agency_code FROM src')},
    subtree AS (SELECT code FROM agency_up WHERE $agency IS NULL OR ancestor_code = $agency),
    scoped AS (
        SELECT src.* FROM src JOIN agency_rollup r0 ON r0.agency_code = src.agency_code AND r0.depth = 0
        WHERE {scope}
    ),
    total AS (
        SELECT {mo_sel}'total' AS row_kind, NULL::VARCHAR AS key, NULL::VARCHAR AS name, NULL::VARCHAR AS level,
               NULL::INTEGER AS depth, NULL::VARCHAR AS parent_code, NULL::VARCHAR AS sort_key, {_SUMS}
        FROM {"(SELECT unnest($months) AS month) mm LEFT JOIN scoped USING (month) GROUP BY month" if months
              else "scoped"}
    )"""
    if by == "agency":
        rows = f"""
    per AS (
        SELECT {mo_key}r.ancestor_code AS key, {_SUMS}
        FROM scoped JOIN agency_rollup r ON r.agency_code = scoped.agency_code
        WHERE $rollup OR r.depth = 0
        GROUP BY {mo_key}r.ancestor_code
    ),
    keys AS (
        SELECT {mo}code AS key FROM agency_node {", (SELECT unnest($months) AS month) mm" if months else ""}
        WHERE is_valid AND name IS NOT NULL
        UNION SELECT {mo}key FROM per
    ),
    body AS (
        SELECT {"k.month, " if months else ""}'agency' AS row_kind, k.key, n.name, n.level,
               CAST(ap.depth AS INTEGER) AS depth, n.parent_code, ap.path AS sort_key, {_ZEROS}
        FROM keys k
        JOIN agency_node n ON n.code = k.key
        JOIN agency_path ap ON ap.code = k.key
        LEFT JOIN per p ON p.key = k.key{" AND p.month = k.month" if months else ""}
        WHERE k.key IN (SELECT code FROM subtree)
    )"""
    else:
        name = "pr.name" if by == "procedure" else "NULL::VARCHAR" if by == "channel" else "s.key"
        join = "LEFT JOIN procedures pr ON pr.code = s.key" if by == "procedure" else ""
        rows = f"""
    body AS (
        SELECT '{by}' AS row_kind, s.key, {name} AS name, NULL::VARCHAR AS level, NULL::INTEGER AS depth,
               NULL::VARCHAR AS parent_code,
               CASE WHEN s.key IS NOT NULL THEN {natural_key_sql('s.key')} || chr(2) || s.key END AS sort_key,
               s.* EXCLUDE (key)
        FROM (SELECT key, {_SUMS} FROM scoped GROUP BY key) s {join}
    )"""
    return f"""{head},{rows}
    SELECT {mo}row_kind, key, name, level, depth, parent_code, {_COLS}, {_ratios(score_denominator)}
    FROM (SELECT * FROM total UNION ALL BY NAME SELECT * FROM body)
    ORDER BY {mo}row_kind <> 'total', sort_key NULLS LAST"""


def _bieu06_params(month: dt.date, agency: str | None, rollup: Any, follow: Any) -> dict[str, Any]:
    return {"month": month, "tree_date": _month_end(month), "agency": agency or None, "rollup": _flag(rollup),
            "follow": _flag(follow)}


@named_query("bieu06", scope="agency", cache="until_write", scored=True)
def bieu06(con: duckdb.DuckDBPyConnection, month: str, by: str = "agency", agency: str | None = None,
           rollup: bool = True, follow_successor: bool = False,
           score_denominator: str = DEFAULT_SCORE_DENOMINATOR) -> Table:
    """Biểu số 06/VPCP/KSTT for one month: a total row, then one row per agency (tree order,
    siblings in natural order of name then code) or per field / procedure / channel (natural order
    of the key).

    Columns: row_kind (total|agency|field|procedure|channel), key, name, level, depth, parent_code,
    received_total, received_online, received_direct_postal, carried_over, resolved_total,
    resolved_early, resolved_on_time, resolved_overdue, pending_total, pending_in_time,
    pending_overdue, on_time_ratio ((early+on_time)/resolved), score_766 (20 × (early+on_time) /
    the score_denominator: received_total by default, see SCORE_DENOMINATORS); both NULL while
    nothing is resolved.
    by='agency' reads agency_month_stats (rebuilt by each recompute); the other groupings count
    from dossiers + dossier_sla at the same as_of. rollup=True counts each agency's descendants in
    its row; agency=CODE limits the report to that agency's subtree (or, without rollup, the agency).
    """
    m = _month(month, "bieu06")
    by = _choice(by, BIEU06_DIMENSIONS, "bieu06", "by")
    den = _denominator(score_denominator, "bieu06")
    params = _bieu06_params(m, agency, rollup, follow_successor)
    if by == "agency":
        return _run(con, _bieu06_sql(by, score_denominator=den), params)
    # counted from dossiers at the statuses' as_of, only those that can count in the month and scope
    params["as_of"] = data_as_of(con) or dt.datetime.combine(_next_month(m), dt.time())
    results = _narrowed(con, params["agency"], params["tree_date"], params["follow"], m)
    return _run(con, _bieu06_sql(by, results, den), params)


def bieu06_by_agency_months(con: duckdb.DuckDBPyConnection, months: list[dt.date], tree_date: dt.date,
                            agency: str | None = None, score_denominator: str = DEFAULT_SCORE_DENOMINATOR) -> Table:
    """bieu06(month, by="agency", agency=agency) for each of `months` at once (a `month` column
    first), for months whose agency tree is that of `tree_date` (the caller groups them): one
    statement where one per month cost its planning and its tree each time."""
    den = _denominator(score_denominator, "bieu06")
    params = _bieu06_params(months[-1], agency, True, False)
    del params["month"]
    params.update(months=list(months), tree_date=tree_date)
    return _run(con, _bieu06_sql("agency", score_denominator=den, months=True), params)


@named_query("agency_ratio_month", cache="until_write", scored=True)
def agency_ratio_month(con: duckdb.DuckDBPyConnection, month: str, limit: int = 20, worst_first: bool = True,
                       level: str | None = None, rollup: bool = True, min_resolved: int = 1,
                       follow_successor: bool = False, score_denominator: str = DEFAULT_SCORE_DENOMINATOR) -> Table:
    """The dashboard's ranking: on-time ratio per agency for one month (from agency_month_stats).

    Agencies that resolved fewer than `min_resolved` dossiers are left out. Worst first: lowest
    on-time ratio, then most overdue.
    """
    m = _month(month, "agency_ratio_month")
    n = _limit(limit, "agency_ratio_month")
    if level is not None:
        _choice(level, ["province", "department", "district", "commune", "unit"], "agency_ratio_month", "level")
    params = _bieu06_params(m, None, rollup, follow_successor)
    params.update(level=level, min_resolved=_int(min_resolved, "agency_ratio_month", "min_resolved", 0, 10**9))
    order = ("on_time_ratio ASC, resolved_overdue DESC" if _flag(worst_first)
             else "on_time_ratio DESC, resolved_total DESC")
    return _run(con, f"""
        SELECT key AS agency_code, name AS agency_name, level, parent_code, resolved_total, resolved_early,
               resolved_on_time, resolved_overdue, pending_overdue, received_total, on_time_ratio, score_766
        FROM ({_bieu06_sql('agency', score_denominator=_denominator(score_denominator, 'agency_ratio_month'))})
        WHERE row_kind = 'agency' AND resolved_total >= $min_resolved AND ($level IS NULL OR level = $level)
        ORDER BY {order}, agency_code
        LIMIT {n}""", params)


def _province_months_sql() -> str:
    return f"""
        SELECT m.month, {_sums('s.')}
        FROM (SELECT CAST(unnest(generate_series($start, $end, INTERVAL 1 MONTH)) AS DATE) AS month) m
        LEFT JOIN agency_month_stats s ON s.month = m.month
        GROUP BY m.month"""


@named_query("province_month_series", cache="until_write", scored=True)
def province_month_series(con: duckdb.DuckDBPyConnection, months: int = 12, end_month: str | None = None,
                          score_denominator: str = DEFAULT_SCORE_DENOMINATOR) -> Table:
    """The province's monthly figures for `months` months ending at end_month (default: the month
    of the last recompute's as_of), oldest first; months without data are zeros."""
    k = _int(months, "province_month_series", "months", 1, 240)
    end = _opt_month(end_month, "province_month_series", "end_month")
    if end is None:
        last = con.execute("SELECT max(as_of) FROM agency_month_stats").fetchone()[0]
        end = (last.date() if last else local_today()).replace(day=1)
    start = end
    for _ in range(k - 1):
        start = (start - dt.timedelta(days=1)).replace(day=1)
    ratios = _ratios(_denominator(score_denominator, "province_month_series"))
    return _run(con, f"SELECT month, {_COLS}, {ratios} FROM ({_province_months_sql()}) ORDER BY month",
               {"start": start, "end": end})


@named_query("province_month", cache="until_write", scored=True)
def province_month(con: duckdb.DuckDBPyConnection, month: str,
                   score_denominator: str = DEFAULT_SCORE_DENOMINATOR) -> Table:
    """The province's figures for one month (one row)."""
    m = _month(month, "province_month")
    ratios = _ratios(_denominator(score_denominator, "province_month"))
    return _run(con, f"SELECT month, {_COLS}, {ratios} FROM ({_province_months_sql()})",
               {"start": m, "end": m})


# -- audit of the vendor's figures --------------------------------------------------------------

# The SLA rows with the engine's findings (flags) beside them: read in the same scan.
_AUDIT_SLA_ROWS_SQL = SLA_ROWS_SQL.replace("FROM sla_results)", ", flags, status AS status_enum FROM sla_results)")
if _AUDIT_SLA_ROWS_SQL == SLA_ROWS_SQL:  # the audit would silently find nothing
    raise ImportError("store.sla.SLA_ROWS_SQL no longer ends with 'FROM sla_results)': add flags to the audit")


def _audit_base_sql(where: str = "TRUE") -> str:
    """One row per dossier (LEFT JOIN dossier_sla) with the vendor's and our figures, the kind
    of disagreement (NULL when they agree or we have no figures) and the engine's findings (flags,
    0 when none or not computed). The rules: store/vendor.py, as the recompute counts them."""
    f = audit_facts_sql(class_mask_sql("vc.class_ix"), "enum_code(s.status_enum)", "d.reported_due_at IS NULL",
                        "s.late_from IS NOT NULL",
                        bucket_differs_sql(due_bucket_sql("epoch_us(d.reported_due_at)", "d.time_unit", "d.time_limit"),
                                           "epoch_us(s.late_from)"))
    return f"""
    SELECT *, {kind_name_sql('kind_code')} AS kind
    FROM (
        SELECT d.dossier_code, d.agency_code, d.procedure_code, d.field, d.channel, d.state, d.time_unit,
               d.received_at,
               coalesce(d.finished_at, d.returned_at) AS resolved_at,
               d.reported_due_at, d.reported_status, vc.reported_class,
               d.time_limit, s.due_date, s.late_from, s.final_status, s.status AS sla_status,
               coalesce(s.final_status, s.status) AS recomputed_status,
               {f['our_overdue']} AS our_overdue,
               {f['reported_overdue']} AS reported_overdue,
               {f['due_differs']} AS due_differs,
               {f['status_agrees']} AS status_agrees,
               {f['kind_code']} AS kind_code,
               date_diff('day', s.due_date, CAST(d.reported_due_at AS DATE)) AS due_days_diff,
               CAST(coalesce(s.flags, 0) AS INTEGER) AS flags
        FROM dossiers d
        LEFT JOIN ({vendor_classes_sql()}) vc ON vc.status_text = d.reported_status
        LEFT JOIN {_AUDIT_SLA_ROWS_SQL} s ON s.dossier_id = d.dossier_id
        WHERE {where}
    )"""


# Audited: dossiers with recomputed figures, not withdrawn/rejected; $month: the month they were
# resolved in, or received in when not resolved.
_AUDIT_MONTH = ("($month IS NULL OR (coalesce(resolved_at, received_at) >= $month "
                "AND coalesce(resolved_at, received_at) < $month_end))")
_AUDITED = f"sla_status <> 'excluded' AND state NOT IN ({quoted_list(EXCLUDED_STATES)})"
_AUDIT_SCOPE = f"sla_status IS NOT NULL AND {_AUDITED} AND {_AUDIT_MONTH}"
# The engine's findings are counted in every dossier it judged, refusals included (a refusal after
# the deadline is one), in the audit's month.
_FINDINGS_SCOPE = f"sla_status IS NOT NULL AND (flags & {FINDINGS_MASK}) <> 0 AND {_AUDIT_MONTH}"


@named_query("audit_dossiers", scope="agency", cache="until_write")
def audit_dossiers(con: duckdb.DuckDBPyConnection, month: str | None = None, agency: str | None = None,
                   kind: str | None = None, limit: int = 200, rollup: bool = True) -> Table:
    """Dossiers whose vendor-reported due date or status disagrees with the recomputed one.

    kind: reported_overdue_resolved_on_time | reported_on_time_actually_overdue | no_reported_due |
    due_date_differs | status_differs (one kind per dossier, in that order of precedence).
    month: dossiers resolved in that month, or received in it when not resolved. agency: that agency
    and (rollup) its subtree, on the tree of the month's last day (of today without a month).
    """
    m = _opt_month(month, "audit_dossiers")
    n = _limit(limit, "audit_dossiers")
    if kind is not None:
        _choice(kind, AUDIT_KINDS, "audit_dossiers", "kind")
    return _run(con, f"""
        WITH RECURSIVE {agency_tree_ctes('$tree_date', False)}, {_AGENCY_NAMES},
        a AS ({_audit_base_sql()})
        SELECT a.dossier_code, a.agency_code, an.name AS agency_name, a.procedure_code, a.kind,
               a.reported_due_at, a.due_date, {due_at_sql(con, 'a.late_from', 'a.time_unit', 'a.time_limit', 'a.received_at')}
               AS due_at, a.due_days_diff, a.reported_status, a.reported_class,
               a.recomputed_status, a.received_at, a.resolved_at
        FROM a LEFT JOIN agency_names an ON an.code = a.agency_code
        WHERE a.kind IS NOT NULL AND {_AUDIT_SCOPE} AND ($kind IS NULL OR a.kind = $kind)
          AND {_in_scope('a.agency_code', _flag(rollup))}
        ORDER BY list_position({AUDIT_KINDS!r}, a.kind), a.agency_code, a.dossier_code
        LIMIT {n}""", {"month": m, "month_end": m and _next_month(m), "agency": agency or None, "kind": kind,
         "tree_date": _month_end(m) if m else local_today()})


@named_query("audit_findings", scope="agency")
def audit_findings(con: duckdb.DuckDBPyConnection, month: str | None = None, agency: str | None = None,
                   finding: str | None = None, limit: int = 200, rollup: bool = True) -> Table:
    """The dossiers behind audit_by_agency's finding columns: those in whose facts the engine found
    something it ignored or read otherwise (a supplement request after the deadline, a receipt with
    no request, supplement facts after the result, a processing state with a result date, a refusal
    or hand-back after the deadline), refusals included.

    finding: one of AUDIT_FINDINGS (None: any). month, agency and rollup as in audit_dossiers.
    Columns: dossier_code, agency_code, agency_name, procedure_code, procedure_name, state,
    received_at, resolved_at, due_date, recomputed_status, findings (the names, in AUDIT_FINDINGS
    order), flags. Ordered by agency, then dossier code.
    """
    m = _opt_month(month, "audit_findings")
    n = _limit(limit, "audit_findings")
    bit = AUDIT_FINDINGS[_choice(finding, list(AUDIT_FINDINGS), "audit_findings", "finding")] if finding else None
    names = ", ".join(f"CASE WHEN (a.flags & {b}) <> 0 THEN '{name}' END" for name, b in AUDIT_FINDINGS.items())
    # only dossiers with a finding go through the audit's classification (a few in a million)
    flagged = f"(coalesce(s.flags, 0) & {bit or FINDINGS_MASK}) <> 0"
    return _run(con, f"""
        WITH RECURSIVE {agency_tree_ctes('$tree_date', False)}, {_AGENCY_NAMES},
        a AS ({_audit_base_sql(flagged)})
        SELECT a.dossier_code, a.agency_code, an.name AS agency_name, a.procedure_code,
               pr.name AS procedure_name, CAST(a.state AS VARCHAR) AS state, a.received_at, a.resolved_at,
               a.due_date, a.recomputed_status, list_filter([{names}], lambda x: x IS NOT NULL) AS findings, a.flags
        FROM a LEFT JOIN agency_names an ON an.code = a.agency_code
        LEFT JOIN procedures pr ON pr.code = a.procedure_code
        WHERE {_FINDINGS_SCOPE} AND {_in_scope('a.agency_code', _flag(rollup))}
        ORDER BY a.agency_code, a.dossier_code
        LIMIT {n}""", {"month": m, "month_end": m and _next_month(m), "agency": agency or None,
                       "tree_date": _month_end(m) if m else local_today()})


# The rows both the audit's counts and the findings' are counted from, in one scan.
_AUDIT_OR_FINDINGS = (f"sla_status IS NOT NULL AND (({_AUDITED}) OR (flags & {FINDINGS_MASK}) <> 0) "
                      f"AND {_AUDIT_MONTH}")


def _audit_counts_sql() -> str:
    """The audit's counts over rows of _AUDIT_OR_FINDINGS: the comparison with the vendor only
    over the audited ones (_AUDITED), each finding over all of them."""
    a = f"({_AUDITED})"
    kinds = ", ".join(f"count(*) FILTER (WHERE {a} AND kind = '{k}') AS {k}" for k in AUDIT_KINDS)
    found = ", ".join(f"count(*) FILTER (WHERE (flags & {b}) <> 0) AS {name}" for name, b in AUDIT_FINDINGS.items())
    return f"""count(*) FILTER (WHERE {a}) AS dossiers, {kinds}, count(kind) FILTER (WHERE {a}) AS mismatches,
               count(*) FILTER (WHERE {a} AND reported_overdue) AS reported_overdue,
               count(*) FILTER (WHERE {a} AND our_overdue) AS recomputed_overdue, {found},
               count(*) FILTER (WHERE (flags & {FINDINGS_MASK}) <> 0) AS findings,
               count(*) FILTER (WHERE (flags & {FLAG_NEGATIVE_LATE}) <> 0 AND sla_status = 'overdue')
                   AS negative_counted_overdue"""


def _sync_counts_sql() -> str:
    probs = ", ".join(f"count(*) FILTER (WHERE problem = '{p}') AS {p}" for p in SYNC_PROBLEMS)
    return f"count(*) AS resolved, count(*) FILTER (WHERE problem IS NULL) AS synced_ok, {probs}, count(problem) AS unsynced"


# Off only to compare with counting from the dossiers (tests).
USE_DASHBOARD_COUNTS = True


def _dashboard_counts_valid(con: duckdb.DuckDBPyConnection) -> bool:
    """agency_month_audit/sync describe the store: written by the last finished recompute, and no
    dossier written (updated_at) or added since."""
    if not USE_DASHBOARD_COUNTS:
        return False
    try:
        row = con.execute("""
            WITH last_run AS (SELECT run_id, started_at FROM sla_runs WHERE finished_at IS NOT NULL
                              ORDER BY run_id DESC LIMIT 1)
            SELECT s.run_id = (SELECT run_id FROM last_run)
                   AND s.dossiers = (SELECT count(*) FROM dossiers)
                   AND s.max_dossier_id IS NOT DISTINCT FROM (SELECT max(dossier_id) FROM dossiers)
                   AND NOT EXISTS (SELECT 1 FROM dossiers WHERE updated_at > (SELECT started_at FROM last_run))
            FROM dashboard_counts_state s""").fetchone()
    except duckdb.CatalogException:  # a store without migration 009
        return False
    return bool(row and row[0])


def _sum_cols(cols: list[str]) -> str:
    return ", ".join(f"CAST(coalesce(sum({c}), 0) AS BIGINT) AS {c}" for c in cols)


@named_query("audit_by_agency", scope="agency", cache="until_write")
def audit_by_agency(con: duckdb.DuckDBPyConnection, month: str | None = None, agency: str | None = None) -> Table:
    """Per agency (own dossiers, no roll-up) and for the province: dossiers checked, count per kind
    of disagreement, and the vendor's overdue count against the recomputed overdue count; then the
    engine's findings in the vendor's facts, one column per AUDIT_FINDINGS name (dossiers with that
    finding, refusals included: a refusal after the deadline is one), findings (dossiers with any)
    and negative_counted_overdue (refusals after the deadline the rule set counts as resolved
    overdue; the others are left out of the ratios). Months as in the audit: a dossier counts in
    the month it was resolved in, or received in when not resolved (a processing state with a
    result date: that date's month). An agency appears when it has an audited dossier or a finding.
    agency: only that agency and its subtree (on the tree of the month's last day, of today without
    a month); the total row is then the subtree's, which is how an agency's figures roll up. Added
    up from agency_month_audit and agency_month_findings while they describe the store, else
    counted from dossiers."""
    m = _opt_month(month, "audit_by_agency")
    params: dict[str, Any] = {"month": m, "month_end": m and _next_month(m),
                              "codes": _scope_codes(con, agency, _month_end(m) if m else local_today())}
    in_scope = "($codes IS NULL OR list_contains($codes, agency_code))"
    if _dashboard_counts_valid(con):
        rows = f"WHERE ($month IS NULL OR month = $month) AND {in_scope} GROUP BY agency_code"
        c = (f"SELECT agency_code, {_sum_cols(AUDIT_COUNTS)} FROM agency_month_audit {rows} "
             f"UNION ALL BY NAME SELECT agency_code, {_sum_cols(FINDING_COUNTS)} FROM agency_month_findings {rows}")
        params.pop("month_end")
    else:
        c = (f"SELECT agency_code, {_audit_counts_sql()} FROM ({_audit_base_sql()}) a "
             f"WHERE {_AUDIT_OR_FINDINGS} AND {in_scope} GROUP BY agency_code")
    return _run(con, f"""
        WITH {_AGENCY_NAMES}, c AS ({c})
        SELECT CASE WHEN grouping(agency_code) = 1 THEN 'total' ELSE 'agency' END AS row_kind,
               agency_code, CASE WHEN grouping(agency_code) = 0 THEN any_value(an.name) END AS agency_name,
               {_sum_cols(AUDIT_COUNTS)},
               CAST(coalesce(sum(reported_overdue), 0) - coalesce(sum(recomputed_overdue), 0) AS BIGINT)
                   AS overdue_difference, {_sum_cols(FINDING_COUNTS)}
        FROM c LEFT JOIN agency_names an ON an.code = c.agency_code
        GROUP BY GROUPING SETS ((agency_code), ())
        ORDER BY row_kind <> 'total', mismatches DESC, agency_code""", params)


@named_query("vendor_statuses", cache="until_write")
def vendor_statuses(con: duckdb.DuckDBPyConnection) -> Table:
    """Every distinct reported_status and the class it is read as (unknown = not compared)."""
    return _run(con, f"""
        SELECT reported_status, {classify_sql('reported_status', VENDOR_STATUS_CLASSES)} AS reported_class,
               count(*) AS dossiers
        FROM dossiers GROUP BY reported_status ORDER BY dossiers DESC, reported_status""", {})


# -- sync to the National Public Service Portal ------------------------------------------------

def _sync_base_sql(where: str = "TRUE") -> str:
    """Resolved dossiers with their sync problem (NULL when none; store/vendor.py)."""
    return f"""
    SELECT *, [{', '.join(repr(p) for p in SYNC_PROBLEMS)}][nullif({sync_problem_sql('synced_at', 'resolved_at',
                                                                                      "synced_class = 'resolved'")}, 0)]
              AS problem
    FROM (
        SELECT dossier_code, agency_code, procedure_code, source_system, state, received_at,
               coalesce(finished_at, returned_at) AS resolved_at, synced_at, synced_status,
               sc.synced_class
        FROM dossiers
        LEFT JOIN ({classes_sql('synced_status', SYNC_STATUS_CLASSES, 'synced_class')}) sc ON sc.status_text = dossiers.synced_status
        WHERE state IN ({quoted_list(RESOLVED_STATES)}) AND {where}
    )"""


@named_query("sync_unsynced", scope="agency", cache="until_write")
def sync_unsynced(con: duckdb.DuckDBPyConnection, agency: str | None = None, source_system: str | None = None,
                  limit: int = 200, rollup: bool = True) -> Table:
    """Resolved dossiers whose result did not reach the National Public Service Portal: never synced,
    last synced before they were resolved, or synced with a status other than resolved."""
    n = _limit(limit, "sync_unsynced")
    where = "TRUE"
    if NARROW_RESULTS and _dashboard_counts_valid(con):
        # the first `limit` rows by resolved_at lie in the months where the counted problems reach it
        codes = (_scope_codes(con, agency, local_today()) if _flag(rollup) else [agency]) if agency else None
        cut = con.execute("""
            SELECT min(month) FROM (
                SELECT month, sum(sum(unsynced)) OVER (ORDER BY month) AS upto FROM agency_month_sync
                WHERE month IS NOT NULL AND ($codes IS NULL OR list_contains($codes, agency_code))
                  AND ($source_system IS NULL OR source_system = $source_system)
                GROUP BY month)
            WHERE upto >= $n""", {"codes": codes, "source_system": source_system, "n": n}).fetchone()[0]
        if cut is not None:
            where = f"coalesce(finished_at, returned_at) < DATE '{_next_month(cut)}'"
    return _run(con, f"""
        WITH RECURSIVE {agency_tree_ctes('current_date', False)}, {_AGENCY_NAMES},
        b AS ({_sync_base_sql(where)})
        SELECT b.dossier_code, b.agency_code, an.name AS agency_name, b.procedure_code, b.source_system,
               b.problem, b.state, b.resolved_at, b.synced_at, b.synced_status, b.synced_class
        FROM b LEFT JOIN agency_names an ON an.code = b.agency_code
        WHERE b.problem IS NOT NULL AND ($source_system IS NULL OR b.source_system = $source_system)
          AND {_in_scope('b.agency_code', _flag(rollup))}
        ORDER BY b.resolved_at, b.dossier_code
        LIMIT {n}""", {"agency": agency or None, "source_system": source_system})


@named_query("sync_by_agency", scope="agency", cache="until_write")
def sync_by_agency(con: duckdb.DuckDBPyConnection, month: str | None = None, agency: str | None = None) -> Table:
    """Resolved dossiers and sync problems per agency and source system (e.g. 1.0 / 2.0), with a
    total per source system and a grand total. month: dossiers resolved in that month. agency: only
    that agency and its subtree (totals then the subtree's), as in audit_by_agency. Added up
    from agency_month_sync while it describes the store, else counted from dossiers."""
    m = _opt_month(month, "sync_by_agency")
    params: dict[str, Any] = {"month": m, "month_end": m and _next_month(m),
                              "codes": _scope_codes(con, agency, _month_end(m) if m else local_today())}
    in_scope = "($codes IS NULL OR list_contains($codes, agency_code))"
    if _dashboard_counts_valid(con):
        c = f"""SELECT agency_code, source_system, {_sum_cols(SYNC_COUNTS)} FROM agency_month_sync
                WHERE ($month IS NULL OR month = $month) AND {in_scope} GROUP BY ALL"""
        params.pop("month_end")
    else:
        c = f"""SELECT agency_code, source_system, {_sync_counts_sql()} FROM ({_sync_base_sql()}) b
                WHERE ($month IS NULL OR (resolved_at >= $month AND resolved_at < $month_end)) AND {in_scope}
                GROUP BY ALL"""
    return _run(con, f"""
        WITH {_AGENCY_NAMES}, c AS ({c})
        SELECT CASE WHEN grouping(agency_code) = 0 THEN 'agency'
                    WHEN grouping(source_system) = 0 THEN 'source_system' ELSE 'total' END AS row_kind,
               agency_code, CASE WHEN grouping(agency_code) = 0 THEN any_value(an.name) END AS agency_name,
               source_system, {_sum_cols(SYNC_COUNTS)},
               coalesce(sum(unsynced), 0) / CAST(coalesce(sum(resolved), 0) AS DOUBLE) AS unsynced_ratio
        FROM c LEFT JOIN agency_names an ON an.code = c.agency_code
        GROUP BY GROUPING SETS ((agency_code, source_system), (source_system), ())
        ORDER BY list_position(['total', 'source_system', 'agency'], row_kind), source_system NULLS FIRST,
                 unsynced DESC, agency_code""", params)


# -- lists -----------------------------------------------------------------------------------------

@named_query("dossiers_overdue", scope="agency", cache="until_write")
def dossiers_overdue(con: duckdb.DuckDBPyConnection, agency: str | None = None, month: str | None = None,
                     limit: int = 200, rollup: bool = True) -> Table:
    """Overdue dossiers of an agency (and its subtree when rollup), most days late first.

    With month: the dossiers behind that month's Biểu 06 overdue columns (resolved overdue in the
    month; pending and overdue at its end). Without: every dossier resolved overdue, and those
    pending overdue at the last recompute. kind: resolved_overdue | pending_overdue.
    """
    m = _opt_month(month, "dossiers_overdue")
    n = _limit(limit, "dossiers_overdue")
    as_of = data_as_of(con)
    if m is not None:
        tree_date = _month_end(m)
        # overdue in the month or at its end: late from before the month's end, not resolved in time
        results = _narrowed(con, agency, tree_date, False, m, f"""status IN ('overdue', 'pending_in_time',
            'pending_overdue', 'waiting_supplement') AND late_from <= TIMESTAMP '{_next_month(m)}'""")
        src = f"""
            SELECT dossier_code, agency_code, procedure_code, field, channel, received_at, due_date, late_from,
                   CASE WHEN is_resolved THEN resolved_at END AS resolved_at,
                   CASE WHEN is_resolved THEN 'resolved_overdue' ELSE 'pending_overdue' END AS kind,
                   CASE WHEN is_resolved THEN resolved_at ELSE cut END AS judged_at
            FROM ({month_facts_sql('$as_of', '$month', '$month', results)})
            WHERE (is_resolved AND final_status = 'overdue') OR is_pending_overdue"""
    else:
        tree_date = (as_of or local_now()).date()
        results = _narrowed(con, agency, tree_date, False, None, "status IN ('overdue', 'pending_overdue')")
        src = f"""
            SELECT d.dossier_code, d.agency_code, d.procedure_code, d.field, d.channel, d.received_at,
                   s.due_date, s.late_from,
                   CASE WHEN s.final_status IS NOT NULL THEN coalesce(d.finished_at, d.returned_at) END AS resolved_at,
                   CASE WHEN s.final_status = 'overdue' THEN 'resolved_overdue' ELSE 'pending_overdue' END AS kind,
                   CASE WHEN s.final_status = 'overdue' THEN coalesce(d.finished_at, d.returned_at)
                        ELSE s.computed_as_of END AS judged_at
            FROM dossiers d JOIN {SLA_ROWS_SQL.replace('FROM sla_results', 'FROM ' + results)} s
                 ON s.dossier_id = d.dossier_id
            WHERE (s.final_status = 'overdue' OR s.status = 'pending_overdue')
              AND d.state NOT IN ({quoted_list(EXCLUDED_STATES)})"""
    return _run(con, f"""
        WITH RECURSIVE {agency_tree_ctes('$tree_date', False)}, {_AGENCY_NAMES},
        o AS ({src})
        SELECT o.dossier_code, o.agency_code, an.name AS agency_name, o.procedure_code, pr.name AS procedure_name,
               o.field, o.channel, o.received_at, o.due_date, o.late_from, o.resolved_at, o.kind,
               date_diff('day', o.due_date, CAST(o.judged_at AS DATE)) AS days_late
        FROM o LEFT JOIN agency_names an ON an.code = o.agency_code
        LEFT JOIN procedures pr ON pr.code = o.procedure_code
        WHERE {_in_scope('o.agency_code', _flag(rollup))}
        ORDER BY days_late DESC NULLS LAST, o.dossier_code
        LIMIT {n}""", {"agency": agency or None, "month": m, "as_of": as_of, "tree_date": tree_date})


@named_query("dossier_detail", cache="until_write")
def dossier_detail(con: duckdb.DuckDBPyConnection, code: str) -> Table:
    """One dossier with its recomputed deadline and status, the vendor's figures and how they
    compare (kind as in audit_dossiers), names of agency and procedure. No row if unknown."""
    return _run(con, f"""
        WITH {_AGENCY_NAMES}, a AS ({_audit_base_sql('d.dossier_code = $code')})
        SELECT d.dossier_code, d.agency_code, an.name AS agency_name, d.procedure_code, pr.name AS procedure_name,
               d.field, d.channel, d.received_at, d.time_limit, d.time_unit, d.supplement_requested_at,
               d.supplement_received_at, d.extended_due_at, d.finished_at, d.returned_at, d.state,
               s.rule_version, s.due_date, s.due_at, s.late_from, s.final_status,
               s.status, s.computed_as_of,
               d.reported_due_at, d.reported_status, a.reported_class, a.kind AS audit_kind,
               d.source_system, d.synced_at, d.synced_status, d.batch_id, d.updated_at
        FROM dossiers d
        JOIN a USING (dossier_code)
        LEFT JOIN dossier_sla s USING (dossier_code)
        LEFT JOIN agency_names an ON an.code = d.agency_code
        LEFT JOIN procedures pr ON pr.code = d.procedure_code
        WHERE d.dossier_code = $code""", {"code": code})


@named_query("dossier_events", cache="until_write")
def dossier_events(con: duckdb.DuckDBPyConnection, code: str) -> Table:
    """A dossier's events in time order."""
    return _run(con, "SELECT event, \"at\", detail, batch_id FROM dossier_events WHERE dossier_code = $code "
                    "ORDER BY \"at\", event", {"code": code})


@named_query("quarantine_list", cache="until_write")
def quarantine_list(con: duckdb.DuckDBPyConnection, file_sha256: str | None = None, limit: int = 200) -> Table:
    """Rejected input rows with the reason, newest import first (one file when file_sha256 given)."""
    n = _limit(limit, "quarantine_list")
    return _run(con, f"""
        SELECT file_name, file_sha256, row_no, field, value, reason, CAST(raw AS VARCHAR) AS raw, batch_id, created_at
        FROM quarantine WHERE $sha IS NULL OR file_sha256 = $sha
        ORDER BY created_at DESC, file_sha256, row_no, field
        LIMIT {n}""", {"sha": file_sha256})


@named_query("import_batches", cache="until_write")
def import_batches(con: duckdb.DuckDBPyConnection, limit: int = 20) -> Table:
    """The latest imports, newest first."""
    n = _limit(limit, "import_batches")
    return _run(con, f"""
        SELECT batch_id, kind, file_name, file_sha256, status, started_at, finished_at,
               date_diff('millisecond', started_at, finished_at) / 1000.0 AS duration_s,
               rows_read, rows_inserted, rows_updated, rows_unchanged, rows_quarantined,
               columns_dropped, pii_columns_dropped
        FROM import_batches ORDER BY batch_id DESC LIMIT {n}""", {})


@named_query("sla_runs", cache="until_write")
def sla_runs(con: duckdb.DuckDBPyConnection, limit: int = 20) -> Table:
    """The latest recomputes, newest first; kind: full, or incremental (only the dossiers that changed)."""
    n = _limit(limit, "sla_runs")
    return _run(con, f"""
        SELECT run_id, coalesce(kind, 'full') AS kind, rule_set, as_of, started_at, finished_at,
               date_diff('millisecond', started_at, finished_at) / 1000.0 AS duration_s, dossiers
        FROM sla_runs ORDER BY run_id DESC LIMIT {n}""", {})


@named_query("figures_provenance")
def figures_provenance(con: duckdb.DuckDBPyConnection) -> Table:
    """One row: what every monthly figure and status currently stored was computed from: as_of
    (the instant they are judged at, naive local time), run_id, rule_set, started_at and
    finished_at of that recompute, and changed_since (dossiers imported or changed after it
    started, not yet in the figures). No row before the first recompute."""
    return _run(con, """
        SELECT s.as_of, s.run_id, r.rule_set, r.started_at, r.finished_at,
               CASE WHEN r.started_at IS NOT NULL
                    THEN (SELECT count(*) FROM dossiers WHERE updated_at > r.started_at) END AS changed_since
        FROM sla_result_set s LEFT JOIN sla_runs r USING (run_id)
        ORDER BY s.as_of DESC LIMIT 1""", {})


@named_query("sla_rule_versions")
def sla_rule_versions(con: duckdb.DuckDBPyConnection) -> Table:
    """The rule versions of the stored results (each applies to dossiers received from its
    effective_from on), oldest first."""
    return _run(con, """
        SELECT rule_version, effective_from, office_close FROM sla_rule_versions ORDER BY effective_from""", {})


@named_query("store_stats", cache="until_write")
def store_stats(con: duckdb.DuckDBPyConnection) -> Table:
    """One row: row counts, the dossiers' date range, the last import and the last recompute, and
    how many dossiers changed since (needs_recompute)."""
    return _run(con, """
        WITH last_import AS (
            SELECT file_name, finished_at FROM import_batches WHERE status = 'done'
            ORDER BY finished_at DESC NULLS LAST, batch_id DESC LIMIT 1),
        last_run AS (
            SELECT rule_set, as_of, started_at, finished_at FROM sla_runs
            WHERE finished_at IS NOT NULL ORDER BY run_id DESC LIMIT 1)
        SELECT
            (SELECT max(version) FROM schema_migrations) AS schema_version,
            (SELECT count(*) FROM dossiers) AS dossiers,
            (SELECT count(*) FROM dossier_events) AS dossier_events,
            (SELECT count(*) FROM sla_results) AS dossiers_computed,
            (SELECT count(*) FROM dossiers d ANTI JOIN sla_results s ON s.dossier_id = d.dossier_id)
                AS dossiers_not_computed,
            (SELECT count(*) FROM sla_results WHERE status = 'no_deadline') AS dossiers_no_deadline,
            (SELECT count(DISTINCT code) FROM agencies) AS agencies,
            (SELECT count(*) FROM procedures) AS procedures,
            (SELECT count(*) FROM quarantine) AS quarantined_rows,
            (SELECT count(*) FROM import_batches) AS imports,
            (SELECT min(received_at) FROM dossiers) AS first_received_at,
            (SELECT max(received_at) FROM dossiers) AS last_received_at,
            (SELECT finished_at FROM last_import) AS last_import_at,
            (SELECT file_name FROM last_import) AS last_import_file,
            (SELECT finished_at FROM last_run) AS last_recompute_at,
            (SELECT as_of FROM last_run) AS last_recompute_as_of,
            (SELECT rule_set FROM last_run) AS last_rule_set,
            (SELECT count(*) FROM dossiers
              WHERE updated_at > (SELECT started_at FROM last_run)
                 OR (SELECT started_at FROM last_run) IS NULL) AS changed_since_recompute,
            (SELECT count(*) FROM agency_month_stats) AS month_stats_rows""", {})
