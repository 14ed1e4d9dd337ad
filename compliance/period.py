"""The period a register is judged for: whole local days, both ends included."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from config.clock import local_today
from config.errors import MotcuaError

DEFAULT_DAYS = 30


class PeriodError(MotcuaError, ValueError):
    """A period the user gave cannot be used; the message names the option."""


def parse_date(value: object, what: str) -> dt.date:
    """YYYY-MM-DD or DD/MM/YYYY (the Vietnamese way), a date, or a datetime."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value or "").strip()
    m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T].*)?", text)
    if m:
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    else:
        m = re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?: .*)?", text)
        if not m:
            raise PeriodError(f"{what}: expected a date YYYY-MM-DD or DD/MM/YYYY, got {text!r}")
        d, mo, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
    try:
        return dt.date(y, mo, d)
    except ValueError:
        raise PeriodError(f"{what}: {text!r} is not a real date") from None


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # inclusive

    @classmethod
    def parse(cls, from_: object = None, to: object = None, *, today: dt.date | None = None) -> "Period":
        """--from/--to as given; default: the last 30 days up to today."""
        end = parse_date(to, "--to") if to not in (None, "") else (today or local_today())
        start = parse_date(from_, "--from") if from_ not in (None, "") else end - dt.timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise PeriodError(f"--from {start.isoformat()} is after --to {end.isoformat()}")
        return cls(start, end)

    @property
    def since(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time())

    @property
    def until(self) -> dt.datetime:
        """Exclusive end: the start of the day after `end`."""
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time())

    def months(self) -> list[dt.date]:
        out, m = [], self.start.replace(day=1)
        while m <= self.end:
            out.append(m)
            m = dt.date(m.year + m.month // 12, m.month % 12 + 1, 1)
        return out

    def to_dict(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}

    def label(self) -> str:
        return f"{self.start:%d/%m/%Y} – {self.end:%d/%m/%Y}"
