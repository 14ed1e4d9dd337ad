"""Issue 3's promise end to end: each 2022 failure of the v2.0 testbed is detected by the probes,
stored, turned into an alert delivered to a real local webhook, and cleared when the release is
fixed. Real sockets throughout: testbed on loopback, the real store, apprise to a local receiver."""
from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from collectors.alerting import Alerter
from collectors.notify import Notifier
from collectors.probes import local_now, run_once
from collectors.slo import SloEvaluator
from config.alerts import AlertsConfig, Channel
from config.app import AppConfig
from config.portal import load_profile
from config.slo import BurnRule, Slo, SloFile
from store.db import Store
from testbed.portal.server import running

TOKEN = "test-admin-token"


@pytest.fixture
def webhook():
    received: list[dict] = []

    class H(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield received, srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def test_v2_failures_are_detected_alerted_and_clear_when_fixed(tmp_path, webhook):
    hooks, port = webhook
    probes = AppConfig().monitor.probes
    slos = SloFile(slos=[Slo(name="dang-nhap-1.0", title="Đăng nhập tài khoản 1.0", probe="citizen-v1-login",
                             step="*", availability=0.5, latency_ms=None)],
                   burn_rules=[BurnRule(long_minutes=10, short_minutes=2, factor=1, severity="page")])
    with Store(tmp_path / "s.duckdb") as store, \
            running(load_profile("v2.0").scaled(0.25), admin_token=TOKEN) as base_url:
        clock = {"t": local_now()}
        evaluator = SloEvaluator(slos, store, lambda: clock["t"])
        alerter = Alerter(AlertsConfig(channels=[Channel(name="hook", url=f"json://127.0.0.1:{port}/")]),
                          Notifier([Channel(name="hook", url=f"json://127.0.0.1:{port}/")], environ={}),
                          lambda: clock["t"])
        for _ in range(2):
            results = run_once(probes, store=store, base_url=base_url)
        failed = {r.name for r in results if not r.ok and r.step in ("", "*")}
        assert {"citizen-v1-login", "feature-qr-lookup", "feature-payment", "feature-rating",
                "dvcqg-sync"} <= failed, failed
        clock["t"] = local_now()
        sent = alerter.update(evaluator.conditions())
        keys = {s.key for s in sent if s.kind == "firing"}
        assert {"slo:dang-nhap-1.0:failures", "check:citizen-v1-login", "check:feature-payment",
                "check:dvcqg-sync"} <= keys, keys
        texts = " ".join(h["message"] + h["title"] for h in hooks)
        assert "Đăng nhập tài khoản 1.0" in texts and "feature-payment" in texts and "404" in texts

        # the vendor fixes the release: the same running portal now behaves as 1.0 did
        r = httpx.post(f"{base_url}/__testbed/profile", json={"release": "v1.0"},
                       headers={"X-Testbed-Token": TOKEN}, timeout=10)
        assert r.status_code == 200, r.text
        results = run_once(probes, store=store, base_url=base_url)
        assert all(r.ok for r in results), [(r.name, r.step, r.reason) for r in results if not r.ok]
        clock["t"] = local_now() + dt.timedelta(minutes=11)   # the SLO windows have moved past the failures
        resolved = {s.key for s in alerter.update(evaluator.conditions()) if s.kind == "resolved"}
        assert keys <= resolved, keys - resolved
        assert any("ĐÃ KHẮC PHỤC" in h["title"] for h in hooks)
