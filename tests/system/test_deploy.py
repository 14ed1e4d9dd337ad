"""deploy/: the Prometheus config and rules are valid and behave (promtool), and the Grafana
dashboard only queries metrics motcua-watch exports or records."""
from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import generate_latest

from metrics.exporter import build_registry
from store.ops import RemoteOps

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PROMQL_WORDS = {"sum", "by", "rate", "min", "max", "bottomk", "topk", "histogram_quantile", "time", "le",
                "and", "or", "delta", "check", "phase", "agency_code", "source_system", "without", "on"}


PROMTOOL_MISSING = "promtool is not on PATH: install Debian's package 'prometheus' (.ci/run does) to test the rules"


def promtool(*args: str, cwd: Path = DEPLOY / "prometheus") -> subprocess.CompletedProcess:
    """Run promtool; a machine without it skips the test, saying why (pytest -ra prints it)."""
    exe = shutil.which("promtool")
    if exe is None:
        pytest.skip(PROMTOOL_MISSING)
    return subprocess.run([exe, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_prometheus_config_and_rules_are_valid():
    r = promtool("check", "config", "prometheus.yml")
    assert r.returncode == 0, r.stdout + r.stderr


def test_alert_rules_fire_as_their_unit_tests_say():
    r = promtool("test", "rules", "rules_test.yml")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


def exported_names() -> set[str]:
    registry = build_registry(RemoteOps("http://127.0.0.1:9", "t", timeout=1.0), dt.datetime.now)
    pm = registry.probe_metrics
    pm.observe_run("c", True, 0.1)
    pm.observe_step("c", "s", True, 0.1, {"ttfb": 0.1}, cert_days=30)
    text = generate_latest(registry).decode()
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    names |= {n + sfx for n in names for sfx in ("_total", "_bucket", "_count", "_sum")}
    # the SLA gauges appear only when the store answers, the backup's when system.py registers its
    # collector: take their names from the collectors' sources
    root = Path(__file__).resolve().parents[2]
    for src in (root / "metrics" / "exporter.py", root / "backup" / "job.py"):
        names |= set(re.findall(r'GaugeMetricFamily\("(motcua_\w+)"', src.read_text(encoding="utf-8")))
    rules = yaml.safe_load((DEPLOY / "prometheus" / "recording.yml").read_text(encoding="utf-8"))
    names |= {r["record"] for g in rules["groups"] for r in g["rules"]}
    return names


def metric_names(expr: str) -> set[str]:
    return {m for m in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", re.sub(r'"[^"]*"|\[[^\]]*\]', "", expr))
            if m.startswith("motcua")}


def test_dashboard_queries_only_what_we_export():
    dash = json.loads((DEPLOY / "grafana" / "motcua-watch.json").read_text(encoding="utf-8"))
    assert dash["uid"] and dash["panels"]
    names = exported_names()
    used = set()
    for p in dash["panels"]:
        assert p["title"] and p["targets"], p
        for t in p["targets"]:
            used |= metric_names(t["expr"])
    assert used and used <= names, used - names


def test_alert_rules_query_only_what_we_export():
    names = exported_names()
    alerts = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text(encoding="utf-8"))
    used = {n for g in alerts["groups"] for r in g["rules"] for n in metric_names(r["expr"])}
    assert used and used <= names, used - names


@pytest.mark.parametrize("bad", ["motcua_no_such_metric", "motcua:probe_error_ratio:rate9m"])
def test_the_name_check_catches_unknown_metrics(bad):
    assert bad not in exported_names()


def test_without_promtool_the_rule_tests_skip_and_say_why(monkeypatch):
    monkeypatch.setenv("PATH", "")
    with pytest.raises(pytest.skip.Exception, match="promtool is not on PATH"):
        promtool("test", "rules", "rules_test.yml")


def _expressions() -> list[tuple[str, str]]:
    """(where, PromQL) of every panel target and every alert rule."""
    dash = json.loads((DEPLOY / "grafana" / "motcua-watch.json").read_text(encoding="utf-8"))
    out = [(p["title"], t["expr"]) for p in dash["panels"] for t in p["targets"]]
    alerts = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text(encoding="utf-8"))
    return out + [(r["alert"], r["expr"]) for g in alerts["groups"] for r in g["rules"]]


SLA_PERIODS = {"motcua_ontime_ratio": "month_to_date", "motcua_progress_score_766": "month_to_date",
               "motcua_pending_overdue_dossiers": "month_to_date", "motcua_unsynced_dossiers": "all_time",
               "motcua_vendor_overdue_gap": "all_time"}


def test_every_query_of_an_sla_figure_names_its_period():
    """The SLA gauges are the current month to date (or every month): a panel or an alert says which,
    so nobody reads them as the month the dashboard shows."""
    dash = json.loads((DEPLOY / "grafana" / "motcua-watch.json").read_text(encoding="utf-8"))
    checked = 0
    for where, expr in _expressions():
        for name, period in SLA_PERIODS.items():
            if name in metric_names(expr):
                assert f'period="{period}"' in expr, (where, expr)
                checked += 1
    assert checked >= len(SLA_PERIODS) + 3
    for p in dash["panels"]:
        used = {n for t in p["targets"] for n in metric_names(t["expr"])}
        if used & {n for n, per in SLA_PERIODS.items() if per == "month_to_date"} - {"motcua_pending_overdue_dossiers"}:
            assert "từ đầu tháng đến nay" in p["title"], p["title"]
        if used & {n for n, per in SLA_PERIODS.items() if per == "all_time"}:
            assert "mọi tháng" in p["title"], p["title"]


def test_no_query_adds_a_journey_to_its_steps():
    """Runs (checks and journeys) and steps are two families: no expression reads both, and none
    reads the journey summary's old step label."""
    runs = {"motcua_probe_runs_total", "motcua_probe_failures_total", "motcua_probe_success"}
    steps = {"motcua_probe_step_runs_total", "motcua_probe_step_failures_total", "motcua_probe_step_success"}
    rules = yaml.safe_load((DEPLOY / "prometheus" / "recording.yml").read_text(encoding="utf-8"))
    exprs = _expressions() + [(r["record"], r["expr"]) for g in rules["groups"] for r in g["rules"]]
    for where, expr in exprs:
        used = metric_names(expr)
        assert not (used & runs and used & steps), (where, expr)
        assert 'step="*"' not in expr.replace(" ", ""), (where, expr)
        if "motcua_probe_duration_seconds" in expr:  # a run's duration is not one response's
            assert "motcua_probe_step_duration_seconds" not in expr, (where, expr)
