"""SLO burn-rate evaluation and the slowdown detector: from probe results to alert conditions.

Multi-window, multi-burn-rate (Google SRE workbook): for each SLO and each rule (long window,
short window, factor), the SLO alerts when the error ratio over BOTH windows exceeds factor x
error budget (1 - objective). The same is done for latency (share of responses slower than the
SLO's threshold against 1 - latency objective). The slowdown detector compares the last complete
hour's p95 of each check with the median p95 at the same hour of the week in past weeks.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from alerting.alerts import Condition
from config.slo import Slo, SloFile


def _ratio(row: dict[str, Any], key: str) -> float | None:
    runs = row.get("runs") or 0
    return (row.get(key) or 0) / runs if runs else None


def _secs_vi(ms: float) -> str:
    """Seconds the Vietnamese way: 0,5 giây, 2 giây."""
    return f"{ms / 1000:g}".replace(".", ",") + " giây"


def _win(minutes: int) -> str:
    return f"{minutes // 60} giờ" if minutes % 60 == 0 else f"{minutes} phút"


class SloEvaluator:
    def __init__(self, slos: SloFile, ops: Any, now: Callable[[], dt.datetime]) -> None:
        self.slos = slos
        self.ops = ops
        self.now = now

    def _window(self, slo: Slo, minutes: int, at: dt.datetime) -> dict[str, Any]:
        return self.ops.query("probe_window", probe=slo.probe, step=slo.step,
                              since=at - dt.timedelta(minutes=minutes), until=at,
                              slow_ms=slo.latency_ms).one() or {}

    def burn(self, slo: Slo, at: dt.datetime | None = None) -> list[Condition]:
        """Conditions for one SLO at `at` (default now): at most one for errors, one for latency."""
        at = at or self.now()
        out: list[Condition] = []
        kinds = [("failures", 1 - slo.availability, "lỗi", f"SLO khả dụng {slo.availability:.1%}")]
        if slo.latency_ms:
            kinds.append(("slow", 1 - slo.latency_objective, f"chậm hơn {_secs_vi(slo.latency_ms)}",
                          f"SLO {slo.latency_objective:.0%} phản hồi dưới {_secs_vi(slo.latency_ms)}"))
        for key, budget, what, objective in kinds:
            for rule in self.slos.burn_rules:
                long_r = _ratio(self._window(slo, rule.long_minutes, at), key)
                short_r = _ratio(self._window(slo, rule.short_minutes, at), key)
                if long_r is None or short_r is None:
                    continue
                threshold = rule.factor * budget
                if long_r > threshold and short_r > threshold:
                    out.append(Condition(
                        key=f"slo:{slo.name}:{key}",
                        title=f"{slo.title}: tỷ lệ {what} vượt mức cho phép",
                        detail=(f"{long_r:.1%} trong {_win(rule.long_minutes)} qua, {short_r:.1%} trong "
                                f"{_win(rule.short_minutes)} qua; ngân sách lỗi đang cạn nhanh gấp "
                                f"{long_r / budget:.1f} lần ({objective})").replace(".", ","),
                        severity=rule.severity))
                    break  # the first (most urgent) rule that fires speaks for this kind
        return out

    def status(self, slo: Slo, at: dt.datetime | None = None) -> dict[str, Any]:
        """Where an SLO stands over its window (`window_days`, 28 by default): the share of runs
        that passed, the share of passing runs under the latency threshold, and how much of each
        error budget is left (1: untouched, 0: spent, below 0: overspent). None where there is no
        run. `since` is the first run inside the window: when the raw retention
        (`raw_retention_days`) is shorter than the window, the figures cover only from then."""
        at = at or self.now()
        since = at - dt.timedelta(days=slo.window_days)
        w = self.ops.query("probe_window", probe=slo.probe, step=slo.step, since=since, until=at,
                           slow_ms=slo.latency_ms).one() or {}
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
        """Checks whose last complete hour is slower than their own baseline for that hour of week."""
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
                    detail=(f"p95 {r['p95_ms']:.0f} ms lúc {hour:%H} giờ, gấp {r['p95_ms'] / r['baseline_ms']:.1f} "
                            f"lần mức thường ({r['baseline_ms']:.0f} ms, {r['weeks_seen']} tuần)").replace(".", ","),
                    severity="ticket"))
        return out

    def failing_checks(self, at: dt.datetime | None = None, fresh_minutes: int = 60) -> list[Condition]:
        """Checks and journeys whose latest run (within `fresh_minutes`) failed, with its reason:
        a feature that disappeared, a refused 1.0 account, unsynced results show here by name."""
        at = at or self.now()
        since = at - dt.timedelta(minutes=fresh_minutes)
        out = []
        for r in self.ops.query("probe_latest"):
            if r["step"] not in ("", "*") or r["ok"] or r["started_at"] < since:
                continue
            what = "Hành trình" if r["kind"] == "journey" else "Kiểm tra"
            out.append(Condition(key=f"check:{r['name']}", title=f"{what} «{r['name']}» thất bại",
                                 detail=r["reason"] or "", severity="ticket",
                                 since=r.get("failing_since") or r["started_at"]))
        return out

    def conditions(self, at: dt.datetime | None = None) -> list[Condition]:
        at = at or self.now()
        return ([c for slo in self.slos.slos for c in self.burn(slo, at)] + self.failing_checks(at)
                + self.slowdowns(at))
