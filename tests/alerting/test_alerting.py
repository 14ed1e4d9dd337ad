"""Alerts: de-duplicated, repeated, resolved and silenced by maintenance windows, delivered in
Vietnamese through apprise to a real local SMTP server (aiosmtpd) and a real local webhook."""
from __future__ import annotations

import datetime as dt
import email
import socket
from email.header import decode_header, make_header

import pytest
from aiosmtpd.controller import Controller
from pydantic import ValidationError

from alerting.alerts import Alerter, Condition
from alerting.notify import Notifier
from config.alerts import AlertsConfig, Channel, MaintenanceWindow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    def __init__(self):
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp():
    box = Mailbox()
    ctl = Controller(box, hostname="127.0.0.1", port=free_port())
    ctl.start()
    yield box, ctl.port
    ctl.stop()


class Clock:
    def __init__(self):
        self.t = dt.datetime(2026, 11, 24, 8, 0)

    def __call__(self):
        return self.t


def subject(msg) -> str:
    return str(make_header(decode_header(msg["Subject"])))


def test_firing_dedup_repeat_and_resolved_reach_email_and_webhook(smtp, webhook):
    box, smtp_port = smtp
    hooks, hook_port = webhook
    cfg = AlertsConfig(channels=[
        Channel(name="email-ict", url=f"mailto://127.0.0.1:{smtp_port}?from=motcua@example.org"
                                      f"&to=ict@example.org&mode=insecure&user=motcua"),
        Channel(name="webhook", url=f"json://127.0.0.1:{hook_port}/hook"),
    ], repeat_after_minutes=60)
    clock = Clock()
    alerter = Alerter(cfg, Notifier(cfg.channels, environ={}), clock)
    cond = Condition("check:dang-nhap-1.0", "Tài khoản đăng ký trên 1.0 không đăng nhập được",
                     "12/12 lần thử thất bại", "page")

    sent = alerter.update([cond])
    assert [s.kind for s in sent] == ["firing"] and all(d.ok for d in sent[0].deliveries), sent
    clock.t += dt.timedelta(minutes=5)
    assert alerter.update([cond]) == []                      # de-duplicated
    clock.t += dt.timedelta(minutes=60)
    assert [s.kind for s in alerter.update([cond])] == ["repeat"]
    clock.t += dt.timedelta(minutes=10)
    resolved = alerter.update([])
    assert [s.kind for s in resolved] == ["resolved"]

    assert [subject(m) for m in box.messages] == [
        "[CẢNH BÁO – nghiêm trọng] Tài khoản đăng ký trên 1.0 không đăng nhập được",
        "[CẢNH BÁO – nghiêm trọng] Tài khoản đăng ký trên 1.0 không đăng nhập được",
        "[ĐÃ KHẮC PHỤC] Tài khoản đăng ký trên 1.0 không đăng nhập được",
    ]
    assert len(hooks) == 3
    assert "Từ 08:00 24/11/2026" in hooks[0]["message"] and "12/12 lần thử thất bại" in hooks[0]["message"]
    assert "Nhắc lại" in hooks[1]["message"]
    assert "sau 1 giờ 15 phút" in hooks[2]["message"] and "09:15 24/11/2026" in hooks[2]["message"]


def test_maintenance_window_silences_without_losing_state(webhook):
    hooks, port = webhook
    clock = Clock()
    cfg = AlertsConfig(channels=[Channel(name="w", url=f"json://127.0.0.1:{port}/")], maintenance=[
        MaintenanceWindow(start=clock.t, end=clock.t + dt.timedelta(hours=1), checks=["check:trang-chu"],
                          reason="nâng cấp")])
    alerter = Alerter(cfg, Notifier(cfg.channels, environ={}), clock)
    home = Condition("check:trang-chu", "Trang chủ không trả lời")
    other = Condition("check:tra-cuu", "Tra cứu hồ sơ lỗi")
    from_one_place = Condition("location:hanoi:check:trang-chu", "Điểm đo «Hà Nội»: trang chủ không trả lời")
    sent = alerter.update([home, other, from_one_place])
    assert [s.key for s in sent] == ["check:tra-cuu"]         # only the one outside the window
    alerter.update([home, other])                             # (the place's trouble over)
    clock.t += dt.timedelta(hours=2)                          # window over, still failing: now announced
    assert [(s.kind, s.key) for s in alerter.update([home, other])] == [("firing", "check:trang-chu")]
    assert len(hooks) == 2


def test_secrets_come_from_the_environment_and_never_show(webhook):
    hooks, port = webhook
    ch = Channel(name="tele", url=f"json://127.0.0.1:{port}/${{env:HOOK_PATH}}")
    missing = Notifier([ch], environ={}).send("t", "b")
    assert not missing[0].ok and "HOOK_PATH is not set" in missing[0].error
    ok = Notifier([ch], environ={"HOOK_PATH": "s3cr3t-token"}).send("t", "b")
    assert ok[0].ok and "s3cr3t-token" not in repr(ok)
    with pytest.raises(ValidationError, match="password is written in the URL"):
        Channel(name="mail", url="mailtos://ict:hunter2@smtp.example.org")
    with pytest.raises(ValidationError, match="password is written in the URL"):
        Channel(name="mail", url="mailtos://smtp.example.org?user=ict&pass=hunter2")
    Channel(name="mail", url="mailtos://ict:${env:SMTP_PASSWORD}@smtp.example.org")


def test_a_channel_that_is_down_is_reported_not_raised():
    cfg = AlertsConfig(channels=[Channel(name="dead", url=f"json://127.0.0.1:{free_port()}/")])
    sent = Alerter(cfg, Notifier(cfg.channels, environ={}), Clock()).update([Condition("k", "x")])
    assert sent[0].deliveries[0].ok is False and sent[0].deliveries[0].channel == "dead"


class _FlakyReceiver:
    """A webhook receiver that answers 503 until told to accept (a channel that is down)."""

    def __init__(self):
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.up = False
        self.received: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(200 if outer.up else 503)
                self.end_headers()
                if outer.up:
                    outer.received.append(body)

            def log_message(self, *a):
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def test_a_message_a_channel_missed_is_sent_again_to_that_channel_only(webhook):
    hooks, port = webhook
    flaky = _FlakyReceiver()
    try:
        cfg = AlertsConfig(channels=[Channel(name="ok", url=f"json://127.0.0.1:{port}/"),
                                     Channel(name="flaky", url=f"json://127.0.0.1:{flaky.port}/")],
                           repeat_after_minutes=240)
        clock = Clock()
        alerter = Alerter(cfg, Notifier(cfg.channels, environ={}), clock)
        cond = Condition("check:thanh-toan", "Thanh toán trực tuyến không còn", "404", "ticket")
        first = alerter.update([cond])
        assert [(d.channel, d.ok) for d in first[0].deliveries] == [("ok", True), ("flaky", False)]
        clock.t += dt.timedelta(minutes=1)
        again = alerter.update([cond])            # still down: tried again, the other channel left alone
        assert [(s.kind, [d.channel for d in s.deliveries]) for s in again] == [("firing", ["flaky"])]
        flaky.up = True
        clock.t += dt.timedelta(minutes=1)
        assert [s.kind for s in alerter.update([cond])] == ["firing"]
        clock.t += dt.timedelta(minutes=1)
        assert alerter.update([cond]) == []       # delivered everywhere: de-duplicated again
        assert len(hooks) == 1 and len(flaky.received) == 1
        assert "Từ 08:00 24/11/2026" in flaky.received[0]["message"]  # since the start, not the retry

        # a resolved message that does not get through is retried too, with the time it ended
        flaky.up = False
        clock.t += dt.timedelta(minutes=7)
        resolved = alerter.update([])
        assert [(d.channel, d.ok) for d in resolved[0].deliveries] == [("ok", True), ("flaky", False)]
        flaky.up = True
        clock.t += dt.timedelta(minutes=1)
        retried = alerter.update([])
        assert [(s.kind, [d.channel for d in s.deliveries]) for s in retried] == [("resolved", ["flaky"])]
        assert "lúc 08:10 24/11/2026" in flaky.received[-1]["message"]
        assert alerter.update([]) == [] and len(hooks) == 2
    finally:
        flaky.close()


def test_alert_state_survives_a_restart(tmp_path, webhook):
    """A restart of `app.py run` neither announces an alert already sent again nor forgets to
    say it is resolved (the state is kept in the store)."""
    from store.db import Store

    hooks, port = webhook
    cfg = AlertsConfig(channels=[Channel(name="w", url=f"json://127.0.0.1:{port}/")])
    clock = Clock()
    cond = Condition("check:thanh-toan", "Thanh toán trực tuyến không còn", "404", "ticket",
                     since=clock.t - dt.timedelta(minutes=5))

    def process(store):  # what each start of the system builds
        return Alerter(cfg, Notifier(cfg.channels, environ={}), clock, store=store)

    path = tmp_path / "s.duckdb"
    with Store(path) as store:
        assert [s.kind for s in process(store).update([cond])] == ["firing"]
    clock.t += dt.timedelta(minutes=10)
    with Store(path) as store:                       # restarted: still failing, nothing new to say
        assert process(store).update([cond]) == []
    clock.t += dt.timedelta(minutes=10)
    with Store(path) as store:                       # restarted again, and the problem is gone
        resolved = process(store).update([])
    assert [s.kind for s in resolved] == ["resolved"]
    assert len(hooks) == 2
    assert "Từ 07:55 24/11/2026" in hooks[0]["message"] and "sau 25 phút (từ 07:55 24/11/2026)" in hooks[1]["message"]
    with Store(path) as store:                       # nothing left to say after that
        assert process(store).update([]) == [] and len(hooks) == 2


def test_shipped_alerts_file_is_valid():
    from pathlib import Path

    from config.alerts import load_alerts

    cfg = load_alerts(Path(__file__).resolve().parents[2] / "config" / "alerts.yaml")
    assert cfg.channels == [] and cfg.repeat_after_minutes == 240
