"""The due-soon morning digest (alerting/digest.py), wired as `app.py run` wires it (system.Motcua),
on a real store recomputed by the real engine, delivered through apprise to a real loopback webhook.

Office hours of the shipped rule set: 07:00-11:30 and 13:30-17:00. 8 March 2024 is a Friday; 30
April and 1 May 2024 are holidays, 29 April was given off in exchange for Saturday 4 May.
"""
from __future__ import annotations

import datetime as dt
import logging

import pytest

from alerting.alerts import Alerter, Condition
from alerting.notify import Notifier
from config.alerts import AlertsConfig, Channel, DueSoonDigest
from config.app import load_config
from store.alert_state import load_alert_state, load_digest_state, save_digest_state
from store.sla import recompute
from system import Motcua
from tests.alerting.test_alerting import _FlakyReceiver

T = dt.datetime
FRI = dt.date(2024, 3, 8)

# code: (agency, received_at, limit, unit, finished_at)
CASES = {
    # 1 working day from Thursday 14:00: due Friday 17:00; from Friday 07:30, 7 h 30 min left
    "STP-0001": ("S1", T(2024, 3, 7, 14), 1, "working_days", None),
    # a sub-unit's: 5 working days from Monday, due Monday 11 March 17:00; 1 day 7 h 30 min left
    "HT-0002": ("S1.HT", T(2024, 3, 4, 9), 5, "working_days", None),
    # due 18 March: not within 2 working days
    "STP-0003": ("S1", T(2024, 3, 4, 9), 10, "working_days", None),
    # resolved: never due soon
    "STP-0004": ("S1", T(2024, 3, 6, 9), 1, "working_days", T(2024, 3, 6, 15)),
    # S2's only dossier is far from its deadline: S2's contact gets nothing
    "SXD-0005": ("S2", T(2024, 3, 4, 9), 10, "working_days", None),
    # S3 has one due, but no contact: nobody is told of it
    "SYT-0006": ("S3", T(2024, 3, 7, 9), 2, "working_days", None),
}
AGENCIES = [("S1", "Sở Tư pháp", "department", None), ("S1.HT", "Phòng Hộ tịch", "unit", "S1"),
            ("S2", "Sở Xây dựng", "department", None), ("S3", "Sở Y tế", "department", None)]


def _load(store, rows: dict) -> None:
    with store.transaction() as c:
        c.executemany(
            "INSERT INTO dossiers (dossier_code, agency_code, procedure_code, channel, received_at, time_limit, "
            "time_unit, finished_at, state) VALUES (?, ?, 'TT-1', 'online', ?, ?, ?, ?, ?)",
            [(code, ag, rec, lim, unit, fin, "finished" if fin else "processing")
             for code, (ag, rec, lim, unit, fin) in rows.items()])
        c.executemany("INSERT INTO agencies (code, name, level, parent_code) VALUES (?, ?, ?, ?)", AGENCIES)
        c.execute("INSERT INTO procedures (code, name) VALUES ('TT-1', 'Đăng ký khai sinh')")


def _config(tmp_path, app_env, channels: dict[str, str], contacts: list[dict], **digest) -> object:
    """The system's config with an alerts file of these channels and digest contacts."""
    import yaml

    alerts = tmp_path / "alerts.yaml"
    alerts.write_text(yaml.safe_dump({
        "channels": [{"name": n, "url": u} for n, u in channels.items()],
        "due_soon_digest": {"link": "http://127.0.0.1:8501/", **digest, "contacts": contacts}},
        allow_unicode=True), encoding="utf-8")
    return load_config(environ=dict(app_env, MOTCUA_MONITOR__ALERTS=str(alerts)))


def _system(cfg, rows: dict = CASES, as_of: T | None = None) -> Motcua:
    """A fresh system over the config's store; with `as_of`, the store is loaded and recomputed first."""
    app = Motcua(cfg)
    if as_of is not None:
        _load(app.store, rows)
        recompute(app.store, app.engine, as_of)
    return app


@pytest.fixture
def hooked(tmp_path, app_env, webhook):
    """Contacts for S1 and S2 on the webhook; the store judged on Friday at 07:00."""
    hooks, port = webhook
    cfg = _config(tmp_path, app_env, {"so-tu-phap": f"json://127.0.0.1:{port}/stp"},
                  [{"agency": "S1", "channels": ["so-tu-phap"]},
                   {"agency": "S2", "url": f"json://127.0.0.1:{port}/sxd"}])
    app = _system(cfg, as_of=T.combine(FRI, dt.time(7)))
    yield app, cfg, hooks
    app.close()


def test_a_working_morning_sends_one_message_to_the_agency_with_dossiers_due(hooked):
    app, _cfg, hooks = hooked
    assert app.digest_job(T.combine(FRI, dt.time(7, 29))) == []          # before the set time
    sent = app.digest_job(T.combine(FRI, dt.time(7, 30)))
    assert [(s.agency, s.count) for s in sent] == [("S1", 2)]            # S2: nothing due, nothing sent
    assert len(hooks) == 1
    msg = hooks[0]
    assert msg["title"] == "[motcua-watch] Sở Tư pháp: 2 hồ sơ sắp đến hạn"
    body = msg["message"]
    assert "Sở Tư pháp có 2 hồ sơ sắp đến hạn trong 2 ngày làm việc (tính đến 07:30 08/03/2024)" in body
    # the sub-unit's dossier is the parent's too; most urgent first
    assert body.index("STP-0001: Đăng ký khai sinh, hạn 17:00 08/03/2024, còn 7 giờ 30 phút") \
        < body.index("HT-0002: Đăng ký khai sinh, hạn 17:00 11/03/2024, còn 1 ngày làm việc 7 giờ 30 phút")
    assert "STP-0003" not in body and "SYT-0006" not in body and "SXD-0005" not in body
    assert "Xem danh sách: http://127.0.0.1:8501/co-quan" in body
    assert app.digest_job(T.combine(FRI, dt.time(7, 31))) == [] and len(hooks) == 1


def test_the_most_urgent_are_listed_and_the_rest_counted(tmp_path, app_env, webhook):
    hooks, port = webhook
    cfg = _config(tmp_path, app_env, {"w": f"json://127.0.0.1:{port}/"}, [{"agency": "S1", "channels": ["w"]}],
                  urgent=1, link="")
    app = _system(cfg, as_of=T.combine(FRI, dt.time(7)))
    try:
        app.digest_job(T.combine(FRI, dt.time(8)))
    finally:
        app.close()
    body = hooks[0]["message"]
    assert "STP-0001" in body and "HT-0002" not in body and "… và 1 hồ sơ khác." in body
    assert "http" not in body                                            # no link configured


def test_a_restart_the_same_day_sends_nothing_again(hooked):
    app, cfg, hooks = hooked
    assert len(app.digest_job(T.combine(FRI, dt.time(7, 30)))) == 1
    app.close()
    again = _system(cfg)                                                 # `app.py run` started again at 07:31
    try:
        assert again.digest_job(T.combine(FRI, dt.time(7, 31))) == []
        assert again.digest_job(T.combine(FRI, dt.time(9))) == []
        assert len(hooks) == 1
        # the next working day (Monday), the digest goes out again
        assert [s.agency for s in again.digest_job(T(2024, 3, 11, 7, 30))] == ["S1"]
        assert len(hooks) == 2 and "1 hồ sơ sắp đến hạn" in hooks[1]["title"]
    finally:
        again.close()


def test_nothing_on_a_weekend(hooked):
    app, _cfg, hooks = hooked
    sat = T(2024, 3, 9, 8)
    # the list is not empty on Saturday (Monday's deadline is within 2 working days) ...
    assert [r["dossier_code"] for r in app.query("due_soon", agency="S1", as_of=sat.isoformat())] == ["HT-0002"]
    assert app.digest_job(sat) == [] and hooks == []                     # ... and still nothing is sent
    assert load_digest_state(app.store, sat.date()) == {}


def test_nothing_on_a_holiday_and_the_digest_on_the_next_working_day(tmp_path, app_env, webhook):
    hooks, port = webhook
    cfg = _config(tmp_path, app_env, {"w": f"json://127.0.0.1:{port}/"}, [{"agency": "S1", "channels": ["w"]}])
    # 2 working days from Friday 26 April: Thursday 2 and Friday 3 May (29 April to 1 May are off)
    app = _system(cfg, {"STP-0100": ("S1", T(2024, 4, 26, 9), 2, "working_days", None)}, T(2024, 4, 26, 18))
    try:
        holiday = T(2024, 4, 30, 8)
        assert len(app.query("due_soon", agency="S1", as_of=holiday.isoformat())) == 1
        assert app.digest_job(holiday) == [] and app.digest_job(T(2024, 4, 29, 8)) == [] and hooks == []
        assert [s.count for s in app.digest_job(T(2024, 5, 2, 7, 30))] == [1] and len(hooks) == 1
    finally:
        app.close()


def test_a_failing_channel_is_tried_again_alone_later_that_day_until_the_office_close(tmp_path, app_env, webhook,
                                                                                      caplog):
    hooks, port = webhook
    flaky = _FlakyReceiver()
    try:
        channels = {"ok": f"json://127.0.0.1:{port}/", "flaky": f"json://127.0.0.1:{flaky.port}/"}
        cfg = _config(tmp_path, app_env, channels, [{"agency": "S1", "channels": ["ok", "flaky"]}], retry_minutes=10)
        app = _system(cfg, as_of=T.combine(FRI, dt.time(7)))
        with caplog.at_level(logging.INFO, logger="motcua"):
            first = app.digest_job(T.combine(FRI, dt.time(7, 30)))
        assert [(d.channel, d.ok) for d in first[0].deliveries] == [("ok", True), ("flaky", False)]
        assert "due-soon digest for S1: channel flaky: delivery failed" in caplog.text
        assert str(flaky.port) not in caplog.text                          # the channel's name, never its URL
        assert app.digest_job(T.combine(FRI, dt.time(7, 35))) == []       # not before retry_minutes
        app.close()

        flaky.up = True
        app = _system(cfg)                                                # even after a restart
        retried = app.digest_job(T.combine(FRI, dt.time(7, 40)))
        assert [[d.channel for d in s.deliveries] for s in retried] == [["flaky"]]
        assert len(hooks) == 1 and len(flaky.received) == 1               # the channel that had it: not again
        assert "STP-0001" in flaky.received[0]["message"]
        assert app.digest_job(T.combine(FRI, dt.time(7, 50))) == [] and len(flaky.received) == 1

        # down all day: tried until the office close, not after
        flaky.up = False
        monday = dt.date(2024, 3, 11)
        assert app.digest_job(T.combine(monday, dt.time(16, 55)))[0].deliveries[1].ok is False
        flaky.up = True
        assert app.digest_job(T.combine(monday, dt.time(17, 5))) == [] and len(flaky.received) == 1
        app.close()
    finally:
        flaky.close()


def test_figures_not_ready_are_said_plainly_and_tried_again_later(tmp_path, app_env, webhook, caplog):
    hooks, port = webhook
    cfg = _config(tmp_path, app_env, {"w": f"json://127.0.0.1:{port}/"}, [{"agency": "S1", "channels": ["w"]}])
    app = _system(cfg)
    try:
        _load(app.store, CASES)                                          # imported, never recomputed
        with caplog.at_level(logging.INFO, logger="motcua"):
            assert app.digest_job(T.combine(FRI, dt.time(7, 30))) == []
        assert "due-soon digest for S1: not sent: due_soon_by_agency: the store has no calendar" in caplog.text
        assert "Traceback" not in caplog.text and hooks == []
        recompute(app.store, app.engine, T.combine(FRI, dt.time(7, 32)))
        assert app.digest_job(T.combine(FRI, dt.time(7, 35))) == []       # waits retry_minutes
        assert [s.count for s in app.digest_job(T.combine(FRI, dt.time(7, 40)))] == [2] and len(hooks) == 1
    finally:
        app.close()


def test_the_alerts_state_and_the_digest_state_leave_each_other_alone(store, webhook):
    hooks, port = webhook
    day = T(2024, 3, 8, 7, 30)
    save_digest_state(store, "S1", day, day, "[motcua-watch] Sở Tư pháp: 2 hồ sơ sắp đến hạn", 2, ["flaky"])
    cfg = AlertsConfig(channels=[Channel(name="w", url=f"json://127.0.0.1:{port}/")])
    alerter = Alerter(cfg, Notifier(cfg.channels, environ={}), lambda: day, store=store)
    assert [s.kind for s in alerter.update([Condition("check:x", "X không còn")])] == ["firing"]
    # the alerter neither replaced the digest's row nor took it for an alert to resolve
    assert load_digest_state(store, day.date())["S1"]["undelivered"] == ["flaky"]
    assert [r["key"] for r in load_alert_state(store)] == ["check:x"]
    restarted = Alerter(cfg, Notifier(cfg.channels, environ={}), lambda: day + dt.timedelta(minutes=1), store=store)
    assert restarted.update([Condition("check:x", "X không còn")]) == [] and len(hooks) == 1


def test_the_config_refuses_an_unknown_channel_and_a_bad_time_plainly(run_app, tmp_path, app_env):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="no channel named 'sms' in `channels` \\(w\\)"):
        AlertsConfig.model_validate({"channels": [{"name": "w", "url": "json://127.0.0.1/"}],
                                     "due_soon_digest": {"contacts": [{"agency": "S1", "channels": ["sms"]}]}})
    for at in ("25:00", "7h30", 450):
        with pytest.raises(ValidationError, match="HH:MM"):
            DueSoonDigest.model_validate({"at": at})
    alerts = tmp_path / "alerts.yaml"
    alerts.write_text("channels: [{name: w, url: 'json://127.0.0.1/'}]\n"
                      "due_soon_digest:\n  at: 7:30\n  contacts:\n"
                      "    - {agency: QNG.STP, channels: [sms]}\n"
                      "    - {agency: QNG.SXD, url: 'tgram://123:secret-token@x/1?token=hunter2'}\n", encoding="utf-8")
    r = run_app("check-config", env=dict(app_env, MOTCUA_MONITOR__ALERTS=str(alerts)))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert 'due_soon_digest.at: Value error, write the time in quotes as "HH:MM"' in r.stderr
    assert "password is written in the URL" in r.stderr and "hunter2" not in r.stderr
    alerts.write_text("channels: [{name: w, url: 'json://127.0.0.1/'}]\n"
                      "due_soon_digest: {contacts: [{agency: QNG.STP, channels: [sms]}]}\n", encoding="utf-8")
    r = run_app("check-config", env=dict(app_env, MOTCUA_MONITOR__ALERTS=str(alerts)))
    assert r.returncode == 2 and "due_soon_digest.contacts[0] (agency QNG.STP): no channel named 'sms'" in r.stderr


def test_the_shipped_digest_section_is_valid_and_sends_nothing():
    from pathlib import Path

    from config.alerts import load_alerts

    d = load_alerts(Path(__file__).resolve().parents[2] / "config" / "alerts.yaml").due_soon_digest
    assert d.at == dt.time(7, 30) and d.days == 2 and d.urgent == 5 and d.contacts == []


def test_app_run_schedules_the_digest_when_a_contact_is_configured(tmp_path, app_env, webhook):
    import threading
    import time

    from system import run_system

    _hooks, port = webhook
    cfg = _config(tmp_path, app_env, {"w": f"json://127.0.0.1:{port}/"}, [{"agency": "QNG.STP", "channels": ["w"]}],
                  at="07:45")
    stop, lines = threading.Event(), []
    t = threading.Thread(target=run_system, args=(cfg, stop, lines.append), daemon=True)
    t.start()
    try:
        deadline = time.time() + 180
        while not any("Press Ctrl-C" in line for line in lines) and time.time() < deadline and t.is_alive():
            time.sleep(0.1)
        assert any("due-soon digest working days from 07:45, to 1 agency contact(s)" in line for line in lines), lines
    finally:
        stop.set()
        t.join(timeout=60)
    assert not t.is_alive()
