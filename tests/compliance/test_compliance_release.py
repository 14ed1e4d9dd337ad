"""Done-when of the compliance register: the real probes against the simulated portal, through a
release that breaks a criterion (v2.0 lost 1.0's features) and one that fixes it (back to v1.0),
into the real store; the register shows not met, then met with the evidence and the date; a
request marked resolved without evidence is refused; the history cannot be rewritten."""
from __future__ import annotations

import datetime as dt

import httpx
import pytest

from compliance import Period, register, register_rows, request_rows
from compliance.actions import ComplianceRefused
from config import default_path
from config.clock import local_now
from config.portal import load_profile
from probes.runner import run_once
from steps.secrets import load_secrets
from system import Motcua
from testbed.portal.server import running

V2_FAST = load_profile("v2.0").scaled(0.25)
SECRETS = load_secrets(default_path("probes.testbed-secrets.yaml"), env={})


def switch(base: str, body: dict) -> None:
    r = httpx.post(f"{base}/__testbed/profile", json=body, headers={"X-Testbed-Token": "testbed"})
    assert r.status_code == 200, r.text


def row(rows, cid):
    return next(r for r in rows if r["id"] == cid)


def test_a_release_breaks_then_fixes_a_criterion_and_the_register_follows(app_cfg):
    app = Motcua(app_cfg)
    period = Period.parse()
    try:
        with running(V2_FAST) as base:
            # -- release 2.0: features of 1.0 gone ---------------------------------------------------
            run_once(None, store=app.store, base_url=base, secrets=SECRETS)
            broken_at = app.query("compliance_check_status", since=period.since, until=period.until,
                                  checks=["feature-qr-lookup"]).one()["last_at"]
            rows = register_rows(app, period)
            f = row(rows, "PROV.v1-features")
            assert f["status"] == "not_met" and f["status_label"] == "Không đạt"
            assert f["since"] <= broken_at
            assert "feature-qr-lookup: expected status 200, got 404" in f["evidence"]
            assert f["sources"][0]["numbers"]["checks"]["feature-payment"]["ok"] is False
            assert row(rows, "PROV.v1-accounts")["status"] == "not_met"
            assert row(rows, "II.dossier-tracking")["status"] == "not_met"  # the QR look-up is part of tracking
            # what still works in 2.0 stays met
            assert row(rows, "I.status-each-step")["sources"][1]["status"] == "met"

            # an agency asks for the QR look-up back
            req = app.compliance("add_request", actor="Sở Tư pháp (chị Lan)", via="cli", agency="Sở Tư pháp",
                                 requested_on="05/07/2022", description="Khôi phục chức năng tra cứu hồ sơ theo mã QR",
                                 criterion="PROV.v1-features", check="feature-qr-lookup")
            rid = req["request_id"]
            with pytest.raises(ComplianceRefused, match=r"cannot be marked resolved without evidence"):
                app.compliance("resolve_request", actor="vnpt", via="cli", request_id=rid)
            with pytest.raises(ComplianceRefused, match=r"without evidence"):
                app.compliance("update_request", actor="vnpt", via="cli", request_id=rid, status="resolved")
            # evidence that does not hold: the check failed since the date given
            app.compliance("attach_check", actor="vnpt", via="cli", request_id=rid, check="feature-qr-lookup",
                           since=dt.date.today().isoformat())
            with pytest.raises(ComplianceRefused, match=r"does not hold: the check 'feature-qr-lookup' failed 1 of 1"):
                app.compliance("resolve_request", actor="vnpt", via="cli", request_id=rid)

            # -- the fix: back to release 1.0's feature set ------------------------------------------
            fixed_from = local_now().replace(microsecond=0)
            switch(base, {"release": "v1.0"})
            app.compliance("attach_check", actor="vnpt", via="cli", request_id=rid, check="feature-qr-lookup",
                           since=fixed_from.isoformat(sep=" "))
            with pytest.raises(ComplianceRefused, match=r"has not run since"):
                app.compliance("resolve_request", actor="vnpt", via="cli", request_id=rid)
            run_once(None, store=app.store, base_url=base, secrets=SECRETS)
            rows = register_rows(app, period)
            f = row(rows, "PROV.v1-features")
            assert f["status"] == "met" and f["status_label"] == "Đạt"
            assert fixed_from <= f["since"] <= local_now()
            assert f"Đạt từ {f['since']:%d/%m/%Y %H:%M}" in f["evidence"]
            assert row(rows, "PROV.v1-accounts")["status"] == "met"
            assert row(rows, "II.dossier-tracking")["status"] == "met"
            en = row(register_rows(app, period, lang="en"), "PROV.v1-features")
            assert en["status_label"] == "Met" and en["evidence"].startswith("Met since")

            res = app.compliance("resolve_request", actor="vnpt", via="cli", request_id=rid, note="bản vá 2.0.3")
            assert res["changed"] and res["fields"] == ["status"]
            r = request_rows(app)[0]
            assert r["status"] == "resolved" and r["resolved_at"] is not None
            held = [e for e in r["evidence"] if e["holds"]]
            assert held and "passed all" not in held[0]["detail"]  # Vietnamese by default
            assert f"từ {fixed_from:%d/%m/%Y %H:%M}" in held[0]["detail"]

            # -- the vendor ships 2.0 again: the criterion and the resolved request show the regression --
            switch(base, {"profile": V2_FAST.model_dump()})
            run_once(None, store=app.store, base_url=base, secrets=SECRETS)
            reg = register(app, period)
            assert row(reg["criteria"], "PROV.v1-features")["status"] == "not_met"
            assert reg["requests"][0]["regression"] is True and reg["requests"][0]["status"] == "resolved"
            assert reg["history"]["intact"] is True

        # the request's whole story, append-only
        hist = app.query("compliance_history", item_id=rid).to_dicts()
        assert [h["action"] for h in hist] == ["created", "evidence_added", "evidence_added", "resolved"]
        assert hist[0]["actor"] == "Sở Tư pháp (chị Lan)" and hist[-1]["note"] == "bản vá 2.0.3"
        assert all(a["at"] < b["at"] for a, b in zip(hist, hist[1:]))
    finally:
        app.close()
