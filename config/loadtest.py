"""Load-test configuration (config/loadtests.yaml): scenarios, load shapes, acceptance criteria, allowlist.

    allowlist: {hosts: [127.0.0.1, localhost, "::1"]}     # targets anywhere else are refused
    generator: {cpu_limit: 90, overload_share: 0.2, interval: 1}
    shapes:
      ramp-5m:   {kind: ramp, duration: 5m, ramp: 0.8}       # 0 → users over 80 % of the run, then hold
      steady:    {kind: steady, duration: 10m}
      step:      {kind: step, duration: 10m, steps: 10}      # users/steps more users at every step
      spike:     {kind: spike, duration: 5m, base: 0.2, at: 0.4, length: 0.2}
      workday:   {kind: working_day, duration: 20m, days: [normal, end_of_month]}
    criteria:
      go-live:
        at_users: 300                                        # judged while ≥ 300 users are running
        thresholds:
          requests: ["p(95) < 2s", "errors < 1%"]            # each request endpoint
          "journey:*": ["p(95) < 15s"]                       # each journey, start to end
          total: ["rps > 50"]                                # all requests together
    scenarios:
      citizens:
        portal: probes.yaml          # the portal description the probes use (checks, journeys, variables)
        shape: step
        users: 300
        criteria: go-live
        user_classes:
          - name: citizen
            weight: 9
            wait: {between: [2, 8]}
            tasks:
              - {name: search, check: procedure-search-api, weight: 5}
              - {name: submit, journey: citizen-v2-submission, weight: 1}
              - name: officer-process
                steps: [...]         # steps in the probes' format (config/probes.py Step), same ${variables}

A task names a probe check (`check:`), a probe journey (`journey:`), or declares `steps:` in the
probes' own step format, so the same scenario runs against the testbed or a vendor's staging portal
by pointing `portal:` at that portal's probes file (or `--target` at its base URL).

Durations are seconds or '30s', '5m', '1h'. Criteria expressions, as k6 thresholds:
`p(95) < 2s`, `p99 <= 3000` (ms), `avg < 800ms`, `max < 10s`, `errors < 1%` (or `error_rate < 0.01`),
`rps > 50` (requests per second).
"""
from __future__ import annotations

import fnmatch
import ipaddress
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from config import default_path
from config.errors import ConfigError, load_yaml_model
from config.probes import Step

DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
DEFAULT_LOADTESTS = default_path("loadtests.yaml")
DEFAULT_ALLOWED_HOSTS = ["127.0.0.1", "localhost", "::1"]


def _task_name(v: str) -> str:
    if not NAME_RE.match(v):
        raise ValueError("letters, digits, '.', '_' and '-' only")
    return v


# A task's name: in the load-test file, and in the scenario a remote worker receives.
TaskName = Annotated[str, Field(min_length=1, max_length=80), AfterValidator(_task_name)]


def parse_duration(v: Any) -> float:
    """Seconds from 90, 90.5, '90s', '5m', '1h', '250ms'."""
    if isinstance(v, bool):
        raise ValueError("expected a duration such as 30s, 5m or 1h")
    if isinstance(v, (int, float)):
        seconds = float(v)
    else:
        m = DURATION_RE.match(str(v))
        if not m:
            raise ValueError(f"{v!r} is not a duration (examples: 30, 30s, 5m, 1h)")
        seconds = float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- allowlist and generator ----------------------------------------------------------------------
class Allowlist(_Strict):
    """Hosts (names or IP addresses) and networks a load test may target. Loopback only by default."""

    hosts: list[str] = Field(default_factory=lambda: list(DEFAULT_ALLOWED_HOSTS))
    networks: list[str] = Field(default_factory=list)  # e.g. "127.0.0.0/8"

    @field_validator("networks")
    @classmethod
    def _cidr(cls, v: list[str]) -> list[str]:
        for n in v:
            try:
                ipaddress.ip_network(n, strict=False)
            except ValueError:
                raise ValueError(f"{n!r} is not a network (example: 127.0.0.0/8)") from None
        return v

    def allows(self, host: str) -> bool:
        h = host.strip("[]").lower()
        if h in {x.strip("[]").lower() for x in self.hosts}:
            return True
        try:
            ip = ipaddress.ip_address(h)
        except ValueError:
            return False
        return any(ip in ipaddress.ip_network(n, strict=False) for n in self.networks)


class GeneratorLimits(_Strict):
    """When the load generator itself is the bottleneck (then the run is flagged, not the portal blamed)."""

    cpu_limit: float = Field(default=90, gt=0, le=100)   # % of one core, per generator process
    overload_share: float = Field(default=0.2, gt=0, le=1)  # share of intervals above the limit
    interval: float = Field(default=1.0, ge=0.2, le=60)  # seconds between samples of the series


# -- shapes -----------------------------------------------------------------------------------------
ShapeKind = Literal["ramp", "steady", "step", "spike", "working_day"]

# A working day at a one-stop counter, as a fraction of the peak, by local office time.
DEFAULT_DAY = {"07:30": 0.05, "08:00": 0.45, "09:00": 0.9, "09:45": 1.0, "10:30": 0.85, "11:15": 0.6,
               "11:45": 0.2, "13:15": 0.25, "13:45": 0.6, "14:30": 0.8, "15:30": 0.7, "16:30": 0.4,
               "17:00": 0.05}


class Shape(_Strict):
    kind: ShapeKind
    title: str | None = None
    duration: float = Field(default=300)
    # ramp: share of the run spent ramping up (then the target is held)
    ramp: float = Field(default=0.8, ge=0, le=1)
    # steady: seconds to reach the target (0 = as fast as Locust spawns)
    warmup: float = Field(default=5, ge=0)
    # step: number of steps; users grow by users/steps at every step
    steps: int = Field(default=10, ge=2, le=200)
    # spike: base load as a share of the target; the spike starts at `at` and lasts `length` (shares of the run)
    base: float = Field(default=0.2, ge=0, le=1)
    at: float = Field(default=0.4, ge=0, lt=1)
    length: float = Field(default=0.2, gt=0, le=1)
    # working_day: load by office time, the days played in a row, an ordinary day's peak vs the target
    profile: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_DAY))
    days: list[Literal["normal", "end_of_month"]] = Field(default_factory=lambda: ["normal", "end_of_month"])
    normal_day_factor: float = Field(default=0.6, gt=0, le=1)

    @field_validator("duration", mode="before")
    @classmethod
    def _dur(cls, v: Any) -> float:
        return parse_duration(v)

    @field_validator("profile")
    @classmethod
    def _profile(cls, v: dict[str, float]) -> dict[str, float]:
        if len(v) < 2:
            raise ValueError("give at least two points 'HH:MM': share")
        for k, share in v.items():
            if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", str(k)):
                raise ValueError(f"{k!r}: times are 'HH:MM'")
            if not 0 <= share <= 1:
                raise ValueError(f"{k}: share {share} must be between 0 and 1")
        return dict(sorted(v.items()))

    @model_validator(mode="after")
    def _spike_fits(self) -> "Shape":
        if self.kind == "spike" and self.at + self.length > 1:
            raise ValueError("spike: at + length must be at most 1 (the spike ends within the run)")
        if not self.days:
            raise ValueError("days: at least one day")
        return self


# -- criteria ---------------------------------------------------------------------------------------
EXPR_RE = re.compile(r"^\s*(?P<metric>p\(\s*\d+(?:\.\d+)?\s*\)|p\d+(?:\.\d+)?|avg|med|min|max|errors|error_rate|rate|rps)"
                     r"\s*(?P<op><=|<|>=|>|==)\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|%)?\s*$")


class Threshold(_Strict):
    """One parsed expression: metric op value, in canonical units (ms, a fraction, requests/s)."""

    expr: str
    metric: str   # p50 p90 p95 p99 pNN avg min max error_rate rps
    op: str
    value: float

    @classmethod
    def parse(cls, expr: str) -> "Threshold":
        m = EXPR_RE.match(expr)
        if not m:
            raise ValueError(f"{expr!r}: expected e.g. 'p(95) < 2s', 'avg < 800ms', 'errors < 1%', 'rps > 50'")
        metric, unit, value = m.group("metric").replace(" ", ""), m.group("unit"), float(m.group("value"))
        if metric.startswith("p"):
            if metric != "p" and metric.startswith("p("):
                metric = "p" + metric[2:-1]
            q = float(metric[1:])
            if not 0 < q < 100:
                raise ValueError(f"{expr!r}: percentile must be between 0 and 100")
            metric = f"p{q:g}"
        if metric == "med":
            metric = "p50"
        if metric in ("errors", "rate"):
            metric = "error_rate"
        if metric == "error_rate":
            if unit == "%":
                value /= 100
            elif unit is not None:
                raise ValueError(f"{expr!r}: an error rate is a fraction (0.01) or a percentage (1%)")
            if value > 1:
                raise ValueError(f"{expr!r}: an error rate is at most 1 (100%)")
        elif metric == "rps":
            if unit is not None:
                raise ValueError(f"{expr!r}: rps takes no unit")
        else:
            if unit == "%":
                raise ValueError(f"{expr!r}: a latency is in ms or s, not %")
            value = value * 1000 if unit == "s" else value
        return cls(expr=expr.strip(), metric=metric, op=m.group("op"), value=value)

    def holds(self, observed: float | None) -> bool:
        if observed is None:
            return False
        return {"<": observed < self.value, "<=": observed <= self.value, ">": observed > self.value,
                ">=": observed >= self.value, "==": observed == self.value}[self.op]


class Criteria(_Strict):
    """Acceptance criteria, k6-threshold style: selector → expressions, judged at ≥ at_users users.

    Selectors: `total` (all requests together), `requests` (each request endpoint), a glob on a
    request name (`citizen-submit/*`), `journey:NAME` or `journey:*` (each journey, start to end).
    """

    title: str | None = None
    at_users: int | None = Field(default=None, ge=1)
    thresholds: dict[str, list[str]] = Field(min_length=1)

    @field_validator("thresholds")
    @classmethod
    def _parse(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for sel, exprs in v.items():
            if not sel.strip():
                raise ValueError("empty selector")
            if not exprs:
                raise ValueError(f"{sel}: give at least one expression")
            for e in exprs:
                Threshold.parse(e)
        return v

    def parsed(self) -> list[tuple[str, Threshold]]:
        return [(sel, Threshold.parse(e)) for sel, exprs in self.thresholds.items() for e in exprs]


def selector_matches(selector: str, method: str, name: str) -> bool:
    """Whether an endpoint (Locust method + name) falls under a criteria selector."""
    if selector == "total":
        return False
    if selector.startswith("journey:"):
        return method == "JOURNEY" and fnmatch.fnmatchcase(name, selector[len("journey:"):])
    if method == "JOURNEY":
        return False
    return selector == "requests" or fnmatch.fnmatchcase(name, selector)


# -- scenarios --------------------------------------------------------------------------------------
class WaitTime(_Strict):
    """Think time between tasks: constant seconds, uniformly between two, or a constant pacing."""

    constant: float | None = Field(default=None, ge=0)
    between: tuple[float, float] | None = None
    pacing: float | None = Field(default=None, gt=0)  # a task starts every `pacing` seconds

    @model_validator(mode="after")
    def _one(self) -> "WaitTime":
        given = [x for x in (self.constant, self.between, self.pacing) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of constant, between, pacing")
        if self.between is not None and not 0 <= self.between[0] <= self.between[1]:
            raise ValueError("between: [low, high] with 0 <= low <= high")
        return self


class Task(_Strict):
    name: TaskName
    title: str | None = None
    weight: int = Field(default=1, ge=1, le=10_000)
    check: str | None = None      # a check of the portal description (probes file)
    journey: str | None = None    # a journey of the portal description
    steps: list[Step] | None = None  # or steps declared here, in the probes' format
    think: float = Field(default=0, ge=0, le=600)  # seconds between the steps of a journey

    @model_validator(mode="after")
    def _one_source(self) -> "Task":
        n = sum(x is not None for x in (self.check, self.journey, self.steps))
        if n != 1:
            raise ValueError("give exactly one of check, journey, steps")
        if self.steps is not None:
            if not self.steps:
                raise ValueError("steps: at least one step")
            names = [s.name for s in self.steps]
            if len(set(names)) != len(names):
                raise ValueError("step names must be unique within a task")
        return self


class UserClass(_Strict):
    name: str = Field(min_length=1, max_length=40)
    title: str | None = None
    weight: int = Field(default=1, ge=1, le=10_000)
    fixed_count: int | None = Field(default=None, ge=0)  # this many users whatever the total
    wait: WaitTime = Field(default_factory=lambda: WaitTime(between=(1, 5)))
    tasks: list[Task] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _ident(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", v):
            raise ValueError("a user class name is an identifier (letters, digits, _)")
        return v

    @model_validator(mode="after")
    def _unique_tasks(self) -> "UserClass":
        names = [t.name for t in self.tasks]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"task names used twice: {', '.join(dup)}")
        return self


class Scenario(_Strict):
    title: str | None = None
    portal: Path = Path("probes.yaml")  # relative to the loadtests file
    shape: str | Shape = "steady"
    users: int = Field(default=10, ge=1, le=1_000_000)
    duration: float | None = None       # overrides the shape's duration
    criteria: str | None = None
    timeout: float = Field(default=30, gt=0, le=600)  # seconds per request
    user_classes: list[UserClass] = Field(min_length=1)

    @field_validator("duration", mode="before")
    @classmethod
    def _dur(cls, v: Any) -> float | None:
        return None if v is None else parse_duration(v)

    @model_validator(mode="after")
    def _unique(self) -> "Scenario":
        names = [u.name for u in self.user_classes]
        if len(set(names)) != len(names):
            raise ValueError("user class names must be unique")
        task_names = [t.name for u in self.user_classes for t in u.tasks]
        dup = sorted({n for n in task_names if task_names.count(n) > 1})
        if dup:
            raise ValueError(f"task names must be unique across user classes; used twice: {', '.join(dup)}")
        return self


class LoadtestsFile(_Strict):
    allowlist: Allowlist = Field(default_factory=Allowlist)
    generator: GeneratorLimits = Field(default_factory=GeneratorLimits)
    shapes: dict[str, Shape] = Field(default_factory=dict)
    criteria: dict[str, Criteria] = Field(default_factory=dict)
    scenarios: dict[str, Scenario] = Field(min_length=1)

    @model_validator(mode="after")
    def _references(self) -> "LoadtestsFile":
        for name, sc in self.scenarios.items():
            if not NAME_RE.match(name):
                raise ValueError(f"scenario name {name!r}: letters, digits, '.', '_' and '-' only")
            if isinstance(sc.shape, str) and sc.shape not in self.shapes:
                raise ValueError(f"scenarios.{name}.shape: unknown shape {sc.shape!r}; "
                                 f"known: {', '.join(sorted(self.shapes)) or '(none)'}")
            if sc.criteria is not None and sc.criteria not in self.criteria:
                raise ValueError(f"scenarios.{name}.criteria: unknown criteria {sc.criteria!r}; "
                                 f"known: {', '.join(sorted(self.criteria)) or '(none)'}")
        return self

    def shape_of(self, sc: Scenario) -> Shape:
        return self.shapes[sc.shape] if isinstance(sc.shape, str) else sc.shape


def load_loadtests(path: Path | str | None = None) -> LoadtestsFile:
    """Load and validate the load-test file; portal paths are made absolute (relative to the file)."""
    p = Path(path) if path is not None else DEFAULT_LOADTESTS
    cfg = load_yaml_model(LoadtestsFile, p)
    scenarios = {}
    for name, sc in cfg.scenarios.items():
        portal = sc.portal if sc.portal.is_absolute() else (p.parent / sc.portal)
        scenarios[name] = sc.model_copy(update={"portal": portal})
    return cfg.model_copy(update={"scenarios": scenarios})


class _AllowlistOnly(BaseModel):
    """The allowlist of a load-test file, the rest ignored: a remote worker's file may hold only that."""

    model_config = ConfigDict(extra="ignore")
    allowlist: Allowlist = Field(default_factory=Allowlist)


def load_allowlist(path: Path | str | None = None) -> Allowlist:
    """The allowlist of a load-test file (a remote worker's own: `app.py loadtest-worker`)."""
    return load_yaml_model(_AllowlistOnly, Path(path) if path is not None else DEFAULT_LOADTESTS).allowlist


def resolve_tasks(sc: Scenario, portal, scenario_name: str = "") -> dict[str, tuple[str, list[Step]]]:
    """task name → (kind 'check'|'journey', steps) with checks and journeys taken from the portal
    description (a config.probes.ProbesFile). ConfigError names the scenario, task and the name."""
    checks = {c.name: c for c in portal.checks}
    journeys = {j.name: j for j in portal.journeys}
    out: dict[str, tuple[str, list[Step]]] = {}
    known = set(portal.variables)
    for uc in sc.user_classes:
        for t in uc.tasks:
            where = f"scenarios.{scenario_name}.user_classes({uc.name}).tasks({t.name})"
            if t.check is not None:
                if t.check not in checks:
                    raise ConfigError(f"{where}: the portal description has no check {t.check!r}; "
                                      f"known: {', '.join(sorted(checks))}")
                out[t.name] = ("check", [checks[t.check]])
            elif t.journey is not None:
                if t.journey not in journeys:
                    raise ConfigError(f"{where}: the portal description has no journey {t.journey!r}; "
                                      f"known: {', '.join(sorted(journeys))}")
                out[t.name] = ("journey", list(journeys[t.journey].steps))
            else:
                from config.probes import _check_refs

                seen = set(known)
                for i, s in enumerate(t.steps or []):
                    try:
                        _check_refs(s, seen, f"{where}.steps.{i}({s.name})")
                    except ValueError as e:
                        raise ConfigError(str(e)) from None
                    seen |= {e.name for e in s.extract}
                steps = list(t.steps or [])
                out[t.name] = ("journey" if len(steps) > 1 else "check", steps)
    return out
