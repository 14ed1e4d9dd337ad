"""Load-test analysis (loadtests/analysis.py) and the stored runs (store/loadtest_*.py), on synthetic
series in the format loadtests/locustfile.py writes, in a real DuckDB file."""
from __future__ import annotations

import random

import pytest

from config.loadtest import Criteria, selector_matches
from loadtests import analysis
from loadtests.runner import build_payload, clean_error, exit_code
from loadtests.shapes import Plan
from store.errors import StoreError
from store.ops import OperationError
from store.service import StoreService
from system import Motcua, open_ops


def lines_for(seconds: int, users, endpoints: dict[str, tuple[float, float]], seed: int = 1,
              errors: dict[str, str] | None = None) -> list[dict]:
    """Series lines: every second, each endpoint gets ~20 requests with latency ~ N(mean, sd) ms and
    failures at the given rate."""
    rng = random.Random(seed)
    out = [{"type": "start", "at": 1_800_000_000.0}]
    for t in range(1, seconds + 1):
        entries, errs = [], []
        for name, (mean, fail_rate) in endpoints.items():
            hist: dict[str, int] = {}
            n, f, total = 20, 0, 0.0
            for _ in range(n):
                v = max(1.0, rng.gauss(mean, mean * 0.1))
                b = int(round(v)) if v < 100 else int(round(v, -1))
                hist[str(b)] = hist.get(str(b), 0) + 1
                total += v
                if rng.random() < fail_rate:
                    f += 1
            entries.append({"m": "GET", "n": name, "r": n, "f": f, "h": hist, "s": total})
            if f and errors and name in errors:
                errs.append({"m": "GET", "n": name, "e": f"CatchResponseError('{errors[name]}')", "o": f})
        u = users(t) if callable(users) else users
        out.append({"type": "sample", "t": float(t), "at": 1_800_000_000.0 + t, "users": u,
                    "cpu": {"local": 30.0}, "entries": entries, "errors": errs, "final": False})
    out.append({"type": "final", "peak_users": max(x.get("users", 0) for x in out if x["type"] == "sample"),
                "locust": "2.47.0"})
    return out


def run_row(run_id: str, release: str) -> dict:
    return {"run_id": run_id, "scenario": "smoke", "release": release, "target": "http://127.0.0.1:1",
            "status": "completed", "started_at": "2026-12-01 09:00:00", "finished_at": "2026-12-01 09:01:00"}


def test_percentiles_follow_locusts_rule():
    # n·q whole: Locust's p50 of 100 samples is the 51st smallest, not the 50th
    h = {10: 50, 20: 45, 500: 5}
    assert analysis.percentile(h, 50) == 20 and analysis.percentile(h, 90) == 20
    assert analysis.percentile(h, 95) == 500 and analysis.percentile(h, 96) == 500
    assert analysis.percentile(h, 94) == 20 and analysis.percentile({}, 50) is None
    # the upload of the tester's run: half the uploads at 1,800 ms, half at 1,900 → p50 1,900
    up = {1800: 10, 1900: 10}
    assert analysis.percentile(up, 50) == 1900 and analysis.Stat(20, 0, 0.0, up).p(50) == 1900
    # n·q not whole: the next sample up, as before
    assert analysis.percentile({1800: 10, 1900: 11}, 50) == 1900
    assert analysis.percentile({1800: 11, 1900: 10}, 50) == 1800
    assert analysis.percentile({7: 1}, 99) == 7 and analysis.percentile({7: 3, 9: 1}, 100) == 9
    assert analysis.merge([{"10": 1}, {10: 2, 20: 1}]) == {10: 3, 20: 1}


LOCUST_PERCENTILES = """
import json, sys
from locust.stats import calculate_response_time_percentile as p
cases = json.load(sys.stdin)
print(json.dumps([[p({int(k): v for k, v in h.items()}, sum(h.values()), q / 100.0) for q in qs]
                  for h, qs in cases]))
"""


def test_percentiles_equal_locusts_own_function_on_random_histograms():
    """Locust's function itself, run in a process of its own (importing locust patches the process
    with gevent), on histograms where n·q is often whole."""
    import json
    import subprocess
    import sys

    rng = random.Random(7)
    buckets = [1, 2, 5, 9, 10, 47, 99, 100, 150, 990, 1000, 1800, 1900, 3400, 12000]
    qs = [50, 90, 95, 99, 66, 75, 80, 98, 100]
    cases = []
    for _ in range(400):
        keys = rng.sample(buckets, rng.randint(1, 6))
        total = rng.choice([1, 2, 4, 10, 20, 50, 100, 200, 1000, rng.randint(1, 500)])
        h = {k: 0 for k in keys}
        for _ in range(total):
            h[rng.choice(keys)] += 1
        cases.append(({str(k): v for k, v in h.items() if v}, qs))
    out = subprocess.run([sys.executable, "-c", LOCUST_PERCENTILES], input=json.dumps(cases), text=True,
                         capture_output=True, check=True, timeout=120)
    theirs = json.loads(out.stdout)
    whole = 0
    for (h, _), expected in zip(cases, theirs):
        hist = {int(k): v for k, v in h.items()}
        n = sum(hist.values())
        whole += sum(1 for q in qs if (n * q) % 100 == 0)
        assert [analysis.percentile(hist, q) for q in qs] == expected, h
    assert whole > 500  # the cases the old rule got wrong are well represented


def test_verdicts_are_judged_only_while_enough_users_ran():
    lines = lines_for(10, lambda t: 5 if t <= 4 else 20, {"home": (100, 0.0), "search": (400, 0.0)})
    samples = analysis.samples_from_lines(lines)
    crit = Criteria(at_users=20, thresholds={"requests": ["p95 < 300ms"], "total": ["rps > 30"]})
    rows = analysis.judge(crit.model_dump(), crit.parsed(), samples, selector_matches, "c")
    by = {(r["selector"], r["name"]): r for r in rows}
    assert by[("requests", "home")]["passed"] and not by[("requests", "search")]["passed"]
    assert all(r["at_users"] == 20 and r["required_users"] == 20 for r in rows)
    assert by[("total", "*")]["observed"] == pytest.approx(40, rel=0.01) and by[("total", "*")]["passed"]
    assert by[("requests", "home")]["window_s"] == pytest.approx(6)
    # the run never reaches 50 users: every criterion fails, saying how far it got
    crit50 = Criteria(at_users=50, thresholds={"requests": ["p95 < 10s"]})
    rows = analysis.judge(crit50.model_dump(), crit50.parsed(), samples, selector_matches, "c")
    assert len(rows) == 1 and not rows[0]["passed"] and rows[0]["at_users"] == 20
    assert "reached 20 users" in rows[0]["note"]


def test_knee_of_a_step_run():
    # latency flat up to 30 users, then it grows with the queue; throughput stops growing
    def users(t):
        return 10 * (1 + (t - 1) // 4)
    plan = Plan.from_shape({"kind": "step", "steps": 5}, 50, 20)
    lines = [{"type": "start", "at": 0.0}]
    for t in range(1, 21):
        u = users(t)
        lat = 50 if u <= 30 else 50 + (u - 30) * 20
        rps = min(u * 2, 60)
        lines.append({"type": "sample", "t": float(t), "at": float(t), "users": u, "cpu": {},
                      "entries": [{"m": "GET", "n": "x", "r": rps, "f": 0, "h": {str(lat): rps}, "s": lat * rps}],
                      "errors": []})
    rows, knee = analysis.capacity(analysis.samples_from_lines(lines), plan.phases())
    assert [r["users"] for r in rows] == [10, 20, 30, 40, 50]
    assert knee["found"] and knee["knee_users"] == 40 and knee["capacity_users"] == 30 and knee["capacity_rps"] == pytest.approx(60)
    assert [r["is_knee"] for r in rows] == [False, False, False, True, False]


def test_noise_tests():
    rng = random.Random(3)
    a = [rng.gauss(100, 5) for _ in range(30)]
    b = [rng.gauss(100, 5) for _ in range(30)]
    c = [rng.gauss(150, 5) for _ in range(30)]
    assert analysis.mann_whitney_p(a, b) > 0.05 and analysis.mann_whitney_p(a, c) < 0.001
    assert analysis.two_proportion_p(10, 1000, 12, 1000) > 0.05
    assert analysis.two_proportion_p(10, 1000, 80, 1000) < 0.001
    assert not analysis.beyond_noise(0.001, 100, 104)   # significant but tiny
    assert analysis.beyond_noise(0.001, 100, 150) and not analysis.beyond_noise(0.2, 100, 150)


def test_error_messages_are_unwrapped():
    assert clean_error("CatchResponseError('expected status 200, got 502')") == "expected status 200, got 502"
    assert clean_error("Exception('failed at step upload')") == "failed at step upload"
    assert clean_error("ConnectionRefusedError(111, 'Connection refused')").startswith("ConnectionRefused")


def test_an_overloaded_generator_is_flagged_and_the_run_inconclusive():
    lines = lines_for(10, 10, {"home": (20, 0.0)})
    for ln in lines[3:]:
        if ln["type"] == "sample":
            ln["cpu"] = {"local": 97.0}
    p = build_payload(run_row("hot", "v1.0"), lines, [], None)
    assert p["run"]["generator_overloaded"] and p["run"]["generator_cpu_max"] == 97.0
    assert exit_code(p["run"]) == 3
    calm = build_payload(run_row("calm", "v1.0"), lines_for(10, 10, {"home": (20, 0.0)}), [], None)
    assert not calm["run"]["generator_overloaded"] and exit_code(calm["run"]) == 0
    assert {g["node"] for g in calm["generator"]} == {"local"} and len(calm["generator"]) == 10


def _payload(run_id, release, endpoints, seed, errors=None):
    lines = lines_for(20, 10, endpoints, seed=seed, errors=errors)
    return build_payload(run_row(run_id, release), lines, [], None)


def test_a_run_is_stored_whole_and_read_back_by_the_named_queries(app_cfg):
    app = Motcua(app_cfg)
    try:
        p = _payload("r1", "v1.0", {"home": (20, 0.0), "upload": (80, 0.1)}, 1, {"upload": "expected status 200, got 502"})
        app.store_loadtest_run(p)
        app.store_loadtest_run(p)  # idempotent: written at start and at the end
        run = app.query("loadtest_run", run_id="r1").one()
        assert run["status"] == "completed" and run["requests"] == 800 and run["verdict"] == "none"
        ends = {e["name"]: e for e in app.query("loadtest_endpoints", run_id="r1")}
        assert set(ends) == {"home", "upload", "*"} and ends["*"]["requests"] == 800
        assert 60 <= ends["upload"]["p50_ms"] <= 100 and ends["home"]["p95_ms"] < 30
        series = app.query("loadtest_series", run_id="r1")
        assert len(series) == 20 and set(series.column("name")) == {"*"}
        assert len(app.query("loadtest_series", run_id="r1", endpoint="upload")) == 20
        assert len(app.query("loadtest_series", run_id="r1", endpoint="*all")) == 60
        fails = app.query("loadtest_failures", run_id="r1").one()
        assert fails["error"] == "expected status 200, got 502" and fails["occurrences"] == ends["upload"]["failures"]
        assert len(app.query("loadtest_generator", run_id="r1")) == 20
        assert app.query("loadtest_runs", limit=5, release="v1.0").column("run_id") == ["r1"]
        assert len(app.query("loadtest_runs", limit=5, scenario="other")) == 0
        with pytest.raises(StoreError, match="unknown run field"):
            app.store_loadtest_run({"run": {**run_row("r2", "x"), "colour": "red"}})
        with pytest.raises(StoreError, match="field release is missing"):
            app.store_loadtest_run({"run": {**run_row("r2", "x"), "release": ""}})
    finally:
        app.close()


def test_compare_names_what_regressed_beyond_noise(app_cfg):
    app = Motcua(app_cfg)
    try:
        app.store_loadtest_run(_payload("a", "v1.0", {"home": (20, 0.0), "search": (40, 0.0), "upload": (80, 0.0)}, 1))
        app.store_loadtest_run(_payload("b", "v2.0", {"home": (20, 0.0), "search": (120, 0.0), "upload": (80, 0.2)}, 2))
        rel = {r["release"]: r for r in app.query("loadtest_releases", scenario="smoke")}
        assert set(rel) == {"v1.0", "v2.0"} and rel["v2.0"]["last_run_id"] == "b" and rel["v1.0"]["runs"] == 1
        rows = app.query("loadtest_compare", run_a="a", run_b="b").to_dicts()
        worse = {(r["name"], r["metric"]) for r in rows if r["worse"]}
        assert ("search", "p95_ms") in worse and ("search", "p50_ms") in worse
        assert ("upload", "error_rate") in worse
        assert not any(n == "home" for n, _ in worse)
        home = [r for r in rows if r["name"] == "home"]
        assert {r["verdict"] for r in home} <= {"noise", "unchanged"}
        with pytest.raises(StoreError, match="no load-test run 'zzz'"):
            app.query("loadtest_compare", run_a="a", run_b="zzz")
    finally:
        app.close()


def test_the_owner_stores_runs_for_other_processes(app_cfg, run_app):
    app = Motcua(app_cfg)
    service = StoreService(app, app_cfg.store.path, "127.0.0.1", 0)
    service.start()
    try:
        ops = open_ops(app_cfg)
        assert ops.remote
        res = ops.store_loadtest_run(_payload("remote-1", "v1.0", {"home": (20, 0.0)}, 1))
        assert res["run_id"] == "remote-1" and res["rows"]["series"] == 40
        assert ops.query("loadtest_run", run_id="remote-1").one()["requests"] == 400
        assert app.query("loadtest_endpoints", run_id="remote-1").column("name") == ["home", "*"]
        with pytest.raises(OperationError, match="run_id is missing"):
            ops.store_loadtest_run({"run": {}})
        ops.close()
        # the command line, while the owner holds the file: the refusal reaches the store through it
        r = run_app("loadtest", "--scenario", "smoke", "--target", "http://203.0.113.9", "--release", "rc2")
        assert r.returncode == 2 and "allowlist" in r.stdout, r.stderr
        assert app.query("loadtest_runs", release="rc2").one()["status"] == "refused"
    finally:
        service.stop()
        app.close()


def test_compare_and_report_from_the_command_line(app_cfg, run_app, tmp_path):
    app = Motcua(app_cfg)
    try:
        app.store_loadtest_run(_payload("20261201-090000-aaaa", "v1.0", {"home": (20, 0.0), "search": (40, 0.0)}, 1))
        app.store_loadtest_run(_payload("20261201-100000-bbbb", "v2.0", {"home": (20, 0.0), "search": (150, 0.0)}, 2))
    finally:
        app.close()
    r = run_app("loadtest", "compare", "20261201-09", "last")
    assert r.returncode == 1, r.stderr
    assert "Regressed: search" in r.stdout and "B = 20261201-100000-bbbb" in r.stdout
    r = run_app("loadtest", "compare", "20261201-09", "nope")
    assert r.returncode == 2 and "no load-test run 'nope'" in r.stderr
    out = tmp_path / "r.html"
    r = run_app("loadtest", "report", "last", "--lang", "en", "--out", str(out))
    assert r.returncode == 0 and "Load-test report" in out.read_text(encoding="utf-8")
    r = run_app("loadtest", "list")
    assert r.returncode == 0 and "20261201-100000-bbbb" in r.stdout.splitlines()[1]


def test_histogram_noise_test_matches_the_plain_one():
    a = {10: 30, 20: 10}
    b = {10: 5, 20: 20, 30: 15}
    ea = [10] * 30 + [20] * 10
    eb = [10] * 5 + [20] * 20 + [30] * 15
    assert analysis.mann_whitney_hist_p(a, b) == pytest.approx(analysis.mann_whitney_p(ea, eb), rel=1e-9)
    assert analysis.mann_whitney_hist_p({10: 3}, b) is None


def test_an_endpoint_seen_in_one_interval_is_compared_over_its_requests(app_cfg):
    def one_burst(run_id, release, lat):
        lines = lines_for(10, 10, {"home": (20, 0.0)}, seed=5)
        lines[5]["entries"].append({"m": "POST", "n": "submit/upload", "r": 20, "f": 0, "h": {str(lat): 20},
                                    "s": lat * 20})
        return build_payload(run_row(run_id, release), lines, [], None)

    app = Motcua(app_cfg)
    try:
        app.store_loadtest_run(one_burst("a", "v1.0", 70))
        app.store_loadtest_run(one_burst("b", "v2.0", 700))
        rows = {(r["name"], r["metric"]): r for r in app.query("loadtest_compare", run_a="a", run_b="b")}
        assert rows[("submit/upload", "p95_ms")]["verdict"] == "regressed"
        assert rows[("submit/upload", "p95_ms")]["p_value"] < 0.001
        assert rows[("home", "p95_ms")]["verdict"] in ("noise", "unchanged")
    finally:
        app.close()
