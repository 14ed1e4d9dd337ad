"""SLO burn-rate evaluation and the slowdown detector: from probe results to alert conditions.

Multi-window, multi-burn-rate (Google SRE workbook): for each SLO and each rule (long window,
short window, factor), the SLO alerts when the error ratio over BOTH windows exceeds factor x
error budget (1 - objective). The same is done for latency (share of responses slower than the
SLO's threshold against 1 - latency objective). The slowdown detector compares the last complete
hour's p95 of each check with the median p95 at the same hour of the week in past weeks.

Several locations (config/agents.py): an outage is the portal's only when the probe fails from at
least `needed(reporting)` locations (the quorum K, or all of them when fewer report); then the
condition is the portal's, keyed as with one location (`check:<name>`, `slo:<name>:<kind>`). A
failure seen from fewer places is that location's trouble: a ticket keyed
`location:<loc>:check:<name>` / `location:<loc>:slo:<name>:<kind>`, saying the other locations
still reach the portal. The central's own results always count (its probes are the evaluator's
own; when they stop, the check window ages them out as before); an agent's count only while it
reports (its newest result at most `agents.fresh_minutes` old). With only the central reporting,
every condition is what it was before locations existed. The slowdown detector and an SLO's
standing (`status`) are the central's: a remote location's latency includes its own network path.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from typing import Any

from alerting.alerts import Condition
from config.agents import LOCAL_LOCATION, AgentsConfig
from config.numbers import number, percent
from config.slo import Slo, SloFile


def _ratio(row: dict[str, Any], key: str) -> float | None:
    runs = row.get("runs") or 0
    return (row.get(key) or 0) / runs if runs else None


def _secs_vi(ms: float) -> str:
    """Seconds the Vietnamese way: 0,5 giây, 2 giây."""
    return number(ms / 1000, 3).rstrip("0").rstrip(",") + " giây"


def _win(minutes: int) -> str:
    return f"{minutes // 60} giờ" if minutes % 60 == 0 else f"{minutes} phút"


class SloEvaluator:
    def __init__(self, slos: SloFile, ops: Any, now: Callable[[], dt.datetime],
                 agents: AgentsConfig | None = None, own_checks: Collection[str] = ()) -> None:
        self.slos = slos
        self.ops = ops
        self.now = now
        self.agents = agents if agents is not None else AgentsConfig()
        # the central's own checks and journeys: it counts as reporting them even before its first
        # result (after a start, agents send what they buffered before the central has run them)
        self.own_checks = frozenset(own_checks)

    # -- locations --------------------------------------------------------------------------------
    def counted(self, at: dt.datetime) -> set[str]:
        """The locations whose results count at `at`: the central, and each agent reporting."""
        rows = self.ops.query("probe_locations", fresh_minutes=self.agents.fresh_minutes, at=at)
        return {LOCAL_LOCATION} | {r["location"] for r in rows if r["fresh"]}

    def _names(self, locations: list[str]) -> str:
        return "; ".join(self.agents.title(loc) for loc in _central_first(locations))

    # -- burn rates ---------------------------------------------------------------------------------
    def burn(self, slo: Slo, at: dt.datetime | None = None, counted: set[str] | None = None) -> list[Condition]:
        """Conditions for one SLO at `at` (default now): at most one for errors, one for latency
        when enough locations burn (the portal's); otherwise a ticket per location that burns."""
        at = at or self.now()
        counted = self.counted(at) if counted is None else counted
        minutes = sorted({m for r in self.slos.burn_rules for m in (r.long_minutes, r.short_minutes)})
        windows: dict[str, dict[int, dict[str, Any]]] = {}
        if minutes:
            for r in self.ops.query("probe_window_locations", probe=slo.probe, step=slo.step, until=at,
                                    minutes=minutes, slow_ms=slo.latency_ms):
                if r["location"] in counted:
                    windows.setdefault(r["location"], {})[r["minutes"]] = r
        out: list[Condition] = []
        kinds = [("failures", 1 - slo.availability, "lỗi", f"SLO khả dụng {percent(slo.availability, 1)}")]
        if slo.latency_ms:
            kinds.append(("slow", 1 - slo.latency_objective, f"chậm hơn {_secs_vi(slo.latency_ms)}",
                          f"SLO {percent(slo.latency_objective, 0)} phản hồi dưới {_secs_vi(slo.latency_ms)}"))
        for key, budget, what, objective in kinds:
            local: dict[str, tuple[Any, float, float]] = {}  # a location's first (most urgent) burning rule
            for rule in self.slos.burn_rules:
                measured, burning = [], []
                for loc, w in windows.items():
                    long_r = _ratio(w.get(rule.long_minutes) or {}, key)
                    short_r = _ratio(w.get(rule.short_minutes) or {}, key)
                    if long_r is None or short_r is None:
                        continue
                    measured.append(loc)
                    threshold = rule.factor * budget
                    if long_r > threshold and short_r > threshold:
                        burning.append(loc)
                        local.setdefault(loc, (rule, long_r, short_r))
                if burning and len(burning) >= self.agents.needed_at(measured, own=slo.probe in self.own_checks):
                    # the figures of the burning locations' runs counted together
                    long_r = _ratio(_pooled(windows, burning, rule.long_minutes), key)
                    short_r = _ratio(_pooled(windows, burning, rule.short_minutes), key)
                    where = (f"; từ {len(burning)}/{len(measured)} điểm đo: {self._names(burning)}"
                             if len(measured) > 1 else "")
                    out.append(Condition(
                        key=f"slo:{slo.name}:{key}",
                        title=f"{slo.title}: tỷ lệ {what} vượt mức cho phép",
                        detail=(f"{percent(long_r, 1)} trong {_win(rule.long_minutes)} qua, {percent(short_r, 1)} "
                                f"trong {_win(rule.short_minutes)} qua; ngân sách lỗi đang cạn nhanh gấp "
                                f"{number(long_r / budget, 1)} lần ({objective})") + where,
                        severity=rule.severity))
                    break  # the first (most urgent) rule that fires speaks for this kind
            else:
                for loc in _central_first(list(local)):
                    rule, long_r, short_r = local[loc]
                    out.append(Condition(
                        key=f"location:{loc}:slo:{slo.name}:{key}",
                        title=(f"Điểm đo «{self.agents.title(loc)}»: {slo.title}: tỷ lệ {what} vượt mức cho phép, "
                               "các điểm đo khác vẫn truy cập được"),
                        detail=(f"{percent(long_r, 1)} trong {_win(rule.long_minutes)} qua, {percent(short_r, 1)} "
                                f"trong {_win(rule.short_minutes)} qua, đo từ điểm đo này ({objective})"),
                        severity="ticket"))
        return out

    def status(self, slo: Slo, at: dt.datetime | None = None) -> dict[str, Any]:
        """Where an SLO stands over its window (`window_days`, 28 by default), measured from the
        central: the share of runs
        that passed, the share of passing runs under the latency threshold, and how much of each
        error budget is left (1: untouched, 0: spent, below 0: overspent). None where there is no
        run. `since` is the first run inside the window: when the raw retention
        (`raw_retention_days`) is shorter than the window, the figures cover only from then."""
        at = at or self.now()
        since = at - dt.timedelta(days=slo.window_days)
        w = self.ops.query("probe_window", probe=slo.probe, step=slo.step, since=since, until=at,
                           slow_ms=slo.latency_ms, location=LOCAL_LOCATION).one() or {}
        runs, failures, slow = w.get("runs") or 0, w.get("failures") or 0, w.get("slow") or 0
        out: dict[str, Any] = {"slo": slo.name, "window_days": slo.window_days, "runs": runs,
                               "since": w.get("first_run"),
                               "availability": None, "availability_budget_left": None,
                               "latency_attainment": None, "latency_budget_left": None}
        if runs:
            out["availability"] = 1 - failures / runs
            out["availability_budget_left"] = 1 - (failures / runs) / (1 - slo.availability)
        passed = runs - failures
        if slo.latency_ms and passed:
            out["latency_attainment"] = 1 - slow / passed
            out["latency_budget_left"] = 1 - (slow / passed) / (1 - slo.latency_objective)
        return out

    def slowdowns(self, at: dt.datetime | None = None) -> list[Condition]:
        """Checks whose last complete hour, measured from the central, is slower than their own
        baseline for that hour of week (a remote location's latency includes its own path)."""
        at = at or self.now()
        hour = at.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1)
        s = self.slos.slowdown
        out = []
        for r in self.ops.query("probe_hour_baseline", hour=hour, weeks=s.weeks, min_samples=s.min_samples):
            if r["p95_ms"] > s.factor * r["baseline_ms"] and r["p95_ms"] - r["baseline_ms"] >= s.min_extra_ms:
                label = r["name"] + (f" / {r['step']}" if r["step"] not in ("", "*") else "")
                out.append(Condition(
                    key=f"slow:{r['name']}:{r['step']}",
                    title=f"{label}: chậm bất thường so với cùng giờ các tuần trước",
                    detail=(f"p95 {number(r['p95_ms'])} ms lúc {hour:%H} giờ, gấp {number(r['p95_ms'] / r['baseline_ms'], 1)} "
                            f"lần mức thường ({number(r['baseline_ms'])} ms, {r['weeks_seen']} tuần)"),
                    severity="ticket"))
        return out

    def failing_checks(self, at: dt.datetime | None = None, fresh_minutes: int = 60,
                       counted: set[str] | None = None) -> list[Condition]:
        """Checks and journeys whose latest run (within `fresh_minutes`) failed, with its reason:
        a feature that disappeared, a refused 1.0 account, unsynced results show here by name.
        Per location: the portal's condition when it fails from at least needed(reporting) of the
        counted locations with a recent run; otherwise one ticket per failing location."""
        at = at or self.now()
        since = at - dt.timedelta(minutes=fresh_minutes)
        counted = self.counted(at) if counted is None else counted
        by_check: dict[str, list[dict[str, Any]]] = {}
        for r in self.ops.query("probe_latest"):
            if r["step"] not in ("", "*") or r["started_at"] < since or r.get("location", LOCAL_LOCATION) not in counted:
                continue
            by_check.setdefault(r["name"], []).append(r)
        out = []
        for name, rows in by_check.items():
            failing = [r for r in rows if not r["ok"]]
            if not failing:
                continue
            failing.sort(key=lambda r: (r.get("location", LOCAL_LOCATION) != LOCAL_LOCATION, r.get("location", "")))
            what = "Hành trình" if failing[0]["kind"] == "journey" else "Kiểm tra"
            needed = self.agents.needed_at([r.get("location", LOCAL_LOCATION) for r in rows], own=name in self.own_checks)
            if len(failing) >= needed:
                # the outage began when the needed-th location started failing
                starts = sorted(r.get("failing_since") or r["started_at"] for r in failing)
                locs = [r.get("location", LOCAL_LOCATION) for r in failing]
                detail = failing[0]["reason"] or ""
                if len(rows) > 1:
                    detail = f"thất bại từ {len(failing)}/{len(rows)} điểm đo: {self._names(locs)}" + (
                        f". {detail}" if detail else "")
                out.append(Condition(key=f"check:{name}", title=f"{what} «{name}» thất bại",
                                     detail=detail, severity="ticket", since=starts[needed - 1]))
                continue
            for r in failing:
                loc = r.get("location", LOCAL_LOCATION)
                out.append(Condition(
                    key=f"location:{loc}:check:{name}",
                    title=f"Điểm đo «{self.agents.title(loc)}»: «{name}» thất bại, các điểm đo khác vẫn truy cập được",
                    detail=r["reason"] or "", severity="ticket", since=r.get("failing_since") or r["started_at"]))
        return out

    def conditions(self, at: dt.datetime | None = None) -> list[Condition]:
        at = at or self.now()
        counted = self.counted(at)  # one reading of who reports, for every rule
        return ([c for slo in self.slos.slos for c in self.burn(slo, at, counted)]
                + self.failing_checks(at, counted=counted) + self.slowdowns(at))


def _central_first(locations: list[str]) -> list[str]:
    return sorted(locations, key=lambda loc: (loc != LOCAL_LOCATION, loc))


def _pooled(windows: dict[str, dict[int, dict[str, Any]]], locations: list[str], minutes: int) -> dict[str, int]:
    rows = [windows[loc].get(minutes) or {} for loc in locations]
    return {k: sum(r.get(k) or 0 for r in rows) for k in ("runs", "failures", "slow")}
