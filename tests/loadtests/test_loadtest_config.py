"""Load-test configuration (config/loadtest.py) and the load shapes (loadtests/shapes.py)."""
from __future__ import annotations

import textwrap

import pytest
from pydantic import ValidationError

from config.errors import ConfigError
from config.loadtest import (Allowlist, Criteria, Shape, Threshold, WaitTime, load_loadtests, parse_duration,
                             resolve_tasks, selector_matches)
from config.probes import load_probes
from loadtests.shapes import Plan


def test_shipped_file_loads_and_every_task_resolves_against_the_probes():
    cfg = load_loadtests()
    assert {"citizens-officers", "working-day", "spike", "smoke", "home-only",
            "home-only-saturated"} <= set(cfg.scenarios)
    for name, sc in cfg.scenarios.items():
        tasks = resolve_tasks(sc, load_probes(sc.portal), name)
        assert tasks
    mix = cfg.scenarios["citizens-officers"]
    classes = {u.name: u for u in mix.user_classes}
    assert set(classes) == {"citizen", "officer"}
    assert {t.name for t in classes["officer"].tasks} == {"officer-list", "officer-process", "officer-return"}
    assert {"search", "read-procedure", "submit-online", "lookup", "login-v1-account"} <= {
        t.name for t in classes["citizen"].tasks}
    assert cfg.criteria["go-live"].at_users == 300
    assert cfg.allowlist.hosts == ["127.0.0.1", "localhost", "::1"]


def test_allowlist_is_loopback_only_by_default():
    a = Allowlist()
    for host in ("127.0.0.1", "localhost", "::1", "[::1]", "LOCALHOST"):
        assert a.allows(host), host
    for host in ("10.0.0.5", "192.168.1.1", "dichvucong.quangngai.gov.vn", "127.0.0.2", "0.0.0.0"):
        assert not a.allows(host), host
    wider = Allowlist(networks=["127.0.0.0/8"])
    assert wider.allows("127.0.0.2") and not wider.allows("10.0.0.1")
    with pytest.raises(ValidationError, match="not a network"):
        Allowlist(networks=["loopback"])


@pytest.mark.parametrize("text,seconds", [(90, 90), ("90s", 90), ("5m", 300), ("1h", 3600), ("250ms", 0.25),
                                          ("1.5m", 90)])
def test_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["soon", "-5s", "0", True, "5d"])
def test_bad_durations_are_refused(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


@pytest.mark.parametrize("expr,metric,op,value", [
    ("p(95) < 2s", "p95", "<", 2000), ("p95<2000", "p95", "<", 2000), ("p(99.9) <= 3s", "p99.9", "<=", 3000),
    ("avg < 800ms", "avg", "<", 800), ("med < 1s", "p50", "<", 1000), ("errors < 1%", "error_rate", "<", 0.01),
    ("error_rate < 0.05", "error_rate", "<", 0.05), ("rps > 50", "rps", ">", 50), ("max < 10s", "max", "<", 10000),
])
def test_threshold_expressions_k6_style(expr, metric, op, value):
    t = Threshold.parse(expr)
    assert (t.metric, t.op) == (metric, op) and t.value == pytest.approx(value)


@pytest.mark.parametrize("bad,words", [("p95 < fast", "expected"), ("errors < 2s", "fraction"),
                                       ("errors < 150%", "at most 1"), ("p(120) < 1s", "between 0 and 100"),
                                       ("rps > 5s", "no unit"), ("p95 < 5%", "ms or s")])
def test_bad_threshold_expressions_say_why(bad, words):
    with pytest.raises(ValueError, match=words):
        Threshold.parse(bad)


def test_threshold_holds():
    assert Threshold.parse("p95 < 2s").holds(1999) and not Threshold.parse("p95 < 2s").holds(2000)
    assert Threshold.parse("rps >= 10").holds(10) and not Threshold.parse("rps > 10").holds(None)


def test_criteria_selectors():
    assert selector_matches("requests", "GET", "home") and not selector_matches("requests", "JOURNEY", "submit")
    assert selector_matches("journey:*", "JOURNEY", "submit") and not selector_matches("journey:*", "GET", "home")
    assert selector_matches("submit/*", "POST", "submit/upload") and not selector_matches("submit/*", "GET", "home")
    assert not selector_matches("total", "GET", "home")
    with pytest.raises(ValidationError, match="p95 < soon"):
        Criteria(thresholds={"requests": ["p95 < soon"]})


def test_wait_time_needs_exactly_one_form():
    assert WaitTime(between=(1, 3)).between == (1, 3)
    with pytest.raises(ValidationError, match="exactly one"):
        WaitTime(constant=1, pacing=2)
    with pytest.raises(ValidationError, match="low <= high"):
        WaitTime(between=(3, 1))


def _write(tmp_path, body: str):
    p = tmp_path / "lt.yaml"
    p.write_text(textwrap.dedent(body), encoding="utf-8")
    return p


def test_unknown_references_are_named(tmp_path):
    p = _write(tmp_path, """
        scenarios:
          s1:
            shape: nowhere
            user_classes: [{name: c, tasks: [{name: t, check: home}]}]
        """)
    with pytest.raises(ConfigError, match=r"scenarios.s1.shape: unknown shape 'nowhere'"):
        load_loadtests(p)
    p = _write(tmp_path, """
        shapes: {s: {kind: steady, duration: 5}}
        scenarios:
          s1:
            shape: s
            user_classes: [{name: c, tasks: [{name: t, check: no-such-check}]}]
        """)
    cfg = load_loadtests(p)
    sc = cfg.scenarios["s1"]
    with pytest.raises(ConfigError, match=r"tasks\(t\): the portal description has no check 'no-such-check'"):
        resolve_tasks(sc, load_probes(), "s1")


def test_a_task_gives_exactly_one_source_and_inline_steps_keep_credentials_out(tmp_path):
    p = _write(tmp_path, """
        shapes: {s: {kind: steady, duration: 5}}
        scenarios:
          s1:
            shape: s
            user_classes: [{name: c, tasks: [{name: t, check: home, journey: citizen-v1-login}]}]
        """)
    with pytest.raises(ConfigError, match="exactly one of check, journey, steps"):
        load_loadtests(p)
    p = _write(tmp_path, """
        shapes: {s: {kind: steady, duration: 5}}
        scenarios:
          s1:
            shape: s
            user_classes:
              - name: c
                tasks:
                  - name: t
                    steps: [{name: login, method: POST, url: "${base_url}/x", form: {password: hunter2}}]
        """)
    with pytest.raises(ConfigError, match="carries a credential"):
        load_loadtests(p)


def test_shape_validation():
    with pytest.raises(ValidationError, match="at \\+ length"):
        Shape(kind="spike", at=0.9, length=0.2)
    with pytest.raises(ValidationError, match="HH:MM"):
        Shape(kind="working_day", profile={"8h": 0.5, "09:00": 1})


# -- shapes -------------------------------------------------------------------------------------
def test_ramp_rises_linearly_then_holds():
    p = Plan.from_shape({"kind": "ramp", "ramp": 0.5}, 100, 100)
    assert p.users_at(0) == 1 and p.users_at(25) == 50 and p.users_at(49) == 98
    assert p.users_at(50) == 100 and p.users_at(99) == 100 and p.tick(100) is None


def test_steady_warms_up_then_holds():
    p = Plan.from_shape({"kind": "steady", "warmup": 10}, 50, 60)
    assert p.users_at(5) == 25 and p.users_at(10) == 50 and p.users_at(59) == 50
    assert [ph.label for ph in p.phases()] == ["warm-up", "steady"]


def test_step_climbs_in_equal_steps():
    p = Plan.from_shape({"kind": "step", "steps": 5}, 100, 50)
    assert [p.users_at(t) for t in (0, 9.9, 10, 25, 49)] == [20, 20, 40, 60, 100]
    assert [(ph.t0, ph.t1, ph.users) for ph in p.phases()] == [
        (0, 10, 20), (10, 20, 40), (20, 30, 60), (30, 40, 80), (40, 50, 100)]


def test_spike_jumps_and_returns_to_base():
    p = Plan.from_shape({"kind": "spike", "base": 0.2, "at": 0.4, "length": 0.2}, 100, 100)
    assert p.users_at(10) == 20 and p.users_at(40) == 100 and p.users_at(59) == 100 and p.users_at(60) == 20


def test_working_day_has_morning_peak_lunch_dip_and_end_of_month_peak():
    shape = Shape(kind="working_day", duration=200).model_dump()
    p = Plan.from_shape(shape, 300, 200)
    day = 100.0  # two days in a row: normal, end of month
    frac = lambda hhmm: (int(hhmm[:2]) * 60 + int(hhmm[3:]) - 450) / (17 * 60 - 450)  # noqa: E731
    morning, lunch, afternoon = (p.users_at(day * frac(x)) for x in ("09:45", "12:30", "14:30"))
    assert morning > afternoon > lunch
    assert morning == round(300 * 0.6)            # an ordinary day peaks at 60 % of the target
    eom = p.users_at(day + day * frac("09:45"))
    assert eom == 300 and p.peak() == 300        # the end of the month reaches the target
    assert [ph.label for ph in p.phases()] == ["normal", "end_of_month"]


def test_prepare_scales_the_scenario_and_refuses_other_hosts():
    from loadtests.runner import LoadRequest, Refused, prepare

    p = prepare(LoadRequest("smoke", "http://localhost:9/", "x", users=7, duration=36000))
    assert p.spec["target"] == "http://localhost:9" and p.spec["users"] == 7 and p.plan.duration == 36000
    assert p.spec["interval"] == 30  # at most 1200 points per series, whatever the run's length
    assert "${secret:OFFICER_PASSWORD}" in str(p.spec["user_classes"]) and "CanBo@2022" not in str(p.spec)
    assert prepare(LoadRequest("smoke", "http://[::1]:9", "x")).spec["target"] == "http://[::1]:9"
    for bad in ("http://10.0.0.1:80", "https://dichvucong.quangngai.gov.vn", "ftp://127.0.0.1/", "127.0.0.1:80"):
        with pytest.raises(Refused):
            prepare(LoadRequest("smoke", bad, "x"))


def test_another_portal_description_can_be_given(tmp_path):
    from loadtests.runner import LoadRequest, prepare

    staging = tmp_path / "staging-probes.yaml"
    staging.write_text(textwrap.dedent("""
        variables: {base_url: "http://127.0.0.1:9"}
        checks:
          - {name: home, url: "${base_url}/trang-chu", expect: {status: 200}}
        """), encoding="utf-8")
    p = prepare(LoadRequest("home-only", "http://127.0.0.1:9", "rc1", portal=str(staging)))
    assert p.spec["user_classes"][0]["tasks"][0]["steps"][0]["url"] == "${base_url}/trang-chu"
    with pytest.raises(ConfigError, match="no check 'procedure-search-api'"):
        prepare(LoadRequest("smoke", "http://127.0.0.1:9", "rc1", portal=str(staging)))


def test_the_saturated_scenario_is_home_only_without_its_wait():
    """bench_loadtest_cpu.py's saturated mode runs it: the same checks, no pacing, the same allowlist."""
    from loadtests.runner import LoadRequest, Refused, prepare

    paced = prepare(LoadRequest("home-only", "http://127.0.0.1:9", "x")).spec
    unpaced = prepare(LoadRequest("home-only-saturated", "http://127.0.0.1:9", "x")).spec
    assert paced["user_classes"][0]["wait"]["pacing"] == 0.1
    assert unpaced["user_classes"][0]["wait"] == {"constant": 0.0, "between": None, "pacing": None}
    assert unpaced["user_classes"][0]["tasks"] == paced["user_classes"][0]["tasks"]
    assert unpaced["user_classes"][0]["tasks"][0]["steps"][0]["expect"]["body_contains"]  # still checks the page
    with pytest.raises(Refused):
        prepare(LoadRequest("home-only-saturated", "http://10.0.0.1:80", "x"))


def test_nothing_of_ours_but_the_locustfile_imports_locust():
    """`import locust` patches the process with gevent: the parent side must never do it."""
    import subprocess
    import sys

    code = ("import sys, app, loadtests.runner, loadtests.cli, loadtests.report, loadtests.analysis, "
            "loadtests.shapes, store.loadtest_queries, store.loadtest_writes, config.loadtest; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(__import__("pathlib").Path(__file__).resolve().parents[2]))
    assert out.stdout.strip() == "[]", out.stdout
