"""Compliance criteria as data: config/compliance/tt22-2019.yaml (format below, loaded by `load_criteria`).

    title: "Tiêu chí chức năng, hiệu năng (Thông tư 22/2019/TT-BTTTT)"
    criteria:
      - id: IV.avg-response
        annex: IV                                 # Phụ lục I..IV, or "province" for the province's own
        group: "Hiệu năng"                        # function group, as shown
        title: "Thời gian phản hồi trung bình"
        title_en: "Average response time"
        legal_ref: "TT 22/2019/TT-BTTTT, Phụ lục IV"
        judged_by: automatic                      # or: person
        threshold_note: "provincial acceptance value"
        evidence:                                 # every source must be met
          - {source: probe_latency, checks: [home], statistic: avg, max_ms: 3000, bucket: hour}

Evidence sources (compliance/evidence.py judges them over the store's named queries):
  probe_check           the latest result of every selected check / journey is OK (a feature's presence)
  probe_latency         avg | max | p95 response time of the selected checks per hour/day ≤ max_ms
  probe_uptime          share of successful runs per hour/day ≥ min_ratio
  sla_audit             share of audited dossiers whose vendor status disagrees ≤ max_mismatch_ratio, per month
  sync_reconciliation   share of resolved dossiers whose result did not reach the national portal ≤ max_unsynced_ratio
  loadtest              the latest load test held min_users concurrent users (its verdicts at ≥ min_users passed)
Checks are named as in config/probes.yaml: a check's name, a journey's name (its summary), or
"journey/step"; `group` selects every check of a probes group (e.g. feature-inventory).
"""
from __future__ import annotations


from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from config import default_path
from config.errors import ConfigError, load_yaml_model

DEFAULT_CRITERIA = default_path("compliance", "tt22-2019.yaml")
ID_RE = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
# The kinds of disagreement of store/queries.py's audit (kept equal by a test).
AUDIT_KINDS = ("reported_overdue_resolved_on_time", "reported_on_time_actually_overdue", "no_reported_due",
               "due_date_differs", "status_differs")
STATUS_KINDS = ("reported_overdue_resolved_on_time", "reported_on_time_actually_overdue", "status_differs")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _ProbeSelection(_Strict):
    checks: list[str] = Field(default_factory=list)
    group: str | None = None

    @model_validator(mode="after")
    def _selects_something(self):
        if not self.checks and not self.group:
            raise ValueError("name the checks (checks: [...]) or a probes group (group: ...)")
        for c in self.checks:
            if not c.strip() or c.count("/") > 1:
                raise ValueError(f"check {c!r}: expected a check or journey name, or 'journey/step'")
        return self


class ProbeCheckEvidence(_ProbeSelection):
    """Met while the latest result of every selected check is OK (e.g. a 1.0 feature is present)."""

    source: Literal["probe_check"]


class ProbeLatencyEvidence(_ProbeSelection):
    """Response time of the selected checks (successful runs), per bucket, against max_ms."""

    source: Literal["probe_latency"]
    statistic: Literal["avg", "max", "p95"]
    max_ms: float = Field(gt=0)
    bucket: Literal["hour", "day"] = "hour"


class ProbeUptimeEvidence(_ProbeSelection):
    """Share of successful runs of the selected checks, per bucket, against min_ratio."""

    source: Literal["probe_uptime"]
    min_ratio: float = Field(gt=0, le=1)
    bucket: Literal["hour", "day"] = "day"


class SlaAuditEvidence(_Strict):
    """Per month: audited dossiers whose vendor-shown status disagrees with the recomputed one."""

    source: Literal["sla_audit"]
    max_mismatch_ratio: float = Field(default=0.0, ge=0, le=1)
    kinds: list[str] = Field(default_factory=lambda: list(STATUS_KINDS))
    min_dossiers: int = Field(default=1, ge=1)

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, v: list[str]) -> list[str]:
        bad = [k for k in v if k not in AUDIT_KINDS]
        if bad or not v:
            raise ValueError(f"kinds must be some of {', '.join(AUDIT_KINDS)}; got {', '.join(bad) or 'none'}")
        return v


class SyncEvidence(_Strict):
    """Per month: resolved dossiers whose result did not reach the National Public Service Portal."""

    source: Literal["sync_reconciliation"]
    max_unsynced_ratio: float = Field(default=0.0, ge=0, le=1)
    source_system: str | None = None      # e.g. only dossiers received on "1.0"
    min_dossiers: int = Field(default=1, ge=1)


class LoadTestEvidence(_Strict):
    """The latest load test in the period held min_users concurrent users."""

    source: Literal["loadtest"]
    min_users: int = Field(ge=1)
    criteria: list[str] = Field(default_factory=list)   # load-test criteria that must pass (empty: all)


Evidence = Annotated[Union[ProbeCheckEvidence, ProbeLatencyEvidence, ProbeUptimeEvidence, SlaAuditEvidence,
                           SyncEvidence, LoadTestEvidence], Field(discriminator="source")]


class Criterion(_Strict):
    id: str = Field(pattern=ID_RE, max_length=60)
    annex: Literal["I", "II", "III", "IV", "province"]
    group: str = Field(min_length=1)
    title: str = Field(min_length=1)
    title_en: str = Field(min_length=1)
    legal_ref: str = Field(min_length=1)
    judged_by: Literal["automatic", "person"]
    evidence: list[Evidence] = Field(default_factory=list)
    threshold_note: str | None = None
    guidance: str | None = None            # what a person looks at (person-judged criteria)

    @model_validator(mode="after")
    def _evidence_matches_judge(self):
        if self.judged_by == "automatic" and not self.evidence:
            raise ValueError("an automatic criterion needs at least one evidence source")
        if self.judged_by == "person" and self.evidence:
            raise ValueError("a criterion judged by a person has no automatic evidence (remove evidence "
                             "or set judged_by: automatic)")
        return self


class CriteriaFile(_Strict):
    title: str = "Tiêu chí"
    title_en: str = "Criteria"
    legal_basis: str = ""
    criteria: list[Criterion] = Field(min_length=1)

    @field_validator("criteria")
    @classmethod
    def _unique_ids(cls, v: list[Criterion]) -> list[Criterion]:
        seen: set[str] = set()
        for c in v:
            if c.id in seen:
                raise ValueError(f"criterion id {c.id!r} appears twice")
            seen.add(c.id)
        return v

    def get(self, criterion_id: str) -> Criterion | None:
        return next((c for c in self.criteria if c.id == criterion_id), None)

    def check_names(self) -> set[str]:
        """Every check name the criteria refer to (journey names without their step)."""
        out: set[str] = set()
        for c in self.criteria:
            for e in c.evidence:
                out |= {n.split("/")[0] for n in getattr(e, "checks", [])}
        return out


def load_criteria(path: Path | str | None = None) -> CriteriaFile:
    """Load and validate a criteria file (default: the shipped TT 22/2019 file)."""
    return load_yaml_model(CriteriaFile, path or DEFAULT_CRITERIA)


def unknown_checks(criteria: CriteriaFile, probes) -> list[str]:
    """Messages for checks / groups the criteria name that the probes file (config.probes) lacks."""
    names = {c.name for c in probes.checks} | {j.name for j in probes.journeys}
    steps = {f"{j.name}/{s.name}" for j in probes.journeys for s in j.steps}
    groups = {c.group for c in probes.checks if getattr(c, "group", None)}
    out = []
    for c in criteria.criteria:
        for i, e in enumerate(c.evidence):
            for n in getattr(e, "checks", []):
                if ("/" in n and n not in steps) or ("/" not in n and n not in names):
                    out.append(f"criterion {c.id}: evidence.{i}.checks: no check or journey step {n!r} "
                               "in the probes file")
            g = getattr(e, "group", None)
            if g and g not in groups:
                out.append(f"criterion {c.id}: evidence.{i}.group: no probes group {g!r}")
    return out



__all__ = ["CriteriaFile", "Criterion", "ConfigError", "load_criteria", "unknown_checks", "DEFAULT_CRITERIA"]
