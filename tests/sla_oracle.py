"""A plain per-row Python implementation of the SLA rules, to check the SQL engine against.

It shares only the facts of the WorkCalendar (is_working, next_working_day) and the rule set
types with the engine; the arithmetic is its own: office time is walked session by session,
working days are counted one by one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from config.ruleset import RuleSet, RuleSettings
from config.vocabulary import unit_spec
from sla_rules.calendar import WorkCalendar
from sla_rules.engine import INPUT_COLUMNS

US = timedelta(microseconds=1)


@dataclass
class Dossier:
    dossier_code: str
    received_at: datetime
    time_limit: float | None
    time_unit: str
    supplement_requested_at: datetime | None = None
    supplement_received_at: datetime | None = None
    extended_due_at: datetime | None = None
    finished_at: datetime | None = None
    returned_at: datetime | None = None
    state: str = "processing"
    # extra events: [(event, at)], event in supplement_requested | supplement_received | pause | resume
    events: list[tuple[str, datetime]] = field(default_factory=list)


@dataclass
class Result:
    rule_version: str
    clock_start_at: datetime | None
    due_date: date | None
    due_at: datetime | None
    late_from: datetime | None
    final_status: str | None
    status: str


def _tod_us(x: datetime) -> int:
    return ((x.hour * 60 + x.minute) * 60 + x.second) * 1_000_000 + x.microsecond


def _t_us(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000


def _at(d: date, us: int) -> datetime:
    return datetime.combine(d, time()) + timedelta(microseconds=us)


class Oracle:
    def __init__(self, ruleset: RuleSet, cal: WorkCalendar):
        self.rs = ruleset
        self.cal = cal

    # ---- calendar helpers (own counting) --------------------------------------------------
    def _working(self, d: date) -> bool | None:
        return self.cal.is_working(d) if self.cal.covers(d) else None

    def _next_wd(self, d: date) -> date | None:
        x = d + timedelta(days=1)
        while self.cal.covers(x):
            if self.cal.is_working(x):
                return x
            x += timedelta(days=1)
        return None

    def _nth_wd_after(self, d: date, n: int) -> date | None:
        """The n-th working day after d (n == 0: d itself, which must be a working day)."""
        x = d
        for _ in range(n):
            x = self._next_wd(x)
            if x is None:
                return None
        return x

    def _wd_between(self, a: date, b: date) -> int:
        """Working days in (a, b]."""
        n, x = 0, a
        while x < b:
            x += timedelta(days=1)
            n += self.cal.is_working(x)
        return n

    # ---- shifts --------------------------------------------------------------------------
    def _day0(self, x: datetime, s: RuleSettings, cutoff: bool) -> date | None:
        """The day a dossier counts as received on (day-based units)."""
        w = self._working(x.date())
        if w is None:
            return None
        tod = _tod_us(x)
        same = tod <= _t_us(s.same_day_cutoff) if cutoff else tod < _t_us(s.closing)
        return x.date() if (w and same) else self._next_wd(x.date())

    def _day_start(self, x: datetime, s: RuleSettings, cutoff: bool) -> datetime | None:
        w = self._working(x.date())
        if w is None:
            return None
        tod = _tod_us(x)
        same = tod <= _t_us(s.same_day_cutoff) if cutoff else tod < _t_us(s.closing)
        if w and same:
            return _at(x.date(), max(tod, _t_us(s.opening)))
        nx = self._next_wd(x.date())
        return _at(nx, _t_us(s.opening)) if nx else None

    def _hours_start(self, x: datetime, s: RuleSettings) -> datetime | None:
        w = self._working(x.date())
        if w is None:
            return None
        tod = _tod_us(x)
        if not w or tod >= _t_us(s.closing):
            nx = self._next_wd(x.date())
            return _at(nx, _t_us(s.opening)) if nx else None
        for sess in s.office_hours:
            a, b = _t_us(sess.start), _t_us(sess.end)
            if tod < a:
                return _at(x.date(), a)
            if tod < b:
                return x
        raise AssertionError("unreachable")

    def _add_office(self, start: datetime, dur_us: int, s: RuleSettings) -> datetime | None:
        """The instant when dur_us of office time has passed since start (ends at a session end if exact)."""
        d, cur, remaining = start.date(), _tod_us(start), dur_us
        while True:
            if not self.cal.covers(d):
                return None
            if self.cal.is_working(d):
                for sess in s.office_hours:
                    a, b = _t_us(sess.start), _t_us(sess.end)
                    if cur >= b:
                        continue
                    s0 = max(a, cur)
                    if remaining <= b - s0:
                        return _at(d, s0 + remaining)
                    remaining -= b - s0
            d += timedelta(days=1)
            cur = 0

    def _office_between(self, a: datetime, b: datetime, s: RuleSettings) -> int | None:
        total, d = 0, a.date()
        while d <= b.date():
            if not self.cal.covers(d):
                return None
            if self.cal.is_working(d):
                for sess in s.office_hours:
                    lo = max(_at(d, _t_us(sess.start)), a)
                    hi = min(_at(d, _t_us(sess.end)), b)
                    if hi > lo:
                        total += (hi - lo) // US
            d += timedelta(days=1)
        return total

    # ---- the rules -------------------------------------------------------------------------
    def _kind(self, x: Dossier, s: RuleSettings) -> tuple[str | None, int, int]:
        """The clock kind, the limit in its units, and for F the fraction as office µs."""
        spec = unit_spec(x.time_unit)  # a unit is counted by its clock, its limit times its factor
        unit = spec.clock if spec else None
        lim = x.time_limit * spec.factor if spec and x.time_limit is not None else x.time_limit
        ok = lim is not None and not math.isnan(lim) and 0 < lim <= 100_000
        if unit == "same_day":
            return "S", 0, 0
        if not ok:
            return None, 0, 0
        if unit == "working_days" and lim == math.floor(lim):
            return "D", int(lim), 0
        if unit == "working_days":
            # N + f: f of an office day into the working day after the N-th
            return "F", math.floor(lim) + 1, math.floor((lim - math.floor(lim)) * s.office_seconds * 1_000_000 + 0.5)
        if unit == "calendar_days":
            return "C", math.ceil(lim), 0
        if unit == "working_hours":
            return "H", math.floor(lim * 3_600_000_000 + 0.5), 0
        return None, 0, 0

    def _pause(self, a: datetime, b: datetime, s: RuleSettings) -> tuple[int, int, int, int] | None:
        """A closed pause (request a, receipt b) in each flavour: working days, working days with the
        same-day cutoff, calendar days, office µs; None when outside the calendar."""
        if not (self.cal.covers(a.date()) and self.cal.covers(b.date())):
            return None
        da, db = self._day0(a, s, False), self._day0(b, s, False)
        ca, cb = self._day0(a, s, True), self._day0(b, s, True)
        if None in (da, db, ca, cb):
            return None
        ob = self._office_between(a, b, s)
        if ob is None:
            return None
        return (self._wd_between(da, db) if db >= da else -self._wd_between(db, da),
                self._wd_between(ca, cb) if cb >= ca else -self._wd_between(cb, ca),
                (db - da).days, ob)

    def _deadline(self, kind, n, fr, e: datetime, p, s: RuleSettings):
        """(clock start, due date, due_at, late_from) for a clock started at e with pauses p added."""
        if p is None:
            p_ok, (p_wd, p_wdc, p_cd, p_us) = False, (0, 0, 0, 0)
        else:
            p_ok, (p_wd, p_wdc, p_cd, p_us) = True, p
        due_date = due_at = late = None
        if kind is None:
            return e, None, None, None
        if kind == "H":
            start = self._hours_start(e, s)
            if start is not None and p_ok:
                due_at = self._add_office(start, n + p_us, s)
                if due_at is not None:
                    due_date, late = due_at.date(), due_at + US
            return start, due_date, due_at, late
        cutoff = kind == "S"
        start = self._day_start(e, s, cutoff)
        d0 = self._day0(e, s, cutoff)
        if d0 is not None and p_ok:
            if kind in ("D", "F"):
                due_date = self._nth_wd_after(d0, n + p_wd)
            elif kind == "S":
                due_date = self._nth_wd_after(d0, p_wdc)
            else:
                target = d0 + timedelta(days=n + p_cd)
                if self.cal.covers(target):
                    due_date = target if self.cal.is_working(target) else self._next_wd(target)
        if due_date is not None:
            if kind == "F":
                due_at = self._add_office(_at(due_date, _t_us(s.opening)), fr, s)
                late = due_at + US
            else:
                due_at = _at(due_date, _t_us(s.closing))
                late = datetime.combine(due_date + timedelta(days=1), time())
        return start, due_date, due_at, late

    def compute(self, x: Dossier, as_of: datetime) -> Result:
        return self.compute_full(x, as_of)[0]

    def compute_full(self, x: Dossier, as_of: datetime) -> tuple[Result, int]:
        """The result and the flags (sla_rules.constants FLAG_*)."""
        v = self.rs.version_for(x.received_at.date())
        s = v.settings
        kind, n, fr = self._kind(x, s)
        flags = 0
        # the result instant; facts after it change nothing
        r = x.finished_at or x.returned_at
        bound = min(as_of, r) if r is not None else as_of

        # supplement facts known at as_of, in time order (a request before a receipt at the same instant)
        known = set()
        for ev, at in x.events:
            if ev in ("supplement_requested", "supplement_received") and at <= as_of:
                known.add((at, 0 if ev == "supplement_requested" else 1))
        if x.supplement_requested_at is not None and x.supplement_requested_at <= as_of:
            known.add((x.supplement_requested_at, 0))
        if x.supplement_received_at is not None and x.supplement_received_at <= as_of:
            known.add((x.supplement_received_at, 1))
        if any(at > bound for at, _ in known):
            flags |= 4
        facts = sorted(f for f in known if f[0] <= bound)
        # an export row whose latest request is later than its latest receipt: that receipt answered
        # an earlier request the row no longer shows
        q_col, s_col = x.supplement_requested_at, x.supplement_received_at
        implied = (q_col is not None and s_col is not None and q_col <= bound and s_col <= bound and q_col > s_col)

        # cycles (request or None, receipt or None); orphan receipts are left out
        cycles: list[tuple[datetime | None, datetime | None]] = []
        open_q: datetime | None = None
        for at, o in facts:
            if o == 0:
                if open_q is None:
                    open_q = at
            elif open_q is not None:
                cycles.append((open_q, at))
                open_q = None
            elif implied and at == s_col:
                cycles.append((None, at))
            else:
                flags |= 2
        if open_q is not None:
            cycles.append((open_q, None))

        # pauses (where the rule set enables them): a pause opens one (a second while open changes
        # nothing), its resume closes it, a resume with none open is ignored; a pause inside an open
        # supplement cycle is none, and a request ends a pause still open
        pauses: list[tuple[datetime, datetime | None]] = []
        if s.pauses.enabled:
            open_p: datetime | None = None
            for at, o in sorted((at, 0 if ev == "pause" else 1) for ev, at in x.events
                                if ev in ("pause", "resume") and at <= bound):
                if o == 0 and open_p is None:
                    open_p = at
                elif o == 1 and open_p is not None:
                    pauses.append((open_p, at))
                    open_p = None
            if open_p is not None:
                pauses.append((open_p, None))
            kept = []
            for pa, pb in pauses:
                if any(q is not None and q <= pa and (back is None or back > pa) for q, back in cycles):
                    continue
                later = [q for q, _ in cycles if q is not None and q > pa]
                if later:
                    pb = min(later) if pb is None else min(pb, min(later))
                kept.append((pa, pb))
            pauses = kept
        steps = sorted([(q if q is not None else back, 0, q, back) for q, back in cycles]
                       + [(pa, 1, pa, pb) for pa, pb in pauses], key=lambda c: (c[0], c[1]))

        # the lawful prefix: a request at or after the deadline in force stops and restarts nothing,
        # nor does anything after it
        resume = s.supplement_mode == "resume"
        e, p = x.received_at, (0, 0, 0, 0)
        q_open: datetime | None = None
        paused = False
        for _key, ck, q, back in steps:
            late_k = self._deadline(kind, n, fr, e, p, s)[3]
            if q is not None and late_k is not None and q >= late_k:
                if ck == 0:
                    flags |= 1
                break
            if back is None:
                q_open, paused = q, ck == 1
                break
            if resume or ck == 1:
                if p is not None and q is not None:
                    pp = self._pause(q, back, s)
                    p = None if pp is None else tuple(a + b for a, b in zip(p, pp))
            else:
                # a restart: from the receipt, with no pause carried over
                p = (0, 0, 0, 0)
                if back > x.received_at:
                    e = back
        start, due_date, due_at, late = self._deadline(kind, n, fr, e, p, s)

        if x.state == "processing" and r is not None:
            flags |= 8
        withdrawn = x.state == "withdrawn"
        rejected = x.state == "rejected"
        resolved = r is not None and r <= as_of and not withdrawn
        j = (q_open if (q_open is not None and r is not None and q_open < r) else r)
        if q_open is not None:
            flags |= 32
        final = None
        if resolved and due_date is not None:
            if j >= late:
                final = "overdue"
            elif j.date() < due_date:
                final = "early"
            else:
                final = "on_time"
        if rejected and final == "overdue":
            flags |= 16
        excluded = withdrawn or (rejected and not (final == "overdue" and s.negative_after_deadline == "overdue"))
        if excluded:
            status, final = "excluded", None
        elif resolved:
            status = final or "no_deadline"
        elif q_open is not None and paused:
            # the clock stopped before the deadline and has not gone on yet
            status = "no_deadline" if due_date is None else "pending_in_time"
        elif q_open is not None:
            status = "waiting_supplement"
        elif due_date is None:
            status = "no_deadline"
        elif as_of >= late:
            status = "pending_overdue"
        else:
            status = "pending_in_time"
        return Result(v.id, start, due_date, due_at, late, final, status), flags


# ---- test helper: the engine's input relation from Dossier objects ---------------------------------
_TYPES = {"dossier_code": "VARCHAR", "received_at": "TIMESTAMP", "time_limit": "DOUBLE", "time_unit": "VARCHAR",
          "state": "VARCHAR"}


def load_input(con, dossiers: list[Dossier], name: str = "input_dossiers", events_name: str = "input_events") -> None:
    """Create the engine's input relation (and an events table) from Python objects, in one statement each."""
    cols = ", ".join(f"unnest(${i + 1}::{_TYPES.get(c, 'TIMESTAMP')}[]) AS {c}" for i, c in enumerate(INPUT_COLUMNS))
    con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT {cols}",
                [[getattr(d, c) for d in dossiers] for c in INPUT_COLUMNS])
    ev = [(d.dossier_code, e, at) for d in dossiers for e, at in d.events]
    con.execute(f"CREATE OR REPLACE TABLE {events_name} AS SELECT unnest($1::VARCHAR[]) AS dossier_code, "
                f"unnest($2::VARCHAR[]) AS event, unnest($3::TIMESTAMP[]) AS \"at\", NULL::VARCHAR AS detail",
                [[x[0] for x in ev], [x[1] for x in ev], [x[2] for x in ev]])
