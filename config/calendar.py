"""Calendar override files: official decisions the `holidays` package lacks, provincial closures.

File format (config/calendar/vn-civil-service.yaml, config/calendar/quang-ngai.yaml)::

    description: ...
    entries:
      - date: 2026-01-02
        kind: off                     # off | working
        reason: "Nghỉ Tết Dương lịch (hoán đổi, làm bù thứ Bảy 10/01/2026)"
        reason_en: "New Year holiday (swapped with Saturday 10/01/2026)"   # optional
        legal_basis: "Văn bản ... của Văn phòng Chính phủ"

Files are applied in order after the `holidays` package; a later entry for the same date wins.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from config.errors import load_yaml_model


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CalendarEntry(_Strict):
    date: dt.date
    kind: Literal["off", "working"]
    # Vietnamese name of the day off (or why a weekend day is worked), shown to clerks.
    reason: str = Field(min_length=1, max_length=200)
    reason_en: str | None = Field(default=None, max_length=200)
    legal_basis: str = Field(min_length=1, max_length=300)

    @field_validator("kind", mode="before")
    @classmethod
    def _yaml_off(cls, v: object) -> object:
        # YAML 1.1 reads an unquoted `off` as the boolean false.
        if v is False:
            return "off"
        if v is True:
            raise ValueError("expected 'off' or 'working' (YAML read this value as true)")
        return v

    @field_validator("reason", "legal_basis")
    @classmethod
    def _not_blank(cls, v: str, info) -> str:  # noqa: ANN001
        if not v.strip():
            raise ValueError(f"{info.field_name} must not be blank")
        return v.strip()


class CalendarOverrides(_Strict):
    description: str = ""
    entries: list[CalendarEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_dates(self) -> "CalendarOverrides":
        seen: set[dt.date] = set()
        for i, e in enumerate(self.entries):
            if e.date in seen:
                raise ValueError(f"entries.{i}: date {e.date.isoformat()} is listed twice")
            seen.add(e.date)
        return self


def load_calendar_overrides(path: Path | str) -> CalendarOverrides:
    """Load one override file; raises config.errors.ConfigError naming the file and field."""
    return load_yaml_model(CalendarOverrides, path)
