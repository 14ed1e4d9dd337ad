"""The 766 scorecard's rules (Quyết định 766/QĐ-TTg, 23/6/2022), estimated from our own data.

The decision scores every ministry and province in five groups. What each group is worth, and how
its points follow from measured shares, is read from config/index766.yaml: the official formulas
are not all published, a revision draft exists (Công văn 5518/VPCP-KSTT, 19/6/2025) and the weights
in force are not confirmed, so every number carries its source and whether it is confirmed, and
every score computed from them is an estimate.

A scored part of a group (`Component`) earns min(points, points × share / target): the full points
at `target` or above, proportionally below. A component with `points: null` is measured and shown
but not scored (its weight is not known).

The progress group's 20 points and its formula are the store's (store/queries.py score_766, with the
denominator of reports.score_766 in config/app.py): this file names them, it does not set them.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from config import default_path
from config.errors import load_yaml_model
from config.vocabulary import RATING_MAX, RATING_MIN

DEFAULT_INDEX766 = default_path("index766.yaml")
GROUPS: tuple[str, ...] = ("publicity", "progress", "online_service", "digitisation", "satisfaction")
# The progress score's maximum in store/queries.py (20 × (early + on time) / denominator).
PROGRESS_MAX = 20.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Name(_Strict):
    vi: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Source(_Strict):
    """Where a number or a formula comes from, and whether it is confirmed."""

    text: str = Field(min_length=1)
    confirmed: bool = False


class Input(_Strict):
    """What a group reads: a store column (or `none` when no export carries it) and what it means."""

    reads: str = Field(min_length=1, description="table.column, or 'none' when no export carries it")
    en: str = Field(min_length=1)
    vi: str = Field(min_length=1)


class Component(_Strict):
    """One scored share: min(points, points × share / target); points null = shown, not scored."""

    input: str = Field(min_length=1, description="a key of the group's inputs")
    points: float | None = Field(ge=0, le=100)
    target: float = Field(default=1.0, gt=0, le=1)
    source: Source

    def score(self, share: float) -> float:
        assert self.points is not None
        return min(self.points, self.points * share / self.target)


class Group(_Strict):
    name: Name
    max_points: float = Field(gt=0, le=100)
    formula: str = Field(min_length=1)
    inputs: dict[str, Input] = Field(min_length=1)
    source: Source

    @property
    def scored_components(self) -> list[Component]:
        return []


class ComponentGroup(Group):
    """A group whose points are the sum of its components' (online service, digitisation)."""

    components: list[Component] = Field(min_length=1)

    @property
    def scored_components(self) -> list[Component]:
        return [c for c in self.components if c.points is not None]

    @model_validator(mode="after")
    def _adds_up(self) -> "ComponentGroup":
        unknown = sorted({c.input for c in self.components} - set(self.inputs))
        if unknown:
            raise ValueError(f"components read {', '.join(unknown)}, not among the group's inputs "
                             f"({', '.join(self.inputs)})")
        total = sum(c.points or 0 for c in self.components)
        if abs(total - self.max_points) > 1e-9:
            raise ValueError(f"the components' points add up to {total:g}, not to max_points {self.max_points:g}")
        return self


class ProgressGroup(Group):
    """Progress and results of processing: the store's score_766, not set here."""

    @model_validator(mode="after")
    def _the_stores(self) -> "ProgressGroup":
        if self.max_points != PROGRESS_MAX:
            raise ValueError(f"max_points must be {PROGRESS_MAX:g}: the progress score is the store's "
                             "score_766 (20 × (early + on time) / reports.score_766.denominator)")
        return self


class SatisfactionGroup(Group):
    """points = max_points × clamp((average rating − zero_at) / (scale top − zero_at), 0, 1)."""

    zero_at: float = Field(default=RATING_MIN, ge=0, description="the average rating worth 0 points")
    min_ratings: int = Field(default=1, ge=1, description="fewer ratings than this: not measured")

    @model_validator(mode="after")
    def _below_top(self) -> "SatisfactionGroup":
        if self.zero_at >= RATING_MAX:
            raise ValueError(f"zero_at must be below the top of the rating scale ({RATING_MAX})")
        return self

    def score(self, average: float) -> float:
        return self.max_points * min(1.0, max(0.0, (average - self.zero_at) / (RATING_MAX - self.zero_at)))


class Index766(_Strict):
    """config/index766.yaml."""

    decision: Source
    revision: Source
    label: Name = Name(vi="ước tính", en="estimate")
    publicity: Group
    progress: ProgressGroup
    online_service: ComponentGroup
    digitisation: ComponentGroup
    satisfaction: SatisfactionGroup

    @model_validator(mode="after")
    def _at_most_100(self) -> "Index766":
        total = sum(self.group(g).max_points for g in GROUPS)
        if total > 100 + 1e-9:
            raise ValueError(f"the groups' max_points add up to {total:g}, more than the decision's 100")
        return self

    def group(self, gid: str) -> Group:
        return getattr(self, gid)

    def rating_scale(self) -> tuple[int, int]:
        return RATING_MIN, RATING_MAX



def load_index766(path: Path | str | None = None) -> Index766:
    """Read and validate the rules file (ConfigError names the file and the field)."""
    return load_yaml_model(Index766, path or DEFAULT_INDEX766)
