"""Prometheus metrics of the store's SLA figures (the on-time ratios, scores, pending and unsynced counts).

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
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger("motcua.metrics")
MAX_AGENCIES = 500  # label cardinality bound: one series per agency


class SlaCollector(Collector):
    """Gauges of the current month's figures, per agency and for the province (agency_code="province")."""

    def __init__(self, ops: Any, now: Callable[[], dt.datetime]) -> None:
        self.ops = ops
        self.now = now
        self._lock = threading.Lock()
        self._cache_key: tuple | None = None
        self._cache: list[Metric] = []

    def _run_key(self) -> tuple:
        runs = self.ops.query("sla_runs", limit=1).one()
        month = self.now().strftime("%Y-%m")
        return (runs or {}).get("run_id"), month

    def _build(self, month: str) -> list[Metric]:
        q = self.ops.query
        out: list[Metric] = []
        prov = q("province_month", month=month).one() or {}
        ratio = GaugeMetricFamily("motcua_ontime_ratio",
                                  "On-time ratio (early + on time) / resolved, this month, recomputed",
                                  labels=["agency_code", "agency_name"])
        score = GaugeMetricFamily("motcua_progress_score_766",
                                  "Progress score of Decision 766 (an estimate): 20 x on time / received "
                                  "(reports.score_766.denominator), this month; absent while nothing is resolved",
                                  labels=["agency_code", "agency_name"])
        overdue = GaugeMetricFamily("motcua_pending_overdue_dossiers",
                                    "Dossiers pending past their legal deadline at the recompute",
                                    labels=["agency_code", "agency_name"])
        if prov.get("on_time_ratio") is not None:
            ratio.add_metric(["province", "province"], prov["on_time_ratio"])
        if prov.get("score_766") is not None:
            score.add_metric(["province", "province"], prov["score_766"])
        if prov:
            overdue.add_metric(["province", "province"], prov.get("pending_overdue") or 0)
        for r in q("agency_ratio_month", month=month, limit=MAX_AGENCIES, rollup=False, min_resolved=0):
            labels = [r["agency_code"], r["agency_name"] or r["agency_code"]]
            if r["on_time_ratio"] is not None:
                ratio.add_metric(labels, r["on_time_ratio"])
            if r["score_766"] is not None:
                score.add_metric(labels, r["score_766"])
            overdue.add_metric(labels, r["pending_overdue"] or 0)
        unsynced = GaugeMetricFamily("motcua_unsynced_dossiers",
                                     "Resolved dossiers whose result did not reach the National Public "
                                     "Service Portal (never synced, synced early or with another status)",
                                     labels=["source_system"])
        for r in q("sync_by_agency"):
            if r["row_kind"] == "source_system":
                unsynced.add_metric([r["source_system"] or ""], r["unsynced"] or 0)
            elif r["row_kind"] == "total":
                unsynced.add_metric(["all"], r["unsynced"] or 0)
        gap = GaugeMetricFamily("motcua_vendor_overdue_gap",
                                "Dossiers the vendor reports overdue minus those recomputed overdue",
                                labels=["agency_code"])
        for r in q("audit_by_agency"):
            code = "province" if r["row_kind"] == "total" else r["agency_code"]
            gap.add_metric([code], r["overdue_difference"] or 0)
        out += [ratio, score, overdue, unsynced, gap]
        runs = q("sla_runs", limit=1).one()
        if runs and runs.get("finished_at"):
            last = GaugeMetricFamily("motcua_sla_last_recompute_timestamp_seconds",
                                     "When the SLA figures were last recomputed (Unix time)")
            last.add_metric([], runs["finished_at"].replace(tzinfo=_local_tz()).timestamp())
            out.append(last)
        return out

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("motcua_store_up", "1 when the store answered this scrape")
        with self._lock:
            try:
                key = self._run_key()
                if key != self._cache_key:
                    self._cache = self._build(key[1])
                    self._cache_key = key
                up.add_metric([], 1)
            except Exception as e:  # a scrape never fails on the store: it says so instead
                log.warning("metrics: store did not answer: %s", e)
                up.add_metric([], 0)
                self._cache_key, self._cache = None, []
            metrics = list(self._cache)
        yield up
        yield from metrics


def _local_tz() -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Ho_Chi_Minh")


# Latency buckets for a portal seen from a citizen's side: 50 ms to 60 s.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 34.0, 60.0)
PHASES = ("dns", "connect", "tls", "ttfb", "transfer")


class ProbeMetrics:
    """Probe and journey-step measurements, observed as results arrive from the probe runner."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["check", "step"]
        self.duration = Histogram("motcua_probe_duration_seconds", "Probe response time, whole request",
                                  labels, buckets=LATENCY_BUCKETS, registry=registry)
        self.phase = Histogram("motcua_probe_phase_seconds", "Probe response time per phase "
                               "(dns, connect, tls, ttfb, transfer)", [*labels, "phase"],
                               buckets=LATENCY_BUCKETS, registry=registry)
        self.runs = Counter("motcua_probe_runs", "Probe runs", labels, registry=registry)
        self.failures = Counter("motcua_probe_failures", "Probe runs that failed an assertion or the request",
                                labels, registry=registry)
        self.success = Gauge("motcua_probe_success", "1 if the last run passed, 0 if it failed",
                             labels, registry=registry)
        self.cert_days = Gauge("motcua_probe_tls_cert_days_left", "Days before the TLS certificate expires",
                               ["check"], registry=registry)

    def observe(self, check: str, step: str, ok: bool, seconds: float | None,
                phases: dict[str, float] | None = None, cert_days: float | None = None) -> None:
        step = step or ""
        self.runs.labels(check, step).inc()
        if not ok:
            self.failures.labels(check, step).inc()
        self.success.labels(check, step).set(1 if ok else 0)
        if seconds is not None:
            self.duration.labels(check, step).observe(seconds)
        for name, value in (phases or {}).items():
            if name in PHASES and value is not None:
                self.phase.labels(check, step, name).observe(value)
        if cert_days is not None:
            self.cert_days.labels(check).set(cert_days)

    def observe_results(self, results: list[Any]) -> None:
        """Observe collectors.probes.ProbeResult objects (times in ms)."""
        for r in results:
            phases = {p: getattr(r, f"{p}_ms") / 1000 for p in PHASES if getattr(r, f"{p}_ms", None) is not None}
            self.observe(r.name, r.step, r.ok, r.total_ms / 1000 if r.total_ms is not None else None,
                         phases, r.cert_days_left)


def build_registry(ops: Any, now: Callable[[], dt.datetime]) -> CollectorRegistry:
    """A registry of our own (never the global one) with the SLA collector and the probe metrics,
    reachable as `registry.probe_metrics`."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SlaCollector(ops, now))
    registry.probe_metrics = ProbeMetrics(registry)  # type: ignore[attr-defined]
    return registry


def serve_metrics(registry: CollectorRegistry, host: str, port: int):
    """Expose /metrics on loopback. Returns (server, thread); server.shutdown() stops it."""
    return start_http_server(port, addr=host, registry=registry)
