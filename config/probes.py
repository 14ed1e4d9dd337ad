"""Synthetic probes of a portal: HTTP checks and citizen journeys, declared in YAML (config/probes.yaml).

    variables: {base_url: "http://127.0.0.1:8088"}      # ${base_url} in urls, headers, bodies
    secrets_file: probes.testbed-secrets.yaml            # optional; env MOTCUA_SECRETS_FILE wins
    defaults: {interval: 60, timeout: 10, max_in_flight: 16, max_redirects: 10, raw_retention_days: 35}
    checks:
      - name: home
        url: "${base_url}/vi"
        expect: {status: 200, body_contains: ["Thủ tục hành chính"], max_ms: 2000}
    journeys:
      - name: citizen-v2-submission
        steps:
          - {name: login-page, url: "${base_url}/vi/dang-nhap",
             extract: [{name: csrf, regex: 'name="_csrf" value="([^"]+)"'}]}
          - {name: login, method: POST, url: "${base_url}/auth/...",
             form: {username: "${secret:CITIZEN_V2_USER}", password: "${secret:CITIZEN_V2_PASSWORD}", _csrf: "${csrf}"}}

`${name}` is a variable of the file or a value extracted by an earlier step of the same journey;
`${secret:NAME}` is a credential (steps/secrets.py), never written in this file.

A kind of probe (a check, a journey) is declared here once: its spec type names its `kind` and
says which requests it sends (`http_steps`) and under which step names its results and metrics
appear (`step_names`); the file holds a list of each kind (PROBE_KINDS). The probe runner runs a
kind with the function registered for it (probes/runner.py, RUNS); the schedule, the metrics and
the redirect allowlist take every probe of the file through `ProbesFile.probes()`.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from config import default_path
from config.errors import ConfigError, load_yaml_model

VAR_RE = re.compile(r"\$\{([^}]*)\}")
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SECRET_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Form fields and headers that carry credentials: their values must be ${secret:...} references.
SENSITIVE_FIELDS = ("password", "passwd", "mat_khau", "matkhau", "secret", "token", "otp")
SENSITIVE_HEADERS = ("authorization", "cookie", "x-api-key", "proxy-authorization")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JsonAssert(_Strict):
    """An assertion on a value at a small dotted JSON path (`data.items[0].code`).

    With `where`, the path must lead to a list; the value checked is the number of its items whose
    fields equal `where` (a list value means any of them), e.g. unsynced finished dossiers.
    """

    path: str = Field(min_length=1)
    equals: Any = None
    not_equals: Any = None
    min: float | None = None
    max: float | None = None
    exists: bool | None = None
    where: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _something_checked(self) -> "JsonAssert":
        fs = self.model_fields_set
        if not fs & {"equals", "not_equals", "min", "max", "exists"}:
            raise ValueError("give at least one of equals, not_equals, min, max, exists")
        return self


class Assertions(_Strict):
    status: list[int] = Field(default_factory=lambda: [200])
    body_contains: list[str] = Field(default_factory=list)
    body_not_contains: list[str] = Field(default_factory=list)
    body_regex: str | None = None
    json_: list[JsonAssert] = Field(default_factory=list, alias="json")
    max_ms: float | None = Field(default=None, gt=0)
    cert_days_min: float | None = None  # only for https targets

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("status", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, int) else v

    @field_validator("status")
    @classmethod
    def _http_codes(cls, v: list[int]) -> list[int]:
        bad = [s for s in v if not 100 <= s <= 599]
        if bad or not v:
            raise ValueError("status codes must be between 100 and 599 (at least one)")
        return v

    @field_validator("body_regex")
    @classmethod
    def _regex_compiles(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"not a valid regular expression: {e}") from None
        return v


class Extract(_Strict):
    """A value taken from a response into the variable `name`: by regex group, JSON path or cookie."""

    name: str
    regex: str | None = None
    group: int = Field(default=1, ge=0)
    json_: str | None = Field(default=None, alias="json")
    cookie: str | None = None
    unescape_html: bool = False  # '&amp;' → '&' (a URL taken from an HTML attribute)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("name")
    @classmethod
    def _identifier(cls, v: str) -> str:
        if not NAME_RE.match(v) or v == "secret":
            raise ValueError("must be an identifier (letters, digits, _), not 'secret'")
        return v

    @model_validator(mode="after")
    def _exactly_one(self) -> "Extract":
        n = sum(x is not None for x in (self.regex, self.json_, self.cookie))
        if n != 1:
            raise ValueError("give exactly one of regex, json, cookie")
        if self.regex is not None:
            try:
                rx = re.compile(self.regex)
            except re.error as e:
                raise ValueError(f"regex is not a valid regular expression: {e}") from None
            if self.group > rx.groups:
                raise ValueError(f"group {self.group} but the regex has {rx.groups} group(s)")
        return self


class UploadFile(_Strict):
    filename: str = Field(min_length=1)
    content: str = ""             # text content (UTF-8)
    size: int | None = Field(default=None, ge=1, le=20 * 1024 * 1024)  # or this many bytes of filler
    content_type: str = "application/octet-stream"


class Step(_Strict):
    """One HTTP request and what its response must look like."""

    name: str = Field(min_length=1, max_length=120)
    title: str | None = None  # human name (Vietnamese), e.g. "Tra cứu hồ sơ theo mã QR"
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = "GET"
    url: str = Field(min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    form: dict[str, str] | None = None
    files: dict[str, UploadFile] | None = None
    follow_redirects: bool = True
    timeout: float | None = Field(default=None, gt=0, le=300)
    expect: Assertions = Field(default_factory=Assertions)
    extract: list[Extract] = Field(default_factory=list)

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, v: Any) -> Any:
        return v.upper() if isinstance(v, str) else v

    @model_validator(mode="after")
    def _body_or_form(self) -> "Step":
        if self.body is not None and (self.form is not None or self.files is not None):
            raise ValueError("give either body or form/files, not both")
        for k, v in (self.form or {}).items():
            if any(s in k.lower() for s in SENSITIVE_FIELDS) and not _is_secret_ref(v):
                raise ValueError(f"form field {k!r} carries a credential: write ${{secret:NAME}}, "
                                 "never the value itself")
        for k, v in self.headers.items():
            if k.lower() in SENSITIVE_HEADERS and "${secret:" not in v:
                raise ValueError(f"header {k!r} carries a credential: use ${{secret:NAME}} in it")
        return self

    def templates(self) -> list[str]:
        """Every string of the step that may hold ${...} references."""
        out = [self.url, *self.headers.values(), *(self.form or {}).values()]
        if self.body is not None:
            out.append(self.body)
        out += self.expect.body_contains + self.expect.body_not_contains
        for j in self.expect.json_:
            for v in (j.equals, j.not_equals):
                if isinstance(v, str):
                    out.append(v)
        return out


def _is_secret_ref(v: str) -> bool:
    return bool(re.fullmatch(r"\$\{secret:[A-Za-z_][A-Za-z0-9_]*\}", v.strip()))


class HttpCheck(Step):
    """A single request checked every `interval` seconds."""

    kind: ClassVar[str] = "check"
    group: str | None = None  # e.g. "feature-inventory"
    interval: float | None = Field(default=None, gt=0)

    def http_steps(self) -> list[Step]:
        return [self]

    def step_names(self) -> list[str]:
        return [""]  # a check's own request has no step name


class Journey(_Strict):
    """Ordered steps sharing cookies; a failed step ends the run (later steps are not tried)."""

    name: str = Field(min_length=1, max_length=120)
    title: str | None = None
    interval: float | None = Field(default=None, gt=0)
    timeout: float | None = Field(default=None, gt=0, le=300)  # per step
    steps: list[Step] = Field(min_length=1)

    kind: ClassVar[str] = "journey"

    def http_steps(self) -> list[Step]:
        return list(self.steps)

    def step_names(self) -> list[str]:
        return [s.name for s in self.steps]

    @model_validator(mode="after")
    def _unique_steps(self) -> "Journey":
        seen: set[str] = set()
        for s in self.steps:
            if s.name in seen:
                raise ValueError(f"step name {s.name!r} used twice")
            seen.add(s.name)
        return self


class ProbeDefaults(_Strict):
    interval: float = Field(default=60, gt=0)
    timeout: float = Field(default=10, gt=0, le=300)
    max_in_flight: int = Field(default=16, ge=1, le=1000)
    max_redirects: int = Field(default=10, ge=0, le=50)
    # Redirects are followed only to the hosts of the file's own URLs and to these (e.g. the
    # portal's single sign-on host); a redirect anywhere else fails the step, nothing is sent there.
    redirect_hosts: list[str] = Field(default_factory=list)
    user_agent: str = "motcua-watch-probe/1.0"
    verify_tls: bool = True
    # Extra CA bundle (PEM) to trust, e.g. a government CA missing from the public bundle; relative
    # to the probes file. TLS certificate days left need verification on (verify_tls: true).
    ca_file: Path | None = None
    # at least the SLO window (28 days): its status (alerting/slo.py) is computed from raw runs
    raw_retention_days: int = Field(default=35, ge=1, le=3650)
    rollup_retention_days: int = Field(default=400, ge=1, le=36500)
    # The scheduler writes the results gathered over this many seconds in one transaction (each
    # write recomputes the rollups of the hours and days it touches: at 500 checks every 15 s, one
    # write per check would be 33 writes a second, each scanning the day's raw rows).
    write_every: float = Field(default=10, gt=0, le=300)


# The lists of probes a probes file holds, one per kind, in the order they run and are scheduled.
PROBE_KINDS = ("checks", "journeys")
Probe = HttpCheck | Journey


class ProbesFile(_Strict):
    variables: dict[str, str] = Field(default_factory=lambda: {"base_url": "http://127.0.0.1:8088"})
    secrets_file: Path | None = None  # relative to the probes file
    defaults: ProbeDefaults = Field(default_factory=ProbeDefaults)
    checks: list[HttpCheck] = Field(default_factory=list)
    journeys: list[Journey] = Field(default_factory=list)

    def probes(self) -> list[Probe]:
        """Every probe of the file, of every kind."""
        return [p for kind in PROBE_KINDS for p in getattr(self, kind)]

    @field_validator("variables")
    @classmethod
    def _names(cls, v: dict[str, str]) -> dict[str, str]:
        for k in v:
            if not NAME_RE.match(k) or k == "secret":
                raise ValueError(f"variable name {k!r} must be an identifier (letters, digits, _), not 'secret'")
        return v

    @model_validator(mode="after")
    def _references(self) -> "ProbesFile":
        names = [p.name for p in self.probes()]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"check/journey names must be unique; used twice: {', '.join(dup)}")
        for kind in PROBE_KINDS:
            for i, p in enumerate(getattr(self, kind)):
                known = set(self.variables)
                for k, s in enumerate(p.http_steps()):
                    # a probe that is its own single request (a check) has no step in its path
                    where = f"{kind}.{i}({p.name})" + ("" if s is p else f".steps.{k}({s.name})")
                    _check_refs(s, known, where)
                    known |= {e.name for e in s.extract}
        return self


def _check_refs(step: Step, known: set[str], where: str) -> None:
    for text in step.templates():
        for ref in VAR_RE.findall(text):
            if ref.startswith("secret:"):
                if not SECRET_NAME_RE.match(ref[7:]):
                    raise ValueError(f"{where}: bad secret reference ${{{ref}}}")
            elif ref not in known:
                raise ValueError(f"{where}: unknown variable ${{{ref}}} (not in variables nor extracted "
                                 "by an earlier step)")


def secret_names(probe: Probe) -> set[str]:
    """The credentials a check's or journey's requests reference (${secret:NAME})."""
    return {ref[7:] for s in probe.http_steps() for text in s.templates() for ref in VAR_RE.findall(text)
            if ref.startswith("secret:")}


DEFAULT_PROBES = default_path("probes.yaml")


def load_probes(path: Path | str | None = None) -> ProbesFile:
    """Load and validate a probes file; ConfigError names the file and the field."""
    p = Path(path) if path is not None else DEFAULT_PROBES
    cfg = load_yaml_model(ProbesFile, p)
    if cfg.secrets_file is not None and not cfg.secrets_file.is_absolute():
        cfg = cfg.model_copy(update={"secrets_file": (p.parent / cfg.secrets_file)})
    ca = cfg.defaults.ca_file
    if ca is not None:
        if not ca.is_absolute():
            ca = p.parent / ca
            cfg = cfg.model_copy(update={"defaults": cfg.defaults.model_copy(update={"ca_file": ca})})
        if not ca.is_file():
            raise ConfigError(f"{p}: defaults.ca_file: file not found: {ca}")
    if not cfg.probes():
        raise ConfigError(f"{p}: no checks and no journeys declared")
    return cfg
