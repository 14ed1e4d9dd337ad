"""The named queries over probe results with two locations: each gives its documented answer
(per location, or the central's), none mixes one place's latest row or percentiles with another's;
and probe_locations lists each location that reported."""
from __future__ import annotations

import datetime as dt

from probes.runner import ProbeResult
from store.probe_writes import write_results

T = dt.datetime(2026, 12, 1, 10, 0)


def _rs(n: int, *, ok=lambda i: True, ms=lambda i: 100.0, start: dt.datetime = T, name: str = "home"):
    return [ProbeResult(name=name, kind="check", step="", started_at=start - dt.timedelta(minutes=n - i), ok=ok(i),
                        status_code=200 if ok(i) else 503, total_ms=ms(i), reason="" if ok(i) else "HTTP 503")
            for i in range(n)]


def seed(store) -> None:
    """The central: 30 passing runs at 100 ms. Hà Nội: 30 runs at 900 ms, the last 10 failed."""
    write_results(store, _rs(30), now=T)
    rs = _rs(30, ok=lambda i: i < 20, ms=lambda i: 900.0)
    write_results(store, rs, location="hanoi", result_ids=[f"h{i}" for i in range(30)], agent_version="0.4.1", now=T)


def test_probe_locations_lists_each_place_with_its_state(store):
    seed(store)
    rows = {r["location"]: r for r in store.query("probe_locations", fresh_minutes=10, at=T)}
    assert list(rows) == ["central", "hanoi"]
    c, h = rows["central"], rows["hanoi"]
    assert c["last_result_at"] == T - dt.timedelta(minutes=1) and c["fresh"]
    assert (c["results_1h"], c["failures_1h"], c["failing_checks"], c["failing_names"]) == (30, 0, 0, [])
    assert c["agent_version"] is None and c["batches"] is None
    assert (h["results_1h"], h["failures_1h"], h["failing_checks"], h["failing_names"]) == (30, 10, 1, ["home"])
    assert (h["agent_version"], h["batches"], h["duplicates"]) == ("0.4.1", 1, 0)
    later = {r["location"]: r["fresh"] for r in store.query("probe_locations", fresh_minutes=10,
                                                             at=T + dt.timedelta(minutes=30))}
    assert later == {"central": False, "hanoi": False}


def test_probe_locations_lists_the_central_before_any_result(store):
    rows = store.query("probe_locations", at=T).to_dicts()
    assert [(r["location"], r["last_result_at"], r["fresh"]) for r in rows] == [("central", None, False)]


def test_latest_is_per_location(store):
    seed(store)
    rows = {r["location"]: r for r in store.query("probe_latest", probe="home")}
    assert rows["central"]["ok"] and rows["central"]["failing_since"] is None
    assert not rows["hanoi"]["ok"] and rows["hanoi"]["failing_since"] == T - dt.timedelta(minutes=10)
    assert len(store.query("probe_latest", location="central")) == 1


def test_windows_per_location_and_the_central_for_baselines(store):
    seed(store)
    got = {(r["location"], r["minutes"]): (r["runs"], r["failures"]) for r in
           store.query("probe_window_locations", probe="home", step="", until=T, minutes=[5, 60])}
    assert got == {("central", 5): (5, 0), ("central", 60): (30, 0), ("hanoi", 5): (5, 5), ("hanoi", 60): (30, 10)}
    one = store.query("probe_window", probe="home", step="", since=T - dt.timedelta(hours=1), until=T,
                      location="hanoi").one()
    assert (one["runs"], one["failures"]) == (30, 10)
    every = store.query("probe_window", probe="home", step="", since=T - dt.timedelta(hours=1), until=T).one()
    assert (every["runs"], every["failures"]) == (60, 10)  # None: every location's runs counted together


def test_dashboard_summary_keeps_each_places_latest_and_percentiles(store):
    seed(store)
    rows = {r["location"]: r for r in store.query("probe_summary", since=(T - dt.timedelta(hours=2)).isoformat())}
    assert rows["central"]["p95_ms"] == 100.0 and rows["central"]["last_ok"]
    assert rows["hanoi"]["p95_ms"] == 900.0 and not rows["hanoi"]["last_ok"]
    only = store.query("probe_summary", since=(T - dt.timedelta(hours=2)).isoformat(), location="hanoi")
    assert only.column("location") == ["hanoi"]
    ph = {r["name"]: r["total_ms"] for r in store.query("probe_phases", since=(T - dt.timedelta(hours=2)).isoformat(),
                                                          location="central")}
    assert ph == {"home": 100.0}
    win = {r["minutes"]: r["failures"] for r in store.query("probe_windows", probe="home", step="",
                                                             until=T.isoformat(), minutes=[60], location="central")}
    assert win == {60: 0}


def test_status_page_latest_per_location_and_daily_bars_of_the_central(store):
    seed(store)
    latest = {r["location"]: r["ok"] for r in store.query("status_probe_latest", names=["home"],
                                                            since=T - dt.timedelta(hours=1))}
    assert latest == {"central": True, "hanoi": False}
    daily = store.query("status_daily", names=["home"], since=T.date()).to_dicts()
    assert [(r["runs"], r["failures"]) for r in daily] == [(30, 0)]


def test_briefing_and_register_measure_from_the_central(store):
    seed(store)
    month = store.query("probe_month_summary", month="2026-12").to_dicts()
    total = next(r for r in month if r["row_kind"] == "total")
    assert (total["runs"], total["failures"], total["p95_ms"]) == (30, 0, 100.0)
    assert [(r["runs"], r["failures"]) for r in store.query("probe_month_daily", month="2026-12")] == [(30, 0)]
    assert len(store.query("probe_month_incidents", month="2026-12")) == 0
    status = store.query("compliance_check_status", since=(T - dt.timedelta(hours=2)).isoformat(),
                         until=(T + dt.timedelta(minutes=1)).isoformat(), checks="home").one()
    assert status["ok"] and (status["runs"], status["failures"]) == (30, 0)
    buckets = store.query("compliance_probe_buckets", since=(T - dt.timedelta(hours=2)).isoformat(),
                          until=(T + dt.timedelta(minutes=1)).isoformat(), checks="home")
    assert sum(r["runs"] for r in buckets) == 30 and sum(r["failures"] for r in buckets) == 0


def test_rollups_and_raw_results_carry_the_location(store):
    seed(store)
    assert {r["location"] for r in store.query("probe_rollup", grain="daily")} == {"central", "hanoi"}
    assert store.query("probe_rollup", grain="hourly", location="hanoi").column("failures") == [10]
    assert set(store.query("probe_results", failed_only=True).column("location")) == {"hanoi"}


def test_latest_and_failing_since_equal_a_plain_reading_of_the_raw_rows(store):
    """probe_latest against a per-row reading: for each (location, name, step) the newest run (the
    higher run id on a tie), and when it failed, the first failure after the last pass."""
    import random

    rnd = random.Random(7)
    t0 = dt.datetime(2026, 12, 1, 8, 0)
    rows = []
    for run_id in range(1, 120):
        at = t0 + dt.timedelta(seconds=15 * (run_id // 2))  # two runs share each instant: ties
        for loc in ("central", "hanoi"):
            for name, step in (("home", ""), ("submit", "*"), ("submit", "login")):
                if rnd.random() < 0.7:
                    rows.append((run_id, loc, name, step, at, rnd.random() < 0.6))
    with store.transaction() as cur:
        cur.executemany("INSERT INTO probe_results (run_id, location, name, kind, step, started_at, ok) "
                        "VALUES (?, ?, ?, 'check', ?, ?, ?)", rows)
    want = {}
    for key in {(loc, n, s) for _, loc, n, s, _, _ in rows}:
        mine = sorted((r for r in rows if (r[1], r[2], r[3]) == key), key=lambda r: (r[4], r[0]))
        last = mine[-1]
        since = None
        if not last[5]:
            passed = [r[4] for r in mine if r[5]]
            since = min(r[4] for r in mine if not r[5] and (not passed or r[4] > max(passed)))
        want[key] = (last[0], last[5], since)
    got = {(r["location"], r["name"], r["step"]): (r["run_id"], r["ok"], r["failing_since"])
           for r in store.query("probe_latest")}
    assert got == want
