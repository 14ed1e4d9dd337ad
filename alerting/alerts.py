"""Alert state: from the list of conditions active now to the notifications to send.

A condition that starts is announced once, repeated after `repeat_after_minutes` while it lasts,
and announced as resolved when it ends (de-duplicated by its key). A message a channel did not
take (down, refused) is sent again to that channel at the next update, until it gets through or
the repeat interval has passed; the channels that did take it are not sent it twice. A maintenance window silences
the matching alerts: their state is kept, nothing is sent. The texts say, in Vietnamese, what is
wrong, since when, and how bad.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from alerting.notify import Delivery, Notifier
from config.alerts import AlertsConfig

SEVERITY_VI = {"page": "nghiêm trọng", "ticket": "cần xử lý", "info": "thông tin"}


@dataclass
class Condition:
    """Something wrong right now, as an evaluator (SLO burn, a failing check…) sees it."""

    key: str                      # stable identity, e.g. "check:dang-nhap-1.0"
    title: str                    # Vietnamese: what is wrong
    detail: str = ""              # Vietnamese: how bad (figures)
    severity: str = "ticket"
    since: dt.datetime | None = None  # when it began, when the data says (else: when first seen)


@dataclass
class _State:
    cond: Condition
    since: dt.datetime
    last_sent: dt.datetime | None = None
    # channels the last message did not reach (down, refused): retried at every update until it
    # gets through, for at most repeat_after_minutes
    undelivered: set[str] = field(default_factory=set)
    undelivered_kind: str = ""
    ended: dt.datetime | None = None  # for a resolved message still to deliver


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
    """`store`: keep the state in the store (table alert_state), so a restart goes on where the
    last process stopped: no second "firing" for an alert already sent, a "resolved" for one that
    ended while nobody watched. Loaded at the first update, saved after every update."""

    def __init__(self, cfg: AlertsConfig, notifier: Notifier, now: Callable[[], dt.datetime],
                 store: Any = None) -> None:
        self.cfg = cfg
        self.notifier = notifier
        self.now = now
        self.store = store
        self.active: dict[str, _State] = {}
        self.ending: dict[str, _State] = {}
        self._loaded = store is None

    def _load(self) -> None:
        from store.alert_state import load_alert_state

        for r in load_alert_state(self.store):
            st = _State(Condition(r["key"], r["title"], r["detail"] or "", r["severity"]), r["since"],
                        r["last_sent"], set(r["undelivered"] or ()), r["undelivered_kind"] or "", r["ended"])
            (self.active if r["phase"] == "active" else self.ending)[r["key"]] = st
        self._loaded = True

    def _save(self) -> None:
        from store.alert_state import save_alert_state

        rows = []
        for phase, states in (("active", self.active), ("ending", self.ending)):
            for key, st in states.items():
                rows.append({"key": key, "phase": phase, "title": st.cond.title, "detail": st.cond.detail,
                             "severity": st.cond.severity, "since": st.since, "last_sent": st.last_sent,
                             "ended": st.ended, "undelivered": sorted(st.undelivered),
                             "undelivered_kind": st.undelivered_kind or None})
        save_alert_state(self.store, rows)

    def _silenced(self, key: str, at: dt.datetime) -> bool:
        return any(w.covers(key, at) for w in self.cfg.maintenance)

    def _send(self, kind: str, st: _State, at: dt.datetime, only: set[str] | None = None) -> Sent:
        c = st.cond
        sev = SEVERITY_VI.get(c.severity, c.severity)
        if kind == "resolved":
            end = st.ended or at
            title = f"[ĐÃ KHẮC PHỤC] {c.title}"
            body = f"Đã trở lại bình thường lúc {_fmt(end)}, sau {_duration_vi(end - st.since)} (từ {_fmt(st.since)})."
        else:
            title = f"[CẢNH BÁO – {sev}] {c.title}"
            body = (f"Từ {_fmt(st.since)} (đã {_duration_vi(at - st.since)}).\n"
                    + (f"Mức độ: {c.detail}\n" if c.detail else "")
                    + ("Nhắc lại: lỗi vẫn tiếp diễn." if kind == "repeat" else ""))
        deliveries = self.notifier.send(title, body.strip(), only)
        st.undelivered = {d.channel for d in deliveries if not d.ok}
        st.undelivered_kind = kind if st.undelivered else ""
        return Sent(kind, c.key, title, body.strip(), deliveries)

    def _retry_due(self, st: _State, at: dt.datetime) -> bool:
        return bool(st.undelivered) and st.last_sent is not None and \
            at - st.last_sent < dt.timedelta(minutes=self.cfg.repeat_after_minutes)

    def update(self, conditions: list[Condition]) -> list[Sent]:
        """Apply the conditions active now; returns the notifications sent."""
        if not self._loaded:
            self._load()
        sent = self._update(conditions)
        if self.store is not None:
            self._save()
        return sent

    def _update(self, conditions: list[Condition]) -> list[Sent]:
        at = self.now()
        sent: list[Sent] = []
        current = {c.key: c for c in conditions}
        for key in list(self.ending):  # resolved messages that did not get through yet
            st = self.ending[key]
            if key in current or not self._retry_due(st, at):
                del self.ending[key]
            elif not self._silenced(key, at):
                sent.append(self._send("resolved", st, at, only=st.undelivered))
                if not st.undelivered:
                    del self.ending[key]
        for key, cond in current.items():
            st = self.active.get(key)
            if st is None:
                begun = cond.since if cond.since is not None and cond.since <= at else at
                st = self.active[key] = _State(cond, begun)
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
            elif not kind and self._retry_due(st, at) and not self._silenced(key, at):
                # the same message again, only to the channels it did not reach
                sent.append(self._send(st.undelivered_kind, st, at, only=st.undelivered))
        for key in [k for k in self.active if k not in current]:
            st = self.active.pop(key)
            if self.cfg.send_resolved and st.last_sent is not None and not self._silenced(key, at):
                st.ended = at
                sent.append(self._send("resolved", st, at))
                st.last_sent = at
                if st.undelivered:
                    self.ending[key] = st
        return sent
