"""One year of the working-day calendar, as the engine uses it, with where each day comes from.

So that officials can hold the calendar against the published decisions: every weekday that is
not worked and every weekend day that is, named, with its source (the `holidays` package, or the
override file and line, with the legal basis written there). These are exactly the days on which
the calendar departs from the Monday–Friday pattern, so nothing the engine counts is left out.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from config.errors import MotcuaError
from sla_rules.calendar import WEEKDAY_EN, WEEKDAY_VI, CalendarDay, WorkCalendar

PACKAGE_SOURCE = ("gói holidays (mặc định)", "holidays package default")
DEFAULTS_ONLY = ("chỉ có mặc định của gói holidays, chưa có quyết định nào được nhập",
                 "package defaults only: no decision has been entered for this year")


class YearOutsideCalendar(MotcuaError, ValueError):
    """The year is outside the rule set's calendar horizon; the message names the horizon."""


def _is_override(c: CalendarDay) -> bool:
    return c.source not in ("weekday", "holidays")


def departs(c: CalendarDay) -> bool:
    """A weekday off or a weekend day worked."""
    return c.is_working != (c.d.weekday() < 5)


def weekday_name(d: date, lang: str = "vi") -> str:
    if lang != "vi":
        return WEEKDAY_EN[d.weekday()]
    w = WEEKDAY_VI[d.weekday()]
    return w[0].upper() + w[1:]  # it starts the line: "Thứ Sáu", "Chủ nhật"


def shown_path(file: str, relative_to: Path | None = None) -> str:
    """The file as officials know it (config/calendar/…) when it lies under relative_to."""
    if relative_to is not None:
        try:
            return Path(file).resolve().relative_to(Path(relative_to).resolve()).as_posix()
        except (ValueError, OSError):
            pass
    return file


@dataclass(frozen=True)
class YearListing:
    year: int
    rule_set: str
    horizon: tuple[int, int]
    days: list[CalendarDay]             # the departures from the weekly pattern, in date order
    other_overrides: list[CalendarDay]  # override entries of the year that keep the weekly pattern
    working_days: int

    @property
    def package_defaults_only(self) -> bool:
        return not any(_is_override(c) for c in self.days + self.other_overrides)

    def _day_json(self, c: CalendarDay, lang: str, relative_to: Path | None) -> dict[str, Any]:
        ov = _is_override(c)
        return {
            "date": c.d.isoformat(),
            "weekday": weekday_name(c.d, lang),
            "working": c.is_working,
            "name": c.name_vi if lang == "vi" else c.name_en,
            "source": "override" if ov else "holidays",
            "file": shown_path(c.file or c.source, relative_to) if ov else None,
            "line": (c.line or None) if ov else None,
            "legal_basis": (c.legal_basis or None) if ov else None,
        }

    def to_json(self, lang: str = "vi", relative_to: Path | None = None) -> dict[str, Any]:
        return {
            "year": self.year,
            "rule_set": self.rule_set,
            "horizon": list(self.horizon),
            "package_defaults_only": self.package_defaults_only,
            "working_days": self.working_days,
            "days": [self._day_json(c, lang, relative_to) for c in self.days],
            "other_overrides": [self._day_json(c, lang, relative_to) for c in self.other_overrides],
        }

    def _line(self, c: CalendarDay, lang: str, relative_to: Path | None) -> str:
        vi = lang == "vi"
        state = ("làm việc" if c.is_working else "nghỉ") if vi else ("worked" if c.is_working else "off")
        name = c.name_vi if vi else c.name_en
        if _is_override(c):
            where = shown_path(c.file or c.source, relative_to) + (f":{c.line}" if c.line else "")
            if c.legal_basis:
                where += f"; {'căn cứ' if vi else 'legal basis'}: {c.legal_basis}"
        else:
            where = PACKAGE_SOURCE[0 if vi else 1]
        return (f"{weekday_name(c.d, lang):<9} {c.d:%d/%m/%Y}  {state:<8}  {name}"
                f" — {'nguồn' if vi else 'source'}: {where}")

    def render(self, lang: str = "vi", relative_to: Path | None = None) -> str:
        vi = lang == "vi"
        first, last = self.horizon
        out = [f"Lịch làm việc năm {self.year} dùng để tính thời hạn hồ sơ (bộ quy tắc {self.rule_set}, "
               f"phạm vi lịch {first}–{last}): các ngày thường được nghỉ và các ngày cuối tuần làm việc."
               if vi else
               f"Working calendar of {self.year} as the deadline engine uses it (rule set {self.rule_set}, "
               f"calendar horizon {first}–{last}): weekdays off and weekend days worked."]
        if self.package_defaults_only:
            out.append(f"Năm {self.year}: {DEFAULTS_ONLY[0]}." if vi else f"{self.year}: {DEFAULTS_ONLY[1]}.")
        out += [self._line(c, lang, relative_to) for c in self.days]
        if self.other_overrides:
            out.append("Các mục ghi đè trong năm không làm thay đổi lịch tuần thường lệ:" if vi
                       else "Override entries that leave the weekly pattern unchanged:")
            out += [self._line(c, lang, relative_to) for c in self.other_overrides]
        off = sum(not c.is_working for c in self.days)
        worked = len(self.days) - off
        out.append(f"Cộng: {off} ngày thường được nghỉ, {worked} ngày cuối tuần làm việc; "
                   f"{self.working_days} ngày làm việc trong năm." if vi else
                   f"Total: {off} weekdays off, {worked} weekend days worked; "
                   f"{self.working_days} working days in the year.")
        return "\n".join(out)


def list_year(cal: WorkCalendar, year: int, rule_set: str = "", lang: str = "vi") -> YearListing:
    """The year's departures from the weekly pattern, read from the calendar itself (the engine's)."""
    horizon = (cal.first.year, cal.last.year)
    # Compared as years first: date() itself fails outside 1..9999.
    if not (horizon[0] <= year <= horizon[1]) \
            or not (cal.covers(date(year, 1, 1)) and cal.covers(date(year, 12, 31))):
        raise YearOutsideCalendar(
            f"năm {year} nằm ngoài phạm vi lịch của bộ quy tắc {rule_set} "
            f"(calendar_horizon {horizon[0]}–{horizon[1]})" if lang == "vi" else
            f"year {year} is outside the calendar horizon of rule set {rule_set} ({horizon[0]}–{horizon[1]})")
    days, others, working = [], [], 0
    d = date(year, 1, 1)
    while d.year == year:
        c = cal.day(d)
        working += c.is_working
        if departs(c):
            days.append(c)
        elif _is_override(c):
            others.append(c)
        d += timedelta(days=1)
    return YearListing(year, rule_set, horizon, days, others, working)
