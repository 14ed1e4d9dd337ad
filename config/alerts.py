"""Alert delivery settings: channels (apprise URLs), repeat interval, maintenance windows, and the
due-soon morning digest sent to each agency's contact.

Channel URLs may hold secrets (a Telegram bot token, an SMTP password): write them as
`${env:NAME}` and set NAME in the environment or the secrets file; the YAML keeps only the name.
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from config.errors import load_yaml_model
from config.vocabulary import DUE_SOON_DAYS

SECRET_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _no_inline_password(v: str) -> str:
    # user:password@ written in the YAML itself: refuse, the password must come from the environment
    m = re.match(r"^[a-z0-9+]+://([^/@?#]*)@", v)
    inline = m is not None and ":" in m.group(1) and not SECRET_REF.search(m.group(1))
    for q in re.finditer(r"[?&](?:pass|password|token|secret)=([^&#]*)", v):
        inline = inline or not SECRET_REF.fullmatch(q.group(1))
    if inline:
        raise ValueError("a password is written in the URL: use ${env:NAME} and set NAME in the environment")
    return v


class Channel(_Strict):
    name: str = Field(min_length=1)
    url: str = Field(min_length=3, description="apprise URL, e.g. mailtos://…, tgram://${env:TG_TOKEN}/123, json://…")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _no_inline_password(v)


class MaintenanceWindow(_Strict):
    start: dt.datetime
    end: dt.datetime
    checks: list[str] = Field(default_factory=list, description="empty: every alert")
    reason: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> "MaintenanceWindow":
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    def covers(self, key: str, at: dt.datetime) -> bool:
        # a location's ticket (`location:<loc>:check:<name>`) is that check's, seen from one place
        plain = key.split(":", 2)[2] if key.startswith("location:") and key.count(":") >= 2 else key
        return self.start <= at < self.end and (not self.checks or key in self.checks or plain in self.checks)


class DigestContact(_Strict):
    """Who receives an agency's digest: channels named in `channels`, and/or an apprise URL of its own."""

    agency: str = Field(min_length=1, description="agency code; the digest covers its subtree")
    channels: list[str] = Field(default_factory=list, description="names from the alerts' `channels`")
    url: str | None = Field(default=None, min_length=3, description="an apprise URL for this contact only")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return None if v is None else _no_inline_password(v)

    @model_validator(mode="after")
    def _somewhere(self) -> "DigestContact":
        if not self.channels and not self.url:
            raise ValueError(f"agency {self.agency}: give channels (names from `channels`) or a url")
        return self

    @property
    def own_channel(self) -> str:
        """The name its own url is sent and logged under (never the URL itself)."""
        return f"contact-{self.agency}"

    def targets(self, channels: list[Channel]) -> list[Channel]:
        """The channels this contact's digest goes to."""
        by_name = {c.name: c for c in channels}
        out = [by_name[n] for n in dict.fromkeys(self.channels)]
        if self.url:
            out.append(Channel(name=self.own_channel, url=self.url))
        return out


class DueSoonDigest(_Strict):
    """The morning digest: on working days from `at` (local time) until the office close, one message
    per contact whose agency (with its sub-units) has dossiers due within `days` working days."""

    enabled: bool = True
    at: dt.time = dt.time(7, 30)
    days: float = Field(default=DUE_SOON_DAYS, gt=0, le=60)
    urgent: int = Field(default=5, ge=0, le=50, description="the most urgent dossiers listed")
    link: str = Field(default="", description="the dashboard's base URL; empty: no link")
    retry_minutes: int = Field(default=10, ge=1, le=240, description="a failed send is tried again after this")
    contacts: list[DigestContact] = Field(default_factory=list)

    @field_validator("at", mode="before")
    @classmethod
    def _time(cls, v: object) -> object:
        if isinstance(v, int) and not isinstance(v, bool):
            # YAML reads an unquoted 7:30 as the number 450 (base 60)
            raise ValueError('write the time in quotes as "HH:MM", e.g. at: "07:30"')
        if isinstance(v, str) and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", v.strip()):
            raise ValueError(f'expected a time of day "HH:MM" (00:00 to 23:59), got {v!r}')
        return v

    @field_validator("link")
    @classmethod
    def _link(cls, v: str) -> str:
        v = v.strip()
        if v and not re.match(r"^https?://[^\s/]+", v):
            raise ValueError(f"expected the dashboard's address, http(s)://host[:port][/path], got {v!r}")
        return v.rstrip("/")


class AlertsConfig(_Strict):
    channels: list[Channel] = Field(default_factory=list)
    repeat_after_minutes: int = Field(default=240, ge=1)
    send_resolved: bool = True
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)
    due_soon_digest: DueSoonDigest = Field(default_factory=DueSoonDigest)

    @model_validator(mode="after")
    def _contacts_known(self) -> "AlertsConfig":
        names = [c.name for c in self.channels]
        seen: set[str] = set()
        for i, contact in enumerate(self.due_soon_digest.contacts):
            where = f"due_soon_digest.contacts[{i}] (agency {contact.agency})"
            unknown = [n for n in contact.channels if n not in names]
            if unknown:
                known = ", ".join(names) if names else "none is configured"
                raise ValueError(f"{where}: no channel named {', '.join(map(repr, unknown))} "
                                 f"in `channels` ({known})")
            if contact.agency in seen:
                raise ValueError(f"{where}: the agency has another contact; list all its channels in one")
            seen.add(contact.agency)
        return self


def load_alerts(path: Path | str) -> AlertsConfig:
    return load_yaml_model(AlertsConfig, path)
