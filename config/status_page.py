"""The public status page's file (config/status_page.yaml): the services citizens see, the probes
each is judged by, and the messages an incident of each opens and closes with.

A service names the checks and journeys of the probes file it is judged by: `home` (a check, or a
journey's summary) or `citizen-v2-submission/login` (one step of a journey). A service with none is
shown as not monitored, never as working. `load_status_page(path, probes)` refuses a name the
probes file does not declare (`app.py check-config` says which).

The incident statuses and impacts are closed sets, declared here once with their words.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from config.errors import ConfigError, load_yaml_model


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Words(_Strict):
    """A text in Vietnamese and English (the page's switch)."""

    vi: str = Field(min_length=1, max_length=2000)
    en: str = Field(min_length=1, max_length=2000)

    def __call__(self, lang: str) -> str:
        return self.en if lang == "en" else self.vi


class Label(NamedTuple):
    vi: str
    en: str


# An incident's status, in the order it usually moves (Statuspage's; resolved ends it).
INCIDENT_STATUSES: dict[str, Label] = {
    "investigating": Label("Đang xử lý", "Investigating"),
    "identified": Label("Đã xác định nguyên nhân", "Identified"),
    "monitoring": Label("Đang theo dõi sau khi khắc phục", "Monitoring"),
    "resolved": Label("Đã khắc phục", "Resolved"),
}
OPEN_STATUSES = ("investigating", "identified", "monitoring")
# What an incident does to its service's status on the page while it is open.
IMPACTS: dict[str, Label] = {
    "degraded": Label("Hoạt động không ổn định", "Degraded"),
    "outage": Label("Gián đoạn", "Outage"),
}


class ProbeRef(NamedTuple):
    """A check (step ''), a journey's summary (step '*') or one step of a journey."""

    name: str
    step: str

    def __str__(self) -> str:
        return self.name if self.step in ("", "*") else f"{self.name}/{self.step}"


class Template(_Strict):
    """The citizen-facing words an incident of a service opens with (editable afterwards)."""

    title: Words
    message: Words


class Service(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    name: Words
    note: Words | None = Field(default=None, description="what the probes cover, said plainly")
    probes: list[str] = Field(default_factory=list,
                              description="check or journey names, or journey/step; empty: not monitored")
    incident: Template

    @field_validator("probes")
    @classmethod
    def _distinct(cls, v: list[str]) -> list[str]:
        for p in v:
            if not re.fullmatch(r"[^/\s]+(/[^/\s]+)?", p):
                raise ValueError(f"{p!r}: write a check or journey name, or journey/step")
        if len(set(v)) != len(v):
            raise ValueError("a probe is listed twice")
        return v


class Thresholds(_Strict):
    """A day's bar: green from `good`, amber from `fair`, red below (share of probe runs passed)."""

    good: float = Field(default=0.995, gt=0, le=1)
    fair: float = Field(default=0.95, gt=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> "Thresholds":
        if self.fair > self.good:
            raise ValueError("fair must not be above good")
        return self


class StatusPageFile(_Strict):
    title: Words
    intro: Words | None = None
    contact: Words | None = Field(default=None, description="where citizens get help, e.g. a hotline")
    stale_minutes: float = Field(default=30, gt=0, le=1440,
                                 description="a probe's latest result older than this says nothing about now")
    auto_resolve_minutes: float = Field(default=30, ge=0, le=10080,
                                        description="an incident opened by an alert, untouched by a person, is "
                                                    "resolved once its service has worked this long; 0: never")
    resolved_days: int = Field(default=7, ge=1, le=90, description="how long a resolved incident stays listed")
    feed_days: int = Field(default=30, ge=1, le=365, description="how far back the Atom feed goes")
    bars: Thresholds = Thresholds()
    resolved_message: Words
    services: list[Service] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "StatusPageFile":
        ids = [s.id for s in self.services]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"service id {', '.join(dup)} is used twice")
        if self.auto_resolve_minutes > self.stale_minutes:
            # the recovery is judged from the results within stale_minutes
            raise ValueError("auto_resolve_minutes must not exceed stale_minutes")
        return self

    def service(self, sid: str) -> Service | None:
        return next((s for s in self.services if s.id == sid), None)

    def refs(self, service: Service, journeys: set[str]) -> list[ProbeRef]:
        """The service's probes as (name, step): a journey named alone is judged by its summary."""
        out = []
        for p in service.probes:
            name, _, step = p.partition("/")
            out.append(ProbeRef(name, step or ("*" if name in journeys else "")))
        return out


def unknown_probes(page: StatusPageFile, probes) -> list[str]:
    """`service: name` for every probe a service names that the probes file (config/probes.py
    ProbesFile) does not declare."""
    checks = {c.name for c in probes.checks}
    steps = {j.name: {s.name for s in j.steps} for j in probes.journeys}
    out = []
    for s in page.services:
        for p in s.probes:
            name, _, step = p.partition("/")
            if step:
                ok = step in steps.get(name, set())
            else:
                ok = name in checks or name in steps
            if not ok:
                out.append(f"{s.id}: {p}")
    return out


def load_status_page(path: Path | str, probes=None) -> StatusPageFile:
    """The file, validated; with `probes` (a ProbesFile), every probe it names must be declared there."""
    page = load_yaml_model(StatusPageFile, path)
    if probes is not None:
        bad = unknown_probes(page, probes)
        if bad:
            raise ConfigError(f"{path}: services name probes the probes file does not declare "
                              f"(check or journey name, or journey/step): {'; '.join(bad)}")
    return page
