"""Real, short Locust runs against the simulated portal on loopback (Locust in child processes only;
nothing here imports locust)."""
from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from config.loadtest import DEFAULT_LOADTESTS
from config.probes import DEFAULT_PROBES
from loadtests.cli import compare_text
from loadtests.runner import LoadRequest, run_loadtest
from system import Motcua
from testbed.portal.server import running
from tests.loadtest_knee import SATURATION_USERS, knee_file, knee_profile

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _run(app, tmp_path, req: LoadRequest, file=None, report=True):
    out: list[str] = []
    res = run_loadtest(app, req, loadtests_file=file, runs_dir=tmp_path / "runs", out=out.append,
                       progress_every=0, report=report)
    return res, "\n".join(out)


def test_v2_fails_the_criteria_v1_passes_and_the_comparison_names_the_regressions(app, tmp_path):
    with running("v1.0") as base:
        a, text_a = _run(app, tmp_path, LoadRequest("smoke", base, "v1.0", users=20, duration=8))
    with running("v2.0") as base:
        b, text_b = _run(app, tmp_path, LoadRequest("smoke", base, "v2.0", users=20, duration=8))
    assert a.status == "completed" and a.run["verdict"] == "pass" and a.exit_code == 0, text_a
    assert b.status == "completed" and b.run["verdict"] == "fail" and b.exit_code == 1, text_b
    assert "FAIL" in text_b and "FAIL" not in text_a
    failed = [v for v in app.query("loadtest_verdicts", run_id=b.run_id) if not v["passed"]]
    assert failed and all(v["at_users"] >= 10 for v in failed)
    assert {v["metric"] for v in failed} & {"p95", "error_rate"}
    held = app.query("loadtest_verdicts", run_id=a.run_id).to_dicts()
    assert held and all(v["passed"] and v["at_users"] >= 10 and v["required_users"] == 10 for v in held)
    # the v2.0 failures carry the portal's own words
    msgs = {f["error"] for f in app.query("loadtest_failures", run_id=b.run_id)}
    assert any("got 500" in m or "got 502" in m or "got 503" in m for m in msgs), msgs
    text, regressed = compare_text(app, a.run_id, b.run_id)
    assert {"home", "search", "read-procedure"} <= set(regressed), text
    assert "Regressed:" in text
    html = Path(b.report_path).read_text(encoding="utf-8")
    assert "Báo cáo kiểm thử tải" in html and "KHÔNG ĐẠT" in html and "<script src" not in html
    assert "Plotly.newPlot" in html and len(html) > 1_000_000  # plotly.js itself is embedded
    assert "Cấu hình kịch bản" in html and "submit-online" in html and "0,5–1,5 s" in html
    ends = {e["name"]: e for e in app.query("loadtest_endpoints", run_id=a.run_id)}
    assert ends["*"]["requests"] == a.run["requests"] > 50
    assert "submit-online" in ends and ends["submit-online"]["kind"] == "journey"  # the whole journey, timed


def test_the_knee_is_found_where_the_worker_pool_saturates(app, tmp_path):
    profile, f = knee_profile(), knee_file(tmp_path)      # the pool saturates at 10 users
    with running(profile) as base:
        res, text = _run(app, tmp_path, LoadRequest("knee", base, "knee"), file=f, report=False)
    saturation = SATURATION_USERS
    run = app.query("loadtest_run", run_id=res.run_id).one()
    assert run["capacity_users"] < saturation <= run["knee_users"], text
    assert run["knee_users"] - saturation <= 4
    assert run["capacity_rps"] == pytest.approx(32, rel=0.25) and run["max_rps"] == pytest.approx(40, rel=0.2)
    steps = app.query("loadtest_capacity", run_id=res.run_id).to_dicts()
    assert [s["planned_users"] for s in steps] == [4, 8, 12, 16, 20, 24]
    assert sum(s["is_knee"] for s in steps) == 1
    assert steps[-1]["p50_ms"] > 4 * steps[0]["p50_ms"]  # beyond the knee, users only queue
    assert "Capacity: latency left its plateau at" in text


def test_a_target_off_the_allowlist_is_refused_and_the_refusal_stored(run_app, tmp_path):
    r = run_app("loadtest", "--scenario", "smoke", "--target", "http://10.20.30.40:8088", "--release", "v2.1")
    assert r.returncode == 2 and "allowlist" in r.stdout and "10.20.30.40" in r.stdout
    assert "Traceback" not in r.stdout + r.stderr
    listed = run_app("loadtest", "list")
    assert listed.returncode == 0 and "refused" in listed.stdout and "v2.1" in listed.stdout
    q = run_app("query", "loadtest_runs", "--param", "limit=5", "--json")
    row = json.loads(q.stdout)
    assert row["rows"][0][row["columns"].index("status")] == "refused"
    # a step of the scenario that would send load elsewhere is refused too, before any request
    f = tmp_path / "lt.yaml"
    f.write_text(textwrap.dedent(f"""
        shapes: {{s: {{kind: steady, duration: 5}}}}
        scenarios:
          away:
            portal: {DEFAULT_PROBES}
            shape: s
            user_classes:
              - name: c
                tasks: [{{name: t, steps: [{{name: x, url: "http://192.168.1.10/vi"}}]}}]
        """), encoding="utf-8")
    r = run_app("loadtest", "--scenario", "away", "--target", "http://127.0.0.1:9", "--release", "x", "--file", str(f),
                "--json")
    assert r.returncode == 2 and "192.168.1.10 is not on the load-test allowlist" in r.stderr
    assert json.loads(r.stdout)["status"] == "refused"


def test_a_url_learnt_at_run_time_is_held_to_the_allowlist_too(app, tmp_path):
    # the portal echoes what it is asked for; a scenario that follows an absolute URL taken from a
    # response must not send anything to a host off the allowlist
    f = tmp_path / "lt.yaml"
    f.write_text(textwrap.dedent(f"""
        shapes: {{s: {{kind: steady, duration: 3, warmup: 0}}}}
        scenarios:
          follow:
            portal: {DEFAULT_PROBES}
            shape: s
            users: 2
            user_classes:
              - name: c
                wait: {{constant: 0.2}}
                tasks:
                  - name: follow
                    steps:
                      - name: ask
                        url: "${{base_url}}/vi/tra-cuu-ho-so?ma=http://10.9.9.9/x"
                        expect: {{status: 404}}
                        extract: [{{name: away, regex: 'có mã (http://10\\.9\\.9\\.9/x)'}}]
                      - name: go
                        url: "${{away}}"
        """), encoding="utf-8")
    with running("v1.0") as base:
        res, text = _run(app, tmp_path, LoadRequest("follow", base, "x"), file=f, report=False)
    ends = {e["name"]: e for e in app.query("loadtest_endpoints", run_id=res.run_id)}
    assert ends["follow/ask"]["failures"] == 0 and ends["follow/ask"]["requests"] > 0, text
    assert ends["follow/go"]["failures"] == ends["follow/go"]["requests"] > 0
    msgs = {x["error"] for x in app.query("loadtest_failures", run_id=res.run_id) if x["name"] == "follow/go"}
    assert msgs == {"refused: 10.9.9.9 is not on the load-test allowlist"}


def test_a_target_that_dies_mid_run_leaves_a_stored_readable_run(app, tmp_path):
    stack = contextlib.ExitStack()
    base = stack.enter_context(running("v1.0"))
    box: dict = {}

    def go():
        box["res"] = _run(app, tmp_path, LoadRequest("smoke", base, "v1.0", users=10, duration=7))

    t = threading.Thread(target=go)
    t.start()
    time.sleep(3.5)
    stack.close()  # the portal goes away
    t.join(timeout=60)
    res, text = box["res"]
    run = app.query("loadtest_run", run_id=res.run_id).one()
    assert run["status"] == "completed" and run["verdict"] == "fail" and res.exit_code == 1
    assert "stopped answering" in (run["message"] or ""), text
    fails = app.query("loadtest_failures", run_id=res.run_id).to_dicts()
    assert any("Connection" in f["error"] or "refused" in f["error"].lower() for f in fails), fails
    assert 0 < run["failures"] < run["requests"]
    assert Path(run["report_path"]).is_file()


def test_a_target_that_never_answers_is_a_stored_failed_verdict(app, tmp_path):
    import socket

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res, text = _run(app, tmp_path, LoadRequest("smoke", f"http://127.0.0.1:{port}", "v2.0", users=5, duration=3),
                     report=False)
    run = app.query("loadtest_run", run_id=res.run_id).one()
    assert run["status"] == "completed" and run["verdict"] == "fail" and res.exit_code == 1
    assert run["failures"] == run["requests"] > 0 and "every request failed" in run["message"]
    assert any("Connection" in f["error"] for f in app.query("loadtest_failures", run_id=res.run_id))


def test_ctrl_c_stops_the_run_and_keeps_what_was_measured(app_env, tmp_path):
    with running("v1.0") as base:
        p = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "loadtest", "--scenario", "smoke", "--target",
                              base, "--release", "v1.0", "--users", "10", "--duration", "60"],
                             cwd=tmp_path, env=app_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        runs = Path(app_env["MOTCUA_STORE__PATH"]).parent / "loadtests"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            series = list(runs.glob("*/series.jsonl"))
            if series and series[0].read_text().count('"type":"sample"') >= 3:
                break
            time.sleep(0.2)
        else:
            p.kill()
            pytest.fail("the run did not start: " + p.communicate()[1])
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    assert p.returncode == 130, out + err
    assert "Interrupted" in out and "Traceback" not in out + err
    app = Motcua(__import__("config.app", fromlist=["load_config"]).load_config(environ=app_env))
    try:
        run = app.query("loadtest_runs", limit=1).one()
        assert run["status"] == "interrupted" and run["requests"] > 0 and run["exit_code"] == 130
        assert run["users_peak"] == 10
        assert len(app.query("loadtest_series", run_id=run["run_id"])) >= 3
        assert Path(run["report_path"]).is_file()
    finally:
        app.close()


def test_distributed_run_merges_the_workers_counts(app, tmp_path):
    with running("v1.0") as base:
        res, text = _run(app, tmp_path, LoadRequest("smoke", base, "v1.0", users=10, duration=6, workers=2),
                         report=False)
    assert res.status == "completed", text
    nodes = app.query("loadtest_nodes", run_id=res.run_id).to_dicts()
    assert len(nodes) == 2 and all(n["requests"] > 0 for n in nodes)
    run = app.query("loadtest_run", run_id=res.run_id).one()
    assert run["workers"] == 2 and run["requests"] == sum(n["requests"] for n in nodes)
    ends = app.query("loadtest_endpoints", run_id=res.run_id).to_dicts()
    assert sum(e["requests"] for e in ends if e["kind"] == "request") == run["requests"]
    gen = app.query("loadtest_generator", run_id=res.run_id).to_dicts()
    assert {"master", "worker-1", "worker-2"} <= {g["node"] for g in gen}
    assert any(g["cpu_pct"] > 0 for g in gen if g["node"].startswith("worker"))  # the workers' own CPU
    assert 0 < run["generator_cpu_max"] < 90 and not run["generator_overloaded"]


def test_shipped_file_is_the_default(app_cfg):
    assert app_cfg.loadtest.file == DEFAULT_LOADTESTS


def test_the_series_is_followed_line_by_line_and_a_half_written_line_waits(tmp_path):
    from loadtests.runner import _Tail

    series = tmp_path / "series.jsonl"
    tail = _Tail(series)
    assert tail.read() == []                                    # not there yet
    series.write_text('{"type": "start"}\n{"type": "sam', encoding="utf-8")
    assert tail.read() == [{"type": "start"}]
    with series.open("a", encoding="utf-8") as f:
        f.write('ple", "t": 1}\nnot json\n{"type": "final"}\n')
    assert tail.read() == [{"type": "sample", "t": 1}, {"type": "final"}]
    assert tail.read() == []
