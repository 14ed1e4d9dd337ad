"""Writing the status page's incidents (store/migrations/017_status_incidents.sql).

    open_incident(store, service=..., texts..., actor=..., via=..., source=...) -> dict
    alert_incident(store, service=..., alert_key=..., alert_since=..., texts...) -> dict   the monitor
    change_incident(store, incident_id, action=post|edit|resolve, actor=..., via=..., **fields) -> dict

Each call is one transaction: the incident's row as it stands now, and one more row of its
history (`incident_updates`), which nothing here updates or deletes. The time comes from the
owner's clock (callers in the owner may pass the instant they judged at); a change never takes an
update id. What a change may say (known service, statuses, lengths) is checked by statuspage/
before it gets here; this module refuses only what the stored state forbids.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from config.clock import local_now
from store.errors import StoreError

MONITOR = "monitor"  # the actor of what the monitor does by itself
TEXTS = ("title_vi", "title_en", "message_vi", "message_en")
FIELDS = ("status", "impact") + TEXTS
COLUMNS = ("incident_id", "service", "status", "impact") + TEXTS + (
    "source", "auto_resolve", "opened_at", "opened_by", "updated_at", "resolved_at")


class IncidentRefused(StoreError):
    """A change the incident's stored state does not allow (unknown, already resolved)."""

    def __init__(self, message: str, message_vi: str) -> None:
        super().__init__(message)
        self.message_vi = message_vi


def _row(con, incident_id: int) -> dict[str, Any] | None:
    r = con.execute(f"SELECT {', '.join(COLUMNS)} FROM incidents WHERE incident_id = ?", [incident_id]).fetchone()
    return dict(zip(COLUMNS, r)) if r else None


def _instant(con, incident_id: int, at: dt.datetime | None) -> dt.datetime:
    """`at` (default now), after the incident's last change: its history never runs backwards."""
    at = at or local_now()
    last = con.execute('SELECT max("at") FROM incident_updates WHERE incident_id = ?', [incident_id]).fetchone()[0]
    return last + dt.timedelta(microseconds=1) if last is not None and at <= last else at


def _append(con, incident_id: int, at: dt.datetime, actor: str, via: str, action: str, state: dict[str, Any],
            changed: dict[str, Any], alert_key: str | None = None, alert_since: dt.datetime | None = None) -> int:
    update_id = int(con.execute("SELECT nextval('incident_update_seq')").fetchone()[0])
    con.execute('INSERT INTO incident_updates (update_id, incident_id, "at", actor, via, action, public, status, '
                "impact, title_vi, title_en, message_vi, message_en, changed, alert_key, alert_since) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [update_id, incident_id, at, actor, via, action, action in ("open", "post", "resolve"),
                 state["status"], state["impact"], state["title_vi"], state["title_en"], state["message_vi"],
                 state["message_en"], json.dumps(changed, ensure_ascii=False, default=str), alert_key, alert_since])
    return update_id


def _open_con(con, *, service: str, status: str, impact: str, texts: dict[str, str | None], actor: str, via: str,
              source: str, at: dt.datetime, alert_key: str | None = None,
              alert_since: dt.datetime | None = None) -> dict[str, Any]:
    incident_id = int(con.execute("SELECT nextval('incident_seq')").fetchone()[0])
    state = {"status": status, "impact": impact, **{k: texts.get(k) for k in TEXTS}}
    con.execute(f"INSERT INTO incidents ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                [incident_id, service, status, impact, state["title_vi"], state["title_en"], state["message_vi"],
                 state["message_en"], source, source == "alert", at, actor, at, None])
    update_id = _append(con, incident_id, at, actor, via, "open", state,
                        {k: [None, v] for k, v in state.items() if v is not None} | {"service": [None, service]},
                        alert_key, alert_since)
    return {"incident_id": incident_id, "update_id": update_id, "action": "open"}


def open_incident(store, *, service: str, status: str, impact: str, texts: dict[str, str | None], actor: str,
                  via: str, source: str = "manual", at: dt.datetime | None = None) -> dict[str, Any]:
    """A new incident of `service` (a person's, or the monitor's with source='alert')."""
    with store.transaction() as con:
        return _open_con(con, service=service, status=status, impact=impact, texts=texts, actor=actor, via=via,
                         source=source, at=at or local_now())


def alert_incident(store, *, service: str, alert_key: str, alert_since: dt.datetime, impact: str,
                   texts: dict[str, str | None], at: dt.datetime | None = None) -> dict[str, Any]:
    """What an alert firing for one of the service's probes does, at most once per alert episode
    (its key and the instant it began): joins the service's latest open incident, or opens one with
    the template's texts. {'action': 'open' | 'join' | 'none', 'incident_id'}."""
    with store.transaction() as con:
        seen = con.execute(
            "SELECT u.incident_id FROM incident_updates u JOIN incidents i USING (incident_id) "
            "WHERE i.service = ? AND u.alert_key = ? AND u.alert_since = ? LIMIT 1",
            [service, alert_key, alert_since]).fetchone()
        if seen:
            return {"action": "none", "incident_id": int(seen[0])}
        at = at or local_now()
        open_ = con.execute("SELECT incident_id FROM incidents WHERE service = ? AND resolved_at IS NULL "
                            "ORDER BY opened_at DESC, incident_id DESC LIMIT 1", [service]).fetchone()
        if open_ is None:
            return _open_con(con, service=service, status="investigating", impact=impact, texts=texts,
                             actor=MONITOR, via="alert", source="alert", at=at, alert_key=alert_key,
                             alert_since=alert_since)
        incident_id = int(open_[0])
        state = _row(con, incident_id)
        at = _instant(con, incident_id, at)
        update_id = _append(con, incident_id, at, MONITOR, "alert", "join", state,
                            {"alert": [None, alert_key]}, alert_key, alert_since)
        return {"action": "join", "incident_id": incident_id, "update_id": update_id}


def change_incident(store, incident_id: int, *, action: str, actor: str, via: str, fields: dict[str, Any],
                    at: dt.datetime | None = None) -> dict[str, Any]:
    """post (a new public update: message, maybe status and impact), edit (correct the texts or the
    impact of what is shown, no new entry) or resolve. A person's change ends the monitor's right to
    resolve it by itself. Refused: an unknown incident, a post or resolve of a resolved one."""
    if action not in ("post", "edit", "resolve"):
        raise StoreError(f"incident change: unknown action {action!r}")
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise StoreError(f"incident change: unknown field {', '.join(unknown)}")
    with store.transaction() as con:
        row = _row(con, int(incident_id))
        if row is None:
            raise IncidentRefused(f"no incident {incident_id}", f"không có sự cố số {incident_id}")
        if row["resolved_at"] is not None and action != "edit":
            raise IncidentRefused(f"incident {incident_id} is already resolved: open a new one",
                                  f"sự cố số {incident_id} đã được khắc phục: hãy tạo sự cố mới")
        at = _instant(con, int(incident_id), at)
        state = {k: row[k] for k in FIELDS}
        if action == "resolve":
            fields = {**fields, "status": "resolved"}
        changed = {k: [state[k], v] for k, v in fields.items() if v != state[k]}
        state.update(fields)
        by_person = actor != MONITOR
        con.execute("UPDATE incidents SET status = ?, impact = ?, title_vi = ?, title_en = ?, message_vi = ?, "
                    "message_en = ?, updated_at = ?, resolved_at = ?, auto_resolve = auto_resolve AND ? "
                    "WHERE incident_id = ?",
                    [state["status"], state["impact"], state["title_vi"], state["title_en"], state["message_vi"],
                     state["message_en"], at, at if action == "resolve" else row["resolved_at"], not by_person,
                     int(incident_id)])
        update_id = _append(con, int(incident_id), at, actor, via, action, state, changed)
    return {"incident_id": int(incident_id), "update_id": update_id, "action": action, "changed": sorted(changed)}
