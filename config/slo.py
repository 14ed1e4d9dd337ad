"""Service-level objectives per check or journey, and the burn-rate alert policy.

Defaults follow the Google SRE workbook ("Alerting on SLOs"): a 28-day window, and alerts when
the error budget burns 14.4x over 1 h and 5 min or 6x over 6 h and 30 min (page), or 3x over 1 day
and 2 h or 1x over 3 days and 6 h (ticket).
"""
from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from config.errors import load_yaml_model


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BurnRule(_Strict):
    long_minutes: int = Field(gt=0)
    short_minutes: int = Field(gt=0)
    factor: float = Field(gt=0)
    severity: str = Field(pattern="^(page|ticket|info)$")

    @model_validator(mode="after")
    def _short_is_shorter(self) -> "BurnRule":
        if self.short_minutes >= self.long_minutes:
            raise ValueError("short_minutes must be shorter than long_minutes")
        return self


DEFAULT_BURN_RULES = [
    BurnRule(long_minutes=60, short_minutes=5, factor=14.4, severity="page"),
    BurnRule(long_minutes=360, short_minutes=30, factor=6, severity="page"),
    BurnRule(long_minutes=1440, short_minutes=120, factor=3, severity="ticket"),
    BurnRule(long_minutes=4320, short_minutes=360, factor=1, severity="ticket"),
]


class Slo(_Strict):
    name: str = Field(min_length=1)
    title: str = Field(min_length=1, description="Vietnamese, for people: what the journey is")
    probe: str = Field(min_length=1, description="check or journey name in the probes file")
    step: str = Field(default="*", description="'*' the journey as a whole, '' a plain check, or a step name")
    availability: float = Field(default=0.995, gt=0, lt=1)
    latency_ms: float | None = Field(default=2000, gt=0)
    latency_objective: float = Field(default=0.95, gt=0, lt=1)
    window_days: int = Field(default=28, ge=1, le=90)


class Slowdown(_Strict):
    """A check is slow when its hourly p95 exceeds its own baseline for that hour of the week."""

    weeks: int = Field(default=4, ge=1, le=52)
    factor: float = Field(default=2.0, gt=1)
    min_extra_ms: float = Field(default=500, ge=0)
    min_samples: int = Field(default=5, ge=1)


class SloFile(_Strict):
    slos: list[Slo] = Field(default_factory=list)
    burn_rules: list[BurnRule] = Field(default_factory=lambda: list(DEFAULT_BURN_RULES))
    slowdown: Slowdown = Slowdown()

    @model_validator(mode="after")
    def _unique(self) -> "SloFile":
        names = [s.name for s in self.slos]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"SLO names must be unique: {', '.join(sorted(dup))}")
        return self


def load_slos(path: Path | str) -> SloFile:
    return load_yaml_model(SloFile, path)
