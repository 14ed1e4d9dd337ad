"""Alert state: from the list of conditions active now to the notifications to send.

A condition that starts is announced once, repeated after `repeat_after_minutes` while it lasts,
and announced as resolved when it ends (de-duplicated by its key). A maintenance window silences
the matching alerts: their state is kept, nothing is sent. The texts say, in Vietnamese, what is
wrong, since when, and how bad.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from collectors.notify import Delivery, Notifier
from config.alerts import AlertsConfig

SEVERITY_VI = {"page": "nghiêm trọng", "ticket": "cần xử lý", "info": "thông tin"}


@dataclass
class Condition:
    """Something wrong right now, as an evaluator (SLO burn, a failing check…) sees it."""

    key: str                      # stable identity, e.g. "check:dang-nhap-1.0"
    title: str                    # Vietnamese: what is wrong
    detail: str = ""              # Vietnamese: how bad (figures)
    severity: str = "ticket"


@dataclass
class _State:
    cond: Condition
    since: dt.datetime
    last_sent: dt.datetime | None = None


@dataclass
class Sent:
    kind: str                     # firing | repeat | resolved
    key: str
    title: str
    body: str
    deliveries: list[Delivery] = field(default_factory=list)


def _fmt(t: dt.datetime) -> str:
    return t.strftime("%H:%M %d/%m/%Y")


def _duration_vi(d: dt.timedelta) -> str:
    minutes = int(d.total_seconds() // 60)
    h, m = divmod(minutes, 60)
    days, h = divmod(h, 24)
    parts = [f"{days} ngày"] * bool(days) + [f"{h} giờ"] * bool(h) + [f"{m} phút"] * bool(m or not (days or h))
    return " ".join(parts)


class Alerter:
    def __init__(self, cfg: AlertsConfig, notifier: Notifier, now: Callable[[], dt.datetime]) -> None:
        self.cfg = cfg
        self.notifier = notifier
        self.now = now
        self.active: dict[str, _State] = {}

    def _silenced(self, key: str, at: dt.datetime) -> bool:
        return any(w.covers(key, at) for w in self.cfg.maintenance)

    def _send(self, kind: str, st: _State, at: dt.datetime) -> Sent:
        c = st.cond
        sev = SEVERITY_VI.get(c.severity, c.severity)
        if kind == "resolved":
            title = f"[ĐÃ KHẮC PHỤC] {c.title}"
            body = f"Đã trở lại bình thường lúc {_fmt(at)}, sau {_duration_vi(at - st.since)} (từ {_fmt(st.since)})."
        else:
            title = f"[CẢNH BÁO – {sev}] {c.title}"
            body = (f"Từ {_fmt(st.since)} (đã {_duration_vi(at - st.since)}).\n"
                    + (f"Mức độ: {c.detail}\n" if c.detail else "")
                    + ("Nhắc lại: lỗi vẫn tiếp diễn." if kind == "repeat" else ""))
        return Sent(kind, c.key, title, body.strip(), self.notifier.send(title, body.strip()))

    def update(self, conditions: list[Condition]) -> list[Sent]:
        """Apply the conditions active now; returns the notifications sent."""
        at = self.now()
        sent: list[Sent] = []
        current = {c.key: c for c in conditions}
        for key, cond in current.items():
            st = self.active.get(key)
            if st is None:
                st = self.active[key] = _State(cond, at)
                kind = "firing"
            else:
                st.cond = cond
                due = st.last_sent is None or at - st.last_sent >= dt.timedelta(minutes=self.cfg.repeat_after_minutes)
                kind = "repeat" if due else ""
                if st.last_sent is None and due:
                    kind = "firing"
            if kind and not self._silenced(key, at):
                sent.append(self._send(kind, st, at))
                st.last_sent = at
        for key in [k for k in self.active if k not in current]:
            st = self.active.pop(key)
            if self.cfg.send_resolved and st.last_sent is not None and not self._silenced(key, at):
                sent.append(self._send("resolved", st, at))
        return sent
