"""The set-based SQL deadline engine.

The engine turns an INPUT RELATION of dossiers (typed columns, see ``INPUT_COLUMNS``) into the
rows of table ``dossier_sla``, as one DuckDB SELECT: a few hash joins against small TEMP calendar
tables, no per-row Python, no correlated subqueries.

Calendar tables (created by ``install(con)`` in the connection that runs the SQL; TEMP tables
are per connection, so install on the cursor you query with):

* ``<t>_day``:  one row per date of the horizon: ``dn`` (days since 1970-01-01), ``d``,
  ``is_working``, ``wd_index`` (working days up to and including the date), ``next_dn`` (next
  working day strictly after), names of the day off.
* ``<t>_key``:  the target lookup used for every deadline: key ``-i`` → the i-th working day
  (``wd_index`` → date), key ``dn`` ≥ 0 → the first working day on or after that date; with the
  target day's month (``mi`` = year * 12 + month - 1).
* ``<t>_runs``: runs of days off with their names, for explanations only.

Working hours use an office-time index without a table: every working day has the same office
time ``M`` (the sum of the sessions), so the office-time position of an instant on a working day
with index ``i`` is ``(i - 1) * M + office time elapsed that day``.

Rules (legal sources: /work/shared/domain/vn-administrative-procedures.md):

* Reception shift: received on a non-working day or at/after office close → the next working
  day's opening; before opening → that day's opening; during a break (working_hours) → the next
  session's start; same_day: received after the cutoff (15:00) → the next working day.
* working_days N: the N-th working day after the (shifted) reception day.
  calendar_days N: reception day + N calendar days, moved to the next working day if needed.
  same_day: the (shifted, by cutoff) reception day. working_hours N: the instant N office hours
  later (ending exactly at a session end → that session end).
* Fractional limits: working_days with a fraction (0.5) are counted as office time
  (N × the office day length), exactly like working_hours; calendar_days are rounded up.
* time_limit missing, zero, negative or not finite (units other than same_day) → no deadline:
  due_* NULL, final_status NULL, status 'no_deadline' (unless excluded/waiting_supplement).
  A deadline beyond the calendar horizon is also 'no_deadline'.
* Rule version: chosen by received_at (the last version whose effective_from is on or before
  it; older dossiers use the first). Versions with identical settings share one SELECT branch;
  different settings give a UNION ALL of branches split by received_at range.
* Supplement facts come from the columns supplement_requested_at / supplement_received_at and,
  when given, the events relation (events 'supplement_requested' / 'supplement_received'), in
  time order (a request and a receipt at the same instant: the request first). A receipt without
  a request still restarts the clock (restart mode).
* The engine sees the world as of ``as_of``: facts (supplement requests/receipts, finishing)
  after as_of are ignored; a dossier finished after as_of is pending at as_of, and
  final_status is only set for dossiers resolved at or before as_of.
* Supplements (restart, ND 61 art. 19.4): the clock restarts from the last receipt of the
  complete dossier (with the reception shift applied to it). A request after the last receipt
  is open: the dossier is ``waiting_supplement`` (unless resolved); while waiting, due_* keep the
  deadline that was running when the clock stopped. A dossier resolved while a request is open
  is judged at the moment the clock stopped (the request), not at the resolution.
  resume mode: the clock runs from the original reception and each pause (first request of a
  cycle → receipt) is added back: working days (working_days, same_day), calendar days
  (calendar_days) or office time (working_hours), each measured between the shifted instants.
* Extensions (extended_due_at, apology letter) are ignored for judging (reported in reasons).
* Resolution instant: finished_at, falling back to returned_at, for state finished/returned; a
  finished dossier with neither timestamp is treated as pending. as_of given as a date means
  the end of that day.
* final_status (resolved at as_of): judged instant >= late_from → overdue; judged date before the
  due date → early; otherwise on_time. status adds pending_in_time / pending_overdue
  (as_of >= late_from), waiting_supplement, excluded (withdrawn/rejected), no_deadline.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from functools import cached_property
from pathlib import Path

from config.ruleset import RuleSet, RuleSettings, RuleVersion, load_ruleset
from sla_rules.calendar import WEEKEND_NOTE, WorkCalendar

from sla_rules.constants import (  # noqa: F401  (re-exported: the engine's public names)
    CLK_CAL, CLK_DAYS, CLK_HOURS, CLK_SAME, DAY_US, EPOCH, EPOCH_DATE, HOUR_US, INPUT_COLUMNS, MAX_LIMIT,
    OUTPUT_COLUMNS, STATUSES,
)

# Values the engine computes anyway that a caller may ask for (compute_sql's `internals`).
INTERNALS = ("resolved", "fin_us", "late_us", "due_month", "sup_req", "sup_rcv")
# The engine's facts of a row that compute_sql's later `early` layers may read.
EARLY_FACTS = ("excl", "fin_state", "r_us", "f_us", "sup_req", "sup_rcv")
# Names of the engine's own columns between its layers: `extra` and `early` may not take them.
_RESERVED = frozenset((
    "excl", "fin_state", "u", "lim", "r_us", "s_us", "s_raw", "q_raw", "q_req", "ev_reqs", "q_open", "sup_req",
    "sup_rcv", "f_us",
    "p_wd", "p_wdc", "p_cd", "p_us", "e_us", "e_dn", "clk", "tod", "n", "wd", "w", "nx", "qpos", "tkey", "due_dn",
    "due_month", "late_us", "resolved", "j_us", "a", "b2", "x", "e", "c", "k", "pv", "mm"))

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$")


def _us(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


def epoch_us(ts: datetime) -> int:
    return (ts - EPOCH) // timedelta(microseconds=1)


def _relation(name: str, what: str) -> str:
    """A relation reference: a (dotted) identifier, quoted, or a parenthesised subquery."""
    s = name.strip()
    if s.startswith("(") and s.endswith(")"):
        return s
    if _IDENT.match(s):
        return ".".join(f'"{p}"' for p in s.split("."))
    raise ValueError(f"{what}: {name!r} is not a table/view name")


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _as_of(as_of: datetime | date) -> datetime:
    if isinstance(as_of, datetime):
        if as_of.tzinfo is not None:
            raise ValueError("as_of must be a naive local time (Asia/Ho_Chi_Minh)")
        return as_of
    # A date means the situation at the end of that day.
    return datetime.combine(as_of, time.max)


class _Lits:
    """SQL literals of one rule version's settings."""

    def __init__(self, s: RuleSettings):
        self.sessions = [(_us(x.start), _us(x.end)) for x in s.office_hours]
        self.open = self.sessions[0][0]
        self.close = self.sessions[-1][1]
        self.cutoff = _us(s.same_day_cutoff)
        self.m = sum(b - a for a, b in self.sessions)
        self.mode = s.supplement_mode

    def elapsed(self, tod: str) -> str:
        """Office time elapsed before time-of-day `tod` (µs) on a working day."""
        return "(" + " + ".join(f"least(greatest({tod} - {a}, 0), {b - a})" for a, b in self.sessions) + ")"

    def within_to_tod(self, within: str) -> str:
        """Time of day (µs) at which `within` (0 < within <= M) office µs of a day have passed.

        An end exactly at a session end gives that session end, not the next session's start."""
        if len(self.sessions) == 1:
            return f"({self.sessions[0][0]} + {within})"
        parts, cum = [], 0
        for i, (a, b) in enumerate(self.sessions):
            if i < len(self.sessions) - 1:
                parts.append(f"WHEN {within} <= {cum + b - a} THEN {a - cum} + {within}")
            else:
                parts.append(f"ELSE {a - cum} + {within}")
            cum += b - a
        return "(CASE " + " ".join(parts) + " END)"

    def hours_start(self, w: str, tod: str, edn: str, nx: str, e: str) -> str:
        """Shifted clock start (µs) for working_hours."""
        parts = [f"WHEN NOT {w} OR {tod} >= {self.close} THEN {nx} * {DAY_US} + {self.open}",
                 f"WHEN {tod} < {self.open} THEN {edn} * {DAY_US} + {self.open}"]
        for (a1, b1), (a2, _b2) in zip(self.sessions, self.sessions[1:]):
            parts.append(f"WHEN {tod} >= {b1} AND {tod} < {a2} THEN {edn} * {DAY_US} + {a2}")
        return "(CASE " + " ".join(parts) + f" ELSE {e} END)"

    def key(self) -> tuple:
        return (tuple(self.sessions), self.cutoff, self.mode)


class SlaEngine:
    """Deadline engine for one rule set and one working calendar."""

    def __init__(self, ruleset: RuleSet, calendar: WorkCalendar):
        self.ruleset = ruleset
        self.calendar = calendar
        self._prefix = f"sla_cal_{calendar.fingerprint()}"
        self._lists: tuple | None = None

    @classmethod
    def from_files(cls, rule_set_path: Path | str, calendar_override_paths: Iterable[Path | str] = ()) -> "SlaEngine":
        """Load the rule set and build its calendar (holidays package + override files, in order).

        Raises config.errors.ConfigError for a bad file.
        """
        rs = load_ruleset(rule_set_path)
        cal = WorkCalendar.from_files(rs.calendar_horizon.first_year, rs.calendar_horizon.last_year,
                                      list(calendar_override_paths))
        return cls(rs, cal)

    @property
    def name(self) -> str:
        return self.ruleset.name

    def rule_versions(self) -> list[tuple[str, datetime, time]]:
        """(id, effective_from at 00:00, office close) of each version, oldest first: a dossier is
        judged by the last version in force on its reception date, a dossier older than all by
        the first. A day-based deadline falls due at the office close of its due date."""
        return [(v.id, datetime.combine(v.effective_from, time()), v.settings.office_hours[-1].end)
                for v in self.ruleset.versions]

    @property
    def tables(self) -> dict[str, str]:
        p = self._prefix
        return {"day": f"{p}_day", "dayx": f"{p}_dayx", "key": f"{p}_key", "runs": f"{p}_runs"}

    # ------------------------------------------------------------------------------------
    def install(self, con) -> None:  # noqa: ANN001 - a duckdb connection or cursor
        """Create the TEMP calendar tables in this connection (idempotent)."""
        t = self.tables
        # The runs table is created last: with it, every table is there. Looked up in the catalog,
        # not by a failing query: an error would abort the caller's open transaction.
        if con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = $1", [t["runs"]]
        ).fetchone()[0]:
            return
        (lo, hi), exceptions, runs = self._day_range(), self._exceptions, self._calendar_lists()[4]
        for name in t.values():
            con.execute(f"DROP TABLE IF EXISTS temp.{name}")
        # The days from the weekly pattern (Monday–Friday worked, weekends off) and the calendar's
        # exceptions to it (holidays, worked weekends), passed as short lists: a list parameter
        # costs about a microsecond an element, thousands of days would take tens of ms.
        wk_vi, wk_en = WEEKEND_NOTE
        con.execute(
            f"""CREATE TEMP TABLE {t['day']} AS
            SELECT dn, d, is_working,
                   CAST(sum(is_working::INTEGER) OVER (ORDER BY dn ROWS UNBOUNDED PRECEDING) AS BIGINT) AS wd_index,
                   min(CASE WHEN is_working THEN dn END)
                       OVER (ORDER BY dn DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS next_dn,
                   off_vi, off_en
            FROM (SELECT r.dn, (DATE '1970-01-01' + r.dn::INTEGER) AS d,
                         coalesce(x.is_working, isodow(DATE '1970-01-01' + r.dn::INTEGER) <= 5) AS is_working,
                         coalesce(x.off_vi, CASE WHEN isodow(DATE '1970-01-01' + r.dn::INTEGER) > 5 THEN {_lit(wk_vi)}
                                                 ELSE '' END) AS off_vi,
                         coalesce(x.off_en, CASE WHEN isodow(DATE '1970-01-01' + r.dn::INTEGER) > 5 THEN {_lit(wk_en)}
                                                 ELSE '' END) AS off_en
                  FROM range({lo}, {hi + 1}) r(dn)
                  LEFT JOIN (SELECT unnest($1::BIGINT[]) AS dn, unnest($2::BOOLEAN[]) AS is_working,
                                    unnest($3::VARCHAR[]) AS off_vi, unnest($4::VARCHAR[]) AS off_en) x ON x.dn = r.dn)
            ORDER BY dn""",
            list(exceptions),
        )
        # The reception-day lookup of every dossier: the days plus one row of NULLs before the
        # first, which a day outside the calendar is sent to, so that the join is an inner one
        # (DuckDB's inner join on a small dense key costs a fraction of an outer join).
        con.execute(f"""CREATE TEMP TABLE {t['dayx']} AS
            SELECT * FROM {t['day']}
            UNION ALL SELECT min(dn) - 1, NULL, false, NULL, NULL, NULL, NULL FROM {t['day']}""")
        con.execute(
            f"""CREATE TEMP TABLE {t['key']} AS
            SELECT k, tdn, d, year(d) * 12 + month(d) - 1 AS mi FROM (
                SELECT -wd_index AS k, dn AS tdn, d FROM {t['day']} WHERE is_working
                UNION ALL
                SELECT dn AS k, CASE WHEN is_working THEN dn ELSE next_dn END AS tdn,
                       CASE WHEN is_working THEN d ELSE DATE '1970-01-01' + next_dn::INTEGER END AS d
                FROM {t['day']} WHERE is_working OR next_dn IS NOT NULL)"""
        )
        con.execute(
            f"""CREATE TEMP TABLE {t['runs']} AS
            SELECT unnest($1::BIGINT[]) AS first_dn, unnest($2::BIGINT[]) AS last_dn,
                   unnest($3::VARCHAR[]) AS text_vi, unnest($4::VARCHAR[]) AS text_en""",
            runs,
        )

    def _day_range(self) -> tuple[int, int]:
        """The first and last day of the calendar, as days since 1970-01-01."""
        dns = self._calendar_lists()[0]
        return dns[0], dns[-1]

    @cached_property
    def _exceptions(self) -> tuple[list, list, list, list]:
        """The calendar's days that the weekly pattern does not give (a weekday off, a weekend
        worked, or another note), as lists: days since 1970-01-01, worked, notes vi and en.
        Kept: every connection's install reads them (≈ 10 ms to build)."""
        dns, works, offs_vi, offs_en = self._calendar_lists()[:4]
        out: tuple[list, list, list, list] = ([], [], [], [])
        for dn, w, vi, en in zip(dns, works, offs_vi, offs_en):
            weekend = (EPOCH_DATE + timedelta(days=dn)).isoweekday() > 5
            if (w, vi, en) != ((False, *WEEKEND_NOTE) if weekend else (True, "", "")):
                for col, v in zip(out, (dn, w, vi, en)):
                    col.append(v)
        return out

    def _calendar_lists(self) -> tuple:
        if self._lists is None:
            cal = self.calendar
            days = cal.days()
            runs = cal.off_runs()
            self._lists = (
                [(c.d - EPOCH_DATE).days for c in days], [c.is_working for c in days],
                [cal.off_note(c.d, "vi") for c in days], [cal.off_note(c.d, "en") for c in days],
                [[(r.first - EPOCH_DATE).days for r in runs], [(r.last - EPOCH_DATE).days for r in runs],
                 [r.text("vi") for r in runs], [r.text("en") for r in runs]],
            )
        return self._lists

    # ------------------------------------------------------------------------------------
    def _groups(self) -> list[tuple[_Lits, list[tuple[RuleVersion, RuleVersion | None]]]]:
        """Versions grouped by identical settings: [(literals, [(version, next_version)])]."""
        vs = self.ruleset.versions
        groups: dict[tuple, tuple[_Lits, list]] = {}
        for i, v in enumerate(vs):
            lits = _Lits(v.settings)
            nxt = vs[i + 1] if i + 1 < len(vs) else None
            groups.setdefault(lits.key(), (lits, []))[1].append((v, nxt))
        return list(groups.values())

    def _version_expr(self, col: str) -> str:
        vs = self.ruleset.versions
        if len(vs) == 1:
            return _lit(vs[0].id)
        whens = " ".join(f"WHEN {col} >= TIMESTAMP '{v.effective_from.isoformat()}' THEN {_lit(v.id)}"
                         for v in reversed(vs[1:]))
        return f"(CASE {whens} ELSE {_lit(vs[0].id)} END)"

    def _range_cond(self, col: str, members: Sequence[tuple[RuleVersion, RuleVersion | None]]) -> str:
        first = self.ruleset.versions[0]
        conds = []
        for v, nxt in members:
            parts = []
            if v is not first:
                parts.append(f"{col} >= TIMESTAMP '{v.effective_from.isoformat()}'")
            if nxt is not None:
                parts.append(f"{col} < TIMESTAMP '{nxt.effective_from.isoformat()}'")
            c = " AND ".join(parts) if parts else "TRUE"
            if v is first:
                c = f"({c} OR {col} IS NULL)"
            conds.append(f"({c})")
        return " OR ".join(conds)

    def compute_sql(self, source: str, as_of: datetime | date, events: str | None = None,
                    with_reasons: bool = False, lang: str = "vi", extra: Sequence[str] = (),
                    status_type: str | None = None, internals: Sequence[str] = (),
                    early: Sequence[Mapping[str, str]] = ()) -> str:
        """A SELECT returning the columns of dossier_sla (+ `reason` when with_reasons) for `source`.

        extra: further columns of `source` passed through unchanged (after the output columns),
        so that a caller can aggregate the engine's output in the same pass. status_type: the name
        of an ENUM type holding STATUSES; when given, status and final_status are of that type
        (no strings are built per row). internals: values the engine computes anyway, added
        after the others (see INTERNALS): `resolved` (resolved at as_of), `fin_us` (the
        resolution instant, µs since 1970-01-01, for finished/returned dossiers), `late_us`
        (late_from in µs), `due_month` (the due day's month as year * 12 + month - 1),
        `sup_req` / `sup_rcv` (the latest supplement request / receipt of the columns and the
        events, whenever they happened: the monthly figures' view of them).
        early: caller's columns computed from the source row before the engine's calendar joins
        (where a row is cheapest to work on) and passed through, after the internals: a sequence
        of layers, each {name: SQL expression}. The first layer reads the source's columns as
        `x.<column>`; a later one reads the names of earlier layers and the engine's facts of the
        row (EARLY_FACTS: excluded, finished or returned, received_at and the resolution instant
        in µs, the latest supplement request and receipt `sup_req` / `sup_rcv`).
        An output column nobody reads is not computed (DuckDB drops unused expressions).
        """
        if lang not in ("vi", "en"):
            raise ValueError(f"lang must be 'vi' or 'en', got {lang!r}")
        extra = tuple(extra)
        for c in extra:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", c) or c in OUTPUT_COLUMNS or c in _RESERVED:
                raise ValueError(f"extra: {c!r} is not a source column name that can be passed through")
        internals = tuple(internals)
        for c in internals:
            if c not in INTERNALS or c in extra:
                raise ValueError(f"internals: {c!r} is not one the engine gives ({', '.join(INTERNALS)})")
        early = tuple(dict(layer) for layer in early)
        names = [n for layer in early for n in layer]
        for n in names:
            if (not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", n) or n in OUTPUT_COLUMNS or n in _RESERVED
                    or n in extra or n in INTERNALS or names.count(n) > 1):
                raise ValueError(f"early: {n!r} cannot name a column of the engine's output")
        if status_type is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", status_type):
            raise ValueError(f"status_type: {status_type!r} is not a type name")
        src = _relation(source, "source")
        ev = _relation(events, "events") if events is not None else None
        asof = _as_of(as_of)
        asof_lit = f"TIMESTAMP '{asof.isoformat(sep=' ')}'"
        asof_us = epoch_us(asof)
        groups = self._groups()
        any_resume = any(g[0].mode == "resume" for g in groups)
        use_events = ev is not None or any_resume
        sup_all = ev is not None and ("sup_req" in internals or "sup_rcv" in internals or any(
            re.search(r"\bsup_(req|rcv)\b", expr) for layer in early[1:] for expr in layer.values()))

        # The source is referenced directly (a CTE used several times would be materialised).
        ctes: list[str] = []
        ev_rows = (f"SELECT dossier_code, CASE event WHEN 'supplement_requested' THEN 0 ELSE 1 END AS ord, "
                   f"epoch_us(\"at\") AS t FROM {ev} WHERE event IN ('supplement_requested', 'supplement_received')"
                   if ev is not None else "")
        # Supplement facts. Restart mode with an events relation: `evd` holds only what the events
        # say (their last receipt and their requests up to as_of; their latest request and receipt
        # at any time for `sup_req`/`sup_rcv`) and each branch combines it with the dossier's own
        # columns, so the source is read once and only dossiers with events are grouped. Resume
        # mode needs every cycle in time order: events and columns together.
        split = ev is not None and not any_resume
        if split:
            alls = (", make_timestamp(max(t) FILTER (WHERE ord = 0)) AS ev_req_all, "
                    "make_timestamp(max(t) FILTER (WHERE ord = 1)) AS ev_rcv_all" if sup_all else "")
            ctes.append(
                f"evd AS (SELECT dossier_code, max(t) FILTER (WHERE ord = 1 AND t <= {asof_us}) AS ev_last, "
                f"list(t) FILTER (WHERE ord = 0 AND t <= {asof_us}) AS ev_reqs{alls} FROM ({ev_rows}) "
                f"GROUP BY dossier_code)")
        elif use_events:
            ev_union = []
            if ev is not None:
                ev_union.append(f"SELECT * FROM ({ev_rows}) WHERE t <= {asof_us}")
            ev_union.append(f"SELECT dossier_code, 0 AS ord, epoch_us(supplement_requested_at) AS t FROM {src} "
                            f"WHERE supplement_requested_at <= {asof_lit}")
            ev_union.append(f"SELECT dossier_code, 1 AS ord, epoch_us(supplement_received_at) AS t FROM {src} "
                            f"WHERE supplement_received_at <= {asof_lit}")
            ctes.append("ev0 AS (" + " UNION ALL ".join(ev_union) + ")")  # duplicates are harmless below
            # Cycles: `seg` = receipts before the event; a segment's first request starts a pause
            # that its receipt ends. The last segment without a receipt is the open request.
            ctes.append(
                "ev1 AS (SELECT dossier_code, ord, t, coalesce(sum(ord) OVER (PARTITION BY dossier_code "
                "ORDER BY t, ord ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS seg FROM ev0)")
            ctes.append(
                "pz AS (SELECT dossier_code, seg, min(t) FILTER (WHERE ord = 0) AS qa, "
                "min(t) FILTER (WHERE ord = 1) AS sb FROM ev1 GROUP BY dossier_code, seg)")
            ctes.append(
                "evd AS (SELECT dossier_code, max(sb) AS last_s, max(qa) FILTER (WHERE sb IS NULL) AS q_open "
                "FROM pz GROUP BY dossier_code)")
            if sup_all:
                ctes.append(f"evm AS (SELECT dossier_code, make_timestamp(max(t) FILTER (WHERE ord = 0)) AS ev_req_all, "
                            f"make_timestamp(max(t) FILTER (WHERE ord = 1)) AS ev_rcv_all FROM ({ev_rows}) "
                            f"GROUP BY dossier_code)")
        ev_mode = "split" if split else "full" if use_events else None

        branches = []
        for gi, (lits, members) in enumerate(groups):
            cond = self._range_cond("x.received_at", members) if len(groups) > 1 else "TRUE"
            if lits.mode == "resume":
                ctes.append(self._pause_cte(f"pzv{gi}", lits))
            branches.append(self._branch(src, gi, lits, cond, asof_us, asof_lit, ev_mode, with_reasons,
                                         extra, status_type, internals, early, sup_all))
        body = "\nUNION ALL\n".join(branches)
        sql = ("WITH " + ",\n".join(ctes) + "\n") if ctes else ""
        if with_reasons:
            sql += self._reason_select(body, lang)
        else:
            sql += body
        return sql

    # ------------------------------------------------------------------------------------
    def _pause_cte(self, name: str, L: _Lits) -> str:
        """Per dossier, the paused time of closed supplement cycles measured in each flavour."""
        t = self.tables
        def flav(prefix: str, c: str) -> dict[str, str]:
            tod = f"({prefix} - ({prefix} // {DAY_US}) * {DAY_US})"
            dn = f"({prefix} // {DAY_US})"
            w = f"coalesce({c}.is_working, false)"
            same = f"({w} AND {tod} < {L.close})"
            samec = f"({w} AND {tod} <= {L.cutoff})"
            return {
                "wd": f"({c}.wd_index + CASE WHEN {same} THEN 0 ELSE 1 END)",
                "wdc": f"({c}.wd_index + CASE WHEN {samec} THEN 0 ELSE 1 END)",
                "cd": f"(CASE WHEN {same} THEN {dn} ELSE {c}.next_dn END)",
                "us": f"(({c}.wd_index - 1) * {L.m} + CASE WHEN {w} THEN {L.elapsed(tod)} ELSE {L.m} END)",
            }
        a, b = flav("p.qa", "ca"), flav("p.sb", "cb")
        ok = "bool_and(ca.dn IS NOT NULL AND cb.dn IS NOT NULL)"
        cols = ", ".join(f"CASE WHEN {ok} THEN CAST(sum({b[k]} - {a[k]}) AS BIGINT) END AS p_{k}" for k in ("wd", "wdc", "cd", "us"))
        return (f"{name} AS (SELECT p.dossier_code, {cols} FROM pz p "
                f"LEFT JOIN {t['day']} ca ON ca.dn = p.qa // {DAY_US} "
                f"LEFT JOIN {t['day']} cb ON cb.dn = p.sb // {DAY_US} "
                f"WHERE p.qa IS NOT NULL AND p.sb IS NOT NULL GROUP BY p.dossier_code)")

    def _branch(self, src: str, gi: int, L: _Lits, cond: str, asof_us: int, asof_lit: str, ev_mode: str | None,
                with_reasons: bool, extra: tuple[str, ...] = (), status_type: str | None = None,
                internals: tuple[str, ...] = (), early: tuple[dict[str, str], ...] = (),
                sup_all: bool = False) -> str:
        """One rule-settings group as layers of SELECTs over the source.

        Written for DuckDB's vectorised executor, where every expression node costs a pass over
        the rows (a CASE more than arithmetic): each value is computed once, in the first layer
        that has its inputs, and what a layer does not need is not carried into it.
        """
        t = self.tables

        def S(status: str) -> str:  # a status literal, typed when status_type is given
            return f"'{status}'::{status_type}" if status_type else f"'{status}'"

        D, M = DAY_US, L.m
        resume = L.mode == "resume"
        R = with_reasons
        ex_cols = "".join(f", x.{c}" for c in extra)
        ex_names = "".join(f", {c}" for c in extra)
        early_names = "".join(f", {n}" for layer in early for n in layer)
        joins = ""
        # The supplement facts known at as_of. s_us: the last receipt; q_open: the request after it,
        # still open. Without events they come from the columns in two CASEs (e_us, q_open in a1).
        col_last = f"(CASE WHEN x.supplement_received_at <= {asof_lit} THEN epoch_us(x.supplement_received_at) END)"
        q_req = f"(CASE WHEN x.supplement_requested_at <= {asof_lit} THEN epoch_us(x.supplement_requested_at) END)"
        lo = "coalesce(s_us, -9223372036854775807)"
        e_us = "r_us" if resume else "CASE WHEN s_us > r_us THEN s_us ELSE r_us END"
        if ev_mode == "full":
            joins += " LEFT JOIN evd e ON e.dossier_code = x.dossier_code"
            a0_sup = "e.last_s AS s_us, e.q_open AS q_open"
            q_open = None                                       # known in a0
        elif ev_mode == "split":  # the events' facts and the columns' facts together (greatest/least skip NULLs)
            joins += " LEFT JOIN evd e ON e.dossier_code = x.dossier_code"
            a0_sup = f"greatest(e.ev_last, {col_last}) AS s_us, {q_req} AS q_req, e.ev_reqs"
            q_open = (f"least(CASE WHEN q_req > {lo} THEN q_req END, "
                      f"CASE WHEN ev_reqs IS NOT NULL THEN list_min(list_filter(ev_reqs, lambda r: r > {lo})) END)")
        else:  # s_raw / q_raw: the columns' instants, as_of applied where they are used
            a0_sup = ("epoch_us(x.supplement_received_at) AS s_raw, epoch_us(x.supplement_requested_at) AS q_raw")
            if not resume:
                e_us = f"CASE WHEN s_raw > r_us AND s_raw <= {asof_us} THEN s_raw ELSE r_us END"
            q_open = (f"CASE WHEN q_raw <= {asof_us} AND (s_raw IS NULL OR s_raw > {asof_us} OR q_raw > s_raw) "
                      f"THEN q_raw END")
        s_us = f"CASE WHEN s_raw <= {asof_us} THEN s_raw END" if ev_mode is None else "s_us"  # the last receipt
        # the latest supplement request and receipt at any time (the monthly figures' view)
        if sup_all:
            m = "e" if ev_mode == "split" else "mm"
            if ev_mode != "split":
                joins += " LEFT JOIN evm mm ON mm.dossier_code = x.dossier_code"
            a0_sup += (f", greatest(x.supplement_requested_at, {m}.ev_req_all) AS sup_req"
                       f", greatest(x.supplement_received_at, {m}.ev_rcv_all) AS sup_rcv")
        else:
            a0_sup += ", x.supplement_requested_at AS sup_req, x.supplement_received_at AS sup_rcv"
        flav = ("wd", "wdc", "cd", "us")
        if resume:
            joins += f" LEFT JOIN pzv{gi} pv ON pv.dossier_code = x.dossier_code"
            pz_cols = "".join(f", (CASE WHEN pv.dossier_code IS NULL THEN 0 ELSE pv.p_{k} END) AS p_{k}" for k in flav)
            pz_names = "".join(f", p_{k}" for k in flav)
        else:
            pz_cols = pz_names = ""
        P = {k: (f"p_{k}" if resume else "0") for k in flav}
        rs_cols = (", x.received_at AS _received_at, x.time_unit AS _unit, x.time_limit AS _limit, "
                   "x.extended_due_at AS _ext, x.state AS _state") if R else ""
        rs_names = ", _received_at, _unit, _limit, _ext, _state" if R else ""
        first_early = "".join(f", {expr} AS {n}" for n, expr in (early[0].items() if early else ()))
        # a0: one pass over the source
        a0 = (f"SELECT x.dossier_code, x.state IN ('withdrawn', 'rejected') AS excl, "
              f"x.state IN ('finished', 'returned') AS fin_state, "
              f"{self._version_expr('x.received_at')} AS rule_version, "
              f"CASE x.time_unit WHEN 'working_days' THEN {CLK_DAYS} WHEN 'calendar_days' THEN {CLK_CAL} "
              f"WHEN 'same_day' THEN {CLK_SAME} WHEN 'working_hours' THEN {CLK_HOURS} END AS u, "
              f"x.time_limit AS lim, epoch_us(x.received_at) AS r_us, {a0_sup}, "
              f"epoch_us(coalesce(x.finished_at, x.returned_at)) AS f_us"
              f"{pz_cols}{rs_cols}{ex_cols}{first_early} FROM {src} x{joins} WHERE {cond}")
        # a1: the clock's start (restart: the last receipt of the complete dossier), its day, the
        # open request, the clock kind; then the caller's later early layers
        ok = f"lim > 0 AND lim <= {MAX_LIMIT}"
        q_col = f", {q_open} AS q_open" if q_open else ""
        a1 = (f"SELECT *, e_us // {D} AS e_dn{q_col}, "
              f"CASE WHEN u = {CLK_SAME} THEN {CLK_SAME} WHEN {ok} THEN "
              f"(CASE WHEN u = {CLK_DAYS} AND lim <> floor(lim) THEN {CLK_HOURS} ELSE u END) END AS clk "
              f"FROM (SELECT *, {e_us} AS e_us FROM ({a0}))")
        for layer in early[1:]:
            a1 = f"SELECT *, {', '.join(f'{expr} AS {n}' for n, expr in layer.items())} FROM ({a1})"
        # a2: time of day and the limit in the clock's units
        a2 = (f"SELECT *, e_us - e_dn * {D} AS tod, "
              f"CASE clk WHEN {CLK_DAYS} THEN CAST(lim AS BIGINT) WHEN {CLK_CAL} THEN CAST(ceil(lim) AS BIGINT) "
              f"WHEN {CLK_HOURS} THEN (CASE WHEN u = {CLK_HOURS} THEN CAST(round(lim * {HOUR_US}) AS BIGINT) "
              f"ELSE CAST(round(lim * {M}) AS BIGINT) END) ELSE 0 END AS n FROM ({a1})")
        # b: reception day facts (join 1), then the target key
        lo, hi = self._day_range()
        b = (f"SELECT a.*, c.wd_index AS wd, c.is_working AS w, c.next_dn AS nx"
             + (", c.off_vi AS _off_vi, c.off_en AS _off_en" if R else "")
             + f" FROM ({a2}) a JOIN {t['dayx']} c "
             f"ON c.dn = CASE WHEN a.e_dn BETWEEN {lo} AND {hi} THEN a.e_dn ELSE {lo - 1} END")
        same = f"(w AND tod < {L.close})"
        samec = f"(w AND tod <= {L.cutoff})"
        qpos = (f"(wd - 1) * {M} + (CASE WHEN w THEN {L.elapsed('tod')} ELSE {M} END) + n + {P['us']}")
        tkey = (f"CASE clk WHEN {CLK_DAYS} THEN -(wd + n + {P['wd']} + CASE WHEN {same} THEN 0 ELSE 1 END) "
                f"WHEN {CLK_CAL} THEN (CASE WHEN {same} THEN e_dn ELSE nx END) + n + {P['cd']} "
                f"WHEN {CLK_SAME} THEN -(wd + {P['wdc']} + CASE WHEN {samec} THEN 0 ELSE 1 END) "
                f"WHEN {CLK_HOURS} THEN -((qpos + {M - 1}) // {M}) END")
        b2 = (f"SELECT *, {tkey} AS tkey FROM "
              f"(SELECT *, CASE WHEN clk = {CLK_HOURS} THEN {qpos} END AS qpos FROM ({b}))")
        # c: the due day (join 2), late_from, resolution and the judged instant
        c = (f"SELECT b2.*, k.tdn AS due_dn, k.d AS due_date, k.mi AS due_month "
             f"FROM ({b2}) b2 LEFT JOIN {t['key']} k ON k.k = b2.tkey")
        within = f"(qpos + (tkey + 1) * {M})"  # qpos - (k - 1) * M with k = -tkey
        due_us = (f"CASE WHEN clk = {CLK_HOURS} THEN due_dn * {D} + {L.within_to_tod(within)} "
                  f"ELSE due_dn * {D} + {L.close} END")
        late = f"CASE WHEN clk = {CLK_HOURS} THEN due_dn * {D} + {L.within_to_tod(within)} + 1 ELSE (due_dn + 1) * {D} END"
        d2 = (f"SELECT *, {late} AS late_us, fin_state AND f_us <= {asof_us} AS resolved, "
              f"CASE WHEN q_open < f_us THEN q_open ELSE f_us END AS j_us FROM ({c})")
        status = (f"CASE WHEN excl THEN {S('excluded')} "
                  f"WHEN resolved THEN (CASE WHEN due_dn IS NULL THEN {S('no_deadline')} "
                  f"WHEN j_us >= late_us THEN {S('overdue')} WHEN j_us < due_dn * {D} THEN {S('early')} "
                  f"ELSE {S('on_time')} END) "
                  f"WHEN q_open IS NOT NULL THEN {S('waiting_supplement')} "
                  f"WHEN due_dn IS NULL THEN {S('no_deadline')} "
                  f"WHEN late_us <= {asof_us} THEN {S('pending_overdue')} ELSE {S('pending_in_time')} END")
        # the clock's start instant (only computed when clock_start_at is read)
        start = (f"CASE WHEN clk = {CLK_HOURS} THEN {L.hours_start('w', 'tod', 'e_dn', 'nx', 'e_us')} "
                 f"WHEN clk IS NULL THEN e_us "
                 f"WHEN (CASE WHEN clk = {CLK_SAME} THEN {samec} ELSE {same} END) "
                 f"THEN e_dn * {D} + greatest(tod, {L.open}) ELSE nx * {D} + {L.open} END")
        final = (f"CASE WHEN status IN ({S('early')}, {S('on_time')}, {S('overdue')}) THEN status END")
        internal_expr = {"resolved": "coalesce(resolved, false)", "fin_us": "CASE WHEN fin_state THEN f_us END",
                         "late_us": "late_us", "due_month": "due_month",
                         "sup_req": "sup_req", "sup_rcv": "sup_rcv"}
        outer = (f"dossier_code, rule_version, make_timestamp({start}) AS clock_start_at, due_date, "
                 f"make_timestamp({due_us}) AS due_at, make_timestamp(late_us) AS late_from, {final} AS final_status, "
                 f"status, {asof_lit} AS computed_as_of{ex_names}"
                 + "".join(f", {internal_expr[c]} AS {c}" for c in internals) + early_names)
        if R:
            pr = ", ".join(f"{P[k]} AS _p_{k}" for k in flav)
            outer += (", e_us AS _e_us, tod AS _tod, w AS _w, clk AS _clk, q_open AS _q_open, "
                      "CASE WHEN fin_state THEN j_us END AS _j_us, coalesce(resolved, false) AS _resolved, "
                      "e_dn AS _e_dn, due_dn AS _due_dn, _state, "
                      f"_received_at, _unit, _limit, _ext, {s_us} AS _last_s, {pr}, _off_vi, _off_en, "
                      f"{L.open} AS _open, {L.close} AS _close, {L.cutoff} AS _cutoff, "
                      f"{'true' if resume else 'false'} AS _resume")
        return f"SELECT {outer} FROM (SELECT *, {status} AS status FROM ({d2}))"

    # ------------------------------------------------------------------------------------
    def _reason_select(self, body: str, lang: str) -> str:
        from sla_rules.reasons import reason_sql

        return reason_sql(body, self.tables["runs"], lang, self.calendar)
