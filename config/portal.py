"""Release profiles of the simulated portal (testbed/portal/): what went wrong in 2022, as settings.

A profile is one YAML file (config/portal/v1.0.yaml, config/portal/v2.0.yaml). Every symptom of
the 2022 upgrade is a setting, so a test can "break and then fix" a release:
  - a bounded worker pool (`workers`, `max_queue`) and per-endpoint service times → true queueing;
  - a deterministic error rate (every Nth request of an endpoint answers 500/502);
  - accounts registered under an older release silently refused (`accept_accounts_from`);
  - features of 1.0 missing (`missing_features`: paths that answer 404);
  - results of dossiers received under 1.0 never synced to the national portal (`sync_releases`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from config import default_path
from config.errors import ConfigError, load_yaml_model

# Endpoint names of the simulated portal (testbed/portal/app.py); per-endpoint timings use them.
ENDPOINTS: tuple[str, ...] = (
    "home",              # GET /, /vi
    "procedure_search",  # GET /vi/thu-tuc, /api/procedures
    "procedure_detail",  # GET /vi/thu-tuc/{id}, /api/procedures/{id}
    "login_page",        # GET login page (Keycloak realm "digo")
    "login",             # POST login form
    "logout",            # GET/POST logout
    "apply_form",        # GET steps of the online submission
    "apply_submit",      # POST step 1 (details) and step 3 (confirm)
    "apply_upload",      # POST step 2 (file upload)
    "receipt",           # GET receipt page
    "dossier_lookup",    # GET /vi/tra-cuu-ho-so, /api/dossiers/{code}
    "officer_list",      # GET /vi/can-bo/ho-so, /api/officer/dossiers
    "officer_open",      # GET /api/officer/dossiers/{code}
    "officer_action",    # POST /api/officer/dossiers/{code}/process|return
    "sync_status",       # GET /api/dvcqg/sync-status
    "feature",           # the 1.0 feature pages (QR look-up, payment, satisfaction survey)
)

RELEASES: tuple[str, ...] = ("v1.0", "v2.0")
Release = Literal["v1.0", "v2.0"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EndpointTiming(_Strict):
    """How long one request of an endpoint holds a worker, and how often it fails."""

    service_ms: float = Field(ge=0, le=60_000)
    # Deterministic jitter: a pseudo-random fraction of jitter_ms (from the request counter) is added.
    jitter_ms: float = Field(default=0, ge=0, le=60_000)
    # Every Nth request of this endpoint (by its counter since the profile was set) answers error_status.
    error_every: int | None = Field(default=None, ge=1)
    error_status: Literal[500, 502, 503, 504] = 500


class MissingFeature(_Strict):
    """A 1.0 feature that is gone in this release: every path under `path` answers 404."""

    path: str
    name: str  # Vietnamese name shown in reports, e.g. "Tra cứu hồ sơ theo mã QR"

    @field_validator("path")
    @classmethod
    def _absolute(cls, v: str) -> str:
        if not v.startswith("/") or v == "/" or v.startswith("/__testbed"):
            raise ValueError("must be an absolute path other than '/' and outside /__testbed")
        return v.rstrip("/")


class PortalProfile(_Strict):
    release: Release
    title: str = "Cổng Dịch vụ công tỉnh Quảng Ngãi"
    # Size of the worker pool: at most this many requests are served at once; the others queue.
    workers: int = Field(ge=1, le=10_000)
    # Requests waiting for a worker beyond this many answer 503 "quá tải" (None = unbounded queue).
    max_queue: int | None = Field(default=None, ge=0)
    default_timing: EndpointTiming = EndpointTiming(service_ms=0)
    endpoints: dict[str, EndpointTiming] = Field(default_factory=dict)
    # Releases under which an account must have been registered to be able to log in.
    accept_accounts_from: list[Release] = Field(default_factory=lambda: list(RELEASES))
    missing_features: list[MissingFeature] = Field(default_factory=list)
    # Dossiers received under these releases have their results synced to the national portal.
    sync_releases: list[Release] = Field(default_factory=lambda: list(RELEASES))
    # Token for POST /__testbed/profile (a test target: the token only guards against accidents).
    admin_token: str = Field(default="testbed", min_length=1)

    @field_validator("endpoints")
    @classmethod
    def _known_endpoints(cls, v: dict[str, EndpointTiming]) -> dict[str, EndpointTiming]:
        unknown = sorted(set(v) - set(ENDPOINTS))
        if unknown:
            raise ValueError(f"unknown endpoint(s) {', '.join(unknown)}; known: {', '.join(ENDPOINTS)}")
        return v

    @model_validator(mode="after")
    def _release_accepts_itself(self) -> "PortalProfile":
        if self.release not in self.accept_accounts_from:
            raise ValueError(f"accept_accounts_from must include the profile's own release {self.release}")
        return self

    def timing(self, endpoint: str) -> EndpointTiming:
        return self.endpoints.get(endpoint, self.default_timing)

    def scaled(self, factor: float) -> "PortalProfile":
        """The same release with every service time and jitter multiplied by factor (faster tests)."""
        if factor < 0:
            raise ValueError("factor must be >= 0")

        def sc(t: EndpointTiming) -> EndpointTiming:
            return t.model_copy(update={"service_ms": t.service_ms * factor, "jitter_ms": t.jitter_ms * factor})

        return self.model_copy(update={"default_timing": sc(self.default_timing),
                                       "endpoints": {k: sc(v) for k, v in self.endpoints.items()}})


def profile_path(release: str) -> Path:
    return default_path("portal", f"{release}.yaml")


def load_profile(source: str | Path | PortalProfile) -> PortalProfile:
    """A profile from a release name ('v1.0', 'v2.0', also '1.0'), a YAML path, or as is."""
    if isinstance(source, PortalProfile):
        return source
    text = str(source)
    for name in (text, f"v{text}"):
        if name in RELEASES:
            return load_yaml_model(PortalProfile, profile_path(name))
    p = Path(text)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return load_yaml_model(PortalProfile, p)
    raise ConfigError(f"unknown portal release {text!r}: expected one of {', '.join(RELEASES)} or a YAML file")
