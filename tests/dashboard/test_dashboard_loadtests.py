"""The Vendor page ("Kiểm thử tải") and the ICT page's load chart under Streamlit's AppTest, on a
real DuckDB store holding real, short Locust runs against the testbed (loadtests.runner, Locust in
child processes): the figures shown equal the named queries' answers, every role that may see the
page sees it, the agency role does not, and a store without runs says so plainly."""
from __future__ import annotations

import pytest

from config.app import load_config
from dashboard.access import AccessDenied, ScopedOps, may_run
from dashboard.backend import Backend
from dashboard.i18n import num, pct, probe_reason, unit
from dashboard.users import User
from loadtests.runner import LoadRequest, run_loadtest
from system import Motcua
from testbed.portal.server import running
from tests.dashboard.apptest import PAGE_FILE, add_users, backend_query, env_for, login, metric, table
from tests.loadtest_knee import knee_file, knee_profile

pytestmark = pytest.mark.slow


def _run(app, tmp, req, file=None, report=False):
    return run_loadtest(app, req, loadtests_file=file, runs_dir=tmp / "runs", out=lambda s: None,
                        progress_every=0, report=report)


@pytest.fixture(scope="module")
def lt_world(tmp_path_factory):
    """v1.0 and v2.0 smoke runs (the v2.0 one with its HTML report), a step run whose generator
    limit is set so low that it is flagged overloaded, a refused run, and probe results."""
    from probes.runner import run_once

    tmp = tmp_path_factory.mktemp("ltdash")
    env = env_for(tmp, tmp / "data" / "motcua.duckdb")
    cfg = load_config(environ=env)
    app = Motcua(cfg)
    ids = {}
    # 10 s each: the comparison judges per interval, and 6 s runs left the 12-fold slower v2.0 home
    # page at p ≈ 0.02 on an idle machine, past 0.05 on a loaded one
    with running("v1.0") as base:
        ids["v1"] = _run(app, tmp, LoadRequest("smoke", base, "v1.0", users=20, duration=10)).run_id
    with running("v2.0") as base:
        ids["v2"] = _run(app, tmp, LoadRequest("smoke", base, "v2.0", users=20, duration=10), report=True).run_id
        run_once(cfg.monitor.probes, store=app.store, base_url=base)
    profile = knee_profile()
    f = knee_file(tmp, "{interval: 0.5, cpu_limit: 0.5, overload_share: 0.01}")
    with running(profile) as base:
        ids["knee"] = _run(app, tmp, LoadRequest("knee", base, "knee-1"), file=f).run_id
    ids["refused"] = _run(app, tmp, LoadRequest("smoke", "http://10.20.30.40:8088", "v2.1")).run_id
    app.close()
    add_users(tmp / "users.json")
    return {"tmp": tmp, "env": env, "cfg": cfg, "ids": ids}


@pytest.fixture
def lt_env(lt_world, monkeypatch):
    import os

    for k in [k for k in os.environ if k.startswith("MOTCUA_")]:
        monkeypatch.delenv(k)
    for k, v in lt_world["env"].items():
        monkeypatch.setenv(k, v)
    return lt_world


FAILURE_MESSAGES = ("Đã xảy ra lỗi", "Không đọc được", "Hệ thống trả lời", "không có quyền", "An unexpected",
                    "cannot be read", "The system answered")


def open_page(at, page):
    """Switch to the page: no exception, and no failure message (a failed verdict or a regression is
    shown as an error on purpose; a failure of the page itself is not)."""
    at.switch_page(PAGE_FILE[page]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [e.value for e in at.error if any(m in e.value for m in FAILURE_MESSAGES)]
    return at


def charts(at) -> list[dict]:
    import json

    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_vendor_role_runs_exactly_the_load_test_queries():
    import store.loadtest_queries
    from store.catalog import QUERIES, collect

    loadtest = set(collect([store.loadtest_queries]))
    assert loadtest == {n for n in QUERIES if n.startswith("loadtest")}
    assert all(may_run("vendor", n) for n in loadtest)
    assert all(QUERIES[n].scope == "free" for n in loadtest)  # the vendor's own results: no dossiers
    assert not may_run("vendor", "loadtest_runs_everything") and not may_run("vendor", "audit_by_agency")
    # an agency account reads only the run list and verdicts its monthly briefing shows (no dossiers)
    assert {n for n in loadtest if may_run("agency", n)} == {"loadtest_runs", "loadtest_verdicts"}


@pytest.mark.parametrize("role", ["vendor", "ict", "leadership", "admin", "agency"])
def test_the_page_for_every_role(lt_env, role):
    at = login(role)
    if role == "agency":
        with pytest.raises(ValueError):
            at.switch_page(PAGE_FILE["loadtests"])
        scoped = ScopedOps(Backend(lt_env["cfg"]), User("a", "agency", agency="X"), lambda c: {c})
        ids = lt_env["ids"]
        for name, params in (("loadtest_series", {"run_id": ids["v1"]}), ("loadtest_failures", {"run_id": ids["v1"]}),
                             ("loadtest_compare", {"run_a": ids["v1"], "run_b": ids["v2"]})):
            with pytest.raises(AccessDenied):
                scoped.query(name, **params)
        return
    open_page(at, "loadtests")
    assert at.title[0].value == "Kiểm thử tải"
    shown = table(at, "Mã lần chạy")
    assert list(shown["Mã lần chạy"]) == backend_query(lt_env, "loadtest_runs", limit=200).column("run_id")


def test_figures_equal_the_store(lt_env):
    ids = lt_env["ids"]
    at = open_page(login("vendor"), "loadtests")
    # filters: scenario, then release
    at.selectbox(key="lt_scenario").set_value("smoke").run()
    assert set(table(at, "Mã lần chạy")["Mã lần chạy"]) == {ids["v1"], ids["v2"], ids["refused"]}
    at.selectbox(key="lt_release").set_value("v2.0").run()
    assert list(table(at, "Mã lần chạy")["Mã lần chạy"]) == [ids["v2"]]
    at.selectbox(key="lt_release").set_value(None).run()

    at.selectbox(key="lt_run").set_value(ids["v2"]).run()
    assert not at.exception
    run = backend_query(lt_env, "loadtest_run", run_id=ids["v2"]).one()
    assert metric(at, "Kết luận") == "Không đạt"
    assert metric(at, "Số yêu cầu") == num(run["requests"])
    assert metric(at, "Tỷ lệ lỗi") == pct(run["error_rate"], digits=2)
    assert metric(at, "p95") == unit(run["p95_ms"], "ms")
    assert any("KHÔNG ĐẠT" in e.value for e in at.error)
    # verdicts: pass / fail and the users they were judged at
    vs = backend_query(lt_env, "loadtest_verdicts", run_id=ids["v2"])
    shown = table(at, "Đánh giá ở (người dùng)")
    assert list(shown["Đánh giá ở (người dùng)"]) == vs.column("at_users")
    assert list(shown["Kết quả"]) == ["Đạt" if p else "Không đạt" for p in vs.column("passed")]
    assert "Không đạt" in set(shown["Kết quả"])
    # per-endpoint percentiles
    es = backend_query(lt_env, "loadtest_endpoints", run_id=ids["v2"])
    shown = table(at, "p90 (ms)")
    assert list(shown["p95 (ms)"]) == es.column("p95_ms") and list(shown["Số yêu cầu"]) == es.column("requests")
    assert "Tất cả yêu cầu" in list(shown["Điểm cuối"])
    # failures with their messages
    fs = backend_query(lt_env, "loadtest_failures", run_id=ids["v2"])
    assert fs.rows
    shown = table(at, "Thông báo lỗi")
    assert list(shown["Thông báo lỗi"]) == [probe_reason(e) for e in fs.column("error")]
    assert list(shown["Số lần"]) == fs.column("occurrences")
    # over time: the chart's series are the stored intervals
    se = backend_query(lt_env, "loadtest_series", run_id=ids["v2"])
    fig = next(f for f in charts(at) if any(t.get("name") == "Người dùng đồng thời" for t in f["data"]))
    users = next(t for t in fig["data"] if t.get("name") == "Người dùng đồng thời")
    p95 = next(t for t in fig["data"] if t.get("name") == "p95")
    assert len(se.rows) > 3 and users["x"] == se.column("t_s") and users["y"] == se.column("users")
    assert p95["y"] == pytest.approx(se.column("p95_ms"), nan_ok=True)
    # the report file exists and is offered
    assert any(d.proto.label == "Tải báo cáo HTML của lần chạy" for d in at.get("download_button"))

    # comparison: A = v1.0 (the latest run of another release), B = v2.0
    assert at.selectbox(key="lt_cmp_a").value == ids["v1"] and at.selectbox(key="lt_cmp_b").value == ids["v2"]
    cmp = backend_query(lt_env, "loadtest_compare", run_a=ids["v1"], run_b=ids["v2"])
    regressed = {r["name"] for r in cmp if r["worse"]}
    assert {"home", "search"} <= {n.split(" ", 1)[-1] for n in regressed} | regressed
    shown = table(at, "Kém đi")
    flagged = {n for n, r in zip(shown["Điểm cuối"], shown["Kém đi"]) if r}
    assert {n.split(" ", 1)[-1] if n != "Tất cả yêu cầu" else "*" for n in flagged} == regressed
    p95 = {(r["method"], r["name"]): r for r in cmp if r["metric"] == "p95_ms"}
    home = next(k for k in p95 if k[1] == "home")
    row = shown[shown["Điểm cuối"] == f"{home[0]} home"].iloc[0]
    assert row["p95 (ms) A"] == p95[home]["a"] and row["p95 (ms) B"] == p95[home]["b"]
    assert row["Δ p95 (ms)"] == pytest.approx(p95[home]["change_pct"] / 100)
    assert any("kém đi vượt mức nhiễu" in e.value for e in at.error)


def test_step_run_capacity_knee_and_overloaded_generator(lt_env):
    ids = lt_env["ids"]
    at = open_page(login("ict"), "loadtests")
    at.selectbox(key="lt_run").set_value(ids["knee"]).run()
    assert not at.exception
    run = backend_query(lt_env, "loadtest_run", run_id=ids["knee"]).one()
    assert run["generator_overloaded"] and run["knee_users"] is not None
    assert metric(at, "Điểm gãy (người dùng)") == num(run["knee_users"])
    assert metric(at, "Năng lực chịu tải (người dùng)") == num(run["capacity_users"])
    assert any("Máy tạo tải bị quá tải" in w.value for w in at.warning)
    cap = backend_query(lt_env, "loadtest_capacity", run_id=ids["knee"])
    shown = table(at, "Bậc")
    assert list(shown["Người dùng đồng thời"]) == cap.column("users")
    assert [k == "◆" for k in shown["Điểm gãy"]] == cap.column("is_knee")
    assert any("Cần ít nhất hai lần chạy" in i.value for i in at.info)  # the only run of its scenario
    # the refused run says why, and is no candidate for a comparison
    at.selectbox(key="lt_run").set_value(ids["refused"]).run()
    assert any("allowlist" in e.value for e in at.error)


def test_english_switch(lt_env):
    at = open_page(login("vendor", lang="en"), "loadtests")
    assert at.title[0].value == "Load tests"
    assert "Run" in table(at, "Run").columns


def test_ict_page_draws_latency_against_concurrent_users(lt_env):
    at = open_page(login("ict"), "system")
    spec = next(f for f in charts(at) if f["layout"].get("xaxis", {}).get("title", {}).get("text") == "Người dùng đồng thời")
    runs = [r for r in backend_query(lt_env, "loadtest_runs", limit=50) if r["status"] != "refused" and r["requests"]]
    assert len(spec["data"]) == len(runs) == 3
    by_release = {t["name"].split(" · ")[0]: t for t in spec["data"]}
    v2 = [p for p in backend_query(lt_env, "loadtest_series", run_id=lt_env["ids"]["v2"]) if p["requests"] and p["p95_ms"] is not None]
    assert by_release["v2.0"]["x"] == [p["users"] for p in v2]
    assert by_release["v2.0"]["y"] == pytest.approx([p["p95_ms"] for p in v2])


def test_a_store_without_runs_says_so(tmp_path, monkeypatch):
    from probes.runner import run_once

    env = env_for(tmp_path, tmp_path / "data" / "nolt.duckdb")
    cfg = load_config(environ=env)
    app = Motcua(cfg)
    with running("v1.0") as base:
        run_once(cfg.monitor.probes, store=app.store, base_url=base)
    app.close()
    add_users(tmp_path / "users.json")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    at = login("vendor")
    open_page(at, "loadtests")
    assert any("Chưa có lần kiểm thử tải nào" in i.value for i in at.info)
    assert not at.metric and not at.dataframe
    at = login("ict")
    open_page(at, "system")
    assert any("Chưa có lần kiểm thử tải nào trong kho dữ liệu" in i.value for i in at.info)
