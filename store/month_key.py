"""month_key: what the monthly figures (Biểu 06) need of a dossier, packed in one number.

How a dossier counts in each month is written out in store/sla.py. Months are numbered
m = 12 * year + month - 1; A is the month of as_of. For month M the cut is the start of M + 1 (or
as_of when M = A). A counted dossier received in month F, resolved before as_of in month R (none:
resolved at or after as_of, or not at all) is, in month M:
  received in M when M = F; open (received_total) when F <= M <= R (or A); resolved when M = R;
  pending when F <= M < R (or <= A);
  pending and overdue when pending and M >= L (L: the first month whose end finds the dossier
  late = the month of late_from, only when late_from <= as_of and the clock was not stopped by an
  open supplement request).
A month before F counts as F (bad data: finished before received).

The layout (each month field holds the month number + 1; 0 = none):
  bits  0-14  F + 1          bits 15-29  R + 1          bits 30-44  L + 1
  bits 45-47  the status (sla_status code: early 0, on_time 1, overdue 2, ...)
  bit  48     online
The months are absolute, so the part the dossier row alone gives (F, the month of its result and
its channel) is computed when the row is written and kept in it (`row_fact_sql`, the column
dossiers.fx_month: store/dossier_facts.py); the engine pass adds what as_of and the SLA result
give (`pass_layers`). Every month of the years 1 to 2729 fits (the import accepts far fewer:
config/vocabulary.py); a row dated outside them stops the facts' computation with a message.

Dossiers are counted per (agency, key): tens of thousands of groups for ten million dossiers.
Each group turns into +n / -n changes at its months (pending and overdue: +n at max(F, L), -n at
R), and per agency the running sums over the months give the pending figures (`month_stats_sql`).
"""
from __future__ import annotations

import datetime as dt

from config.vocabulary import SLA_STATUSES
from sla_rules.constants import FLAG_STOPPED, month_number_sql
from sla_rules.engine import epoch_us

_BITS = 15
_MASK = (1 << _BITS) - 1
KEY_LAST_YEAR = (_MASK - 1) // 12 - 1    # every month of the years 1 to this one fits a field
_KEY = {"fm": 0, "rm": 15, "lm": 30, "status": 45, "online": 48}
_EARLY, _OVERDUE = SLA_STATUSES.index("early"), SLA_STATUSES.index("overdue")  # their ENUM codes
if len(SLA_STATUSES) > 8:
    raise ImportError("store/month_key.py: the statuses no longer fit the key's three bits")


def as_of_month(as_of: dt.datetime) -> int:
    """A: the month number of as_of."""
    return as_of.year * 12 + as_of.month - 1


def key_field_sql(name: str, key: str = "month_key") -> str:
    """The value of one of month_key's fields (`name`: fm, rm or lm; the month + 1, 0 = none)."""
    return f"(({key} >> {_KEY[name]}) & {_MASK})"


def key_month_sql(field: str) -> str:
    """The month number a field holds (NULL for 0: none); `field` an SQL expression of the field's
    value (key_field_sql)."""
    return f"(nullif({field}, 0) - 1)"


def row_fact_sql(d: str = "d") -> str:
    """The part of month_key the dossier row alone gives, over the dossiers row `d`: F, the month of
    its result (greatest(result, reception); whether it counts as R depends on as_of and is decided
    by the pass) and its channel. Not NULL."""
    res = f"coalesce({d}.finished_at, {d}.returned_at)"
    f_m, r_m = month_number_sql(f"{d}.received_at"), month_number_sql(f"greatest({res}, {d}.received_at)")
    key = (f"CAST({f_m} + 1 AS BIGINT) + CASE WHEN {res} IS NULL THEN 0 ELSE CAST({r_m} + 1 AS BIGINT) * {1 << _KEY['rm']} END "
           f"+ CAST({d}.channel = 'online' AS BIGINT) * {1 << _KEY['online']}")
    dated = [f"{d}.received_at", f"{d}.finished_at", f"{d}.returned_at"]
    outside = " OR ".join(f"{c} < TIMESTAMP '0001-01-01' OR {c} >= TIMESTAMP '{KEY_LAST_YEAR + 1}-01-01'" for c in dated)
    return (f"CASE WHEN {outside} THEN error('a dossier dated outside the years 1 to {KEY_LAST_YEAR}: '"
            f" || {d}.dossier_code) ELSE {key} END")


def pass_layers(as_of: dt.datetime, counts_refusals: bool = False,
                fact: str = "x.fx_month") -> tuple[list[dict[str, str]], str]:
    """The engine pass's early layers (compute_sql `early`) and month_key over its output.

    The layers read the row's stored part (`fact`) and the engine's facts of the row: a dossier
    excluded or received at or after as_of has no key (NULL); one resolved at or after as_of has no
    R. The key adds L (when late by as_of and its clock not stopped) and the status.
    counts_refusals: the rule set counts a late refusal as resolved overdue, so a refusal is
    excluded only after the clock (its status), and then has no key either."""
    a_us = epoch_us(as_of)
    r_mask = _MASK << _KEY["rm"]
    layers = [{"mk_row": fact},
              {"mk_head": f"CASE WHEN NOT excl AND r_us < {a_us} THEN "
                          f"mk_row - CASE WHEN f_us >= {a_us} THEN mk_row & {r_mask} ELSE 0 END END"}]
    key = (f"mk_head + CASE WHEN late_us <= {a_us} AND (flags & {FLAG_STOPPED}) = 0 "
           f"THEN CAST(late_month + 1 AS BIGINT) * {1 << _KEY['lm']} ELSE 0 END "
           f"+ CAST(enum_code(status) AS BIGINT) * {1 << _KEY['status']}")
    if counts_refusals:
        key = f"CASE WHEN status <> 'excluded' THEN {key} END"
    return layers, key


def month_keys_sql(rel: str, as_of: dt.datetime) -> str:
    """SELECT of (*, month_key) over `rel`, which has the columns status (sla_status), late_from,
    flags, channel, received_at, finished_at, returned_at, state. month_key is NULL for a dossier the
    monthly figures do not count (excluded, or received at or after as_of). The engine pass builds
    the same key from the stored part (row_fact_sql, pass_layers)."""
    as_of_lit = f"TIMESTAMP '{as_of.isoformat(sep=' ')}'"
    res = "coalesce(finished_at, returned_at)"
    r_month = month_number_sql(f"greatest({res}, received_at)")
    late = f"late_from <= {as_of_lit} AND coalesce(flags & {FLAG_STOPPED}, 0) = 0"
    return f"""
    SELECT *,
           CASE WHEN status <> 'excluded' AND received_at < {as_of_lit} THEN
                CAST({month_number_sql('received_at')} + 1 AS BIGINT)
                + CASE WHEN state <> 'withdrawn' AND {res} < {as_of_lit}
                       THEN CAST({r_month} + 1 AS BIGINT) * {1 << _KEY['rm']} ELSE 0 END
                + CASE WHEN {late} THEN CAST({month_number_sql('late_from')} + 1 AS BIGINT) * {1 << _KEY['lm']} ELSE 0 END
                + CAST(enum_code(status) AS BIGINT) * {1 << _KEY['status']}
                + CAST(channel = 'online' AS BIGINT) * {1 << _KEY['online']} END AS month_key
    FROM {rel}"""


def status_of_key_sql(key: str = "month_key") -> str:
    """The sla_status a key holds."""
    return f"enum_range(NULL::sla_status)[CAST(({key} >> {_KEY['status']}) & 7 AS INTEGER) + 1]"


def month_stats_sql(grouped: str, as_of: dt.datetime) -> str:
    """SELECT of agency_month_stats rows (without as_of) from `grouped`: (agency_code, month_key, n)
    rows, n dossiers of that agency with that month_key (as month_keys_sql gives it, not NULL)."""
    A = as_of_month(as_of)

    def field(name: str) -> str:
        return f"CAST({key_field_sql(name)} AS INTEGER) AS {name}_f"

    def month(name: str) -> str:  # the month a field holds, never before F; NULL for none
        return f"CASE WHEN {name}_f = 0 THEN NULL WHEN {name}_f - 1 > fm THEN {name}_f - 1 ELSE fm END AS {name}"

    return f"""
    WITH g1 AS (
        SELECT agency_code, n, CAST({key_field_sql('fm')} AS INTEGER) - 1 AS fm, {field('rm')}, {field('lm')},
               CASE CAST((month_key >> {_KEY['status']}) & 7 AS INTEGER)  -- by the sla_status code: early 0, on time 1, overdue 2
                    WHEN {_EARLY} THEN 0 WHEN {_OVERDUE} THEN 2 ELSE 1 END AS fin,
               CAST((month_key >> {_KEY['online']}) & 1 AS INTEGER) AS online
        FROM {grouped}
    ), f AS MATERIALIZED (  -- pending and overdue in [od_s, od_e); read 4 times
        SELECT *, CASE WHEN od THEN lm END AS od_s, CASE WHEN od THEN rm END AS od_e
        FROM (SELECT *, coalesce(lm < coalesce(rm, {A} + 1), FALSE) AS od
              FROM (SELECT agency_code, n, fm, {month('rm')}, {month('lm')}, fin, online FROM g1))
    ), changes AS (
        SELECT agency_code, fm AS m, n * online AS r_on, n * (1 - online) AS r_off, 0 AS r_early, 0 AS r_on_time,
               0 AS r_overdue, 0 AS od FROM f
        UNION ALL SELECT agency_code, rm, 0, 0, n * (fin = 0)::INTEGER, n * (fin = 1)::INTEGER, n * (fin = 2)::INTEGER, 0
                  FROM f WHERE rm IS NOT NULL
        UNION ALL SELECT agency_code, od_s, 0, 0, 0, 0, 0, n FROM f WHERE od_s IS NOT NULL
        UNION ALL SELECT agency_code, od_e, 0, 0, 0, 0, 0, -n FROM f WHERE od_e IS NOT NULL
    ), per AS (
        SELECT agency_code, m, sum(r_on) AS r_on, sum(r_off) AS r_off, sum(r_early) AS r_early,
               sum(r_on_time) AS r_on_time, sum(r_overdue) AS r_overdue, sum(od) AS od
        FROM changes WHERE m <= {A} GROUP BY ALL
    ), grid AS (
        SELECT agency_code, unnest(range(min(m), {A} + 1)) AS m FROM per GROUP BY agency_code
    ), run AS (
        SELECT g.agency_code, g.m,
               coalesce(p.r_on, 0) AS r_on, coalesce(p.r_off, 0) AS r_off,
               coalesce(p.r_early, 0) + coalesce(p.r_on_time, 0) + coalesce(p.r_overdue, 0) AS res,
               coalesce(p.r_early, 0) AS r_early, coalesce(p.r_on_time, 0) AS r_on_time,
               coalesce(p.r_overdue, 0) AS r_overdue,
               sum(coalesce(p.r_on, 0) + coalesce(p.r_off, 0) - coalesce(p.r_early, 0) - coalesce(p.r_on_time, 0)
                   - coalesce(p.r_overdue, 0)) OVER w AS pending,
               sum(coalesce(p.od, 0)) OVER w AS pod
        FROM grid g LEFT JOIN per p ON p.agency_code = g.agency_code AND p.m = g.m
        WINDOW w AS (PARTITION BY g.agency_code ORDER BY g.m ROWS UNBOUNDED PRECEDING)
    )
    SELECT make_date(CAST(m // 12 AS INTEGER), CAST(m % 12 + 1 AS INTEGER), 1) AS month, agency_code,
           CAST(pending + res AS BIGINT) AS received_total, CAST(r_on AS BIGINT) AS received_online,
           CAST(r_off AS BIGINT) AS received_direct_postal, CAST(pending + res - r_on - r_off AS BIGINT) AS carried_over,
           CAST(res AS BIGINT) AS resolved_total, CAST(r_early AS BIGINT) AS resolved_early,
           CAST(r_on_time AS BIGINT) AS resolved_on_time, CAST(r_overdue AS BIGINT) AS resolved_overdue,
           CAST(pending AS BIGINT) AS pending_total, CAST(pending - pod AS BIGINT) AS pending_in_time,
           CAST(pod AS BIGINT) AS pending_overdue
    FROM run
    WHERE pending + res > 0"""
