"""Notifications through apprise (email, Telegram, a generic webhook, ...), in Vietnamese.

Channel URLs are resolved at send time (`${env:NAME}` from the environment), so secrets live only
in memory for the send; logs and results name the channel, never its URL.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

import apprise

from config.alerts import SECRET_REF, Channel

log = logging.getLogger("motcua.notify")


@dataclass
class Delivery:
    channel: str
    ok: bool
    error: str = ""


class Notifier:
    def __init__(self, channels: list[Channel], environ: Mapping[str, str] | None = None) -> None:
        self.channels = channels
        self.environ = os.environ if environ is None else environ

    def _resolve(self, url: str) -> str:
        def sub(m):
            name = m.group(1)
            if name not in self.environ:
                raise KeyError(name)
            return self.environ[name]

        return SECRET_REF.sub(sub, url)

    def send(self, title: str, body: str, only: set[str] | None = None,
             attach: list[str] | None = None) -> list[Delivery]:
        """Send to every channel (or to those named in `only`); one Delivery per channel tried.

        `attach`: file paths sent as attachments (the monthly briefing)."""
        out = []
        for ch in self.channels:
            if only is not None and ch.name not in only:
                continue
            try:
                url = self._resolve(ch.url)
            except KeyError as e:
                out.append(Delivery(ch.name, False, f"environment variable {e.args[0]} is not set"))
                continue
            ap = apprise.Apprise()
            if not ap.add(url):
                out.append(Delivery(ch.name, False, "the channel URL is not understood by apprise"))
                continue
            ok = bool(ap.notify(title=title, body=body, attach=list(attach) if attach else None))
            out.append(Delivery(ch.name, ok, "" if ok else "delivery failed (see the channel's server)"))
            if not ok:
                log.warning("notify: channel %s: delivery failed", ch.name)
        return out
