"""Alert delivery settings: channels (apprise URLs), repeat interval, maintenance windows.

Channel URLs may hold secrets (a Telegram bot token, an SMTP password): write them as
`${env:NAME}` and set NAME in the environment or the secrets file; the YAML keeps only the name.
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from config.errors import load_yaml_model

SECRET_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Channel(_Strict):
    name: str = Field(min_length=1)
    url: str = Field(min_length=3, description="apprise URL, e.g. mailtos://…, tgram://${env:TG_TOKEN}/123, json://…")

    @field_validator("url")
    @classmethod
    def _no_inline_password(cls, v: str) -> str:
        # user:password@ written in the YAML itself: refuse, the password must come from the environment
        m = re.match(r"^[a-z0-9+]+://([^/@?#]*)@", v)
        inline = m is not None and ":" in m.group(1) and not SECRET_REF.search(m.group(1))
        for q in re.finditer(r"[?&](?:pass|password|token|secret)=([^&#]*)", v):
            inline = inline or not SECRET_REF.fullmatch(q.group(1))
        if inline:
            raise ValueError("a password is written in the URL: use ${env:NAME} and set NAME in the environment")
        return v


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
        return self.start <= at < self.end and (not self.checks or key in self.checks)


class AlertsConfig(_Strict):
    channels: list[Channel] = Field(default_factory=list)
    repeat_after_minutes: int = Field(default=240, ge=1)
    send_resolved: bool = True
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)


def load_alerts(path: Path | str) -> AlertsConfig:
    return load_yaml_model(AlertsConfig, path)
