"""Prometheus metrics of the SLA figures (values equal the store's named queries, labelled with the
period they cover) and of the probes (runs and steps apart, counters from zero)."""
from __future__ import annotations

import datetime as dt

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from config.probes import load_probes
from metrics.exporter import build_registry, serve_metrics
from probes.runner import JOURNEY_STEP, ProbeResult
from store.ops import RemoteOps
from system import Motcua

NOW = dt.datetime(2026, 10, 20, 9, 0)
PROVINCE = (("agency_code", "province"), ("agency_name", "province"), ("period", "month_to_date"))


def agency_key(code: str, name: str) -> tuple:
    return (("agency_code", code), ("agency_name", name), ("period", "month_to_date"))


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
    assert m["motcua_ontime_ratio"][PROVINCE] == pytest.approx(prov["on_time_ratio"])
    assert m["motcua_progress_score_766"][PROVINCE] == pytest.approx(prov["score_766"])
    ranked = demo_app.query("agency_ratio_month", month="2026-10", limit=500, rollup=False, min_resolved=0)
    with_ratio = [r for r in ranked if r["on_time_ratio"] is not None]
    assert len(with_ratio) > 5
    for r in with_ratio:
        key = agency_key(r["agency_code"], r["agency_name"])
        assert m["motcua_ontime_ratio"][key] == pytest.approx(r["on_time_ratio"])
        assert m["motcua_pending_overdue_dossiers"][key] == r["pending_overdue"]
    sync = {r["source_system"]: r["unsynced"] for r in demo_app.query("sync_by_agency")
            if r["row_kind"] == "source_system"}
    assert sync and all(m["motcua_unsynced_dossiers"][(("period", "all_time"), ("source_system", k))] == v
                        for k, v in sync.items())
    total_gap = next(r for r in demo_app.query("audit_by_agency") if r["row_kind"] == "total")["overdue_difference"]
    assert m["motcua_vendor_overdue_gap"][(("agency_code", "province"), ("period", "all_time"))] == total_gap
    assert "motcua_sla_last_recompute_timestamp_seconds" in m


def test_a_new_recompute_refreshes_the_figures(demo_app, tmp_path):
    registry = build_registry(demo_app, lambda: NOW)
    key = PROVINCE
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


def test_the_sla_figures_say_what_period_they_cover(demo_app):
    """Month to date, not the dashboard's month: in a label and in the help text."""
    text = generate_latest(build_registry(demo_app, lambda: NOW)).decode()
    helps = {ln.split()[2]: ln for ln in text.splitlines() if ln.startswith("# HELP")}
    for name in ("motcua_ontime_ratio", "motcua_progress_score_766", "motcua_pending_overdue_dossiers"):
        assert "current calendar month from its first day to the last recompute" in helps[name]
        samples = [s for fam in text_string_to_metric_families(text) if fam.name == name for s in fam.samples]
        assert samples and {s.labels["period"] for s in samples} == {"month_to_date"}
    for name in ("motcua_unsynced_dossiers", "motcua_vendor_overdue_gap"):
        assert "every month in the store" in helps[name]
        samples = [s for fam in text_string_to_metric_families(text) if fam.name == name for s in fam.samples]
        assert samples and {s.labels["period"] for s in samples} == {"all_time"}


def dead_registry(**kw):
    return build_registry(RemoteOps("http://127.0.0.1:9", "token", timeout=1.0), lambda: NOW, **kw)


def test_probe_observations_become_histograms_and_counters():
    registry = dead_registry()
    pm = registry.probe_metrics
    pm.observe_step("citizen-v2", "login", True, 0.3, {"connect": 0.001, "ttfb": 0.25, "bogus": 9})
    pm.observe_step("citizen-v2", "login", False, 2.5, {"ttfb": 2.4})
    pm.observe_run("home", True, 0.04)
    pm.observe_step("home", "", True, 0.04, cert_days=42)
    m = scrape(registry)
    key = (("check", "citizen-v2"), ("location", "central"), ("step", "login"))
    assert m["motcua_probe_step_runs_total"][key] == 2 and m["motcua_probe_step_failures_total"][key] == 1
    assert m["motcua_probe_step_success"][key] == 0
    assert m["motcua_probe_step_duration_seconds_count"][key] == 2
    assert m["motcua_probe_step_duration_seconds_sum"][key] == pytest.approx(2.8)
    bucket = (("check", "citizen-v2"), ("le", "0.5"), ("location", "central"), ("step", "login"))
    assert m["motcua_probe_step_duration_seconds_bucket"][bucket] == 1
    phases = {dict(k)["phase"] for k in m["motcua_probe_phase_seconds_count"]}
    assert phases == {"connect", "ttfb"}
    assert m["motcua_probe_tls_cert_days_left"][(("check", "home"), ("location", "central"))] == 42
    assert m["motcua_probe_runs_total"] == {(("check", "home"), ("location", "central")): 1}


def test_a_check_that_never_failed_has_its_failures_at_zero():
    """Without the series a check that never failed had no error ratio and no burn rate at all."""
    registry = dead_registry()
    registry.probe_metrics.observe_results([ProbeResult("home", "check", "", NOW, True, total_ms=40)])
    m = scrape(registry)
    assert m["motcua_probe_failures_total"][(("check", "home"), ("location", "central"))] == 0
    assert m["motcua_probe_step_failures_total"][(("check", "home"), ("location", "central"), ("step", ""))] == 0
    assert m["motcua_probe_runs_total"][(("check", "home"), ("location", "central"))] == 1


def test_every_check_journey_and_step_of_the_probes_file_starts_at_zero():
    cfg = load_probes()
    m = scrape(dead_registry(probes=cfg))
    names = {c.name for c in cfg.checks} | {j.name for j in cfg.journeys}
    steps = {(c.name, "") for c in cfg.checks} | {(j.name, s.name) for j in cfg.journeys for s in j.steps}
    for fam in ("motcua_probe_runs_total", "motcua_probe_failures_total", "motcua_probe_duration_seconds_count"):
        assert m[fam] == {(("check", n), ("location", "central")): 0 for n in names}, fam
    for fam in ("motcua_probe_step_runs_total", "motcua_probe_step_failures_total",
                "motcua_probe_step_duration_seconds_count"):
        assert m[fam] == {(("check", n), ("location", "central"), ("step", s)): 0 for n, s in steps}, fam
    assert "motcua_probe_success" not in m  # nothing is known about a check before it runs


def test_a_journey_counts_once_per_run_apart_from_its_steps():
    """A journey refused at its second step: one failed run (ratio 1), not 2 failures in 3 series."""
    registry = dead_registry()
    for _ in range(3):
        registry.probe_metrics.observe_results([
            ProbeResult("citizen-v1-login", "journey", "login-page", NOW, True, total_ms=30),
            ProbeResult("citizen-v1-login", "journey", "login", NOW, False, "text found", total_ms=50),
            ProbeResult("citizen-v1-login", "journey", JOURNEY_STEP, NOW, False, "failed at step 'login'",
                        total_ms=80)])
    m = scrape(registry)
    run = (("check", "citizen-v1-login"), ("location", "central"))
    assert m["motcua_probe_runs_total"] == {run: 3} and m["motcua_probe_failures_total"] == {run: 3}
    assert m["motcua_probe_duration_seconds_sum"][run] == pytest.approx(0.24)
    assert m["motcua_probe_success"] == {run: 0}
    steps = m["motcua_probe_step_runs_total"]
    assert {dict(k)["step"] for k in steps} == {"login-page", "login"} and set(steps.values()) == {3}
    assert m["motcua_probe_step_failures_total"][run + (("step", "login-page"),)] == 0
    assert m["motcua_probe_step_failures_total"][run + (("step", "login"),)] == 3


def test_due_soon_gauge_equals_the_query_and_follows_the_clock(demo_app):
    clock = [NOW]
    registry = build_registry(demo_app, lambda: clock[0])
    totals = []
    # now, then three days later without a recompute: the gauge follows the clock, not only the runs
    for at in (NOW, NOW + dt.timedelta(days=3)):
        clock[0] = at
        m = scrape(registry)["motcua_due_soon_dossiers"]
        rows = demo_app.query("due_soon_by_agency", days=2, as_of=at.isoformat(sep=" ")).to_dicts()
        total = next(r for r in rows if r["row_kind"] == "total")
        assert m[(("agency_code", "province"), ("agency_name", "province"), ("days", "2"))] == total["due_soon"]
        for r in rows[1:]:
            assert m[(("agency_code", r["agency_code"]), ("agency_name", r["agency_name"]), ("days", "2"))] == r["due_soon"]
        totals.append(total["due_soon"])
    assert totals[0] > 0 and totals[0] != totals[1]


def test_the_766_gauges_equal_the_scorecard_of_the_month(demo_app):
    """Each measured group's points, their total and the measured maximum, for the province and each
    agency, as index766 says them for the month to date; a group not measured has no series."""
    from config.index766 import GROUPS

    m = scrape(build_registry(demo_app, lambda: NOW))
    rows = demo_app.query("index766", month="2026-10").to_dicts()
    measured = [r for r in rows if r["groups_measured"]]
    assert len(measured) > 5
    points = m["motcua_index766_points"]
    for r in measured:
        who = PROVINCE if r["row_kind"] == "total" else agency_key(r["agency_code"], r["agency_name"])
        for g in GROUPS:
            key = tuple(sorted((*who, ("group", g))))
            if r[f"{g}_points"] is None:
                assert key not in points
            else:
                assert points[key] == pytest.approx(r[f"{g}_points"])
        assert m["motcua_index766_total_points"][who] == pytest.approx(r["total_points"])
        assert m["motcua_index766_measured_max_points"][who] == r["total_max"]
    assert not any(dict(k)["group"] == "publicity" for k in points)  # never in an export
    assert len(points) == sum(r["groups_measured"] for r in measured)


def test_the_766_gauges_read_the_configured_rules(demo_app, tmp_path):
    """reports.index766 of the running config, as `app.py index766` reads it."""
    from config.index766 import DEFAULT_INDEX766

    mine = tmp_path / "766.yaml"
    mine.write_text(DEFAULT_INDEX766.read_text(encoding="utf-8").replace("min_ratings: 1\n", "min_ratings: 1000000\n"),
                    encoding="utf-8")
    cfg = demo_app.cfg.model_copy(update={"reports": demo_app.cfg.reports.model_copy(update={"index766": mine})})

    class Ops:  # the app's operations under another config
        def __init__(self):
            self.cfg = cfg

        def query(self, name, **params):
            return demo_app.query(name, **params)

    m = scrape(build_registry(Ops(), lambda: NOW))
    prov = next(r for r in demo_app.query("index766", month="2026-10") if r["row_kind"] == "total")
    points = m["motcua_index766_points"]
    assert tuple(sorted((*PROVINCE, ("group", "satisfaction")))) not in points
    assert points[tuple(sorted((*PROVINCE, ("group", "progress"))))] == pytest.approx(prov["progress_points"])
    assert m["motcua_index766_measured_max_points"][PROVINCE] == prov["total_max"] - 18


@pytest.fixture(scope="module")
def mid_month_app(tmp_path_factory):
    """The demo province recomputed on 21 October: the month is under way."""
    from config.app import load_config

    tmp = tmp_path_factory.mktemp("forecast")
    app = Motcua(load_config(environ={"MOTCUA_STORE__PATH": str(tmp / "f.duckdb")}))
    app.demo_data(out_dir=tmp / "demo", months=2, per_month=1500, end=dt.date(2026, 10, 21))
    yield app
    app.close()


def test_the_forecast_gauge_has_the_three_readings_of_month_forecast(mid_month_app):
    m = scrape(build_registry(mid_month_app, lambda: dt.datetime(2026, 10, 21, 9, 0)))["motcua_forecast_ontime_ratio"]
    rows = mid_month_app.query("month_forecast", month="2026-10").to_dicts()
    total = rows[0]
    assert total["row_kind"] == "total" and total["in_progress"]
    readings = {"now": "on_time_ratio", "best": "best_on_time_ratio", "worst": "worst_on_time_ratio"}
    got = {k: m[tuple(sorted((*PROVINCE, ("reading", k))))] for k in readings}
    assert got == {k: pytest.approx(total[c]) for k, c in readings.items()}
    assert got["worst"] < got["now"] < got["best"]  # the month under way can still move both ways
    agencies = [r for r in rows if r["row_kind"] == "agency" and r["on_time_ratio"] is not None]
    assert len(agencies) > 5
    for r in agencies:
        for k, c in readings.items():
            assert m[tuple(sorted((*agency_key(r["key"], r["name"]), ("reading", k))))] == pytest.approx(r[c])
    assert len(m) == sum(1 for r in rows for c in readings.values() if r[c] is not None)
