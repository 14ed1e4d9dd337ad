"""The shipped probes (config/probes.yaml) against the simulated portal, over real sockets, for both
release profiles: v1.0 is all green; v2.0's 2022 failures are caught by name, and clear when fixed."""
from __future__ import annotations

import httpx
import pytest

from config import default_path
from config.portal import load_profile
from config.probes import load_probes
from probes.runner import JOURNEY_STEP, format_results, run_once
from steps.secrets import load_secrets
from store.db import Store
from testbed.portal.server import running

V2_FAST = load_profile("v2.0").scaled(0.25)
CFG = load_probes()
SECRETS_FILE = default_path("probes.testbed-secrets.yaml")
PASSWORDS = ("MatKhau@2021", "MatKhau@2022", "CanBo@2022")
FEATURES_GONE_IN_V2 = {"feature-qr-lookup", "feature-payment", "feature-rating", "feature-home-utilities"}


def by_key(results):
    return {(r.name, r.step): r for r in results}


def secrets():
    return load_secrets(SECRETS_FILE, env={})


def expected_steps():
    keys = {(c.name, "") for c in CFG.checks}
    for j in CFG.journeys:
        keys |= {(j.name, s.name) for s in j.steps} | {(j.name, JOURNEY_STEP)}
    return keys


def test_v1_all_green_and_written_to_the_store(tmp_path):
    with running("v1.0") as base, Store(tmp_path / "s.duckdb") as store:
        results = run_once(None, store=store, base_url=base, secrets=secrets())
        assert all(r.ok for r in results), format_results(results)
        assert set(by_key(results)) == expected_steps()
        r = by_key(results)
        # the submission journey really filed a dossier and looked it up by its code
        assert r[("citizen-v2-submission", "lookup-api")].status_code == 200
        assert r[("citizen-v2-submission", JOURNEY_STEP)].total_ms >= r[("citizen-v2-submission", "upload")].total_ms
        stats = httpx.get(f"{base}/__testbed/stats").json()
        assert stats["dossiers"] == 61  # 60 seeded + the probe's submission
        latest = store.query("probe_latest")
        assert len(latest) == len(results) and all(latest.column("ok"))
        run = store.query("probe_runs").one()
        assert run["results"] == len(results) and run["failures"] == 0 and run["target"] == base
        hourly = store.query("probe_rollup", grain="hourly", probe="citizen-v2-submission")
        assert {row["step"] for row in hourly} == {s.name for s in CFG.journeys[0].steps} | {JOURNEY_STEP}


def test_v2_detects_the_2022_failures_by_name_and_they_clear_when_fixed(tmp_path):
    with running(V2_FAST) as base, Store(tmp_path / "s.duckdb") as store:
        results = run_once(None, store=store, base_url=base, secrets=secrets())
        r = by_key(results)
        failed = {name for (name, step), res in r.items() if not res.ok}
        assert failed == FEATURES_GONE_IN_V2 | {"dvcqg-sync", "citizen-v1-login"}, format_results(results)

        # missing features, each a named check
        for name in ("feature-qr-lookup", "feature-payment", "feature-rating"):
            assert r[(name, "")].reason == "expected status 200, got 404"
        home = r[("feature-home-utilities", "")].reason
        assert "text 'href=\"/vi/tra-cuu-qr\"' not found" in home and "thanh-toan" in home and "danh-gia" in home
        # the refused 1.0 account, at the login step, with the portal's generic error named
        v1 = r[("citizen-v1-login", "login")]
        assert v1.status_code == 200 and "Tên đăng nhập hoặc mật khẩu không chính xác' found" in v1.reason
        assert r[("citizen-v1-login", JOURNEY_STEP)].reason.startswith("failed at step 'login'")
        assert ("citizen-v1-login", "session-cookie") not in r
        # unsynced results of finished dossiers, counted
        sync = r[("dvcqg-sync", "")].reason
        assert sync.startswith("items where synced=false, state in [finished, returned]: ")
        assert int(sync.split(": ")[1].split(",")[0]) > 0
        # what still works in 2.0 stays green: the 2.0 citizen's submission and the officer's list
        assert r[("citizen-v2-submission", JOURNEY_STEP)].ok and r[("officer-dossier-list", JOURNEY_STEP)].ok
        # credentials never reach results or the store
        dump = format_results(results) + repr(store.cursor().execute("SELECT * FROM probe_results").fetchall())
        assert not any(p in dump for p in PASSWORDS)

        # "fixed": the portal goes back to the 1.0 behaviour; the next run is green again
        switched = httpx.post(f"{base}/__testbed/profile", json={"release": "v1.0"},
                              headers={"X-Testbed-Token": "testbed"})
        assert switched.status_code == 200
        again = run_once(None, store=store, base_url=base, secrets=secrets())
        assert all(x.ok for x in again), format_results(again)
        latest = {(x["name"], x["step"]): x for x in store.query("probe_latest")}
        assert all(x["ok"] for x in latest.values())
        hourly = {(x["name"], x["step"]): x for x in store.query("probe_rollup", grain="hourly")}
        # both runs fall in the same hour unless the test straddles one
        qr = [x for (n, s), x in hourly.items() if n == "feature-qr-lookup"]
        assert sum(x["count"] for x in qr) == 2 and sum(x["failures"] for x in qr) == 1


@pytest.mark.parametrize("release", ["v1.0", "v2.0"])
def test_env_secret_overrides_the_file(release, monkeypatch):
    # a wrong password from the environment wins over the file: the 2.0 citizen cannot log in
    monkeypatch.setenv("MOTCUA_SECRET_CITIZEN_V2_PASSWORD", "Wrong-Pass-123")
    monkeypatch.delenv("MOTCUA_SECRETS_FILE", raising=False)
    only = CFG.model_copy(update={"checks": [], "journeys": [j for j in CFG.journeys if j.name == "citizen-v2-submission"]})
    with running(V2_FAST if release == "v2.0" else release) as base:
        results = run_once(only, base_url=base)
    r = by_key(results)
    assert r[("citizen-v2-submission", "login")].ok is False
    assert "Wrong-Pass-123" not in format_results(results) + repr(results)
