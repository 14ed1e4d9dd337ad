"""The working-day calendar: which dates are working days for the civil service, and why not.

Built from the `holidays` package (country VN: public holidays, substitute days off and the
Saturdays worked in exchange, `weekend_workdays`) and then the override files in order
(config/calendar/*.yaml); a later source wins for the same date.

A working day is Monday–Friday, minus holidays and days off, plus worked (swapped) Saturdays
or Sundays. Every non-working day has a Vietnamese name (and an English one).
"""
from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from datetime import date, timedelta
from pathlib import Path

import holidays
import yaml

from config.calendar import CalendarOverrides, load_calendar_overrides

WEEKDAY_VI = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")
WEEKDAY_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# Kinds of day.
WORKDAY = "workday"            # ordinary Monday–Friday
WORKED_WEEKEND = "worked_weekend"  # a Saturday/Sunday worked (swap or override)
WEEKEND = "weekend"            # ordinary Saturday/Sunday
HOLIDAY = "holiday"            # public holiday, substitute day off, closure

# What off_note says of an ordinary weekend day, vi and en.
WEEKEND_NOTE = ("ngày nghỉ cuối tuần", "weekend")


@dataclass(frozen=True)
class CalendarDay:
    d: date
    is_working: bool
    kind: str
    name_vi: str           # '' for ordinary working days
    name_en: str
    label_vi: str | None   # short group name of a holiday ("Tết Nguyên đán"); None otherwise
    label_en: str | None
    source: str            # 'weekday' | 'holidays' | override file name
    legal_basis: str = ""
    # Where an override entry was written (path as configured, 1-based line), so that officials can
    # check each day against its decision; empty for days from the weekly pattern or the package.
    file: str = ""
    line: int = 0


@dataclass(frozen=True)
class OffRun:
    """A stretch of consecutive non-working days containing at least one holiday."""

    first: date            # first holiday of the run (weekends around it are not shown)
    last: date             # last holiday of the run
    label_vi: str
    label_en: str

    def text(self, lang: str = "vi") -> str:
        rng = format_range(self.first, self.last)
        return f"nghỉ {self.label_vi} {rng}" if lang == "vi" else f"{self.label_en} holiday {rng}"


def format_range(a: date, b: date) -> str:
    """16–20/02, 30/04–02/05, 02/01 (one day), 31/12–01/01."""
    if a == b:
        return f"{a:%d/%m}"
    if (a.year, a.month) == (b.year, b.month):
        return f"{a:%d}–{b:%d/%m}"
    return f"{a:%d/%m}–{b:%d/%m}"


# Short group labels of holiday names (Vietnamese names from `holidays` or override reasons).
_LABELS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("tết dương lịch",), "Tết Dương lịch", "New Year"),
    (("tết nguyên", "29 tết", "giao thừa", "mùng"), "Tết Nguyên đán", "Lunar New Year (Tết)"),
    (("hùng vương",), "Giỗ Tổ Hùng Vương", "Hùng Kings' Commemoration"),
    (("chiến thắng", "30/4", "thống nhất"), "Ngày Chiến thắng", "Reunification Day"),
    (("lao động", "1/5"), "Quốc tế Lao động", "Labour Day"),
    (("quốc khánh",), "Quốc khánh", "National Day"),
    (("văn hóa", "văn hoá"), "Ngày Văn hóa Việt Nam", "Vietnam Culture Day"),
)
_SWAP_WORDS = ("thay cho", "hoán đổi", "nghỉ bù")


def holiday_label(name_vi: str, name_en: str | None = None) -> tuple[str | None, str | None]:
    """Group label of a day off; (None, None) for a bare swap/substitute day (it takes its run's label)."""
    low = name_vi.lower()
    for keys, vi, en in _LABELS:
        if any(k in low for k in keys):
            return vi, en
    if any(k in low for k in _SWAP_WORDS):
        return None, None
    return name_vi, name_en or name_vi


class WorkCalendar:
    """Facts about every date of the horizon: working or not, index, names."""

    def __init__(self, days: Sequence[CalendarDay]):
        if not days:
            raise ValueError("empty calendar")
        self._days = list(days)
        self.first = self._days[0].d
        self.last = self._days[-1].d
        for i, cd in enumerate(self._days):
            if cd.d != self.first + timedelta(days=i):
                raise ValueError("calendar days must be consecutive")
        self._working = [cd.d for cd in self._days if cd.is_working]
        # wd_index: number of working days up to and including the date.
        self._wd_index: list[int] = []
        n = 0
        for cd in self._days:
            n += cd.is_working
            self._wd_index.append(n)

    # ---- construction ------------------------------------------------------------------
    @classmethod
    def build(cls, first_year: int, last_year: int,
              overrides: Iterable[tuple[str, CalendarOverrides]] = (),
              origins: Sequence[tuple[str, Sequence[int]]] = ()) -> "WorkCalendar":
        """origins, parallel to overrides: each file's path and the line of each of its entries."""
        vi, en, worked = _package_facts(first_year, last_year)
        first, last = date(first_year, 1, 1), date(last_year, 12, 31)
        table: dict[date, CalendarDay] = {}
        d = first
        while d <= last:
            wd = d.weekday()
            if d in vi:
                name_vi = vi.get(d)
                name_en = en.get(d) or name_vi
                lv, le = holiday_label(name_vi, name_en)
                table[d] = CalendarDay(d, False, HOLIDAY, name_vi, name_en, lv, le, "holidays")
            elif d in worked:
                table[d] = CalendarDay(d, True, WORKED_WEEKEND, "Ngày làm bù (hoán đổi)",
                                       "Worked weekend day (swap)", None, None, "holidays")
            elif wd >= 5:
                table[d] = _weekend(d)
            else:
                table[d] = CalendarDay(d, True, WORKDAY, "", "", None, None, "weekday")
            d += timedelta(days=1)
        for k, (source, ov) in enumerate(overrides):
            file, lines = origins[k] if k < len(origins) else ("", ())
            for i, e in enumerate(ov.entries):
                if not (first <= e.date <= last):
                    continue  # outside the horizon: nothing to compute there
                line = lines[i] if i < len(lines) else 0
                if e.kind == "off":
                    lv, le = holiday_label(e.reason, e.reason_en)
                    table[e.date] = CalendarDay(e.date, False, HOLIDAY, e.reason, e.reason_en or e.reason,
                                                lv, le, source, e.legal_basis, file, line)
                else:
                    kind = WORKED_WEEKEND if e.date.weekday() >= 5 else WORKDAY
                    table[e.date] = CalendarDay(e.date, True, kind, e.reason, e.reason_en or e.reason,
                                                None, None, source, e.legal_basis, file, line)
        return cls([table[k] for k in sorted(table)])

    @classmethod
    def from_files(cls, first_year: int, last_year: int, paths: Iterable[Path | str] = ()) -> "WorkCalendar":
        paths = list(paths)
        loaded = [(Path(p).name, load_calendar_overrides(p)) for p in paths]
        return cls.build(first_year, last_year, loaded, [(str(p), _entry_lines(p)) for p in paths])

    # ---- facts ---------------------------------------------------------------------------
    def _pos(self, d: date) -> int:
        i = (d - self.first).days
        if i < 0 or i >= len(self._days):
            raise KeyError(f"{d.isoformat()} is outside the calendar ({self.first}..{self.last})")
        return i

    def covers(self, d: date) -> bool:
        return self.first <= d <= self.last

    def day(self, d: date) -> CalendarDay:
        return self._days[self._pos(d)]

    def is_working(self, d: date) -> bool:
        return self._days[self._pos(d)].is_working

    def wd_index(self, d: date) -> int:
        """Working days from the start of the calendar up to and including d."""
        return self._wd_index[self._pos(d)]

    def working_day(self, index: int) -> date | None:
        """The working day with that index (1-based); None outside the horizon."""
        if 1 <= index <= len(self._working):
            return self._working[index - 1]
        return None

    def next_working_day(self, d: date) -> date | None:
        """First working day strictly after d (None beyond the horizon)."""
        i = bisect_right(self._working, d)
        return self._working[i] if i < len(self._working) else None

    def add_working_days(self, d: date, n: int) -> date | None:
        """The n-th working day after d (d itself not counted); None beyond the horizon."""
        i = bisect_right(self._working, d)
        j = i + n - 1
        return self._working[j] if 0 <= j < len(self._working) else None

    def days(self) -> list[CalendarDay]:
        return list(self._days)

    def working_days(self) -> list[date]:
        return list(self._working)

    def off_runs(self) -> list[OffRun]:
        """Runs of consecutive non-working days that contain at least one holiday, labelled."""
        runs: list[OffRun] = []
        cur: list[CalendarDay] = []

        def flush() -> None:
            hol = [c for c in cur if c.kind == HOLIDAY]
            if hol:
                vi: list[str] = []
                en: list[str] = []
                for c in hol:
                    if c.label_vi and c.label_vi not in vi:
                        vi.append(c.label_vi)
                        en.append(c.label_en or c.label_vi)
                runs.append(OffRun(hol[0].d, hol[-1].d,
                                   ", ".join(vi) or "hoán đổi", ", ".join(en) or "swapped day off"))
            cur.clear()

        for c in self._days:
            if c.is_working:
                flush()
            else:
                cur.append(c)
        flush()
        return runs

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for c in self._days:
            h.update(f"{c.d}:{int(c.is_working)}:{c.name_vi}:{c.name_en}|".encode())
        return h.hexdigest()[:12]

    def off_note(self, d: date, lang: str = "vi") -> str:
        """Why d is not a working day, for explanations ('' for a working day)."""
        c = self.day(d)
        if c.is_working:
            return ""
        if c.kind == WEEKEND:
            return WEEKEND_NOTE[0] if lang == "vi" else WEEKEND_NOTE[1]
        if lang == "vi":
            return f"nghỉ {c.label_vi}" if c.label_vi else c.name_vi
        return f"{c.label_en} holiday" if c.label_en else c.name_en


@lru_cache(maxsize=8)
def _package_facts(first_year: int, last_year: int) -> tuple[dict[date, str], dict[date, str], frozenset[date]]:
    """Holidays (Vietnamese and English names) and worked weekend days from the `holidays` package."""
    years = range(first_year, last_year + 1)
    vi = holidays.country_holidays("VN", years=years, language="vi")
    en = holidays.country_holidays("VN", years=years, language="en_US")
    worked = frozenset(d for d in getattr(vi, "weekend_workdays", ()) if first_year <= d.year <= last_year)
    return dict(vi.items()), dict(en.items()), worked


def _entry_lines(path: Path | str) -> list[int]:
    """The 1-based line of each item of an override file's `entries`, in file order.

    Read from YAML's node marks, since the validated model keeps no positions; the file has just
    been loaded, so a failure here only costs the line numbers."""
    try:
        root = yaml.compose(Path(path).read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []
    lines: list[int] = []
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:  # the last `entries` wins, as when loading
            if getattr(key, "value", None) == "entries" and isinstance(value, yaml.SequenceNode):
                lines = [item.start_mark.line + 1 for item in value.value]
    return lines


def _weekend(d: date) -> CalendarDay:
    wd = d.weekday()
    return CalendarDay(d, False, WEEKEND, f"Nghỉ cuối tuần ({WEEKDAY_VI[wd]})",
                       f"Weekend ({WEEKDAY_EN[wd]})", None, None, "weekday")
