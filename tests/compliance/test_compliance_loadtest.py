"""Load-test evidence of the compliance register from real, short Locust runs against the testbed
(loadtests.runner, Locust in child processes) stored in a real DuckDB store: a run that holds the
criteria at >= N users is met since its end, a later one that fails is not met since its end, a
refused run is no observation, and runs judged at too few users leave the criterion not measured."""
from __future__ import annotations

import datetime as dt

import pytest

from compliance import Period
from compliance.evidence import _run_verdict, loadtest
from config.compliance import LoadTestEvidence
from loadtests.runner import LoadRequest, run_loadtest
from testbed.portal.server import running

pytestmark = pytest.mark.slow


def _run(app, tmp_path, req: LoadRequest):
    return run_loadtest(app, req, runs_dir=tmp_path / "runs", out=lambda s: None, progress_every=0, report=False)


def test_loadtest_evidence_from_real_runs(app, tmp_path):
    ev = LoadTestEvidence(source="loadtest", min_users=10)
    period = Period.parse()
    assert loadtest(app, ev, period).status == "not_measured"  # no run yet

    with running("v1.0") as base:
        a = _run(app, tmp_path, LoadRequest("smoke", base, "v1.0", users=20, duration=6))
    run_a = app.query("loadtest_run", run_id=a.run_id).one()
    assert run_a["status"] == "completed" and run_a["verdict"] == "pass"
    held = min(v["at_users"] for v in app.query("loadtest_verdicts", run_id=a.run_id))
    assert held >= 10
    j = loadtest(app, ev, period)
    assert j.status == "met" and j.since == run_a["finished_at"] and j.last_at == run_a["finished_at"]
    assert j.numbers["latest_run"] == a.run_id and j.numbers["latest_release"] == "v1.0"
    assert j.numbers["latest_failed"] == [] and j.numbers["latest_criteria_judged"] > 0
    assert f"đạt mọi tiêu chí ở {j.numbers['latest_max_users_judged']} người dùng đồng thời (ngưỡng ≥ 10)" in j.summary
    # the same run judged against more users than it held: not measured, never "met"
    assert loadtest(app, LoadTestEvidence(source="loadtest", min_users=500), period).status == "not_measured"
    # criteria sets the run was not judged against: not measured
    assert loadtest(app, LoadTestEvidence(source="loadtest", min_users=10, criteria=["go-live"]),
                    period).status == "not_measured"
    # a period that ended before the run: not measured
    before = Period(period.start, dt.date.fromordinal(run_a["started_at"].date().toordinal() - 1))
    assert loadtest(app, ev, before).status == "not_measured"

    # a refused run (a target off the allowlist) is stored, but it is no observation
    r = _run(app, tmp_path, LoadRequest("smoke", "http://10.20.30.40:8088", "v2.1", users=20, duration=6))
    assert app.query("loadtest_run", run_id=r.run_id).one()["status"] == "refused"
    assert loadtest(app, ev, period).numbers["latest_run"] == a.run_id

    with running("v2.0") as base:
        b = _run(app, tmp_path, LoadRequest("smoke", base, "v2.0", users=20, duration=6))
    run_b = app.query("loadtest_run", run_id=b.run_id).one()
    assert run_b["verdict"] == "fail"
    j = loadtest(app, ev, period)
    assert j.status == "not_met" and j.since == run_b["finished_at"] > run_a["finished_at"]
    assert j.numbers["latest_run"] == b.run_id and j.numbers["latest_release"] == "v2.0"
    failed = [v for v in app.query("loadtest_verdicts", run_id=b.run_id) if not v["passed"]]
    assert len(j.numbers["latest_failed"]) == len({(v["criterion"], v["name"], v["expression"]) for v in failed})
    assert (j.numbers["runs_in_period"], j.numbers["runs_met"], j.numbers["runs_not_met"]) == (2, 1, 1)
    assert "không đạt ở" in j.summary and "smoke: " in j.summary
    # judged on the error-rate criterion set only: still the same set ("smoke"), still not met
    assert loadtest(app, LoadTestEvidence(source="loadtest", min_users=10, criteria=["smoke"]), period).status == "not_met"

    # a second failing run: still not met, and "since" stays at the first failure of the streak
    with running("v2.0") as base:
        c = _run(app, tmp_path, LoadRequest("smoke", base, "v2.0", users=20, duration=6))
    j = loadtest(app, ev, period)
    assert j.status == "not_met" and j.numbers["latest_run"] == c.run_id and j.since == run_b["finished_at"]
    assert (j.numbers["runs_in_period"], j.numbers["runs_met"], j.numbers["runs_not_met"]) == (3, 1, 2)

    # the rule for runs that did not run their course, on the stored verdicts of the two runs:
    # a failure counts (not met), a pass proves nothing (no observation)
    va = app.query("loadtest_verdicts", run_id=a.run_id).to_dicts()
    vb = app.query("loadtest_verdicts", run_id=b.run_id).to_dicts()
    for status in ("interrupted", "failed"):
        assert _run_verdict({**run_a, "status": status}, va, ev)[0] is None
        assert _run_verdict({**run_b, "status": status}, vb, ev)[0] is False
    assert _run_verdict(run_a, va, ev)[0] is True and _run_verdict(run_b, vb, ev)[0] is False
