"""Prometheus metrics of the probes: each run of a check or journey, and each request it sent.

Two families, so that no sum over one of them mixes a journey with its own steps:

- runs, labels {check, location}: one observation per run of a check or of a journey (a journey's run is
  its summary result: failed when a step failed, its time the sum of its steps').
  `motcua_probe_runs_total`, `motcua_probe_failures_total`, `motcua_probe_success`,
  `motcua_probe_duration_seconds`. A check's or journey's error ratio is failures / runs here.
- steps, labels {check, step, location}: one observation per request sent, a check's own (step "") and each
  journey step tried. `motcua_probe_step_runs_total`, `motcua_probe_step_failures_total`,
  `motcua_probe_step_success`, `motcua_probe_step_duration_seconds`, `motcua_probe_phase_seconds`
  (plus `phase`). The latency objective ("95 % of responses within 2 s") counts responses here.

Counters start at zero: `declare` creates every check's, journey's and step's counters and
histograms from the probes file before any run, and an observation always creates the failure
counter beside the run counter. Without that a check that never failed has no failures series,
hence no error ratio, and the first increment of a series Prometheus had not seen is lost to rate().

`location` is where a result was measured from: "central" for the owner's own probes, else the
remote agent's location (agents/, config/agents.py). `declare` creates the central's series; an
agent's appear with its first results. `sum by (check)` adds the locations up; the outage alert
(deploy/prometheus/alerts.yml) counts the locations failing.
"""
from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from config.agents import LOCAL_LOCATION
from config.probes import ProbesFile
from probes.runner import JOURNEY_STEP

# Latency buckets for a portal seen from a citizen's side: 50 ms to 60 s.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 34.0, 60.0)
PHASES = ("dns", "connect", "tls", "ttfb", "transfer")


class ProbeMetrics:
    """The probe families of a registry, observed as results arrive from the probe runner."""

    def __init__(self, registry: CollectorRegistry) -> None:
        run, step = ["check", "location"], ["check", "step", "location"]
        self.runs = Counter("motcua_probe_runs", "Runs of a check or journey (a journey counts once, "
                            "not once per step)", run, registry=registry)
        self.failures = Counter("motcua_probe_failures", "Runs of a check or journey that failed "
                                "(a journey fails when one of its steps fails)", run, registry=registry)
        self.success = Gauge("motcua_probe_success", "1 if the last run of the check or journey passed, "
                             "0 if it failed", run, registry=registry)
        self.duration = Histogram("motcua_probe_duration_seconds", "Time of a run: a check's response "
                                  "time, a journey's the sum of its steps'", run,
                                  buckets=LATENCY_BUCKETS, registry=registry)
        self.step_runs = Counter("motcua_probe_step_runs", "Requests sent: a check's own (step \"\") "
                                 "and each journey step tried", step, registry=registry)
        self.step_failures = Counter("motcua_probe_step_failures", "Requests that failed an assertion "
                                     "or the request itself", step, registry=registry)
        self.step_success = Gauge("motcua_probe_step_success", "1 if the step's last request passed, "
                                  "0 if it failed", step, registry=registry)
        self.step_duration = Histogram("motcua_probe_step_duration_seconds", "Response time of a "
                                       "request (a check's, or one journey step's)", step,
                                       buckets=LATENCY_BUCKETS, registry=registry)
        self.phase = Histogram("motcua_probe_phase_seconds", "Response time of a request per phase "
                               "(dns, connect, tls, ttfb, transfer)", [*step, "phase"],
                               buckets=LATENCY_BUCKETS, registry=registry)
        self.cert_days = Gauge("motcua_probe_tls_cert_days_left", "Days before the TLS certificate expires",
                               ["check", "location"], registry=registry)

    # -- zero before the first observation ----------------------------------------------------------
    def _init_run(self, check: str, location: str) -> None:
        self.runs.labels(check, location)
        self.failures.labels(check, location)
        self.duration.labels(check, location)

    def _init_step(self, check: str, step: str, location: str) -> None:
        self.step_runs.labels(check, step, location)
        self.step_failures.labels(check, step, location)
        self.step_duration.labels(check, step, location)

    def declare(self, probes: ProbesFile) -> None:
        """Every check, journey and journey step of the probes file at zero, before its first run.
        The success gauges stay absent until a run says something."""
        for p in probes.probes():
            self._init_run(p.name, LOCAL_LOCATION)
            for step in p.step_names():
                self._init_step(p.name, step, LOCAL_LOCATION)

    # -- observations -------------------------------------------------------------------------------
    def observe_run(self, check: str, ok: bool, seconds: float | None, location: str = LOCAL_LOCATION) -> None:
        """One run of a check or a journey."""
        self._init_run(check, location)
        self.runs.labels(check, location).inc()
        if not ok:
            self.failures.labels(check, location).inc()
        self.success.labels(check, location).set(1 if ok else 0)
        if seconds is not None:
            self.duration.labels(check, location).observe(seconds)

    def observe_step(self, check: str, step: str, ok: bool, seconds: float | None,
                     phases: dict[str, float] | None = None, cert_days: float | None = None,
                     location: str = LOCAL_LOCATION) -> None:
        """One request: a check's own (step "") or a journey step's."""
        step = step or ""
        self._init_step(check, step, location)
        self.step_runs.labels(check, step, location).inc()
        if not ok:
            self.step_failures.labels(check, step, location).inc()
        self.step_success.labels(check, step, location).set(1 if ok else 0)
        if seconds is not None:
            self.step_duration.labels(check, step, location).observe(seconds)
        for name, value in (phases or {}).items():
            if name in PHASES and value is not None:
                self.phase.labels(check, step, location, name).observe(value)
        if cert_days is not None:
            self.cert_days.labels(check, location).set(cert_days)

    def observe_results(self, results: list[Any], location: str = LOCAL_LOCATION) -> None:
        """Observe probes.runner.ProbeResult objects (times in ms): a check's result is a run
        and a request, a journey's summary a run only, a journey step's a request only."""
        for r in results:
            seconds = r.total_ms / 1000 if r.total_ms is not None else None
            if r.kind == "journey" and r.step == JOURNEY_STEP:
                self.observe_run(r.name, r.ok, seconds, location)
                continue
            if r.kind == "check":
                self.observe_run(r.name, r.ok, seconds, location)
            phases = {p: getattr(r, f"{p}_ms") / 1000 for p in PHASES if getattr(r, f"{p}_ms", None) is not None}
            self.observe_step(r.name, r.step, r.ok, seconds, phases, r.cert_days_left, location)
