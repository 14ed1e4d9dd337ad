"""Prometheus metrics of the SLA figures: values equal the store's named queries."""
from __future__ import annotations

import datetime as dt

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from app import Motcua
from collectors.metrics import build_registry, serve_metrics
from store.service import RemoteOps

NOW = dt.datetime(2026, 10, 20, 9, 0)


def scrape(registry) -> dict[str, dict[tuple, float]]:
    out: dict[str, dict[tuple, float]] = {}
    for fam in text_string_to_metric_families(generate_latest(registry).decode()):
        for s in fam.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory):
    from config.app import load_config

    tmp = tmp_path_factory.mktemp("metrics")
    cfg = load_config(environ={"MOTCUA_STORE__PATH": str(tmp / "m.duckdb")})
    app = Motcua(cfg)
    app.demo_data(out_dir=tmp / "demo", months=2, per_month=1500, end=dt.date(2026, 11, 1))
    yield app
    app.close()


def test_values_equal_the_store_figures(demo_app):
    m = scrape(build_registry(demo_app, lambda: NOW))
    assert m["motcua_store_up"][()] == 1
    prov = demo_app.query("province_month", month="2026-10").one()
    assert m["motcua_ontime_ratio"][(("agency_code", "province"), ("agency_name", "province"))] == pytest.approx(
        prov["on_time_ratio"])
    assert m["motcua_progress_score_766"][(("agency_code", "province"), ("agency_name", "province"))] == pytest.approx(
        prov["score_766"])
    ranked = demo_app.query("agency_ratio_month", month="2026-10", limit=500, rollup=False, min_resolved=0)
    with_ratio = [r for r in ranked if r["on_time_ratio"] is not None]
    assert len(with_ratio) > 5
    for r in with_ratio:
        key = (("agency_code", r["agency_code"]), ("agency_name", r["agency_name"]))
        assert m["motcua_ontime_ratio"][key] == pytest.approx(r["on_time_ratio"])
        assert m["motcua_pending_overdue_dossiers"][key] == r["pending_overdue"]
    sync = {r["source_system"]: r["unsynced"] for r in demo_app.query("sync_by_agency")
            if r["row_kind"] == "source_system"}
    assert sync and all(m["motcua_unsynced_dossiers"][(("source_system", k),)] == v for k, v in sync.items())
    total_gap = next(r for r in demo_app.query("audit_by_agency") if r["row_kind"] == "total")["overdue_difference"]
    assert m["motcua_vendor_overdue_gap"][(("agency_code", "province"),)] == total_gap
    assert "motcua_sla_last_recompute_timestamp_seconds" in m


def test_a_new_recompute_refreshes_the_figures(demo_app, tmp_path):
    registry = build_registry(demo_app, lambda: NOW)
    key = (("agency_code", "province"), ("agency_name", "province"))
    before = scrape(registry)["motcua_pending_overdue_dossiers"][key]
    f = tmp_path / "late.csv"
    f.write_text("dossier_code,agency_code,channel,received_at,time_limit,time_unit,state\n"
                 + "".join(f"LATE-{i},QNG.STP,online,2026-10-01 08:00,1,working_days,processing\n" for i in range(3)),
                 encoding="utf-8")
    demo_app.import_file(str(f))
    assert scrape(registry)["motcua_pending_overdue_dossiers"][key] == before  # same run: cached figures
    demo_app.recompute("2026-11-01 00:00")
    assert scrape(registry)["motcua_pending_overdue_dossiers"][key] == before + 3


def test_a_store_that_does_not_answer_gives_store_up_0():
    dead = RemoteOps("http://127.0.0.1:9", "token", timeout=1.0)
    m = scrape(build_registry(dead, lambda: NOW))
    assert m["motcua_store_up"][()] == 0
    assert "motcua_ontime_ratio" not in m


def test_exposition_over_http_on_loopback(demo_app):
    server, _ = serve_metrics(build_registry(demo_app, lambda: NOW), "127.0.0.1", 0)
    try:
        r = httpx.get(f"http://127.0.0.1:{server.server_port}/metrics", timeout=10)
        assert r.status_code == 200
        assert "motcua_store_up 1.0" in r.text and "motcua_ontime_ratio{" in r.text
    finally:
        server.shutdown()
        server.server_close()


def test_probe_observations_become_histograms_and_counters():
    dead = RemoteOps("http://127.0.0.1:9", "token", timeout=1.0)
    registry = build_registry(dead, lambda: NOW)
    pm = registry.probe_metrics
    pm.observe("citizen-v2", "login", True, 0.3, {"connect": 0.001, "ttfb": 0.25, "bogus": 9})
    pm.observe("citizen-v2", "login", False, 2.5, {"ttfb": 2.4})
    pm.observe("home", "", True, 0.04, cert_days=42)
    m = scrape(registry)
    key = (("check", "citizen-v2"), ("step", "login"))
    assert m["motcua_probe_runs_total"][key] == 2 and m["motcua_probe_failures_total"][key] == 1
    assert m["motcua_probe_success"][key] == 0
    assert m["motcua_probe_duration_seconds_count"][key] == 2
    assert m["motcua_probe_duration_seconds_sum"][key] == pytest.approx(2.8)
    assert m["motcua_probe_duration_seconds_bucket"][(("check", "citizen-v2"), ("le", "0.5"), ("step", "login"))] == 1
    phases = {dict(k)["phase"] for k in m["motcua_probe_phase_seconds_count"]}
    assert phases == {"connect", "ttfb"}
    assert m["motcua_probe_tls_cert_days_left"][(("check", "home"),)] == 42
