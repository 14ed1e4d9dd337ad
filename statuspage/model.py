"""What the status page says, from the store's named queries and config/status_page.yaml.

A service's status now is judged from the latest result of each of its probes within
`stale_minutes`: all passing, operational; some failing, degraded; all failing, outage; none
recent, unknown; no probe at all, not monitored. A journey's step counts as failing when the
journey's latest run stopped at an earlier step (a citizen could not get there either). A planned
maintenance under way shows as maintenance, and an open incident's impact (what ICT says) is shown
when it is worse. A day's bar is the share of the service's probe runs that passed that day (the daily
rollups); the 90 days' figure is the same share over all of them.

Several locations (config/agents.py): a probe fails for the page only when it fails from at least
`needed(reporting)` of the locations with a recent result for it (the quorum K, or all of them
when fewer report); a failure seen from fewer places leaves the service working, with a quiet note
naming those locations (titles only). The daily bars are the central's rollups: they show what the
province's own monitor measured, and a remote location's network trouble never reddens a day (an
outage the quorum saw is in the incidents). The footer says from how many locations, and which,
the figures were measured.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from config.agents import LOCAL_LOCATION, AgentsConfig
from config.alerts import MaintenanceWindow
from config.status_page import OPEN_STATUSES, ProbeRef, Service, StatusPageFile

DAYS = 90
RANK = {"operational": 0, "unknown": 0, "not_monitored": 0, "maintenance": 1, "degraded": 2, "outage": 3}
Query = Callable[..., Any]  # a named query by name (Ops.query): returns a store Table


@dataclass
class DayBar:
    day: dt.date
    runs: int = 0
    failures: int = 0

    @property
    def ratio(self) -> float | None:
        return (self.runs - self.failures) / self.runs if self.runs else None

    def level(self, good: float, fair: float) -> str:
        r = self.ratio
        return "none" if r is None else "good" if r >= good else "fair" if r >= fair else "bad"


@dataclass
class Judged:
    """A service's status from its probes alone."""

    state: str
    last_checked: dt.datetime | None = None
    last_failed_at: dt.datetime | None = None
    trouble_at: list[str] = field(default_factory=list)  # locations failing short of the quorum


@dataclass
class ServiceView:
    service: Service
    state: str
    bars: list[DayBar]
    last_checked: dt.datetime | None = None
    trouble_at: list[tuple[str, str]] = field(default_factory=list)  # (vi, en) titles: failing short of the quorum

    @property
    def uptime(self) -> float | None:
        return self.uptime_over(DAYS)

    def uptime_over(self, days: int) -> float | None:
        """The share of runs passed over the last `days` days (today included)."""
        bars = self.bars[-days:]
        runs = sum(b.runs for b in bars)
        return (runs - sum(b.failures for b in bars)) / runs if runs else None


@dataclass
class Entry:
    """One entry of an incident's public timeline: what was said, and its later correction."""

    at: dt.datetime
    status: str
    message_vi: str
    message_en: str | None
    edited_at: dt.datetime | None = None


@dataclass
class IncidentView:
    incident_id: int
    service: str
    status: str
    impact: str
    title_vi: str
    title_en: str | None
    opened_at: dt.datetime
    updated_at: dt.datetime
    resolved_at: dt.datetime | None
    entries: list[Entry] = field(default_factory=list)

    @property
    def open(self) -> bool:
        return self.resolved_at is None


@dataclass
class MaintenanceView:
    start: dt.datetime
    end: dt.datetime
    reason: str
    services: list[str]   # service ids; empty: the whole portal
    under_way: bool


@dataclass
class PageData:
    at: dt.datetime
    page: StatusPageFile
    services: list[ServiceView]
    incidents: list[IncidentView]          # open, then resolved within feed_days, newest first
    maintenance: list[MaintenanceView]
    locations: list[tuple[str, str]] = field(default_factory=list)  # (vi, en) titles of those measuring now

    @property
    def open_incidents(self) -> list[IncidentView]:
        return [i for i in self.incidents if i.open]

    def recent_resolved(self) -> list[IncidentView]:
        cut = self.at - dt.timedelta(days=self.page.resolved_days)
        return [i for i in self.incidents if not i.open and i.resolved_at >= cut]

    @property
    def overall(self) -> str:
        states = [s.state for s in self.services]
        for s in ("outage", "degraded", "maintenance"):
            if s in states:
                return s
        monitored = [s for s in states if s != "not_monitored"]
        if monitored and all(s == "unknown" for s in monitored):
            return "unknown"
        return "partly_unknown" if "unknown" in monitored else "operational"


def journeys_of(page: StatusPageFile, probes) -> set[str]:
    return {j.name for j in probes.journeys} if probes is not None else set()


def service_refs(page: StatusPageFile, journeys: set[str]) -> dict[str, list[ProbeRef]]:
    return {s.id: page.refs(s, journeys) for s in page.services}


def probe_names(refs: dict[str, list[ProbeRef]]) -> list[str]:
    return sorted({r.name for rs in refs.values() for r in rs})


Latest = dict[tuple[str, str], dict[str, Any]]  # (name, step) -> a location's latest row


def _ref_state(ref: ProbeRef, latest: Latest) -> bool | None:
    """True passing, False failing, None no recent result (at one location)."""
    row = latest.get((ref.name, ref.step))
    if ref.step in ("", "*"):
        return None if row is None else bool(row["ok"])
    summary = latest.get((ref.name, "*"))
    if summary is None:
        return None
    if row is None or row["started_at"] < summary["started_at"]:
        # not reached in the journey's latest run: stopped at an earlier step
        return False if not summary["ok"] else None
    return bool(row["ok"])


def _quorum_state(ref: ProbeRef, by_location: dict[str, Latest], agents: AgentsConfig) -> tuple[bool | None, list[str]]:
    """A probe's state over the locations: failing when it fails from at least needed(reporting)
    of those with a recent result; else passing, with the locations that saw it fail."""
    states = {loc: _ref_state(ref, latest) for loc, latest in by_location.items()}
    failing = sorted((loc for loc, v in states.items() if v is False), key=lambda loc: (loc != LOCAL_LOCATION, loc))
    reporting = [loc for loc, v in states.items() if v is not None]
    if not reporting:
        return None, []
    # the page's probes are the central's own (config/status_page.yaml is checked against its
    # probes file): it counts before its first result
    if failing and len(failing) >= agents.needed_at(reporting, own=True):
        return False, []
    return True, failing


def judge(refs: list[ProbeRef], by_location: dict[str, Latest], agents: AgentsConfig | None = None) -> Judged:
    """A service's status from its probes' latest results at each location, judged by the quorum."""
    if not refs:
        return Judged("not_monitored")
    agents = agents if agents is not None else AgentsConfig()
    judged = [_quorum_state(r, by_location, agents) for r in refs]
    states = [st for st, _ in judged]
    trouble = sorted({loc for _, locs in judged for loc in locs}, key=lambda loc: (loc != LOCAL_LOCATION, loc))
    rows, summaries = [], []
    for lat in by_location.values():
        rows += [lat[k] for k in ((r.name, r.step) for r in refs) if k in lat]
        summaries += [lat[(r.name, "*")] for r in refs if r.step not in ("", "*") and (r.name, "*") in lat]
    checked = max((r["started_at"] for r in rows + summaries), default=None)
    failed = max((r["last_failed_at"] for r in rows + summaries if r["last_failed_at"] is not None), default=None)
    passing, failing = states.count(True), states.count(False)
    if not passing and not failing:
        return Judged("unknown", checked, failed)
    state = "operational" if not failing else "outage" if not passing else "degraded"
    return Judged(state, checked, failed, trouble)


def latest_by_location(query: Query, names: list[str], since: dt.datetime) -> dict[str, Latest]:
    out: dict[str, Latest] = {}
    for r in query("status_probe_latest", names=names, since=since):
        out.setdefault(r.get("location", LOCAL_LOCATION), {})[(r["name"], r["step"])] = r
    return out


def judge_services(query: Query, page: StatusPageFile, refs: dict[str, list[ProbeRef]],
                   now: dt.datetime, agents: AgentsConfig | None = None) -> dict[str, Judged]:
    """Each service's status from its probes' latest results (within stale_minutes of `now`) at
    every location, by the quorum of `agents` (default: AgentsConfig())."""
    names = probe_names(refs)
    latest: dict[str, Latest] = {}
    if names:
        latest = latest_by_location(query, names, now - dt.timedelta(minutes=page.stale_minutes))
    return {sid: judge(rs, latest, agents) for sid, rs in refs.items()}


def maintenance_views(windows: list[MaintenanceWindow], refs: dict[str, list[ProbeRef]],
                      now: dt.datetime) -> list[MaintenanceView]:
    """The windows under way or to come that touch a service (alert keys `check:<name>` of its
    probes; a window for no check in particular touches the whole portal)."""
    out = []
    for w in sorted(windows, key=lambda w: w.start):
        if w.end <= now:
            continue
        keys = set(w.checks)
        services = [sid for sid, rs in refs.items() if any(f"check:{r.name}" in keys for r in rs)]
        if keys and not services:
            continue  # the window silences checks citizens do not see
        out.append(MaintenanceView(w.start, w.end, w.reason, services, w.start <= now))
    return out


def timeline(updates: list[dict[str, Any]]) -> list[Entry]:
    """The public entries of an incident's history: open, post and resolve each add one; an edit
    corrects the words of the entry before it (and says when); a join is not shown."""
    out: list[Entry] = []
    for u in updates:
        if u["public"]:
            out.append(Entry(u["at"], u["status"], u["message_vi"], u["message_en"]))
        elif u["action"] == "edit" and out:
            e = out[-1]
            e.message_vi, e.message_en, e.edited_at = u["message_vi"], u["message_en"], u["at"]
    return out


def incidents(query: Query, since: dt.datetime) -> list[IncidentView]:
    rows = query("status_incidents", since=since).to_dicts()
    history: dict[int, list[dict[str, Any]]] = {}
    for u in query("status_incident_updates", since=since):
        history.setdefault(u["incident_id"], []).append(u)
    return [IncidentView(r["incident_id"], r["service"], r["status"], r["impact"], r["title_vi"], r["title_en"],
                         r["opened_at"], r["updated_at"], r["resolved_at"], timeline(history.get(r["incident_id"], [])))
            for r in rows]


def build(query: Query, page: StatusPageFile, refs: dict[str, list[ProbeRef]], windows: list[MaintenanceWindow],
          now: dt.datetime, agents: AgentsConfig | None = None) -> PageData:
    """The whole page at `now`: every figure read once, for both languages and the feed."""
    agents = agents if agents is not None else AgentsConfig()
    names = probe_names(refs)
    latest: dict[str, Latest] = {}
    if names:
        latest = latest_by_location(query, names, now - dt.timedelta(minutes=page.stale_minutes))
    judged = {sid: judge(rs, latest, agents) for sid, rs in refs.items()}

    def titles(loc: str) -> tuple[str, str]:
        return agents.title(loc, "vi"), agents.title(loc, "en")

    first = now.date() - dt.timedelta(days=DAYS - 1)
    daily: dict[tuple[str, str], dict[dt.date, tuple[int, int]]] = {}
    if names:
        for r in query("status_daily", names=names, since=first):
            daily.setdefault((r["name"], r["step"]), {})[r["day"]] = (int(r["runs"]), int(r["failures"]))
    maint = maintenance_views(windows, refs, now)
    incs = incidents(query, now - dt.timedelta(days=page.feed_days))
    services = []
    for s in page.services:
        bars = [DayBar(first + dt.timedelta(days=i)) for i in range(DAYS)]
        for ref in refs[s.id]:
            for d, (runs, failures) in daily.get((ref.name, ref.step), {}).items():
                i = (d - first).days
                if 0 <= i < DAYS:
                    bars[i].runs += runs
                    bars[i].failures += failures
        j = judged[s.id]
        state = j.state
        if any(m.under_way and (not m.services or s.id in m.services) for m in maint):
            state = "maintenance"
        impacts = [i.impact for i in incs if i.open and i.service == s.id and i.status in OPEN_STATUSES]
        if impacts:  # what ICT says, never milder than what the probes show
            state = max([state] + impacts, key=RANK.__getitem__)
        services.append(ServiceView(s, state, bars, j.last_checked, [titles(loc) for loc in j.trouble_at]))
    measuring = sorted(latest, key=lambda loc: (loc != LOCAL_LOCATION, loc))
    return PageData(now, page, services, incs, maint, [titles(loc) for loc in measuring])
