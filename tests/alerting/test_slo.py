"""SLO burn rates and the slowdown detector over probe results in a real store."""
from __future__ import annotations

import datetime as dt

import pytest

from alerting.slo import SloEvaluator
from config.errors import ConfigError
from config.slo import Slo, SloFile, load_slos

NOW = dt.datetime(2026, 11, 24, 10, 0)


def seed(store, name, step, minutes, *, ok=lambda i: True, ms=lambda i: 300.0, start=NOW):
    rows = [(1, name, "journey", step, start - dt.timedelta(minutes=i + 1), ok(i), ms(i)) for i in range(minutes)]
    with store.transaction() as cur:
        cur.executemany("INSERT INTO probe_results (run_id, name, kind, step, started_at, ok, total_ms) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)


SLOS = SloFile(slos=[
    Slo(name="dang-nhap-1.0", title="Đăng nhập tài khoản 1.0", probe="login-v1", step="*"),
    Slo(name="trang-chu", title="Trang chủ", probe="home", step=""),
])


def test_a_journey_failing_for_an_hour_pages_and_a_healthy_one_does_not(store):
    seed(store, "login-v1", "*", 4 * 60, ok=lambda i: i >= 70)       # failing for the last 70 minutes
    seed(store, "home", "", 4 * 60, ok=lambda i: i != 100)               # 1 failure in 240: within budget
    conds = SloEvaluator(SLOS, store, lambda: NOW).conditions()
    assert [(c.key, c.severity) for c in conds] == [("slo:dang-nhap-1.0:failures", "page"),
                                                    ("check:login-v1", "ticket")]
    assert "Đăng nhập tài khoản 1.0" in conds[0].title and "100,0\u00a0% trong 1 giờ qua" in conds[0].detail and "SLO khả dụng 99,5\u00a0%" in conds[0].detail


def test_an_old_outage_that_ended_does_not_page_but_can_ticket(store):
    # failing from 5 h ago to 2 h ago, healthy since: the 1 h and 5 min windows are clean
    seed(store, "login-v1", "*", 24 * 60, ok=lambda i: not (120 <= i < 300))
    conds = SloEvaluator(SLOS, store, lambda: NOW).burn(SLOS.slos[0])
    assert [c.severity for c in conds] == ["ticket"]


def test_slow_responses_burn_the_latency_budget(store):
    seed(store, "home", "", 120, ms=lambda i: 3500.0)
    conds = SloEvaluator(SLOS, store, lambda: NOW).burn(SLOS.slos[1])
    assert [c.key for c in conds] == ["slo:trang-chu:slow"]
    assert "chậm hơn 2 giây" in conds[0].title


def test_slowdown_against_the_same_hour_of_past_weeks(store):
    hour = NOW - dt.timedelta(hours=1)
    with store.transaction() as cur:
        for w in range(1, 5):
            for name, p95 in (("home", 300.0), ("search", 300.0)):
                cur.execute("INSERT INTO probe_rollup_hourly (hour, name, kind, step, count, failures, p50_ms, p95_ms, max_ms) "
                            "VALUES (?, ?, 'check', '', 60, 0, 200, ?, 400)",
                            [hour - dt.timedelta(weeks=w), name, p95])
    seed(store, "home", "", 50, ms=lambda i: 1500.5, start=NOW - dt.timedelta(minutes=5))   # 5x slower
    seed(store, "search", "", 50, ms=lambda i: 450.0, start=NOW - dt.timedelta(minutes=5))  # 1.5x: normal
    conds = SloEvaluator(SloFile(), store, lambda: NOW).slowdowns()
    assert [c.key for c in conds] == ["slow:home:"]
    assert "gấp 5,0 lần" in conds[0].detail and "4 tuần" in conds[0].detail
    # milliseconds grouped the Vietnamese way
    assert conds[0].detail.startswith("p95 1.500 ms lúc") and "(300 ms, 4 tuần)" in conds[0].detail


def test_no_data_gives_no_condition(store):
    assert SloEvaluator(SLOS, store, lambda: NOW).conditions() == []


def test_bad_slo_file_names_file_and_field(tmp_path):
    p = tmp_path / "slo.yaml"
    p.write_text("slos:\n  - {name: a, title: A, probe: x, availability: 1.5}\n"
                 "burn_rules:\n  - {long_minutes: 5, short_minutes: 60, factor: 2, severity: page}\n",
                 encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_slos(p)
    assert str(p) in str(err.value) and "slos.0.availability" in str(err.value) and "burn_rules.0" in str(err.value)


def test_a_failing_check_says_since_when_it_fails_even_after_a_restart(store, webhook):
    """"Since when" is the first failed run after the last one that passed, from the store: not the
    moment the alerter first saw it (a restart of `app.py run` would have moved it)."""
    from alerting.alerts import Alerter
    from alerting.notify import Notifier
    from config.alerts import AlertsConfig, Channel

    hooks, port = webhook
    # passing until 09:19, failing from 09:20 (the last 40 runs, one a minute)
    seed(store, "thanh-toan", "", 120, ok=lambda i: i >= 40)
    [cond] = [c for c in SloEvaluator(SloFile(), store, lambda: NOW).failing_checks()]
    assert cond.key == "check:thanh-toan" and cond.since == NOW - dt.timedelta(minutes=40)
    latest = store.query("probe_latest", probe="thanh-toan").one()
    assert latest["failing_since"] == NOW - dt.timedelta(minutes=40)

    channel = Channel(name="w", url=f"json://127.0.0.1:{port}/")
    for _ in range(2):  # a first process, then the one started after a restart
        Alerter(AlertsConfig(channels=[channel]), Notifier([channel], environ={}), lambda: NOW).update([cond])
    assert len(hooks) == 2
    assert all("Từ 09:20 24/11/2026 (đã 40 phút)" in h["message"] for h in hooks), hooks
    seed(store, "home", "", 5)  # a passing check has no failing_since
    assert store.query("probe_latest", probe="home").one()["failing_since"] is None


def test_status_over_the_slo_window(store):
    slo = Slo(name="trang-chu", title="Trang chủ", probe="home", step="", availability=0.99,
              latency_ms=500, latency_objective=0.9, window_days=28)
    # 30 days of one run an hour: 2 % failed, and 5 % of the passing runs slower than 500 ms
    n = 30 * 24
    seed(store, "home", "", n, ok=lambda i: i % 50 != 0, ms=lambda i: 900.0 if i % 20 == 1 else 200.0)
    with store.transaction() as cur:  # one run an hour, not a minute
        cur.execute("UPDATE probe_results SET started_at = $now - to_hours(CAST(epoch($now - started_at) / 60 AS BIGINT))",
                    {"now": NOW})
    st = SloEvaluator(SloFile(slos=[slo]), store, lambda: NOW).status(slo)
    in_window = 28 * 24
    failed = sum(1 for i in range(in_window) if i % 50 == 0)
    slow = sum(1 for i in range(in_window) if i % 50 != 0 and i % 20 == 1)
    assert st["runs"] == in_window and st["since"] == NOW - dt.timedelta(hours=in_window)
    assert st["availability"] == pytest.approx(1 - failed / in_window)
    assert st["availability_budget_left"] == pytest.approx(1 - (failed / in_window) / 0.01)  # overspent: < 0
    assert st["availability_budget_left"] < 0
    assert st["latency_attainment"] == pytest.approx(1 - slow / (in_window - failed))
    assert st["latency_budget_left"] == pytest.approx(1 - (slow / (in_window - failed)) / 0.1)
    empty = SloEvaluator(SloFile(), store, lambda: NOW).status(slo.model_copy(update={"probe": "nothing"}))
    assert empty["runs"] == 0 and empty["availability"] is None and empty["since"] is None
