"""Reference data: the agency tree (effective-dated) and the procedure catalogue.

A YAML file of this shape is loaded into the store by `store.reference.load_reference`:

    agencies:
      - {code: QNG, name: UBND tỉnh Quảng Ngãi, level: province}
      - {code: STP, name: Sở Tư pháp, level: department, parent: QNG}
      - {code: H01, name: UBND huyện Bình Sơn, level: district, parent: QNG,
         valid_to: 2025-07-01, successor: X01}          # closed when districts were abolished
    procedures:
      - {code: "1.000894", name: Đăng ký khai sinh, field: Hộ tịch,
         time_limit: 1, time_unit: working_days, online_level: full}

An agency may appear several times with different `valid_from` dates (one row per version, e.g.
when it moved to another parent); versions of one code must not overlap. `valid_to` is exclusive.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from config.errors import load_yaml_model
from config.vocabulary import TimeUnit

AgencyLevel = Literal["province", "department", "district", "commune", "unit"]
OnlineLevel = Literal["full", "partial", "none"]

OPEN_START = dt.date(1900, 1, 1)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AgencyRef(_Strict):
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1)
    level: AgencyLevel = "unit"
    parent: str | None = None
    valid_from: dt.date = OPEN_START
    valid_to: dt.date | None = None  # exclusive; None = still valid
    successor: str | None = None

    @field_validator("code", "parent", "successor", mode="before")
    @classmethod
    def _codes_are_text(cls, v: object) -> object:
        # YAML reads 001 or 1.0 as numbers; agency codes are identifiers.
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            raise ValueError("agency codes must be quoted strings in YAML (e.g. \"001\"), not numbers")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> "AgencyRef":
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValueError(f"agency {self.code}: valid_to {self.valid_to} must be after valid_from {self.valid_from}")
        if self.parent == self.code:
            raise ValueError(f"agency {self.code} cannot be its own parent")
        if self.successor == self.code:
            raise ValueError(f"agency {self.code} cannot be its own successor")
        if self.successor is not None and self.valid_to is None:
            raise ValueError(f"agency {self.code}: a successor is only meaningful for a closed agency (set valid_to)")
        return self


class ProcedureRef(_Strict):
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1)
    field: str | None = None  # lĩnh vực
    time_limit: float = Field(ge=0)
    time_unit: TimeUnit
    online_level: OnlineLevel = "none"

    @field_validator("code", mode="before")
    @classmethod
    def _code_is_text(cls, v: object) -> object:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            raise ValueError("procedure codes must be quoted strings in YAML (e.g. \"1.000894\"), not numbers")
        return v


class ReferenceData(_Strict):
    agencies: list[AgencyRef] = Field(default_factory=list)
    procedures: list[ProcedureRef] = Field(default_factory=list)

    @model_validator(mode="after")
    def _no_duplicates_or_overlaps(self) -> "ReferenceData":
        versions: dict[str, list[AgencyRef]] = defaultdict(list)
        for a in self.agencies:
            versions[a.code].append(a)
        for code, vs in versions.items():
            vs = sorted(vs, key=lambda a: a.valid_from)
            for prev, cur in zip(vs, vs[1:]):
                if prev.valid_from == cur.valid_from:
                    raise ValueError(f"agency {code} is listed twice with valid_from {cur.valid_from}")
                if prev.valid_to is None or prev.valid_to > cur.valid_from:
                    raise ValueError(
                        f"agency {code}: the version from {prev.valid_from} (valid_to {prev.valid_to or 'open'}) "
                        f"overlaps the version from {cur.valid_from}; set valid_to on the earlier one")
        seen: set[str] = set()
        for p in self.procedures:
            if p.code in seen:
                raise ValueError(f"procedure {p.code} is listed twice")
            seen.add(p.code)
        return self


def load_reference_file(path: Path | str) -> ReferenceData:
    """Read and validate a reference YAML file (ConfigError names the file and the field)."""
    return load_yaml_model(ReferenceData, path)
