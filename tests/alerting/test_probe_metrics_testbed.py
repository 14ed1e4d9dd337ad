"""The probe metrics count what the probes found: the shipped probes run against the testbed portal
on loopback, their results go to the exporter (as the scheduler hands them) and to a real store; the
exporter is scraped over HTTP, and the error ratios computed from the scraped counters the way
deploy/prometheus/recording.yml computes them equal the ratios of the results stored. promtool, when
present, evaluates the recording rules themselves over the scraped counters."""
from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from config import default_path
from config.portal import load_profile
from config.probes import load_probes
from metrics.exporter import build_registry, serve_metrics
from probes.runner import JOURNEY_STEP, format_results, run_once
from steps.secrets import load_secrets
from store.db import Store
from testbed.portal.server import running

RECORDING = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "recording.yml"
CFG = load_probes()
TOKEN = "test-admin-token"
RULE_TERM = re.compile(r"sum by \(check\) \(rate\((motcua_\w+)\[5m\]\)\)")


def error_ratio_rule() -> tuple[str, str]:
    """The metrics the 5-minute error ratio divides, read from the recording rule itself."""
    groups = yaml.safe_load(RECORDING.read_text(encoding="utf-8"))["groups"]
    expr = next(r["expr"] for g in groups for r in g["rules"] if r["record"] == "motcua:probe_error_ratio:rate5m")
    numerator, denominator = RULE_TERM.findall(expr)
    return numerator, denominator


def scrape(url: str) -> dict[str, dict[tuple, float]]:
    text = httpx.get(url, timeout=10).text
    out: dict[str, dict[tuple, float]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def sum_by(samples: dict[tuple, float], *labels: str) -> dict[tuple, float]:
    out: dict[tuple, float] = defaultdict(float)
    for key, v in samples.items():
        d = dict(key)
        out[tuple(d[x] for x in labels)] += v
    return dict(out)


def rule_ratios(m: dict[str, dict[tuple, float]]) -> dict[str, float]:
    """sum by (check) (failures) / sum by (check) (runs), with the rule's metrics. The counters start
    at zero at registration, so their totals are their increase since then."""
    num, den = error_ratio_rule()
    fails, runs = sum_by(m[num], "check"), sum_by(m[den], "check")
    return {c: fails[(c,)] / n for (c,), n in runs.items() if n and (c,) in fails}


def stored(store: Store) -> tuple[dict[str, list[bool]], dict[tuple[str, str], list[bool]]]:
    """(outcomes per check or journey run, outcomes per request) of the results in the store, oldest
    first."""
    runs: dict[str, list[bool]] = defaultdict(list)
    steps: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for r in reversed(list(store.query("probe_results", limit=100_000))):  # the query gives newest first
        if r["kind"] == "check" or r["step"] == JOURNEY_STEP:
            runs[r["name"]].append(r["ok"])
        if r["step"] != JOURNEY_STEP:
            steps[(r["name"], r["step"])].append(r["ok"])
    return runs, steps


def ratio(outcomes: list[bool]) -> float:
    return sum(1 for ok in outcomes if not ok) / len(outcomes)


@pytest.fixture(scope="module")
def probed(tmp_path_factory):
    """Two runs of the shipped probes against release 2.0, then one after the vendor's fix (1.0),
    with a scrape and a copy of the stored outcomes after each phase."""
    tmp = tmp_path_factory.mktemp("probe-metrics")
    secrets = load_secrets(default_path("probes.testbed-secrets.yaml"), env={})
    phases = []
    with Store(tmp / "s.duckdb") as store, running(load_profile("v2.0").scaled(0.25), admin_token=TOKEN) as base:
        registry = build_registry(store, dt.datetime.now, probes=CFG)
        server, _ = serve_metrics(registry, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        try:
            before = scrape(url)
            for release, n in (("v2.0", 2), ("v1.0", 1)):
                if release == "v1.0":
                    r = httpx.post(f"{base}/__testbed/profile", json={"release": "v1.0"},
                                   headers={"X-Testbed-Token": TOKEN}, timeout=10)
                    assert r.status_code == 200, r.text
                for _ in range(n):
                    results = run_once(CFG, store=store, base_url=base, secrets=secrets)
                    registry.probe_metrics.observe_results(results)  # as ProbeScheduler's on_results does
                phases.append((release, scrape(url), stored(store), format_results(results)))
        finally:
            server.shutdown()
            server.server_close()
    return before, phases


def test_counters_are_there_at_zero_before_the_first_run(probed):
    before, _ = probed
    num, den = error_ratio_rule()
    names = {c.name for c in CFG.checks} | {j.name for j in CFG.journeys}
    assert set(sum_by(before[den], "check")) == set(sum_by(before[num], "check")) == {(n,) for n in names}
    assert set(before[den].values()) == set(before[num].values()) == {0}


def test_scraped_error_ratios_equal_the_stored_results(probed):
    _, phases = probed
    for release, m, (runs, steps), text in phases:
        ratios = rule_ratios(m)
        assert set(ratios) == set(runs), (release, text)
        for name, outcomes in runs.items():
            assert ratios[name] == pytest.approx(ratio(outcomes)), (release, name, text)
        # each request apart, and a run's success gauge its last outcome
        step_fails = sum_by(m["motcua_probe_step_failures_total"], "check", "step")
        step_runs = sum_by(m["motcua_probe_step_runs_total"], "check", "step")
        for key, outcomes in steps.items():
            assert (step_runs[key], step_fails[key]) == (len(outcomes), outcomes.count(False)), (release, key)
        last = {dict(k)["check"]: v for k, v in m["motcua_probe_success"].items()}
        assert last == {n: float(o[-1]) for n, o in runs.items()}


def test_what_the_tester_saw_now_counts_right(probed):
    """The 1.0 account refused at its login step every run: ratio 1, not 2/3 (its first step passes);
    the home page never fails: ratio 0, not absent; after the fix the journey is at 2/3."""
    _, phases = probed
    (_, v2, (runs, _), _), (_, fixed, _, text) = phases
    assert runs["citizen-v1-login"] == [False, False]
    steps = {dict(k)["step"] for k in v2["motcua_probe_step_runs_total"] if dict(k)["check"] == "citizen-v1-login"}
    assert steps == {"login-page", "login", "session-cookie"}  # declared from the probes file
    assert rule_ratios(v2)["citizen-v1-login"] == 1
    assert rule_ratios(v2)["home"] == 0
    assert rule_ratios(fixed)["citizen-v1-login"] == pytest.approx(2 / 3)
    assert rule_ratios(fixed)["home"] == 0, text


def _series(name: str, labels: tuple, values: str) -> dict:
    inner = ",".join(f'{k}="{v}"' for k, v in labels)
    return {"series": f"{name}{{{inner}}}", "values": values}


def test_the_recording_rules_over_the_scraped_counters(probed, tmp_path):
    """promtool evaluates recording.yml over the counters as Prometheus would have scraped them:
    zero each minute until 5m, then the values after the runs."""
    exe = shutil.which("promtool")
    if exe is None:
        pytest.skip("promtool is not on PATH: install Debian's package 'prometheus' to evaluate the rules")
    before, phases = probed
    _, m, (runs, _), _ = phases[-1]
    num, den = error_ratio_rule()
    series = [_series(name, key, f"{before[name][key]:g}x5 {v:g}x5")
              for name in (num, den) for key, v in m[name].items()]
    # rounded to a millionth: rate() extrapolates numerator and denominator alike, not bit for bit
    expected = [{"labels": f'{{check="{n}"}}', "value": round(ratio(o) * 1e6)} for n, o in runs.items()]
    spec = {"rule_files": [str(RECORDING)], "evaluation_interval": "1m",
            "tests": [{"interval": "1m", "input_series": series,
                       "promql_expr_test": [{"expr": "round(motcua:probe_error_ratio:rate5m * 1e6)",
                                             "eval_time": "9m", "exp_samples": expected}]}]}
    f = tmp_path / "scraped_test.yml"
    f.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    r = subprocess.run([exe, "test", "rules", str(f)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "SUCCESS" in r.stdout, r.stdout + r.stderr
