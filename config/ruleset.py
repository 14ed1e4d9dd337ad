"""The SLA rule set: versioned, effective-dated settings for deadline computation.

File format (config/rules/vn-default.yaml)::

    name: vn-default
    description: ...
    calendar_horizon: {first_year: 2015, last_year: 2035}
    versions:
      - id: nd61-2018
        effective_from: 2018-06-21
        legal_basis: "Nghị định 61/2018/NĐ-CP ..."
        settings:
          office_hours: ["07:00-11:30", "13:30-17:00"]
          same_day_cutoff: "15:00"
          supplement_mode: restart        # restart | resume

Which version applies to a dossier is chosen by its received_at date: the last version whose
effective_from is on or before that date (dossiers older than the first version use the first).

Times are written as quoted strings: unquoted ``13:30`` is read by YAML 1.1 as the number 810.
"""
from __future__ import annotations

import re
from datetime import date, time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from config import default_path
from config.errors import load_yaml_model

DEFAULT_RULE_SET = default_path("rules", "vn-default.yaml")

_TIME_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")
_SESSION_RE = re.compile(r"^\s*(\d{1,2}:\d{2}(?::\d{2})?)\s*[-–]\s*(\d{1,2}:\d{2}(?::\d{2})?)\s*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _parse_time(value: Any, what: str) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, bool) or isinstance(value, (int, float)):
        raise ValueError(
            f"{what}: write times as quoted strings such as \"15:00\" "
            f"(YAML reads an unquoted 15:00 as the number 900); got {value!r}"
        )
    if not isinstance(value, str):
        raise ValueError(f"{what}: expected a time such as \"15:00\", got {value!r}")
    m = _TIME_RE.match(value)
    if not m:
        raise ValueError(f"{what}: expected HH:MM, got {value!r}")
    h, mi, sec = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if h > 23 or mi > 59 or sec > 59:
        raise ValueError(f"{what}: {value!r} is not a time of day")
    return time(h, mi, sec)


class OfficeSession(_Strict):
    """One opening period of the office on a working day, e.g. 07:00–11:30."""

    start: time
    end: time

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, v: Any) -> Any:
        if isinstance(v, str):
            m = _SESSION_RE.match(v)
            if not m:
                raise ValueError(f"expected a session such as \"07:00-11:30\", got {v!r}")
            return {"start": m.group(1), "end": m.group(2)}
        return v

    @field_validator("start", "end", mode="before")
    @classmethod
    def _time(cls, v: Any, info) -> time:  # noqa: ANN001
        return _parse_time(v, info.field_name)

    @model_validator(mode="after")
    def _ordered(self) -> "OfficeSession":
        if self.end <= self.start:
            raise ValueError(f"session ends ({self.end:%H:%M}) before it starts ({self.start:%H:%M})")
        return self

    def label(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def _default_sessions() -> list[OfficeSession]:
    return [OfficeSession(start=time(7, 0), end=time(11, 30)), OfficeSession(start=time(13, 30), end=time(17, 0))]


class PauseSettings(_Strict):
    """Pauses (tạm dừng) for verification or consultation, read from the dossier events pause and
    resume: a pause stops the clock and the resume lets it go on where it stopped (the time paused
    is added to the deadline, never a restart). Off unless a legal source is cited: no text
    confirmed for the ND 118 regime allows it."""

    enabled: bool = False
    legal_basis: str = ""

    @model_validator(mode="after")
    def _cited(self) -> "PauseSettings":
        if self.enabled and not self.legal_basis.strip():
            raise ValueError("pauses: enabled needs legal_basis, the text that lets an agency stop the clock "
                             "for verification or consultation (none is confirmed yet)")
        return self


class RuleSettings(_Strict):
    """The settings of one rule version."""

    office_hours: list[OfficeSession] = Field(default_factory=_default_sessions, min_length=1, max_length=8)
    # A same_day procedure received after this time is due the next working day (ND 61 art. 18.2).
    same_day_cutoff: time = time(15, 0)
    # restart: the clock restarts from zero when the complete dossier comes back (ND 61 art. 19.4);
    # resume: the paused working time is added back to the deadline.
    supplement_mode: Literal["restart", "resume"] = "restart"
    # A refusal or a dossier handed back ("không giải quyết", "trả lại hồ sơ": state rejected) issued
    # after the deadline. exclude: left out of the ratios like any refusal (and listed by the audit);
    # overdue: counted as resolved overdue. The legal reading is open: no text says which.
    negative_after_deadline: Literal["exclude", "overdue"] = "exclude"
    pauses: PauseSettings = Field(default_factory=PauseSettings)

    @field_validator("same_day_cutoff", mode="before")
    @classmethod
    def _cutoff(cls, v: Any) -> time:
        return _parse_time(v, "same_day_cutoff")

    @model_validator(mode="after")
    def _consistent(self) -> "RuleSettings":
        prev = None
        for s in self.office_hours:
            if prev is not None and s.start < prev.end:
                raise ValueError(
                    f"office_hours: session {s.label()} starts before the previous one ({prev.label()}) ends; "
                    "list sessions in order without overlap"
                )
            prev = s
        first, last = self.office_hours[0].start, self.office_hours[-1].end
        if not (first <= self.same_day_cutoff <= last):
            raise ValueError(
                f"same_day_cutoff {self.same_day_cutoff:%H:%M} is outside office hours "
                f"({first:%H:%M}-{last:%H:%M})"
            )
        return self

    @property
    def opening(self) -> time:
        return self.office_hours[0].start

    @property
    def closing(self) -> time:
        return self.office_hours[-1].end

    @property
    def office_seconds(self) -> int:
        """Length of a working day's office time in seconds."""
        return sum(_secs(s.end) - _secs(s.start) for s in self.office_hours)


def _secs(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


class RuleVersion(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    effective_from: date
    legal_basis: str = Field(min_length=1)
    settings: RuleSettings = Field(default_factory=RuleSettings)

    @field_validator("legal_basis")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("legal_basis must name the legal text this version follows")
        return v.strip()


class CalendarHorizon(_Strict):
    """Years covered by the working-day calendar. Deadlines outside it cannot be computed."""

    first_year: int = Field(default=2015, ge=1995, le=2100)
    last_year: int = Field(default=2035, ge=1995, le=2100)

    @model_validator(mode="after")
    def _ordered(self) -> "CalendarHorizon":
        if self.last_year < self.first_year:
            raise ValueError(f"last_year {self.last_year} is before first_year {self.first_year}")
        if self.last_year - self.first_year > 80:
            raise ValueError("the calendar horizon may span at most 80 years")
        return self


class RuleSet(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    description: str = ""
    calendar_horizon: CalendarHorizon = Field(default_factory=CalendarHorizon)
    versions: list[RuleVersion] = Field(min_length=1)

    @model_validator(mode="after")
    def _versions_ordered(self) -> "RuleSet":
        ids = [v.id for v in self.versions]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"versions: duplicate id {', '.join(dup)}")
        for a, b in zip(self.versions, self.versions[1:]):
            if b.effective_from <= a.effective_from:
                raise ValueError(
                    f"versions: {b.id} (effective_from {b.effective_from}) must come after "
                    f"{a.id} (effective_from {a.effective_from}); list versions in date order"
                )
        return self

    def version_for(self, received: date) -> RuleVersion:
        """The version applying to a dossier received on that date (the first one for older dossiers)."""
        chosen = self.versions[0]
        for v in self.versions:
            if v.effective_from <= received:
                chosen = v
        return chosen


def load_ruleset(path: Path | str = DEFAULT_RULE_SET) -> RuleSet:
    """Load and validate a rule set file; raises config.errors.ConfigError with file and field."""
    return load_yaml_model(RuleSet, path)
