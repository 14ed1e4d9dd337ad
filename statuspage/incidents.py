"""Incidents: opened by the monitor when an alert fires for a service's probe, changed by people.

`IncidentKeeper.update(active, now)` runs after every alert evaluation inside `app.py run`: an
alert `check:<name>` firing (outside a maintenance window) for a probe of a service that is not
working now opens an incident of that service with the service's template (status "Đang xử lý"),
or joins the one already open; one alert episode (its key and since when it fires) does so once,
so an incident ICT resolved is not opened again by the same episode. An incident the monitor
opened and no person has changed since is resolved by the monitor once its service has worked
for `auto_resolve_minutes`; once a person changed it, only a person resolves it.

`perform(store, page, action, actor=..., via=..., **params)` is what people do (the dashboard's
Hệ thống page, admin accounts): open, post, edit, resolve. Each is one more row of the incident's
history (store/status_writes.py); none deletes or rewrites one.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from typing import Any

from config.agents import AgentsConfig
from config.alerts import MaintenanceWindow
from config.errors import MotcuaError
from config.status_page import IMPACTS, OPEN_STATUSES, ProbeRef, StatusPageFile
from statuspage.model import Query, judge_services
from store.status_writes import MONITOR, alert_incident, change_incident, open_incident

log = logging.getLogger("motcua.statuspage")

ACTIONS = ("open", "post", "edit", "resolve")
VIAS = ("dashboard", "cli", "api", "library")
MAX_TITLE = 200
MAX_MESSAGE = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class IncidentInvalid(MotcuaError):
    """A change a person asked for that cannot be made as asked; said in English and Vietnamese."""

    def __init__(self, message: str, message_vi: str) -> None:
        super().__init__(message)
        self.message_vi = message_vi


def _text(params: dict[str, Any], key: str, limit: int, *, required: bool = False) -> str | None:
    raw = params.get(key)
    text = "" if raw is None else str(raw).replace("\r\n", "\n").strip()
    if _CONTROL.search(text):
        raise IncidentInvalid(f"{key}: control characters are not allowed", f"{key}: có ký tự điều khiển không hợp lệ")
    if len(text) > limit:
        raise IncidentInvalid(f"{key}: at most {limit} characters (got {len(text)})",
                              f"{key}: tối đa {limit} ký tự (đang có {len(text)})")
    if required and not text:
        raise IncidentInvalid(f"{key}: required", f"{key}: chưa nhập nội dung")
    return text or None


def _choice(params: dict[str, Any], key: str, allowed: tuple[str, ...] | dict, default: str | None) -> str | None:
    v = params.get(key) or default
    if v is not None and v not in allowed:
        raise IncidentInvalid(f"{key} must be one of {', '.join(allowed)}, got {v!r}",
                              f"{key} phải là một trong {', '.join(allowed)}")
    return v


def _incident_id(params: dict[str, Any]) -> int:
    try:
        return int(params["incident_id"])
    except (KeyError, TypeError, ValueError):
        raise IncidentInvalid("incident_id: the number of an incident is required",
                              "incident_id: cần số của sự cố") from None


def perform(store, page: StatusPageFile, action: str, *, actor: str, via: str = "library",
            **params: Any) -> dict[str, Any]:
    """One change by a person: open(service, title_vi=, message_vi=, title_en=, message_en=, status=,
    impact=) (texts default to the service's template), post(incident_id, message_vi, message_en=,
    status=, impact=), edit(incident_id, title_vi=, title_en=, message_vi=, message_en=, impact=),
    resolve(incident_id, message_vi=, message_en=) (default: the file's resolved message)."""
    if action not in ACTIONS:
        raise IncidentInvalid(f"unknown action {action!r}: one of {', '.join(ACTIONS)}",
                              f"thao tác không hợp lệ {action!r}")
    actor = (actor or "").strip()
    if not actor or actor == MONITOR:
        raise IncidentInvalid("every change needs who made it (actor)", "mỗi thay đổi cần ghi rõ người thực hiện")
    if via not in VIAS:
        raise IncidentInvalid(f"via must be one of {', '.join(VIAS)}", f"via phải là một trong {', '.join(VIAS)}")
    allowed = {"open": {"service", "title_vi", "title_en", "message_vi", "message_en", "status", "impact"},
               "post": {"incident_id", "message_vi", "message_en", "status", "impact"},
               "edit": {"incident_id", "title_vi", "title_en", "message_vi", "message_en", "impact"},
               "resolve": {"incident_id", "message_vi", "message_en"}}[action]
    extra = sorted(set(params) - allowed)
    if extra:
        # no time, no update id: the history is never back-dated or rewritten
        raise IncidentInvalid(f"{action}: no parameter {', '.join(extra)}", f"{action}: không có tham số {', '.join(extra)}")
    if action == "open":
        service = page.service(str(params.get("service") or ""))
        if service is None:
            raise IncidentInvalid(f"unknown service {params.get('service')!r}: one of "
                                  f"{', '.join(s.id for s in page.services)}",
                                  f"không có dịch vụ {params.get('service')!r}")
        tpl = service.incident
        texts = {"title_vi": _text(params, "title_vi", MAX_TITLE) or tpl.title.vi,
                 "message_vi": _text(params, "message_vi", MAX_MESSAGE) or tpl.message.vi}
        # the template's English only beside the template's Vietnamese (never beside other words)
        texts["title_en"] = _text(params, "title_en", MAX_TITLE) or (
            tpl.title.en if texts["title_vi"] == tpl.title.vi else None)
        texts["message_en"] = _text(params, "message_en", MAX_MESSAGE) or (
            tpl.message.en if texts["message_vi"] == tpl.message.vi else None)
        return open_incident(store, service=service.id, status=_choice(params, "status", OPEN_STATUSES, "investigating"),
                             impact=_choice(params, "impact", IMPACTS, "degraded"), texts=texts, actor=actor, via=via)
    incident_id = _incident_id(params)
    fields: dict[str, Any] = {}
    if action == "post":
        fields["message_vi"] = _text(params, "message_vi", MAX_MESSAGE, required=True)
        fields["message_en"] = _text(params, "message_en", MAX_MESSAGE)
        for key, allowed_values in (("status", OPEN_STATUSES), ("impact", IMPACTS)):
            if params.get(key):
                fields[key] = _choice(params, key, allowed_values, None)
    elif action == "edit":
        for key, limit in (("title_vi", MAX_TITLE), ("title_en", MAX_TITLE), ("message_vi", MAX_MESSAGE),
                           ("message_en", MAX_MESSAGE)):
            if key in params:
                fields[key] = _text(params, key, limit, required=key.endswith("_vi"))
        if params.get("impact"):
            fields["impact"] = _choice(params, "impact", IMPACTS, None)
        if not fields:
            raise IncidentInvalid("edit: nothing to change", "sửa: chưa có nội dung nào thay đổi")
    else:  # resolve
        vi = _text(params, "message_vi", MAX_MESSAGE)
        fields["message_vi"] = vi or page.resolved_message.vi
        fields["message_en"] = _text(params, "message_en", MAX_MESSAGE) or (None if vi else page.resolved_message.en)
    return change_incident(store, incident_id, action=action, actor=actor, via=via, fields=fields)


class IncidentKeeper:
    """The monitor's side: alerts open (or join) incidents, recovery resolves the untouched ones."""

    def __init__(self, page: StatusPageFile, refs: dict[str, list[ProbeRef]], store, query: Query,
                 maintenance: list[MaintenanceWindow], now: Callable[[], dt.datetime],
                 agents: AgentsConfig | None = None) -> None:
        self.page = page
        self.refs = refs
        self.store = store
        self.query = query
        self.maintenance = maintenance
        self.now = now
        self.agents = agents  # the quorum a recovery is judged by (None: AgentsConfig's defaults)

    def _silenced(self, key: str, at: dt.datetime) -> bool:
        return any(w.covers(key, at) for w in self.maintenance)

    def update(self, active: dict[str, dt.datetime], at: dt.datetime | None = None) -> list[dict[str, Any]]:
        """`active`: the alert keys firing now, each with since when. Returns what was done."""
        at = at or self.now()
        judged = judge_services(self.query, self.page, self.refs, at, self.agents)
        done = []
        keys = {k: since for k, since in active.items() if k.startswith("check:") and not self._silenced(k, at)}
        for key, since in sorted(keys.items()):
            name = key[len("check:"):]
            for s in self.page.services:
                if not any(r.name == name for r in self.refs[s.id]):
                    continue
                state = judged[s.id].state
                if state not in ("degraded", "outage"):
                    continue  # the alert is about a part of the probe this service does not use
                tpl = s.incident
                res = alert_incident(self.store, service=s.id, alert_key=key, alert_since=since, impact=state,
                                     texts={"title_vi": tpl.title.vi, "title_en": tpl.title.en,
                                            "message_vi": tpl.message.vi, "message_en": tpl.message.en}, at=at)
                if res["action"] != "none":
                    log.info("status page: alert %s %s incident %s of %s", key, res["action"] + "ed",
                             res["incident_id"], s.id)
                    done.append({**res, "service": s.id, "alert": key})
        if self.page.auto_resolve_minutes:
            done += self._resolve_recovered(judged, keys, at)
        return done

    def _resolve_recovered(self, judged, keys: dict[str, dt.datetime], at: dt.datetime) -> list[dict[str, Any]]:
        quiet = dt.timedelta(minutes=self.page.auto_resolve_minutes)
        done = []
        for inc in self.query("status_incidents", since=at):
            if inc["resolved_at"] is not None or not inc["auto_resolve"]:
                continue
            sid = inc["service"]
            j = judged.get(sid)
            if j is None or j.state != "operational":
                continue
            if any(k == f"check:{r.name}" for k in keys for r in self.refs[sid]):
                continue  # its alert still fires
            if j.last_failed_at is not None and at - j.last_failed_at < quiet:
                continue
            res = change_incident(self.store, inc["incident_id"], action="resolve", actor=MONITOR, via="alert",
                                  fields={"message_vi": self.page.resolved_message.vi,
                                          "message_en": self.page.resolved_message.en}, at=at)
            log.info("status page: incident %s of %s resolved (the service works again)", inc["incident_id"], sid)
            done.append({**res, "service": sid})
        return done
