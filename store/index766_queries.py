"""The 766 scorecard (Quyết định 766/QĐ-TTg), estimated from the store: named queries.

  index766(month, agency=None, score_denominator=..., rules=None)   per agency (rolled up along the
      agency tree of the month's last day, as bieu06) and a total row: each group's points, or NULL
      with a reason ("not measured: ..."), the total of the measured groups and the maximum those
      groups allow, and the shares the points come from
  index766_losses(month, agency, score_denominator=..., limit=20)   where the progress points go:
      the procedures whose overdue dossiers cost the agency the most points
  index766_rank(end_month, months=12, agency=None, level=None, ...)   each agency's rank by the
      estimated total per month over a window, with its movement against the month before
  index766_due_soon_gain(month, agency=None, days=2, as_of=None, ...)   the progress points the
      dossiers due soon would save if resolved in time

The rules (groups, weights, sources) are config/index766.yaml's (config/index766.py); `rules` takes
them as a JSON mapping (the configured file, loaded by the caller), None = the shipped file. The
progress group is bieu06's score_766 for the same month, scope and denominator (store/queries.py):
read from there, never counted again here. The other groups count the month's dossiers: received
in the month (channel, online payment, digitised at reception, procedures offered online) or
resolved in it (results digitised, ratings), withdrawn and rejected ones left out as in Biểu 06.
An input no dossier of the month says anything about (a column an export lacks, stored NULL) makes
its group "not measured", named; points are never made up from a missing input.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, get_args

import duckdb
from pydantic import ValidationError

from config.errors import describe_validation
from config.index766 import GROUPS, PROGRESS_MAX, ComponentGroup, Index766, load_index766
from config.reference import AgencyLevel
from config.vocabulary import DUE_SOON_DAYS, EXCLUDED_STATES, RESOLVED_STATES, quoted_list
from store.due_soon_queries import due_soon_by_agency
from store.errors import QueryError
from store.queries import (DEFAULT_SCORE_DENOMINATOR, SCORE_DENOMINATORS, _denominator, _int, _month, _month_end,
                           bieu06, bieu06_by_agency_months)
from store.reference import agency_tree_ctes
from store.registry import Table, named_query, run
from store.sla import data_as_of

ONLINE_LEVELS = ("full", "partial")  # config/reference.py OnlineLevel: offered online, fully or partly
_DENOMINATOR_INPUTS = ("received_total", "received_online", "received_direct_postal", "carried_over")


def _rules(value: Any, query: str) -> Index766:
    if value is None:
        return load_index766()
    if isinstance(value, Index766):
        return value
    try:
        return Index766.model_validate(value)
    except ValidationError as e:
        raise QueryError(f"{query}: " + describe_validation("rules", e)) from None


# -- what the month's dossiers say, per agency (rolled up) and in total ------------------------

_COUNTS = {
    # received in the month
    "received": "count(*) FILTER (rec_in)",
    "received_online": "count(*) FILTER (rec_in AND channel = 'online')",
    "procedures_known": "count(DISTINCT procedure_code) FILTER (rec_in AND online_level IS NOT NULL)",
    "procedures_online": f"count(DISTINCT procedure_code) FILTER (rec_in AND online_level IN ({quoted_list(ONLINE_LEVELS)}))",
    "capable": f"count(*) FILTER (rec_in AND online_level IN ({quoted_list(ONLINE_LEVELS)}))",
    "capable_online": f"count(*) FILTER (rec_in AND online_level IN ({quoted_list(ONLINE_LEVELS)}) AND channel = 'online')",
    "payment_known": "count(paid_online) FILTER (rec_in)",
    "paid_online": "count(*) FILTER (rec_in AND paid_online)",
    "digitised_known": "count(dossier_digitised) FILTER (rec_in)",
    "digitised": "count(*) FILTER (rec_in AND dossier_digitised)",
    # resolved in the month
    "resolved": "count(*) FILTER (res_in)",
    "result_known": "count(result_digitised) FILTER (res_in)",
    "result_digitised": "count(*) FILTER (res_in AND result_digitised)",
    "ratings": "count(satisfaction_rating) FILTER (res_in)",
    "rating_sum": "coalesce(sum(satisfaction_rating) FILTER (res_in), 0)",
}


def _counts_sql() -> str:
    aggs = ", ".join(f"CAST({expr} AS BIGINT) AS {name}" for name, expr in _COUNTS.items())
    resolved_at = "coalesce(d.finished_at, d.returned_at)"
    return f"""
    WITH RECURSIVE m AS (
        SELECT d.agency_code, d.procedure_code, d.channel, d.paid_online, d.dossier_digitised, d.result_digitised,
               d.satisfaction_rating, p.online_level,
               d.received_at >= $start AND d.received_at < $cut AS rec_in,
               d.state IN ({quoted_list(RESOLVED_STATES)}) AND {resolved_at} >= $start AND {resolved_at} < $cut AS res_in
        FROM dossiers d LEFT JOIN procedures p ON p.code = d.procedure_code
        WHERE d.state NOT IN ({quoted_list(EXCLUDED_STATES)})
          AND ((d.received_at >= $start AND d.received_at < $cut)
               OR ({resolved_at} >= $start AND {resolved_at} < $cut))
    ),
    {agency_tree_ctes('$tree_date', False, 'SELECT DISTINCT agency_code FROM m')},
    subtree AS (SELECT code FROM agency_up WHERE $agency IS NULL OR ancestor_code = $agency),
    scoped AS (
        SELECT m.* FROM m JOIN agency_rollup r0 ON r0.agency_code = m.agency_code AND r0.depth = 0
        WHERE r0.ancestor_code IN (SELECT code FROM subtree)
    )
    SELECT NULL::VARCHAR AS key, {aggs} FROM scoped
    UNION ALL
    SELECT r.ancestor_code, {aggs}
    FROM scoped JOIN agency_rollup r ON r.agency_code = scoped.agency_code
    WHERE r.ancestor_code IN (SELECT code FROM subtree)
    GROUP BY r.ancestor_code"""


def _month_counts(con: duckdb.DuckDBPyConnection, month: dt.date, agency: str | None) -> dict[str | None, dict]:
    nxt = dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)
    end = dt.datetime.combine(nxt, dt.time())
    # the month is cut at the figures' as_of, as Biểu 06 is: facts after it change nothing yet
    as_of = data_as_of(con)
    cut = min(end, as_of) if as_of is not None else end
    t = run(con, _counts_sql(), {"start": dt.datetime.combine(month, dt.time()), "cut": cut,
                                 "tree_date": nxt - dt.timedelta(days=1), "agency": agency})
    return {r["key"]: r for r in t.to_dicts()}


# -- points ---------------------------------------------------------------------------------------

def _share(num: int, den: int) -> float | None:
    return num / den if den else None


def _shares(c: dict[str, Any]) -> dict[str, float | None]:
    """Each input's measured share (None: nothing in the data says it)."""
    b = _share(c["capable_online"], c["capable"])
    if b is None and c["procedures_known"]:
        b = 0.0  # the levels are known and no procedure is offered online: nothing online to score
    return {
        "procedures_online": _share(c["procedures_online"], c["procedures_known"]),
        "online_capable_dossiers": b,
        "online_channel": _share(c["received_online"], c["received"]),
        "online_payment": _share(c["paid_online"], c["payment_known"]),
        "dossier_digitised": _share(c["digitised"], c["digitised_known"]),
        "result_digitised": _share(c["result_digitised"], c["result_known"]),
    }


# which count a share is taken over: when it is 0 the month had no dossier to measure
_BASE = {"procedures_online": "received", "online_capable_dossiers": "received", "online_channel": "received",
         "online_payment": "received", "dossier_digitised": "received", "result_digitised": "resolved"}
# the stored column whose absence leaves a share unmeasured
_COLUMN = {"procedures_online": "procedures.online_level", "online_capable_dossiers": "procedures.online_level",
           "online_channel": "dossiers.channel", "online_payment": "dossiers.paid_online",
           "dossier_digitised": "dossiers.dossier_digitised", "result_digitised": "dossiers.result_digitised"}
_NONE_IN_MONTH = {"received": ("no dossier received in the month", "không có hồ sơ tiếp nhận trong tháng"),
                  "resolved": ("no dossier resolved in the month", "không có hồ sơ giải quyết trong tháng")}
Missing = list[tuple[str, str, str]]  # (input, why in English, why in Vietnamese)


def _not_in_data(reads: str) -> tuple[str, str]:
    return f"{reads} not in the data", f"dữ liệu không có {reads}"


def _reason(missing: Missing) -> tuple[str, str]:
    """'not measured: <input> (<why>); ...' in English and Vietnamese."""
    return ("not measured: " + "; ".join(f"{k} ({en})" for k, en, _ in missing),
            "chưa đo được: " + "; ".join(f"{k} ({vi})" for k, _, vi in missing))


def _component_group(g: ComponentGroup, c: dict[str, Any], shares: dict[str, float | None]) -> tuple:
    missing: Missing = []
    for comp in g.scored_components:
        if shares[comp.input] is None:
            base = _BASE[comp.input]
            missing.append((comp.input, *(_NONE_IN_MONTH[base] if not c[base] else
                                          _not_in_data(_COLUMN[comp.input]))))
    if missing:
        return (None, *_reason(missing))
    return sum(comp.score(shares[comp.input]) for comp in g.scored_components), None, None


def _score_row(rules: Index766, c: dict[str, Any], score_766: float | None) -> dict[str, Any]:
    shares = _shares(c)
    out: dict[str, Any] = {}
    out["publicity"] = (None, *_reason([(k, "not in an export", "không có trong tệp xuất")
                                        for k in rules.publicity.inputs]))
    out["progress"] = ((score_766, None, None) if score_766 is not None else
                       (None, *_reason([("resolved_in_time", "no dossier resolved in the month, or nothing to divide by",
                                         "chưa có hồ sơ giải quyết trong tháng hoặc mẫu số bằng 0")])))
    out["online_service"] = _component_group(rules.online_service, c, shares)
    out["digitisation"] = _component_group(rules.digitisation, c, shares)
    sat = rules.satisfaction
    if c["ratings"] >= sat.min_ratings:
        out["satisfaction"] = (sat.score(c["rating_sum"] / c["ratings"]), None, None)
    else:
        why = (_NONE_IN_MONTH["resolved"] if not c["resolved"] else
               _not_in_data("dossiers.satisfaction_rating") if not c["ratings"] else
               (f"{c['ratings']} rating(s), fewer than min_ratings {sat.min_ratings}",
                f"{c['ratings']} lượt đánh giá, ít hơn mức tối thiểu {sat.min_ratings}"))
        out["satisfaction"] = (None, *_reason([("ratings", *why)]))
    row: dict[str, Any] = {}
    for gid in GROUPS:
        row[f"{gid}_points"], row[f"{gid}_reason"], row[f"{gid}_reason_vi"] = out[gid]
    measured = [gid for gid in GROUPS if out[gid][0] is not None]
    row["total_points"] = sum(out[gid][0] for gid in measured) if measured else None
    row["total_max"] = sum(rules.group(gid).max_points for gid in measured)
    row["groups_measured"] = len(measured)
    row.update({f"share_{k}": v for k, v in shares.items()})
    row["rating_avg"] = c["rating_sum"] / c["ratings"] if c["ratings"] else None
    row["ratings"] = c["ratings"]
    return row


_ZERO = {name: 0 for name in _COUNTS}
_HEAD = [("row_kind", "VARCHAR"), ("agency_code", "VARCHAR"), ("agency_name", "VARCHAR"), ("level", "VARCHAR"),
         ("depth", "INTEGER"), ("parent_code", "VARCHAR")]
_POINTS = [(f"{gid}_{part}", "DOUBLE" if part == "points" else "VARCHAR") for gid in GROUPS
           for part in ("points", "reason", "reason_vi")]
_TAIL = [("total_points", "DOUBLE"), ("total_max", "DOUBLE"), ("groups_measured", "INTEGER"),
         ("received", "BIGINT"), ("resolved", "BIGINT"),
         *((f"share_{k}", "DOUBLE") for k in _BASE), ("rating_avg", "DOUBLE"), ("ratings", "BIGINT")]


@named_query("index766", scope="agency", roles=("agency",), cache="until_write", scored=True)
def index766(con: duckdb.DuckDBPyConnection, month: str, agency: str | None = None,
             score_denominator: str = DEFAULT_SCORE_DENOMINATOR, rules: dict | None = None) -> Table:
    """The 766 scorecard's estimate for one month: a total row (the province, or the subtree of
    `agency`), then one row per agency in tree order (each counting its sub-units), as bieu06.
    Columns: row_kind, agency_code, agency_name, level, depth, parent_code; per group (publicity,
    progress, online_service, digitisation, satisfaction) `<group>_points` (NULL: not measured) and
    `<group>_reason` (`_reason_vi` in Vietnamese); total_points (measured groups), total_max (their maximum), groups_measured;
    received, resolved, the shares the points come from, rating_avg, ratings."""
    m = _month(month, "index766")
    den = _denominator(score_denominator, "index766")
    r = _rules(rules, "index766")
    progress = bieu06(con, m.strftime("%Y-%m"), by="agency", agency=agency or None, score_denominator=den)
    counts = _month_counts(con, m, agency or None)
    rows = []
    for b in progress.to_dicts():
        key = b["key"] if b["row_kind"] == "agency" else None
        c = {**_ZERO, **counts.get(key, {})}
        scored = _score_row(r, c, b["score_766"])
        head = {"row_kind": b["row_kind"], "agency_code": key, "agency_name": b["name"], "level": b["level"],
                "depth": b["depth"], "parent_code": b["parent_code"]}
        scored["received"] = c["received"]
        scored["resolved"] = b["resolved_total"]  # Biểu 06's count of the month's resolved dossiers
        rows.append(tuple({**head, **scored}[name] for name, _ in (*_HEAD, *_POINTS, *_TAIL)))
    cols = [*_HEAD, *_POINTS, *_TAIL]
    return Table([n for n, _ in cols], rows, [t for _, t in cols])


def _denominators(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]], den: str) -> list[float]:
    """Each row's 766 denominator, by the one definition of store/queries.py SCORE_DENOMINATORS."""
    if not rows:
        return []
    params = {c: [int(r[c]) for r in rows] for c in _DENOMINATOR_INPUTS}
    cols = ", ".join(f"unnest(${c}) AS {c}" for c in _DENOMINATOR_INPUTS)
    sql = (f"SELECT CAST({SCORE_DENOMINATORS[den]} AS DOUBLE) FROM "
           f"(SELECT unnest(range({len(rows)})) AS ix, {cols}) ORDER BY ix")
    return [v for (v,) in con.execute(sql, params).fetchall()]


@named_query("index766_losses", scope="agency", roles=("agency",), cache="until_write", scored=True)
def index766_losses(con: duckdb.DuckDBPyConnection, month: str, agency: str | None,
                    score_denominator: str = DEFAULT_SCORE_DENOMINATOR, limit: int = 20) -> Table:
    """Where the progress points of `agency` (None: the province) go in a month: its procedures
    (its sub-units' dossiers included), most costly first. points_lost = 20 × the procedure's
    overdue dossiers / the agency's denominator (what they take from the agency's score: the
    agency's score + the procedures' points_unearned = 20); points_unearned also counts the ones
    still pending or not resolved in time; score_766 is the procedure's own score."""
    m = _month(month, "index766_losses")
    den = _denominator(score_denominator, "index766_losses")
    n = _int(limit, "index766_losses", "limit", 1, 10_000)
    t = bieu06(con, m.strftime("%Y-%m"), by="procedure", agency=agency or None, score_denominator=den)
    rows = t.to_dicts()
    dens = _denominators(con, rows, den)
    total_den = next((d for r, d in zip(rows, dens) if r["row_kind"] == "total"), 0.0)
    out = []
    for r, d in zip(rows, dens):
        if r["row_kind"] != "procedure" or not total_den:
            continue
        in_time = r["resolved_early"] + r["resolved_on_time"]
        out.append((r["key"], r["name"], int(r["received_total"]), int(r["resolved_total"]), int(r["resolved_overdue"]),
                    int(r["pending_overdue"]), d, PROGRESS_MAX * r["resolved_overdue"] / total_den,
                    PROGRESS_MAX * max(0.0, d - in_time) / total_den, r["score_766"]))
    out.sort(key=lambda x: (-x[7], -x[8], x[0] or ""))
    return Table(["procedure_code", "procedure_name", "received_total", "resolved_total", "resolved_overdue",
                  "pending_overdue", "denominator", "points_lost", "points_unearned", "score_766"], out[:n],
                 ["VARCHAR", "VARCHAR", "BIGINT", "BIGINT", "BIGINT", "BIGINT", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE"])


# -- the rank per month over a window, and the points due-soon dossiers would save ----------------

def _add_months(m: dt.date, k: int) -> dt.date:
    y, mo = divmod(m.year * 12 + m.month - 1 + k, 12)
    return dt.date(y, mo + 1, 1)


# What a dossier row of the window gives its month, pre-counted per (month, agency, procedure):
# every count of _COUNTS but the two distinct counts of procedures, which the roll-up takes from
# the procedure codes themselves (a procedure counts once per agency whatever its sub-units).
_PRE = {name: expr for name, expr in _COUNTS.items() if not name.startswith("procedures_")}
if any(("rec_in" in e) == ("res_in" in e) for e in _PRE.values()):
    raise ImportError("store/index766_queries.py: each pre-counted input must read one kind of month, "
                      "the reception's or the resolution's (_window_counts_sql counts them apart)")


def _pre_counts_sql() -> str:
    """Each (month, agency, procedure)'s inputs of _PRE, from the dossiers of months in [$start, $cut):
    a dossier counts in the month it was received in (rec_in) and in the month it was resolved in
    (res_in). Two aggregations, one per kind of month (each of _PRE reads one of the two), where one
    table of both months per dossier cost twice as much. The kind of month a row comes from is
    kept (`by_reception`): the procedures' distinct counts read the receptions only."""
    resolved_at = "coalesce(d.finished_at, d.returned_at)"
    cols = "d.agency_code, d.procedure_code, d.channel, d.paid_online, d.dossier_digitised, d.result_digitised, " \
           "d.satisfaction_rating, p.online_level"

    def by(month: str, cond: str, rec_in: bool) -> str:
        # this kind of month's counts; the other kind's are 0 here (not counted per row)
        mine = "rec_in" if rec_in else "res_in"
        pre = ", ".join(f"CAST({expr} AS BIGINT) AS {name}" if mine in expr else f"CAST(0 AS BIGINT) AS {name}"
                        for name, expr in _PRE.items())
        return f"""
        SELECT month, agency_code, procedure_code, {str(rec_in).upper()} AS by_reception, {pre}
        FROM (SELECT CAST(date_trunc('month', {month}) AS DATE) AS month, {cols},
                     {str(rec_in).upper()} AS rec_in, {str(not rec_in).upper()} AS res_in
              FROM dossiers d LEFT JOIN procedures p ON p.code = d.procedure_code
              WHERE {cond} AND {month} >= $start AND {month} < $cut)
        GROUP BY ALL"""

    received = by("d.received_at", f"d.state NOT IN ({quoted_list(EXCLUDED_STATES)})", True)
    resolved = by(resolved_at, f"d.state IN ({quoted_list(RESOLVED_STATES)})", False)
    return f"{received}\n        UNION ALL {resolved}"


def _window_counts_sql(kept: bool) -> str:
    """_counts_sql for several months at once, on the agency tree of $tree_date (the months of one
    tree), each month cut at min(its end, $cut): rolled up from the per-procedure pre-counts, read
    from the table the owner keeps (`kept`, months in [$start, $cut)) or counted now
    (_pre_counts_sql). A procedure counts once per agency whatever its sub-units, so the distinct
    counts of procedures are taken from the procedure codes of the pre-counted rows."""
    sums = ", ".join(f"CAST(coalesce(sum({name}), 0) AS BIGINT) AS {name}" for name in _PRE)
    procs = (f"CAST(count(DISTINCT procedure_code) FILTER (received > 0 AND online_level IS NOT NULL) AS BIGINT) "
             f"AS procedures_known, CAST(count(DISTINCT procedure_code) FILTER (received > 0 AND online_level IN "
             f"({quoted_list(ONLINE_LEVELS)})) AS BIGINT) AS procedures_online")
    source = (f"SELECT * FROM {PRE_TABLE} WHERE month >= CAST($start AS DATE) AND month < $cut" if kept
              else _pre_counts_sql())
    return f"""
    WITH RECURSIVE pre AS (
        SELECT c.*, p.online_level FROM ({source}) c LEFT JOIN procedures p ON p.code = c.procedure_code),
    {agency_tree_ctes('$tree_date', False, 'SELECT DISTINCT agency_code FROM pre')},
    subtree AS (SELECT code FROM agency_up WHERE $agency IS NULL OR ancestor_code = $agency),
    scoped AS (
        SELECT pre.* FROM pre JOIN agency_rollup r0 ON r0.agency_code = pre.agency_code AND r0.depth = 0
        WHERE r0.ancestor_code IN (SELECT code FROM subtree)
    )
    SELECT month, NULL::VARCHAR AS key, {sums}, {procs} FROM scoped GROUP BY month
    UNION ALL
    SELECT month, r.ancestor_code, {sums}, {procs}
    FROM scoped JOIN agency_rollup r ON r.agency_code = scoped.agency_code
    WHERE r.ancestor_code IN (SELECT code FROM subtree)
    GROUP BY month, r.ancestor_code"""


# The per-procedure pre-counts of every month, kept by the owner after each refresh
# (store/index766_writes.py) with the refresh they were counted after: read while that is still
# the latest refresh, counted from the dossiers otherwise.
PRE_TABLE = "index766_pre"
PRE_STAMP = "index766_pre_stamp"


def pre_counts_stamp(con: duckdb.DuckDBPyConnection) -> tuple | None:
    """What the kept pre-counts must have been counted after: the latest refresh, its as_of, the
    last import now (an import not refreshed yet makes them stale) and the counting SQL's digest.
    None: no refresh yet."""
    row = con.execute("SELECT (SELECT max(run_id) FROM sla_result_set), (SELECT max(as_of) FROM sla_result_set), "
                      "(SELECT max(batch_id) FROM import_batches)").fetchall()[0]
    if row[0] is None or row[1] is None:
        return None
    return int(row[0]), row[1], row[2], hashlib.sha256(_pre_counts_sql().encode()).hexdigest()[:16]


def _kept_fresh(con: duckdb.DuckDBPyConnection) -> bool:
    stamp = pre_counts_stamp(con)
    return stamp is not None and con.execute(f"SELECT run_id, as_of, batch_id, sql_key FROM {PRE_STAMP}"
                                             ).fetchall() == [stamp]


def _tree_groups(con: duckdb.DuckDBPyConnection, months: list[dt.date]) -> list[list[dt.date]]:
    """The months grouped by the agency tree of their last day: the tree only changes on a date an
    agency's version starts or ends, so months with none between their last days share one tree
    (usually the whole window: one scan of the dossiers)."""
    changes = sorted(d for (d,) in con.execute(
        "SELECT valid_from FROM agencies UNION SELECT valid_to FROM agencies WHERE valid_to IS NOT NULL").fetchall()
        if d is not None)
    groups: list[list[dt.date]] = []
    for m in months:
        if groups:
            a, b = _month_end(groups[-1][-1]), _month_end(m)
            if not any(a < c <= b for c in changes):
                groups[-1].append(m)
                continue
        groups.append([m])
    return groups


def _window_counts(con: duckdb.DuckDBPyConnection, months: list[dt.date], agency: str | None
                   ) -> dict[tuple[dt.date, str | None], dict]:
    as_of = data_as_of(con)
    sql = _window_counts_sql(_kept_fresh(con))
    out: dict[tuple[dt.date, str | None], dict] = {}
    for group in _tree_groups(con, months):
        end = dt.datetime.combine(_add_months(group[-1], 1), dt.time())
        cut = min(end, as_of) if as_of is not None else end
        t = run(con, sql, {"start": dt.datetime.combine(group[0], dt.time()), "cut": cut,
                                            "tree_date": _month_end(group[-1]), "agency": agency})
        for r in t.to_dicts():
            out[(r.pop("month"), r.pop("key"))] = r
    return out


LEVELS = get_args(AgencyLevel)
RANK_DIGITS = 9  # totals equal to this many decimals are a tie (sums of shares differ in the last bits)


@named_query("index766_rank", scope="agency", roles=("agency",), cache="until_write", scored=True)
def index766_rank(con: duckdb.DuckDBPyConnection, end_month: str, months: int = 12, agency: str | None = None,
                  level: str | None = None, score_denominator: str = DEFAULT_SCORE_DENOMINATOR,
                  rules: dict | None = None) -> Table:
    """Each agency's rank by the estimated 766 total as a share of its measured groups' maximum
    (index766's total_points / total_max) in each of `months` months ending at `end_month`, oldest
    first, and its movement against the month before.

    The agencies ranked are index766's agency rows (the subtree of `agency`, or the province;
    only those of `level` when given); rank 1 = the highest share; equal shares share a rank (the
    next one skipping, 1, 2, 2, 4); an agency with nothing measured that month is unranked (NULL).
    movement = the previous month's rank − this month's (+ moved up, − down; NULL when either is
    unranked; the month before the window is computed for the first month's movement).
    Columns: agency_code, agency_name, level, depth, parent_code (the last month's tree, else the
    latest month knowing the agency), month, total_points, total_max, groups_measured, rank,
    ranked (how many were ranked that month), prev_rank, movement. Rows in tree order, then month.
    Cost: the inputs are read from the pre-counts the owner keeps after each refresh (else the
    dossiers are scanned once per agency tree in the window, usually once), the progress from
    bieu06 (agency_month_stats) once per agency tree."""
    end = _month(end_month, "index766_rank")
    k = _int(months, "index766_rank", "months", 1, 36)
    if level not in (None, "") and level not in LEVELS:
        raise QueryError(f"index766_rank: level must be one of {', '.join(LEVELS)}; got {level!r}")
    den = _denominator(score_denominator, "index766_rank")
    r = _rules(rules, "index766_rank")
    window = [_add_months(end, i) for i in range(-k, 1)]  # one more: the first month's movement
    counts = _window_counts(con, window, agency or None)
    progress: dict[dt.date, list[dict]] = {m: [] for m in window}
    for group in _tree_groups(con, window):
        for b in bieu06_by_agency_months(con, group, _month_end(group[-1]), agency or None, den).to_dicts():
            progress[b.pop("month")].append(b)
    heads: dict[str, dict] = {}
    order: dict[str, str] = {}
    totals: dict[tuple[str, dt.date], tuple] = {}
    for m in window:
        for ix, b in enumerate(progress[m]):
            if b["row_kind"] != "agency" or (level and b["level"] != level):
                continue
            c = {**_ZERO, **counts.get((m, b["key"]), {})}
            s = _score_row(r, c, b["score_766"])
            heads[b["key"]] = {"agency_code": b["key"], "agency_name": b["name"], "level": b["level"],
                               "depth": b["depth"], "parent_code": b["parent_code"]}
            order[b["key"]] = f"{ix:08d}"  # the latest tree's order wins (the window is walked oldest first)
            totals[(b["key"], m)] = (s["total_points"], s["total_max"], s["groups_measured"])
    ranks: dict[tuple[str, dt.date], int] = {}
    ranked: dict[dt.date, int] = {}
    for m in window:
        # by the share of the measured groups' maximum: agencies measured in fewer groups (no
        # resolved dossier, no rating) are not ranked below for the points they could not earn
        scores = {code: round(tp / tmax, RANK_DIGITS) for (code, mm), (tp, tmax, _) in totals.items()
                  if mm == m and tp is not None and tmax}
        values = sorted(scores.values(), reverse=True)
        ranked[m] = len(values)
        for code, v in scores.items():
            ranks[(code, m)] = 1 + sum(1 for x in values if x > v)
    out = []
    for code in sorted(heads, key=lambda c: order[c]):
        h = heads[code]
        for prev, m in zip(window, window[1:]):
            tp, tmax, gm = totals.get((code, m), (None, 0.0, 0))
            rk, pr = ranks.get((code, m)), ranks.get((code, prev))
            out.append((h["agency_code"], h["agency_name"], h["level"], h["depth"], h["parent_code"], m, tp,
                        tmax, gm, rk, ranked[m], pr, None if rk is None or pr is None else pr - rk))
    return Table(["agency_code", "agency_name", "level", "depth", "parent_code", "month", "total_points",
                  "total_max", "groups_measured", "rank", "ranked", "prev_rank", "movement"], out,
                 ["VARCHAR", "VARCHAR", "VARCHAR", "INTEGER", "VARCHAR", "DATE", "DOUBLE", "DOUBLE", "INTEGER",
                  "INTEGER", "INTEGER", "INTEGER", "INTEGER"])


@named_query("index766_due_soon_gain", scope="agency", roles=("agency",), scored=True)
def index766_due_soon_gain(con: duckdb.DuckDBPyConnection, month: str, agency: str | None = None, days: float = DUE_SOON_DAYS,
                           as_of: str | None = None, score_denominator: str = DEFAULT_SCORE_DENOMINATOR) -> Table:
    """The progress points `agency`'s (its sub-units' included; None: the province's) dossiers due
    soon would save if resolved in time: each one then counts as resolved on time this month
    instead of late, so points_saved = 20 × due_soon / the month's denominator of the progress
    score (score_denominator, as bieu06). due_soon: due_soon_by_agency's total at `as_of` (default
    now) within `days` working days. One row: month, due_soon, denominator, score_766 (the month's,
    as it stands), points_saved (NULL while the denominator is 0). Not cached: the count follows the clock."""
    m = _month(month, "index766_due_soon_gain")
    den = _denominator(score_denominator, "index766_due_soon_gain")
    ds = due_soon_by_agency(con, agency=agency or None, days=days, as_of=as_of)
    n = next((int(x["due_soon"]) for x in ds.to_dicts() if x["row_kind"] == "total"), 0)
    total = next((b for b in bieu06(con, m.strftime("%Y-%m"), by="agency", agency=agency or None,
                                    score_denominator=den).to_dicts() if b["row_kind"] == "total"), None)
    d = _denominators(con, [total], den)[0] if total is not None else 0.0
    return Table(["month", "due_soon", "denominator", "score_766", "points_saved"],
                 [(m, n, d, total["score_766"] if total else None, PROGRESS_MAX * n / d if d else None)],
                 ["DATE", "BIGINT", "DOUBLE", "DOUBLE", "DOUBLE"])
