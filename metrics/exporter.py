"""Prometheus metrics of the store's SLA figures (the on-time ratios, scores, pending and unsynced
counts), and the registry that also holds the probe metrics (probes/metrics.py).

What the figures cover is a label, `period`, because it is not what the dashboard shows by default:
the ratios, scores and pending-overdue counts are those of the current calendar month (local time)
from its first day to the last recompute (`period="month_to_date"`), whereas the dashboard shows
a chosen month (by default the current one, but the last complete one in a month's first week) and
the briefing a whole month. The 766 scorecard's estimate (each measured group's points, their
total and the maximum the measured groups allow: index766 with the rules of reports.index766)
and the month-end forecast of the on-time ratio (month_forecast: now, best, worst) cover that
same month to date. The unsynced dossiers and the vendor's overdue gap count every month in the
store (`period="all_time"`).

Kept apart as prometheus/client_python keeps them: `SlaCollector` is the data model (it reads
named queries through the store's operations, locally or from the running owner), `build_registry`
gives it a registry of its own (never the global one), and `serve_metrics` is the exposition on
loopback. Figures change only when the SLA engine recomputes, so a scrape reuses the last answer
until a new recompute run appears; a store that cannot answer gives `motcua_store_up 0`, never a
failed scrape.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from config.clock import aware
from config.errors import ConfigError
from config.index766 import GROUPS
from config.probes import ProbesFile, load_probes
from config.vocabulary import DUE_SOON_DAYS
from probes.metrics import ProbeMetrics

log = logging.getLogger("motcua.metrics")
MAX_AGENCIES = 500  # label cardinality bound: one series per agency
MONTH_TO_DATE = "month_to_date"
ALL_TIME = "all_time"


class SlaCollector(Collector):
    """Gauges of the current month's figures to date (the 766 estimate and the month-end forecast
    among them), per agency and for the province (agency_code="province"), and of the vendor audit
    and sync check over every month."""

    def __init__(self, ops: Any, now: Callable[[], dt.datetime]) -> None:
        self.ops = ops
        self.now = now
        self._lock = threading.Lock()
        self._cache_key: tuple | None = None
        self._cache: list[Metric] = []
        # due soon moves with the clock, not only with a recompute: counted again each minute
        self._due_key: tuple | None = None
        self._due: list[Metric] = []

    def _run_key(self) -> tuple:
        runs = self.ops.query("sla_runs", limit=1).one()
        month = self.now().strftime("%Y-%m")
        return (runs or {}).get("run_id"), month

    def _build(self, month: str) -> list[Metric]:
        q = self.ops.query
        out: list[Metric] = []
        prov = q("province_month", month=month).one() or {}
        mtd = "the current calendar month from its first day to the last recompute (period=month_to_date)"
        agency = ["agency_code", "agency_name", "period"]
        ratio = GaugeMetricFamily("motcua_ontime_ratio",
                                  f"On-time ratio (early + on time) / resolved, recomputed, over {mtd}",
                                  labels=agency)
        score = GaugeMetricFamily("motcua_progress_score_766",
                                  "Progress score of Decision 766 (an estimate): 20 x on time / received "
                                  f"(reports.score_766.denominator), over {mtd}; absent while nothing is resolved",
                                  labels=agency)
        overdue = GaugeMetricFamily("motcua_pending_overdue_dossiers",
                                    "Dossiers pending past their legal deadline at the last recompute, "
                                    f"in the figures of {mtd}",
                                    labels=agency)
        if prov.get("on_time_ratio") is not None:
            ratio.add_metric(["province", "province", MONTH_TO_DATE], prov["on_time_ratio"])
        if prov.get("score_766") is not None:
            score.add_metric(["province", "province", MONTH_TO_DATE], prov["score_766"])
        if prov:
            overdue.add_metric(["province", "province", MONTH_TO_DATE], prov.get("pending_overdue") or 0)
        for r in q("agency_ratio_month", month=month, limit=MAX_AGENCIES, rollup=False, min_resolved=0):
            labels = [r["agency_code"], r["agency_name"] or r["agency_code"], MONTH_TO_DATE]
            if r["on_time_ratio"] is not None:
                ratio.add_metric(labels, r["on_time_ratio"])
            if r["score_766"] is not None:
                score.add_metric(labels, r["score_766"])
            overdue.add_metric(labels, r["pending_overdue"] or 0)
        unsynced = GaugeMetricFamily("motcua_unsynced_dossiers",
                                     "Resolved dossiers whose result did not reach the National Public "
                                     "Service Portal (never synced, synced early or with another status), "
                                     "every month in the store (period=all_time)",
                                     labels=["source_system", "period"])
        for r in q("sync_by_agency"):
            if r["row_kind"] == "source_system":
                unsynced.add_metric([r["source_system"] or "", ALL_TIME], r["unsynced"] or 0)
            elif r["row_kind"] == "total":
                unsynced.add_metric(["all", ALL_TIME], r["unsynced"] or 0)
        gap = GaugeMetricFamily("motcua_vendor_overdue_gap",
                                "Dossiers the vendor reports overdue minus those recomputed overdue, "
                                "every month in the store (period=all_time)",
                                labels=["agency_code", "period"])
        for r in q("audit_by_agency"):
            code = "province" if r["row_kind"] == "total" else r["agency_code"]
            gap.add_metric([code, ALL_TIME], r["overdue_difference"] or 0)
        out += [ratio, score, overdue, unsynced, gap]
        out += self._build_index766(month) + self._build_forecast(month)
        runs = q("sla_runs", limit=1).one()
        if runs and runs.get("finished_at"):
            last = GaugeMetricFamily("motcua_sla_last_recompute_timestamp_seconds",
                                     "When the SLA figures were last recomputed (Unix time)")
            last.add_metric([], aware(runs["finished_at"]).timestamp())
            out.append(last)
        return out

    def _index766_rules(self) -> dict | None:
        """The 766 rules as `app.py index766` reads them: the file of the ops' config
        (reports.index766), else the shipped one (None: the query reads it)."""
        path = getattr(getattr(getattr(self.ops, "cfg", None), "reports", None), "index766", None)
        if path is None:
            return None
        from config.index766 import load_index766

        return load_index766(path).model_dump(mode="json")

    def _build_index766(self, month: str) -> list[Metric]:
        try:
            rules = self._index766_rules()
        except ConfigError as e:  # the other figures still come out; `app.py check` names the problem
            log.warning("metrics: the 766 rules file cannot be read: %s", e)
            return []
        labels = ["agency_code", "agency_name", "group", "period"]
        est = ("an estimate: the weights are not confirmed (reports.index766), over the current calendar month "
               "from its first day to the last recompute (period=month_to_date)")
        points = GaugeMetricFamily("motcua_index766_points",
                                   f"Points of a group of the Decision 766 scorecard, {est}; a group not measured "
                                   "(publicity always, or an input the data lacks) has no series", labels=labels)
        total = GaugeMetricFamily("motcua_index766_total_points",
                                  f"Points of the measured groups of the Decision 766 scorecard added up, {est}; "
                                  "out of motcua_index766_measured_max_points, not 100",
                                  labels=["agency_code", "agency_name", "period"])
        top = GaugeMetricFamily("motcua_index766_measured_max_points",
                                "The most the measured groups of the Decision 766 scorecard allow (what "
                                f"motcua_index766_total_points is out of), {est}",
                                labels=["agency_code", "agency_name", "period"])
        rows = self.ops.query("index766", month=month, rules=rules).to_dicts()
        agencies = [r for r in rows if r["row_kind"] == "agency" and r["groups_measured"]][:MAX_AGENCIES]
        for r in [r for r in rows if r["row_kind"] == "total"] + agencies:
            who = (["province", "province"] if r["row_kind"] == "total"
                   else [r["agency_code"], r["agency_name"] or r["agency_code"]])
            for g in GROUPS:
                if r[f"{g}_points"] is not None:
                    points.add_metric([*who, g, MONTH_TO_DATE], r[f"{g}_points"])
            if r["total_points"] is not None:
                total.add_metric([*who, MONTH_TO_DATE], r["total_points"])
                top.add_metric([*who, MONTH_TO_DATE], r["total_max"])
        return [points, total, top]

    def _build_forecast(self, month: str) -> list[Metric]:
        what = ("Month-end on-time ratio of the current calendar month, an estimate from the last recompute "
                "(period=month_to_date): reading=now as it stands, best if every dossier pending in time is "
                "resolved by its deadline, worst if every dossier due before the month's end is resolved late; "
                "dossiers received later are not counted; absent while nothing is resolved")
        ratio = GaugeMetricFamily("motcua_forecast_ontime_ratio", what,
                                  labels=["agency_code", "agency_name", "reading", "period"])
        readings = (("now", "on_time_ratio"), ("best", "best_on_time_ratio"), ("worst", "worst_on_time_ratio"))
        rows = self.ops.query("month_forecast", month=month).to_dicts()
        agencies = [r for r in rows if r["row_kind"] == "agency"
                    and any(r[c] is not None for _, c in readings)][:MAX_AGENCIES]
        for r in [r for r in rows if r["row_kind"] == "total"] + agencies:
            who = ["province", "province"] if r["row_kind"] == "total" else [r["key"], r["name"] or r["key"]]
            for reading, col in readings:
                if r[col] is not None:
                    ratio.add_metric([*who, reading, MONTH_TO_DATE], r[col])
        return [ratio]

    def _build_due_soon(self, now: dt.datetime) -> list[Metric]:
        due = GaugeMetricFamily("motcua_due_soon_dossiers",
                                f"Dossiers pending and in time whose deadline is at most {DUE_SOON_DAYS} working "
                                "days away (office time on working days), per agency and for the province",
                                labels=["agency_code", "agency_name", "days"])
        days = str(DUE_SOON_DAYS)
        rows = self.ops.query("due_soon_by_agency", days=DUE_SOON_DAYS, as_of=now.isoformat(sep=" ")).to_dicts()
        for r in rows[:MAX_AGENCIES + 1]:  # the total first, then the agencies with most
            if r["row_kind"] == "total":
                due.add_metric(["province", "province", days], r["due_soon"])
            else:
                due.add_metric([r["agency_code"], r["agency_name"] or r["agency_code"], days], r["due_soon"])
        return [due]

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("motcua_store_up", "1 when the store answered this scrape")
        with self._lock:
            try:
                key = self._run_key()
                if key != self._cache_key:
                    self._cache = self._build(key[1])
                    self._cache_key = key
                now = self.now().replace(second=0, microsecond=0)
                if (key[0], now) != self._due_key:
                    self._due = self._build_due_soon(now) if key[0] is not None else []
                    self._due_key = (key[0], now)
                up.add_metric([], 1)
            except Exception as e:  # a scrape never fails on the store: it says so instead
                log.warning("metrics: store did not answer: %s", e)
                up.add_metric([], 0)
                self._cache_key, self._cache, self._due_key, self._due = None, [], None, []
            metrics = list(self._cache) + list(self._due)
        yield up
        yield from metrics


def build_registry(ops: Any, now: Callable[[], dt.datetime],
                   probes: ProbesFile | Path | str | None = None) -> CollectorRegistry:
    """A registry of our own (never the global one) with the SLA collector and the probe metrics,
    reachable as `registry.probe_metrics`. With `probes` (the probes file or its path) every
    check, journey and step has its counters at zero from the start."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SlaCollector(ops, now))
    pm = ProbeMetrics(registry)
    if probes is not None:
        pm.declare(probes if isinstance(probes, ProbesFile) else load_probes(probes))
    registry.probe_metrics = pm  # type: ignore[attr-defined]
    return registry


def serve_metrics(registry: CollectorRegistry, host: str, port: int):
    """Expose /metrics on loopback. Returns (server, thread); server.shutdown() stops it."""
    return start_http_server(port, addr=host, registry=registry)
