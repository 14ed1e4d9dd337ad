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

Rules (legal sources: docs/ARCHITECTURE.md, "The numbers", and the rule-set file):

* Reception shift: received on a non-working day or at/after office close → the next working
  day's opening; before opening → that day's opening; during a break (working_hours) → the next
  session's start; same_day: received after the cutoff (15:00) → the next working day.
* working_days N: the N-th working day after the (shifted) reception day.
  calendar_days N: reception day + N calendar days, moved to the next working day if needed.
  same_day: the (shifted, by cutoff) reception day. working_hours N: the instant N office hours
  later (ending exactly at a session end → that session end).
* Fractional limits: working_days N + f end f of an office day into the working day after the
  N-th (office time from that day's opening), so a longer limit never ends earlier;
  calendar_days are rounded up.
* time_limit missing, zero, negative or not finite (units other than same_day) → no deadline:
  due_* NULL, final_status NULL, status 'no_deadline' (unless excluded/waiting_supplement).
  A deadline beyond the calendar horizon is also 'no_deadline'.
* Rule version: chosen by received_at (the last version whose effective_from is on or before
  it; older dossiers use the first). Versions with identical settings share one SELECT branch;
  different settings give a UNION ALL of branches split by received_at range.
* Supplement facts come from the columns supplement_requested_at / supplement_received_at and,
  when given, the events relation (events 'supplement_requested' / 'supplement_received'), in
  time order (a request and a receipt at the same instant: the request first). They form cycles:
  a request opens one (a second request while one is open changes nothing), a receipt closes it.
  A receipt with no open request restarts nothing (flag ORPHAN_RECEIPT), except the receipt of a
  row whose latest request is later: it answered a request the row no longer shows. A request at
  or after the deadline in force stops and restarts nothing, nor does anything after it (flag
  LATE_REQUEST): a lawful request comes before the deadline.
* The engine sees the world as of ``as_of``: facts (supplement requests/receipts, finishing)
  after as_of are ignored; a dossier finished after as_of is pending at as_of, and
  final_status is only set for dossiers resolved at or before as_of. Supplement facts dated
  after the result are ignored too (flag AFTER_RESULT).
* Supplements (restart, ND 61 art. 19.4): the clock restarts from the last receipt of the
  complete dossier (with the reception shift applied to it). A request after the last receipt
  is open: the dossier is ``waiting_supplement`` (unless resolved); while waiting, due_* keep the
  deadline that was running when the clock stopped. A dossier resolved while a request is open
  is judged at the moment the clock stopped (the request), not at the resolution.
  resume mode: the clock runs from the original reception and each pause (first request of a
  cycle → receipt) is added back: working days (working_days, same_day), calendar days
  (calendar_days) or office time (working_hours), each measured between the shifted instants.
* Pauses (rule-set setting pauses.enabled, off unless a text is cited): events 'pause' / 'resume'
  form cycles of their own; a pause stops the clock and its resume lets it go on, the paused time
  added as in resume mode (restart mode: only the pauses since the last restart). A pause at or
  after the deadline in force stops nothing, nor does one inside an open supplement cycle; a
  request ends a pause still open. A dossier still paused at as_of is pending_in_time (or
  no_deadline), one resolved while paused is judged at the pause.
* Extensions (extended_due_at, apology letter) are ignored for judging (reported in reasons).
* Resolution instant: finished_at, falling back to returned_at, whatever the state says but
  withdrawn or rejected (a processing dossier with a result date: flag INCONSISTENT_STATE); a
  finished dossier with neither timestamp is treated as pending. as_of given as a date means
  the end of that day.
* final_status (resolved at as_of): judged instant >= late_from → overdue; judged date before the
  due date → early; otherwise on_time. status adds pending_in_time / pending_overdue
  (as_of >= late_from), waiting_supplement, excluded (withdrawn/rejected), no_deadline. A
  rejected dossier whose result is at or after late_from is flagged NEGATIVE_LATE; the rule
  set's negative_after_deadline: overdue counts it as resolved overdue instead of excluded.
"""
from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from functools import cached_property
from pathlib import Path

from config.ruleset import RuleSet, RuleSettings, RuleVersion, load_ruleset
from config.vocabulary import EXCLUDED_STATES, PAUSE_EVENTS, RESOLVED_STATUSES, SUPPLEMENT_EVENTS, quoted_list
from sla_rules.calendar import WEEKEND_NOTE, WorkCalendar

from sla_rules.constants import (  # noqa: F401  (re-exported: the engine's public names)
    CLK_CAL, CLK_DAYS, CLK_FRAC, CLK_HOURS, CLK_SAME, DAY_US, FLAG_AFTER_RESULT, FLAG_INCONSISTENT_STATE,
    FLAG_LATE_REQUEST, FLAG_NEGATIVE_LATE, FLAG_ORPHAN_RECEIPT, FLAG_STOPPED, fractional_sql, EPOCH, EPOCH_DATE, HOUR_US, INPUT_COLUMNS, MAX_LIMIT,
    OUTPUT_COLUMNS, STATUSES,
)
from sla_rules.constants import (clock_sql, in_clock_sql, limit_sql, month_number_sql, office_elapsed_sql,
                                 time_of_day_us)

# Values the engine computes anyway that a caller may ask for (compute_sql's `internals`).
INTERNALS = ("resolved", "fin_us", "late_us", "late_month", "flags")
# The engine's facts of a row that compute_sql's later `early` layers may read.
EARLY_FACTS = ("excl", "fin_state", "r_us", "f_us")
# Names of the engine's own columns between its layers: `extra` and `early` may not take them.
_RESERVED = frozenset((
    "rej", "proc", "pause_k", "q_pause", "qc_raw", "sc_raw", "bnd", "q_k", "fl0", "e_k", "open_k", "last_k", "first_k", "late_req",
    "q_open", "late_month", "p_wd", "p_wdc", "p_cd", "p_us", "e_us", "due_date", "lim", "u",
    "excl", "fin_state", "u", "lim", "r_us", "s_us", "s_raw", "q_raw", "q_req", "ev_reqs", "q_open", "sup_req",
    "sup_rcv", "f_us",
    "p_wd", "p_wdc", "p_cd", "p_us", "e_us", "e_dn", "clk", "tod", "n", "wd", "w", "nx", "qpos", "tkey", "due_dn",
    "due_month", "late_us", "resolved", "j_us", "a", "b2", "x", "e", "c", "k", "pv", "mm"))


def restart_cycle_sql(x: str = "x") -> str:
    """Whether a dossier row (its columns as `x`.<column>) has a supplement request and a receipt
    after it whose lawfulness needs the first deadline, in restart mode: the request is not before
    a lower bound of that deadline, its reception alone gives (a period of n days or hours never
    ends sooner than n calendar days or real hours later). A request before the bound is lawful for
    sure, and the clock restarts from the receipt. A function of the row alone: no rule set or
    calendar changes it, so the store keeps it in the row (compute_sql's `cycle_flag`)."""
    D = DAY_US
    q, sr = f"{x}.supplement_requested_at", f"{x}.supplement_received_at"
    r_us, lim = f"epoch_us({x}.received_at)", limit_sql(f"{x}.time_unit", f"{x}.time_limit")
    r_dn = f"({r_us} // {D})"
    unit = functools.partial(in_clock_sql, f"{x}.time_unit")
    bound = (f"(CASE WHEN {unit('same_day')} THEN ({r_dn} + 1) * {D} "
             f"WHEN NOT coalesce({lim} > 0 AND {lim} <= {MAX_LIMIT}, false) THEN 9223372036854775807 "
             f"WHEN {unit('working_hours')} THEN {r_us} + CAST(round({lim} * {HOUR_US}) AS BIGINT) "
             f"WHEN {unit('calendar_days')} THEN ({r_dn} + CAST(ceil({lim}) AS BIGINT) + 1) * {D} "
             f"WHEN {unit('working_days')} THEN ({r_dn} + CAST(floor({lim}) AS BIGINT) + 1) * {D} "
             f"ELSE 9223372036854775807 END)")
    return f"({q} IS NOT NULL AND {sr} IS NOT NULL AND {q} <= {sr} AND epoch_us({q}) >= {bound})"


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$")


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
        self.sessions = [(time_of_day_us(x.start), time_of_day_us(x.end)) for x in s.office_hours]
        self.open = self.sessions[0][0]
        self.close = self.sessions[-1][1]
        self.cutoff = time_of_day_us(s.same_day_cutoff)
        self.m = sum(b - a for a, b in self.sessions)
        self.mode = s.supplement_mode
        self.negative = s.negative_after_deadline
        self.pauses = s.pauses.enabled

    def elapsed(self, tod: str) -> str:
        """Office time elapsed before time-of-day `tod` (µs) on a working day."""
        return office_elapsed_sql(tod, self.sessions)

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
        return (tuple(self.sessions), self.cutoff, self.mode, self.negative, self.pauses)


class SlaEngine:
    """Deadline engine for one rule set and one working calendar."""

    def __init__(self, ruleset: RuleSet, calendar: WorkCalendar):
        self.ruleset = ruleset
        self.calendar = calendar
        self._prefix = f"sla_cal_{calendar.fingerprint()}"
        self._lists: tuple | None = None
        self._fingerprint: str | None = None

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

    def fingerprint(self) -> str:
        """Changes with anything that can change a result: the rule set, the calendar and the
        engine's own SQL (a new version of the code). Results judged under another fingerprint
        are only replaced whole (store/sla.py, refresh_plan). Computed once: the engine never changes."""
        if self._fingerprint is None:
            h = hashlib.sha256(self.ruleset.model_dump_json().encode())
            h.update(self.calendar.fingerprint().encode())
            h.update(self.compute_sql("source", datetime(2000, 1, 1), events="events").encode())
            self._fingerprint = h.hexdigest()[:24]
        return self._fingerprint

    @property
    def event_kinds(self) -> tuple[str, ...]:
        """The dossier events the engine reads: supplement cycles, and pauses where a version enables them."""
        if any(v.settings.pauses.enabled for v in self.ruleset.versions):
            return (*SUPPLEMENT_EVENTS, *PAUSE_EVENTS)
        return SUPPLEMENT_EVENTS

    @property
    def counts_late_refusals(self) -> bool:
        """Whether some version counts a refusal after the deadline as resolved overdue."""
        return any(v.settings.negative_after_deadline == "overdue" for v in self.ruleset.versions)

    def rule_versions(self) -> list[tuple[str, datetime, time, list[time], list[time]]]:
        """(id, effective_from at 00:00, office close, the office sessions' starts and ends) of each
        version, oldest first: a dossier is judged by the last version in force on its reception
        date, a dossier older than all by the first. A day-based deadline falls due at the office
        close of its due date; working time is counted in the sessions."""
        return [(v.id, datetime.combine(v.effective_from, time()), v.settings.office_hours[-1].end,
                 [s.start for s in v.settings.office_hours], [s.end for s in v.settings.office_hours])
                for v in self.ruleset.versions]

    def calendar_sql(self) -> str:
        """SELECT of (d, is_working, wd_index: working days up to and including d) for every day
        of the calendar, from the tables `install` made in the connection."""
        return f"SELECT d, is_working, wd_index FROM temp.{self.tables['day']} ORDER BY d"

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
            SELECT k, tdn, d, {month_number_sql('d')} AS mi, {month_number_sql('d + INTERVAL 1 DAY')} AS mi1 FROM (
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
                    early: Sequence[Mapping[str, str]] = (), cycle_flag: str | None = None,
                    cycle_source: str | None = None) -> str:
        """A SELECT returning the columns of dossier_sla (+ `reason` and the audit `flags` when with_reasons) for `source`.

        extra: further columns of `source` passed through unchanged (after the output columns),
        so that a caller can aggregate the engine's output in the same pass. status_type: the name
        of an ENUM type holding STATUSES; when given, status and final_status are of that type
        (no strings are built per row). internals: values the engine computes anyway, added
        after the others (see INTERNALS): `resolved` (resolved at as_of), `fin_us` (the
        resolution instant, µs since 1970-01-01, for resolved dossiers), `late_us` (late_from in
        µs), `late_month` (the month of late_from as year * 12 + month - 1: the first month whose
        end finds the dossier late), `flags` (UTINYINT, sla_rules.constants FLAG_*).
        early: caller's columns computed from the source row before the engine's calendar joins
        (where a row is cheapest to work on) and passed through, after the internals: a sequence
        of layers, each {name: SQL expression}. The first layer reads the source's columns as
        `x.<column>`; a later one reads the names of earlier layers and the engine's facts of the
        row (EARLY_FACTS: excluded, resolved at some time, received_at and the resolution instant
        in µs).
        cycle_flag: a BOOLEAN column of `source` holding restart_cycle_sql of the row, so that the
        engine reads it rather than computing it (a NULL is judged as TRUE). cycle_source: a relation
        with the columns of `source` holding exactly its rows whose cycle_flag is TRUE (restart mode
        reads them there rather than picking them out of `source`; a NULL flag then is an error of
        the caller's).
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
        if cycle_flag is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", cycle_flag):
            raise ValueError(f"cycle_flag: {cycle_flag!r} is not a column name")
        if cycle_source is not None and cycle_flag is None:
            raise ValueError("cycle_source needs cycle_flag")
        cyc = _relation(cycle_source, "cycle_source") if cycle_source is not None else None
        src = _relation(source, "source")
        ev = _relation(events, "events") if events is not None else None
        asof = _as_of(as_of)
        asof_lit = f"TIMESTAMP '{asof.isoformat(sep=' ')}'"
        asof_us = epoch_us(asof)
        groups = self._groups()

        # The source is referenced directly (a CTE used several times would be materialised).
        ctes: list[str] = []
        if ev is not None:
            # ord: 0 request, 1 receipt, 2 pause, 3 resume (the order of two facts at one instant)
            kinds = self.event_kinds
            ords = " ".join(f"WHEN {quoted_list((e,))} THEN {i}" for i, e in enumerate(kinds))
            ctes.append(f"evk AS (SELECT dossier_code, CASE event {ords} END AS ord, "
                        f"epoch_us(\"at\") AS t FROM {ev} WHERE event IN ({quoted_list(kinds)}))")
        branches = []
        for gi, (lits, members) in enumerate(groups):
            cond = self._range_cond("x.received_at", members) if len(groups) > 1 else "TRUE"
            fast, slow = self._branch(src, gi, lits, cond, asof_us, asof_lit, ev is not None, with_reasons,
                                      extra, status_type, internals, early, ctes, cycle_flag, cyc)
            branches += [fast, slow]
        body = "\nUNION ALL\n".join(branches)
        sql = ("WITH " + ",\n".join(ctes) + "\n") if ctes else ""
        if with_reasons:
            sql += self._reason_select(body, lang)
        else:
            sql += body
        return sql

    # ------------------------------------------------------------------------------------
    def _cycles(self, gi: int, L: _Lits, sx: str, asof_us: int, events: bool) -> list[str]:
        """CTEs giving the candidate clocks of the dossiers with a supplement history (`sx`).

        Facts (the columns' and the events' requests and receipts, and with pauses enabled the
        events' pauses and resumes, up to as_of and the result) form cycles of two kinds: a
        request opens a supplement cycle (a second request while one is open changes nothing) and
        its receipt closes it; a pause opens a pause cycle and its resume closes it. A receipt with
        no open request is an orphan and left out, except the receipt of an export row whose latest
        request is later (that receipt answered a request the row no longer shows: a cycle with an
        unknown request); a resume with no open pause is ignored. A pause while a supplement request
        is open changes nothing, and a request ends a pause still open (the clock is stopped by it
        anyway). Candidate k is the clock before cycle k (restart: from the receipt of the last
        supplement cycle before k, with the pauses closed since added; resume: from reception with
        every closed cycle's pause added), checked against cycle k's opening; the last candidate is
        the clock after every cycle. The branch keeps the first candidate whose opening is late,
        whose cycle is open, or that is the last."""
        t = self.tables
        D = DAY_US
        n = f"{gi}"
        resume, pauses = L.mode == "resume", L.pauses
        facts = [f"SELECT dossier_code, 0 AS ord, qc_raw AS t FROM {sx} WHERE qc_raw IS NOT NULL",
                 f"SELECT dossier_code, 1 AS ord, sc_raw AS t FROM {sx} WHERE sc_raw IS NOT NULL"]
        if events:
            facts.append(f"SELECT e.dossier_code, e.ord, e.t FROM evk e SEMI JOIN {sx} s ON s.dossier_code = e.dossier_code"
                         + ("" if pauses else " WHERE e.ord < 2"))
        # kind: 0 a supplement cycle (ord 0 request, 1 receipt), 1 a pause (ord 2 pause, 3 resume)
        out = [
            f"sf{n} AS (SELECT f.*, f.ord // 2 AS kind, s.bnd, s.qc_raw, s.sc_raw FROM ({' UNION '.join(facts)}) f "
            f"JOIN {sx} s ON s.dossier_code = f.dossier_code WHERE f.t <= {asof_us})",
            # seg: closing facts of the kind before the fact; each segment ends with at most one
            f"sg{n} AS (SELECT *, coalesce(sum(ord % 2) OVER (PARTITION BY dossier_code, kind ORDER BY t, ord "
            f"ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS seg FROM sf{n} WHERE t <= bnd)",
            f"sp{n} AS (SELECT dossier_code, kind, seg, min(t) FILTER (WHERE ord % 2 = 0) AS qa, "
            f"min(t) FILTER (WHERE ord % 2 = 1) AS sb, "
            f"any_value(qc_raw) AS qc, any_value(sc_raw) AS sc, any_value(bnd) AS bnd FROM sg{n} GROUP BY dossier_code, kind, seg)",
            f"sy{n} AS (SELECT *, coalesce(kind = 0 AND qa IS NULL AND sb = sc AND qc > sc AND qc <= bnd, false) AS implied "
            f"FROM sp{n})",
        ]
        cyc = f"sy{n}"
        if pauses:
            # a pause inside an open supplement cycle is none; a request ends a pause still open
            out.append(
                f"sv{n} AS (SELECT y.* EXCLUDE (sb), CASE WHEN y.kind = 1 THEN least(y.sb, (SELECT min(z.qa) FROM sy{n} z "
                f"WHERE z.dossier_code = y.dossier_code AND z.kind = 0 AND z.qa > y.qa)) ELSE y.sb END AS sb "
                f"FROM sy{n} y WHERE y.kind = 0 OR NOT EXISTS (SELECT 1 FROM sy{n} z WHERE z.dossier_code = y.dossier_code "
                f"AND z.kind = 0 AND z.qa <= y.qa AND (z.sb IS NULL OR z.sb > y.qa)))")
            cyc = f"sv{n}"
        flav = ("wd", "wdc", "cd", "us")
        if resume or pauses:
            def fl(prefix: str, c: str) -> dict[str, str]:
                tod = f"({prefix} - ({prefix} // {D}) * {D})"
                dn = f"({prefix} // {D})"
                w = f"coalesce({c}.is_working, false)"
                same = f"({w} AND {tod} < {L.close})"
                samec = f"({w} AND {tod} <= {L.cutoff})"
                return {
                    "wd": f"({c}.wd_index + CASE WHEN {same} THEN 0 ELSE 1 END)",
                    "wdc": f"({c}.wd_index + CASE WHEN {samec} THEN 0 ELSE 1 END)",
                    "cd": f"(CASE WHEN {same} THEN {dn} ELSE {c}.next_dn END)",
                    "us": f"(({c}.wd_index - 1) * {L.m} + CASE WHEN {w} THEN {L.elapsed(tod)} ELSE {L.m} END)",
                }
            a, b = fl("y.qa", "ca"), fl("y.sb", "cb")
            # restart mode adds only pauses: a supplement cycle restarts the clock instead
            counted = "y.qa IS NULL OR y.sb IS NULL" + ("" if resume else " OR y.kind = 0")
            pcols = ", ".join(f"CASE WHEN {counted} THEN 0 ELSE {b[k]} - {a[k]} END AS q_{k}" for k in flav)
            ok = ("(y.qa IS NULL OR y.sb IS NULL OR (ca.dn IS NOT NULL AND cb.dn IS NOT NULL))")
            out.append(f"sz{n} AS (SELECT y.*, {pcols}, {ok} AS q_ok FROM {cyc} y "
                       f"LEFT JOIN {t['day']} ca ON ca.dn = y.qa // {D} LEFT JOIN {t['day']} cb ON cb.dn = y.sb // {D} "
                       f"WHERE y.qa IS NOT NULL OR y.implied)")
        else:
            pcols = ", ".join(f"0 AS q_{k}" for k in flav)
            out.append(f"sz{n} AS (SELECT *, {pcols}, true AS q_ok FROM {cyc} WHERE qa IS NOT NULL OR implied)")
        # Per cycle, in the order they open (an implied cycle at its receipt): the values after it.
        # `grp` counts the restarts so far (closed supplement cycles): restart mode adds the pauses
        # of the current group only.
        upto = "ORDER BY k ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
        out.append(
            f"sc{n} AS (SELECT *, count(*) FILTER (WHERE kind = 0 AND sb IS NOT NULL) OVER (PARTITION BY dossier_code {upto}) AS grp, "
            f"max(sb) FILTER (WHERE kind = 0) OVER (PARTITION BY dossier_code {upto}) AS e_after "
            f"FROM (SELECT *, row_number() OVER (PARTITION BY dossier_code ORDER BY coalesce(qa, sb), kind) AS k FROM sz{n}))")
        part = "dossier_code" if resume else "dossier_code, grp"
        after = ", ".join(f"CASE WHEN bool_and(q_ok) FILTER (WHERE sb IS NOT NULL) OVER w IS NOT false "
                          f"THEN CAST(coalesce(sum(q_{k}) FILTER (WHERE sb IS NOT NULL) OVER w, 0) AS BIGINT) END AS a_{k}"
                          for k in flav)
        out.append(f"sd{n} AS (SELECT *, {after} FROM sc{n} WINDOW w AS (PARTITION BY {part} {upto}))")
        before = ", ".join(f"CASE WHEN k = 1 THEN 0 ELSE lag(a_{k}) OVER (PARTITION BY dossier_code ORDER BY k) END AS p_{k}"
                           for k in flav)
        out.append(
            f"se{n} AS (SELECT dossier_code, k, lag(e_after) OVER (PARTITION BY dossier_code ORDER BY k) AS e_k, {before}, "
            f"qa AS q_k, sb IS NULL AS open_k, kind = 1 AS pause_k, false AS last_k, "
            f"max(k) OVER (PARTITION BY dossier_code) AS cn, e_after, {', '.join('a_' + k for k in flav)} FROM sd{n})")
        out.append(
            f"so{n} AS (SELECT dossier_code, bool_or(kind = 0 AND sb IS NOT NULL AND qa IS NULL AND NOT implied) AS orphan "
            f"FROM sy{n} GROUP BY dossier_code)")
        out.append(f"sr{n} AS (SELECT DISTINCT dossier_code FROM sf{n} WHERE t > bnd AND kind = 0)")
        pk = ", ".join(f"CASE WHEN a.dossier_code IS NULL THEN 0 ELSE a.a_{k} END AS p_{k}" for k in flav)
        out.append(
            f"sk{n} AS (SELECT dossier_code, k, e_k, {', '.join('p_' + k for k in flav)}, q_k, open_k, pause_k, last_k "
            f"FROM se{n} WHERE q_k IS NOT NULL "
            f"UNION ALL SELECT s.dossier_code, coalesce(a.cn, 0) + 1, a.e_after, {pk}, NULL, false, false, true "
            f"FROM {sx} s LEFT JOIN (SELECT * FROM se{n} WHERE k = cn) a ON a.dossier_code = s.dossier_code)")
        return out

    def _chain(self, rel: str, L: _Lits, R: bool) -> str:
        """The deadline of a clock started at `e_us` (+ the pauses p_* in resume mode): the layers
        over `rel`, adding clk, e_dn, tod, n, the reception day's facts, tkey, due_dn, due_date,
        late_month (the month whose end first finds the dossier late) and late_us."""
        t = self.tables
        D, M = DAY_US, L.m
        resume = L.mode == "resume"
        P = {k: (f"p_{k}" if resume or L.pauses else "0") for k in ("wd", "wdc", "cd", "us")}
        ok = f"lim > 0 AND lim <= {MAX_LIMIT}"
        a1 = (f"SELECT *, e_us // {D} AS e_dn, "
              f"CASE WHEN u = {CLK_SAME} THEN {CLK_SAME} WHEN {ok} THEN "
              f"(CASE WHEN u = {CLK_DAYS} AND {fractional_sql('lim')} THEN {CLK_FRAC} ELSE u END) END AS clk "
              f"FROM ({rel})")
        a2 = (f"SELECT *, e_us - e_dn * {D} AS tod, "
              f"CASE clk WHEN {CLK_DAYS} THEN CAST(lim AS BIGINT) WHEN {CLK_CAL} THEN CAST(ceil(lim) AS BIGINT) "
              f"WHEN {CLK_HOURS} THEN CAST(round(lim * {HOUR_US}) AS BIGINT) "
              f"WHEN {CLK_FRAC} THEN CAST(floor(lim) AS BIGINT) + 1 ELSE 0 END AS n FROM ({a1})")
        lo, hi = self._day_range()
        b = (f"SELECT a.*, c.wd_index AS wd, c.is_working AS w, c.next_dn AS nx"
             + (", c.off_vi AS _off_vi, c.off_en AS _off_en" if R else "")
             + f" FROM ({a2}) a JOIN {t['dayx']} c "
             f"ON c.dn = CASE WHEN a.e_dn BETWEEN {lo} AND {hi} THEN a.e_dn ELSE {lo - 1} END")
        same = f"(w AND tod < {L.close})"
        samec = f"(w AND tod <= {L.cutoff})"
        qpos = (f"(wd - 1) * {M} + (CASE WHEN w THEN {L.elapsed('tod')} ELSE {M} END) + n + {P['us']}")
        days = f"-(wd + n + {P['wd']} + CASE WHEN {same} THEN 0 ELSE 1 END)"
        tkey = (f"CASE clk WHEN {CLK_DAYS} THEN {days} "
                f"WHEN {CLK_CAL} THEN (CASE WHEN {same} THEN e_dn ELSE nx END) + n + {P['cd']} "
                f"WHEN {CLK_SAME} THEN -(wd + {P['wdc']} + CASE WHEN {samec} THEN 0 ELSE 1 END) "
                f"WHEN {CLK_HOURS} THEN -((qpos + {M - 1}) // {M}) WHEN {CLK_FRAC} THEN {days} END")
        b2 = (f"SELECT *, {tkey} AS tkey FROM "
              f"(SELECT *, CASE WHEN clk = {CLK_HOURS} THEN {qpos} END AS qpos FROM ({b}))")
        c = (f"SELECT b2.*, k.tdn AS due_dn, k.d AS due_date, "
             f"CASE WHEN clk = {CLK_HOURS} OR clk = {CLK_FRAC} THEN k.mi ELSE k.mi1 END AS late_month "
             f"FROM ({b2}) b2 LEFT JOIN {t['key']} k ON k.k = b2.tkey")
        within = f"(qpos + (tkey + 1) * {L.m})"  # qpos - (k - 1) * M with k = -tkey
        late = (f"CASE clk WHEN {CLK_HOURS} THEN due_dn * {D} + {L.within_to_tod(within)} + 1 "
                f"WHEN {CLK_FRAC} THEN due_dn * {D} + {L.within_to_tod(self._frac(L))} + 1 ELSE (due_dn + 1) * {D} END")
        return f"SELECT *, {late} AS late_us FROM ({c})"

    @staticmethod
    def _frac(L: _Lits) -> str:
        """The fraction of a working-day limit N + f as office µs of a day."""
        return f"CAST(round((lim - floor(lim)) * {L.m}) AS BIGINT)"

    def _due_us(self, L: _Lits) -> str:
        """The due instant (µs) over the chain's columns: an office-time instant for working hours and
        fractional working days, else the office close of the due day."""
        D, M = DAY_US, L.m
        within = f"(qpos + (tkey + 1) * {M})"  # qpos - (k - 1) * M with k = -tkey
        frac = self._frac(L)
        return (f"(due_dn * {D} + CASE clk WHEN {CLK_HOURS} THEN {L.within_to_tod(within)} "
                f"WHEN {CLK_FRAC} THEN {L.within_to_tod(frac)} ELSE {L.close} END)")

    def _branch(self, src: str, gi: int, L: _Lits, cond: str, asof_us: int, asof_lit: str, events: bool,
                with_reasons: bool, extra: tuple[str, ...], status_type: str | None,
                internals: tuple[str, ...], early: tuple[dict[str, str], ...], ctes: list[str],
                cycle_flag: str | None, cycle_source: str | None) -> tuple[str, str]:
        """One rule-settings group: (the dossiers without a supplement history, those with one).

        Written for DuckDB's vectorised executor, where every expression node costs a pass over
        the rows (a CASE more than arithmetic): each value is computed once, in the first layer
        that has its inputs, and what a layer does not need is not carried into it. Most dossiers
        take the first SELECT (one clock; at most an open request, checked against it afterwards);
        a dossier with supplement events, or whose request needs the first deadline to be judged,
        takes the second, which runs the clock once per cycle (CTEs over those dossiers only).
        """
        def S(status: str) -> str:  # a status literal, typed when status_type is given
            return f"'{status}'::{status_type}" if status_type else f"'{status}'"

        resume = L.mode == "resume"
        neg_overdue = L.negative == "overdue"
        R = with_reasons
        flav = ("wd", "wdc", "cd", "us")
        ex_cols = "".join(f", x.{c}" for c in extra)
        ex_names = "".join(f", {c}" for c in extra)
        early_names = "".join(f", {n}" for layer in early for n in layer)
        rs_cols = (", x.received_at AS _received_at, x.time_unit AS _unit, x.time_limit AS _limit, "
                   "x.extended_due_at AS _ext, x.state AS _state") if R else ""
        first_early = "".join(f", {expr} AS {n}" for n, expr in (early[0].items() if early else ()))
        # excl / fin_state as the caller's early layers see them: a refusal counted as resolved overdue
        # (negative_after_deadline: overdue) is decided after the clock, so it is not excluded here
        excl = "x.state = 'withdrawn'" if neg_overdue else f"x.state IN ({quoted_list(EXCLUDED_STATES)})"
        a0 = (f"SELECT x.dossier_code, {excl} AS excl, x.state = 'rejected' AS rej, "
              f"x.state = 'processing' AS proc, "
              f"{self._version_expr('x.received_at')} AS rule_version, "
              f"{clock_sql('x.time_unit')} AS u, "
              f"{limit_sql('x.time_unit', 'x.time_limit')} AS lim, epoch_us(x.received_at) AS r_us, "
              f"epoch_us(x.supplement_requested_at) AS qc_raw, epoch_us(x.supplement_received_at) AS sc_raw, "
              f"epoch_us(coalesce(x.finished_at, x.returned_at)) AS f_us"
              f"{rs_cols}{ex_cols}{first_early} FROM {{source}} x WHERE {{where}}")
        # fin_state: a result date makes a dossier resolved at it, whatever its state says (but a
        # withdrawn or refused one); bnd: facts after as_of or after the result change nothing
        base = (f"SELECT *, NOT excl AND f_us IS NOT NULL AS fin_state, "
                f"least(f_us, {asof_us}) AS bnd FROM ({a0})")
        for layer in early[1:]:
            base = f"SELECT *, {', '.join(f'{expr} AS {n}' for n, expr in layer.items())} FROM ({base})"

        def over(source: str, where: str) -> str:  # `base` over these rows
            return base.replace("{source}", source).replace("{where}", where)

        q, sr = "x.supplement_requested_at", "x.supplement_received_at"
        # A dossier takes the second SELECT when it has supplement events, or a request and a receipt
        # after it whose lawfulness needs the first deadline: resume mode adds every closed cycle's
        # pause; restart mode only when the request is not before a lower bound of the first deadline
        # (restart_cycle_sql).
        ev = "EXISTS (SELECT 1 FROM evk WHERE evk.dossier_code = x.dossier_code)"
        sx = f"sx{gi}"
        if cycle_flag and not resume:
            # the row's stored answer, a column read instead of the bound computed (a NULL, a row
            # never filled, sends the dossier to the second SELECT, which can judge any dossier)
            slow_cond = f"(x.{cycle_flag} IS NOT FALSE" + (f" OR {ev})" if events else ")")
            fast_cond = f"(x.{cycle_flag} IS FALSE" + (f" AND NOT {ev})" if events else ")")
        else:
            pair = (restart_cycle_sql("x") if not resume
                    else f"({q} IS NOT NULL AND {sr} IS NOT NULL AND {q} <= {sr})")
            slow_cond = f"({pair} OR {ev})" if events else pair
            # every other dossier takes the first: an anti-join against the few of the second costs
            # less than testing the bound again on every row, and no dossier can be in neither
            fast_cond = f"NOT EXISTS (SELECT 1 FROM {sx} WHERE {sx}.dossier_code = x.dossier_code)"
        after = f"(qc_raw > bnd AND qc_raw <= {asof_us}) OR (sc_raw > bnd AND sc_raw <= {asof_us})"
        # the first SELECT: a request alone is open; a receipt alone is an orphan; a receipt with a
        # request before it closes a lawful cycle (restart), with one after it closes a cycle the row
        # no longer shows, and that later request is open
        added = resume or L.pauses  # the chain adds paused time p_*
        zero_p = "".join(f", 0 AS p_{k}" for k in flav) if added else ""
        both = "qc_raw <= bnd AND sc_raw <= bnd"
        e_fast = "r_us" if resume else f"CASE WHEN {both} AND sc_raw > r_us THEN sc_raw ELSE r_us END"
        q_k = f"CASE WHEN qc_raw <= bnd AND NOT coalesce(sc_raw <= bnd AND qc_raw <= sc_raw, false) THEN qc_raw END"
        fl0 = (f"CAST(CASE WHEN sc_raw <= bnd AND NOT coalesce(qc_raw <= bnd, false) THEN {FLAG_ORPHAN_RECEIPT} ELSE 0 END "
               f"+ CASE WHEN {after} THEN {FLAG_AFTER_RESULT} ELSE 0 END "
               f"+ CASE WHEN proc AND f_us IS NOT NULL THEN {FLAG_INCONSISTENT_STATE} ELSE 0 END AS INTEGER)")
        # most dossiers have nothing to flag (no supplement fact, not processing): fl0 NULL, flags 0
        fl0 = f"CASE WHEN qc_raw IS NOT NULL OR sc_raw IS NOT NULL OR proc THEN {fl0} END"
        fast_in = (f"SELECT *, {e_fast} AS e_us, {q_k} AS q_k{zero_p}, {fl0} AS fl0 "
                   f"FROM ({over(src, f'({cond}) AND {fast_cond}')})")
        fast = (f"SELECT *, CASE WHEN q_k < coalesce(late_us, 9223372036854775807) THEN q_k END AS q_open "
                f"FROM ({self._chain(fast_in, L, R)})")
        # the second: candidate clocks per cycle, the first that stops is kept
        if cycle_source and cycle_flag and not resume:
            # the dossiers of the stored flag from their copies; those with events only, from the source
            slow_rows = over(cycle_source, f"({cond})")
            if events:
                slow_rows += f" UNION ALL {over(src, f'({cond}) AND x.{cycle_flag} IS FALSE AND {ev}')}"
        else:
            slow_rows = over(src, f"({cond}) AND ({slow_cond})")
        ctes.append(f"{sx} AS MATERIALIZED ({slow_rows})")
        ctes.extend(self._cycles(gi, L, sx, asof_us, events))
        e_k = "r_us" if resume else "CASE WHEN c.e_k > r_us THEN c.e_k ELSE r_us END"
        pc = "".join(f", c.p_{k}" for k in flav) if added else ""
        slow_in = (f"SELECT s.*, {e_k} AS e_us, c.k, c.q_k, c.open_k, c.pause_k, c.last_k{pc}, "
                   f"CAST(CASE WHEN o.orphan THEN {FLAG_ORPHAN_RECEIPT} ELSE 0 END "
                   f"+ CASE WHEN r.dossier_code IS NOT NULL THEN {FLAG_AFTER_RESULT} ELSE 0 END "
                   f"+ CASE WHEN s.proc AND s.f_us IS NOT NULL THEN {FLAG_INCONSISTENT_STATE} ELSE 0 END AS INTEGER) AS fl0 "
                   f"FROM {sx} s JOIN sk{gi} c ON c.dossier_code = s.dossier_code "
                   f"LEFT JOIN so{gi} o ON o.dossier_code = s.dossier_code "
                   f"LEFT JOIN sr{gi} r ON r.dossier_code = s.dossier_code")
        stop = "(coalesce(q_k >= late_us, false) OR open_k OR last_k)"
        # a late pause stops nothing either, but it is not a late supplement request
        slow = (f"SELECT * EXCLUDE (k, open_k, pause_k, last_k, first_k), "
                f"CASE WHEN open_k AND NOT coalesce(q_k >= late_us, false) THEN q_k END AS q_open, "
                f"open_k AND pause_k AND NOT coalesce(q_k >= late_us, false) AS q_pause, "
                f"coalesce(q_k >= late_us, false) AND NOT pause_k AS late_req FROM ("
                f"SELECT *, min(CASE WHEN {stop} THEN k END) OVER (PARTITION BY dossier_code) AS first_k "
                f"FROM ({self._chain(slow_in, L, R)})) WHERE k = first_k")
        # the late request is read by the findings alone, on the rows with facts (no column of every row)
        return self._tail(fast, L, asof_us, asof_lit, R, S, ex_names, early_names, internals, neg_overdue,
                          late_req="coalesce(q_k >= late_us, false)"), \
            self._tail(slow, L, asof_us, asof_lit, R, S, ex_names, early_names, internals, neg_overdue, L.pauses)

    def _tail(self, rel: str, L: _Lits, asof_us: int, asof_lit: str, R: bool, S, ex_names: str, early_names: str,
              internals: tuple[str, ...], neg_overdue: bool, paused: bool = False, late_req: str = "late_req") -> str:
        """Status and output columns over a chain whose open request (q_open) is decided; `paused`:
        the chain says (q_pause) whether that stop is a pause rather than a supplement request."""
        D = DAY_US
        resume = L.mode == "resume"
        flav = ("wd", "wdc", "cd", "us")
        d2 = (f"SELECT *, fin_state AND f_us <= {asof_us} AS resolved, "
              f"CASE WHEN q_open < f_us THEN q_open ELSE f_us END AS j_us FROM ({rel})")
        judged = (f"(CASE WHEN due_dn IS NULL THEN {S('no_deadline')} "
                  f"WHEN j_us >= late_us THEN {S('overdue')} WHEN j_us < due_dn * {D} THEN {S('early')} "
                  f"ELSE {S('on_time')} END)")
        rej = (f"WHEN rej THEN (CASE WHEN resolved AND j_us >= late_us THEN {S('overdue')} ELSE {S('excluded')} END) "
               if neg_overdue else "")
        status = (f"CASE WHEN excl THEN {S('excluded')} {rej}"
                  f"WHEN resolved THEN {judged} "
                  + (f"WHEN q_pause THEN (CASE WHEN due_dn IS NULL THEN {S('no_deadline')} ELSE {S('pending_in_time')} END) "
                     if paused else "")
                  + f"WHEN q_open IS NOT NULL THEN {S('waiting_supplement')} "
                  f"WHEN due_dn IS NULL THEN {S('no_deadline')} "
                  f"WHEN late_us <= {asof_us} THEN {S('pending_overdue')} ELSE {S('pending_in_time')} END")
        # the clock's start instant (only computed when clock_start_at is read)
        same = f"(w AND tod < {L.close})"
        samec = f"(w AND tod <= {L.cutoff})"
        start = (f"CASE WHEN clk = {CLK_HOURS} THEN {L.hours_start('w', 'tod', 'e_dn', 'nx', 'e_us')} "
                 f"WHEN clk IS NULL THEN e_us "
                 f"WHEN (CASE WHEN clk = {CLK_SAME} THEN {samec} ELSE {same} END) "
                 f"THEN e_dn * {D} + greatest(tod, {L.open}) ELSE nx * {D} + {L.open} END")
        final = (f"CASE WHEN status IN ({', '.join(S(s) for s in RESOLVED_STATUSES)}) THEN status END")
        neg = f"CASE WHEN rej AND f_us <= {asof_us} AND j_us >= late_us THEN {FLAG_NEGATIVE_LATE} ELSE 0 END"
        flags = (f"CAST(CASE WHEN fl0 IS NULL AND NOT rej THEN 0 ELSE coalesce(fl0, 0) "
                 f"+ CASE WHEN {late_req} THEN {FLAG_LATE_REQUEST} ELSE 0 END "
                 f"+ CASE WHEN q_open IS NOT NULL THEN {FLAG_STOPPED} ELSE 0 END + {neg} END AS UTINYINT)")
        internal_expr = {"resolved": "coalesce(resolved, false)", "fin_us": "CASE WHEN fin_state THEN f_us END",
                         "late_us": "late_us", "late_month": "late_month", "flags": flags}
        outer = (f"dossier_code, rule_version, make_timestamp({start}) AS clock_start_at, due_date, "
                 f"make_timestamp({self._due_us(L)}) AS due_at, make_timestamp(late_us) AS late_from, {final} AS final_status, "
                 f"status, {asof_lit} AS computed_as_of{ex_names}"
                 + "".join(f", {internal_expr[c]} AS {c}" for c in internals) + early_names)
        if R:
            pr = ", ".join((f"p_{k} AS _p_{k}" if resume or L.pauses else f"0 AS _p_{k}") for k in flav)
            pr += f", {'coalesce(q_pause, false)' if paused else 'false'} AS _q_pause"
            outer += (f", e_us AS _e_us, tod AS _tod, w AS _w, clk AS _clk, q_open AS _q_open, "
                      f"CASE WHEN resolved OR (rej AND f_us <= {asof_us}) THEN j_us END AS _j_us, "
                      f"coalesce(resolved, false) AS _resolved, "
                      "e_dn AS _e_dn, due_dn AS _due_dn, _state, "
                      f"_received_at, _unit, _limit, _ext, CASE WHEN e_us > r_us THEN e_us END AS _last_s, {pr}, "
                      f"_off_vi, _off_en, {flags} AS _flags, "
                      f"{L.open} AS _open, {L.close} AS _close, {L.cutoff} AS _cutoff, "
                      f"{'true' if resume else 'false'} AS _resume")
        return f"SELECT {outer} FROM (SELECT *, {status} AS status FROM ({d2}))"

    # ------------------------------------------------------------------------------------
    def _reason_select(self, body: str, lang: str) -> str:
        from sla_rules.reasons import reason_sql

        return reason_sql(body, self.tables["runs"], lang, self.calendar)
