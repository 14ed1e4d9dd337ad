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

from collectors.metrics import build_registry
from store.service import RemoteOps

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
PROMQL_WORDS = {"sum", "by", "rate", "min", "max", "bottomk", "topk", "histogram_quantile", "time", "le",
                "and", "or", "delta", "check", "phase", "agency_code", "source_system", "without", "on"}


def promtool(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("promtool")
    assert exe, "promtool is needed: install Debian's package 'prometheus' (.ci/run does)"
    return subprocess.run([exe, *args], capture_output=True, text=True, cwd=DEPLOY / "prometheus", timeout=120)


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
    pm.observe("c", "s", True, 0.1, {"ttfb": 0.1}, cert_days=30)
    text = generate_latest(registry).decode()
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    names |= {n + sfx for n in names for sfx in ("_total", "_bucket", "_count", "_sum")}
    # the SLA gauges appear only when the store answers: take their names from the collector's source
    src = (Path(__file__).resolve().parents[1] / "collectors" / "metrics.py").read_text(encoding="utf-8")
    names |= set(re.findall(r'GaugeMetricFamily\("(motcua_\w+)"', src))
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
