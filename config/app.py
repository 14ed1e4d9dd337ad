"""The application's own configuration: config/motcua.yaml, every value with an embedded default.

Environment variables override the file: MOTCUA_<SECTION>__<KEY>, e.g. MOTCUA_STORE__PATH.
"""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from config import clock, default_path
from config.agents import AgentsConfig
from config.errors import ConfigError, load_yaml_model

DEFAULT_CONFIG = Path("config/motcua.yaml")
ENV_PREFIX = "MOTCUA_"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StoreConfig(_Strict):
    path: Path = Path("data/motcua.duckdb")
    memory_limit: str = "1GB"
    threads: int | None = Field(default=None, ge=1, le=64)


def _loopback(v: str) -> str:
    if v not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("listens on loopback only (127.0.0.1, localhost or ::1)")
    return v


class ServiceConfig(_Strict):
    """The store owner's loopback API (see docs/ARCHITECTURE.md, 'One writer')."""

    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)

    _loopback_only = field_validator("host")(_loopback)


class MetricsConfig(_Strict):
    """The Prometheus endpoint (/metrics), on loopback; put a reverse proxy in front to share it."""

    host: str = "127.0.0.1"
    port: int = Field(default=9108, ge=0, le=65535)

    _loopback_only = field_validator("host")(_loopback)


class InboxConfig(_Strict):
    path: Path = Path("data/inbox")
    archive: Path = Path("data/archive")
    rejected: Path = Path("data/rejected")
    # The folder is looked at on every file-system event and, as a fallback (events get lost on
    # network shares or past the inotify limits), every poll_seconds.
    poll_seconds: float = Field(default=5.0, gt=0)
    # A file is taken once its size and modification time stayed the same this long (a copy still
    # being written is never read); a slow network share may need more.
    settle_seconds: float = Field(default=0.5, ge=0, le=600)
    # An events file (`<name>.events.csv`) with no `<name>.csv` beside it waits this long after its
    # last change, so that a dossier file copied just after it is imported with it; then it is
    # imported alone. A dossier file never waits for its events file.
    events_wait_seconds: float = Field(default=2.0, ge=0, le=600)
    # What is kept of imported files (copies without personal data, reports) is deleted after
    # this many days; a dashboard upload checked but never imported after `upload_hours`.
    retention_days: float = Field(default=365, gt=0)
    upload_hours: float = Field(default=24, gt=0)


class SlaConfig(_Strict):
    rule_set: Path = default_path("rules", "vn-default.yaml")
    # Calendar override files (official decisions `holidays` lacks, provincial closures).
    calendar_overrides: list[Path] = Field(
        default_factory=lambda: [
            default_path("calendar", "vn-civil-service.yaml"),
            default_path("calendar", "quang-ngai.yaml"),
        ]
    )


# The address space a workbook reader may take (its own child process): enough for a sheet of
# about twenty million cells, and a hostile workbook costs no more than this.
DEFAULT_READER_MEMORY_MB = 2048


class ImportConfig(_Strict):
    column_mapping: Path = default_path("mappings", "vi-igate.yaml")
    # Spreadsheets are read in a child process limited to this many MB (imports/workbook.py):
    # a workbook that needs more is refused with a message, the system goes on.
    reader_memory_mb: int = Field(default=DEFAULT_READER_MEMORY_MB, ge=256, le=1 << 20)


class MonitorConfig(_Strict):
    """Synthetic probes, their SLOs and where alerts go (each its own YAML file)."""

    probes: Path = default_path("probes.yaml")
    slos: Path = default_path("slo.yaml")
    alerts: Path = default_path("alerts.yaml")
    evaluate_seconds: float = Field(default=60, gt=0)


class TestbedConfig(_Strict):
    """The simulated portal `app.py run` serves for the probes on embedded defaults (a demo).

    Point monitor.probes at a real portal's probes file and set enabled: false in production."""

    enabled: bool = True
    release: str = Field(default="v2.0", pattern=r"^v?[12]\.0$")
    port: int = Field(default=8088, ge=0, le=65535)


class ComplianceConfig(_Strict):
    """The compliance register: its criteria file and where evidence files are kept."""

    criteria: Path = default_path("compliance", "tt22-2019.yaml")
    files_dir: Path | None = None  # default: <store dir>/compliance-files

    def files_folder(self, store_path: Path) -> Path:
        """Where the evidence files of the store at `store_path` are kept."""
        return self.files_dir if self.files_dir is not None else Path(store_path).parent / "compliance-files"

class LoadtestConfig(_Strict):
    """Load tests (`app.py loadtest`): scenarios, shapes, criteria and allowlist in `file`; Locust's
    raw output and the HTML report of every run under `runs_dir/<run id>/` (default: a folder
    `loadtests` beside the store file)."""

    file: Path = default_path("loadtests.yaml")
    runs_dir: Path | None = None


class DemoConfig(_Strict):
    seed: int = 20220601
    months: int = Field(default=12, ge=1, le=60)
    # Dossiers per month at the province's scale (tens of thousands).
    dossiers_per_month: int = Field(default=30000, ge=100)
    # Last day (exclusive) of the demo period; empty = today, so the demo looks live.
    end: dt.date | None = None


class OidcConfig(_Strict):
    """Single sign-on through Streamlit's st.login (OpenID Connect). Secrets never live in YAML:
    the client secret and the cookie secret are read from the environment variables named here.
    Who may sign in, and with which role, is still decided by the users file (an entry with the
    person's e-mail and no password)."""

    enabled: bool = False
    provider_label: str = "SSO"
    server_metadata_url: str = ""        # e.g. https://sso.example.gov.vn/.well-known/openid-configuration
    client_id: str = ""
    client_secret_env: str = "MOTCUA_OIDC_CLIENT_SECRET"
    cookie_secret_env: str = "MOTCUA_OIDC_COOKIE_SECRET"
    redirect_uri: str = ""               # e.g. https://motcua.example.gov.vn/oauth2callback

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> "OidcConfig":
        if self.enabled:
            missing = [k for k in ("server_metadata_url", "client_id", "redirect_uri") if not getattr(self, k)]
            if missing:
                raise ValueError(f"OIDC is enabled but {', '.join(missing)} is empty")
        return self


class SignInConfig(_Strict):
    """How the dashboard holds repeated failed sign-ins (dashboard/signin_guard.py): per account and
    per client address, in a file beside the users file, so that neither a new browser tab nor a
    restart starts the count again. After the n-th failure in a row the next attempt waits
    backoff_s × 2^(n-1) seconds (at most backoff_max_s); from `lock_after` failures on, each failure
    locks the account for `lock_minutes`. Failures are forgotten `forget_after_minutes` after the
    last one, or at a successful sign-in of the account."""

    backoff_s: float = Field(default=1, ge=0, le=60)
    backoff_max_s: float = Field(default=60, ge=0, le=3600)
    lock_after: int = Field(default=5, ge=1, le=100)
    lock_minutes: float = Field(default=15, gt=0, le=1440)
    # failures from one client address, whatever the account names (password spraying); 0: not held.
    # Offices behind one NAT address share this count, hence a higher threshold than an account's.
    address_lock_after: int = Field(default=20, ge=0, le=10000)
    forget_after_minutes: float = Field(default=60, gt=0, le=10080)

    @model_validator(mode="after")
    def _forget_after_the_lock(self) -> "SignInConfig":
        if self.forget_after_minutes < self.lock_minutes:
            raise ValueError("forget_after_minutes must be at least lock_minutes (a lock would otherwise "
                             "end with its failures forgotten)")
        return self


class DashboardConfig(_Strict):
    """The Streamlit dashboard `app.py run` starts (a child process). Login is always required:
    local accounts live in `users_file` (bcrypt hashes, managed with `app.py user`)."""

    enabled: bool = True
    host: str = "localhost"
    port: int = Field(default=8501, ge=0, le=65535)
    # Empty: users.json next to the store file.
    users_file: Path | None = None
    language: str = Field(default="vi", pattern=r"^(vi|en)$")
    oidc: OidcConfig = OidcConfig()
    sign_in: SignInConfig = SignInConfig()


class ReportScheduleConfig(_Strict):
    """The monthly briefing job inside `app.py run`: on `day` at hour:minute, last month's files."""

    enabled: bool = True
    day: int = Field(default=3, ge=1, le=28)
    hour: int = Field(default=7, ge=0, le=23)
    minute: int = Field(default=0, ge=0, le=59)
    formats: list[Literal["docx", "xlsx", "pdf"]] = Field(default_factory=lambda: ["docx", "xlsx", "pdf"],
                                                          min_length=1)
    # send the files through the alert channels (monitor.alerts) as attachments
    notify: bool = False


SCORE_766_SOURCE = (
    "Quyết định 766/QĐ-TTg (23/6/2022), group 'progress and results of processing', at most 20 points. "
    "Formula from a public re-implementation of the national portal's scoring: 20 × (dossiers on time / "
    "dossiers received). The official formula is not confirmed, nor whether 'received' includes dossiers "
    "carried over from the last period: the score is an estimate.")


class Score766Config(_Strict):
    """The 766 progress score as the reports compute it: 20 × (early + on time) / the denominator.

    Which dossiers form the denominator is a choice (the official formula is not published), so it
    is a setting, named with its source in every report that shows the score."""

    # received_and_carried: received in the period + carried over (Biểu 06 "Tổng số");
    # received: received in the period only (online + in person, by post)
    denominator: Literal["received_and_carried", "received"] = "received_and_carried"
    source: str = Field(default=SCORE_766_SOURCE, min_length=1)


class ReportsConfig(_Strict):
    """The monthly briefing (reports/briefing/): where files go, the letterhead (Nghị định
    30/2020/NĐ-CP) and the scheduled job; how the 766 progress score is computed (every report);
    the rules file of the 766 scorecard's estimate."""

    out_dir: Path | None = None  # empty: `reports/` beside the store file (data/reports by default)
    parent_body: str = "UBND TỈNH QUẢNG NGÃI"
    issuing_body: str = "VĂN PHÒNG"
    number: str = "Số:        /BC-VP"
    place: str = ""  # empty: the province's name
    signer_title: str = "CHÁNH VĂN PHÒNG"
    signer_name: str = ""
    recipients: list[str] = Field(default_factory=lambda: ["Chủ tịch, các PCT UBND tỉnh (để báo cáo);",
                                                           "Các sở, ban, ngành; UBND cấp xã;", "Lưu: VT, KSTT."])
    top: int = Field(default=10, ge=1, le=100)  # rows in the "most overdue" and similar tables
    schedule: ReportScheduleConfig = ReportScheduleConfig()
    score_766: Score766Config = Score766Config()
    # The 766 scorecard's groups, weights and sources (config/index766.py): `app.py index766`.
    index766: Path = default_path("index766.yaml")

    def folder(self, store_path: Path) -> Path:
        return self.out_dir if self.out_dir is not None else Path(store_path).parent / "reports"


class BackupConfig(_Strict):
    """Snapshots of the store with a manifest (backup/): `app.py backup`, and daily inside `app.py
    run` at hour:minute, keeping the newest of each of the last `keep_daily` days and of the last
    `keep_monthly` months. An alert goes through the alert channels when a backup fails or the
    newest good one is older than `max_age_hours`."""

    enabled: bool = True
    folder: Path | None = None  # empty: `backups/` beside the store file (data/backups by default)
    hour: int = Field(default=2, ge=0, le=23)
    minute: int = Field(default=45, ge=0, le=59)
    keep_daily: int = Field(default=7, ge=1, le=3660)
    keep_monthly: int = Field(default=12, ge=0, le=1200)
    max_age_hours: float = Field(default=26, gt=0, le=24 * 366)

    def dir(self, store_path: Path) -> Path:
        return self.folder if self.folder is not None else Path(store_path).parent / "backups"


class StatusPageConfig(_Strict):
    """The public, read-only status page `app.py run` serves (statuspage/): no sign-in, no dossier.
    Its services, the probes they are judged by and the incident messages are in `file`. It listens
    on loopback by default: put a reverse proxy in front of it, or set host 0.0.0.0."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8090, ge=0, le=65535)
    file: Path = default_path("status_page.yaml")
    # the page is rendered at most once per this many seconds per language (and browsers and
    # proxies may keep it as long: Cache-Control max-age)
    cache_seconds: float = Field(default=10, ge=1, le=300)
    # the address citizens reach it at (e.g. https://trangthai.example.gov.vn), for the Atom feed's
    # links; empty: links relative to the feed's own address
    public_url: str = Field(default="", pattern=r"^(https?://[^\s/]+(/[^\s]*)?)?$")


class AppConfig(_Strict):
    province: str = "Quảng Ngãi"
    timezone: str = clock.DEFAULT_TIMEZONE
    store: StoreConfig = StoreConfig()
    service: ServiceConfig = ServiceConfig()
    metrics: MetricsConfig = MetricsConfig()
    inbox: InboxConfig = InboxConfig()
    sla: SlaConfig = SlaConfig()
    imports: ImportConfig = ImportConfig()
    monitor: MonitorConfig = MonitorConfig()
    testbed: TestbedConfig = TestbedConfig()
    compliance: ComplianceConfig = ComplianceConfig()
    loadtest: LoadtestConfig = LoadtestConfig()
    demo: DemoConfig = DemoConfig()
    dashboard: DashboardConfig = DashboardConfig()
    reports: ReportsConfig = ReportsConfig()
    backup: BackupConfig = BackupConfig()
    status_page: StatusPageConfig = StatusPageConfig()
    agents: AgentsConfig = AgentsConfig()

    @property
    def users_file(self) -> Path:
        """The dashboard's accounts file (default: users.json beside the store file)."""
        return self.dashboard.users_file or self.store.path.parent / "users.json"

    @field_validator("timezone")
    @classmethod
    def _known_tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX) or key == ENV_PREFIX + "CONFIG":
            continue
        parts = [p.lower() for p in key[len(ENV_PREFIX):].split("__") if p]
        # a name without "__" overrides a top-level value (MOTCUA_TIMEZONE) or is none of the
        # config's: the secrets read from the environment (MOTCUA_SECRET_<NAME>, MOTCUA_SECRETS_FILE,
        # the OIDC secrets) share the prefix. A section's key with a typo is still refused.
        if len(parts) == 1 and parts[0] not in AppConfig.model_fields:
            continue
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        if parts:
            node[parts[-1]] = value
    return out


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(merged.get(k), dict):
            merged[k] = _merge(merged[k], v)
        else:
            merged[k] = v
    return merged


def load_config(path: Path | str | None = None, environ: dict[str, str] | None = None) -> AppConfig:
    """Read the config file (optional when it is the default path) and apply MOTCUA_* overrides.
    The process's clock (config/clock.py) takes the configured time zone."""
    environ = dict(os.environ) if environ is None else environ
    explicit = path is not None or ENV_PREFIX + "CONFIG" in environ
    p = Path(path or environ.get(ENV_PREFIX + "CONFIG") or DEFAULT_CONFIG)
    base = load_yaml_model(AppConfig, p, missing_ok=not explicit).model_dump(exclude_unset=True)
    env = _env_overrides(environ)
    if not env:
        cfg = AppConfig.model_validate(base)
    else:
        from pydantic import ValidationError

        from config.errors import describe_validation

        try:
            cfg = AppConfig.model_validate(_merge(base, env))
        except ValidationError as e:
            raise ConfigError(describe_validation(f"{p} + environment", e)) from None
    clock.set_timezone(cfg.timezone)
    return cfg
