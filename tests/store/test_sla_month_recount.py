"""Biểu 06 recounted apart from the store: each month's figures per agency, as the store gives them
after a recompute, equal a plain count over the dossiers made here with the per-row oracle
(tests/sla_oracle.py) judging each dossier at that month's last instant.

That is also the finished-month property: the store's figures come from one recompute at a later
as_of, the recount from each month's own end, so no fact dated after a month's end may change
that month. Months end on working days and on weekends (November 2024 on a Saturday, March 2025
on a Monday, April 2025 on a holiday, August 2025 on a Sunday); the recompute runs at two hours of
the same day and the finished months must not differ.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from store.sla import recompute
from store.db import Store
from store.sla import STAT_COLUMNS
from tests.sla_oracle import Dossier, Oracle
from tests.store.test_migration_004 import fill

US = dt.timedelta(microseconds=1)
DAY = dt.date(2025, 9, 20)
HOURS = (dt.time(8, 0), dt.time(23, 30))
MONTHS = [dt.date(2024, 11, 1)] + [dt.date(2024 + (10 + i) // 12, (10 + i) % 12 + 1, 1) for i in range(1, 11)]


@pytest.fixture(scope="module")
def recomputed(tmp_path_factory, engine):
    """The store's Biểu 06 by agency for every month, after a recompute at each hour; the dossiers."""
    path = tmp_path_factory.mktemp("recount") / "recount.duckdb"
    with Store(path) as s:
        with s.transaction() as c:
            fill(c, 2500, start="2024-11-01", days=320)
            # a dossier due on the last day of a month that ends on a working day, still pending
            c.execute("INSERT INTO dossiers (dossier_code, agency_code, channel, received_at, time_limit, time_unit, "
                      "state) VALUES ('DUE-LAST-DAY', 'AG1', 'online', TIMESTAMP '2025-03-27 09:00', 2, "
                      "'working_days', 'processing')")
        figures = {}
        for hour in HOURS:
            recompute(s, engine, dt.datetime.combine(DAY, hour))
            figures[hour] = {m: {r["key"]: {k: r[k] for k in STAT_COLUMNS}
                                 for r in s.query("bieu06", month=f"{m:%Y-%m}", rollup=False)
                                 if r["row_kind"] != "total"}
                             for m in MONTHS}
        cur = s.cursor()
        cols = ("dossier_code, agency_code, channel, received_at, time_limit, CAST(time_unit AS VARCHAR), "
                "supplement_requested_at, supplement_received_at, extended_due_at, finished_at, returned_at, "
                "CAST(state AS VARCHAR)")
        rows = cur.execute(f"SELECT {cols} FROM dossiers").fetchall()
        events: dict[str, list] = {}
        for code, ev, at in cur.execute('SELECT dossier_code, event, "at" FROM dossier_events').fetchall():
            events.setdefault(code, []).append((ev, at))
    dossiers = [(agency, channel, Dossier(code, rec, lim, unit, q, s_, ext, fin, ret, state, events.get(code, [])))
                for code, agency, channel, rec, lim, unit, q, s_, ext, fin, ret, state in rows]
    return figures, dossiers


def recount(dossiers, oracle: Oracle, month: dt.date, as_of: dt.datetime) -> dict[str, dict[str, int]]:
    """Biểu 06 of `month` per agency, counted dossier by dossier."""
    nxt = dt.datetime(month.year + month.month // 12, month.month % 12 + 1, 1)
    start = dt.datetime.combine(month, dt.time())
    last = min(nxt - US, as_of)        # the month's last instant (the current month: as_of)
    out: dict[str, Counter] = {}
    for agency, channel, d in dossiers:
        if d.state in ("withdrawn", "rejected") or d.received_at > last:
            continue
        r = d.finished_at or d.returned_at
        res = max(r, d.received_at) if r is not None and r <= as_of else None
        if res is not None and res < start:
            continue
        c = out.setdefault(agency, Counter({k: 0 for k in STAT_COLUMNS}))
        if d.received_at >= start:
            c["received_online" if channel == "online" else "received_direct_postal"] += 1
        else:
            c["carried_over"] += 1
        status = oracle.compute(d, last).status
        if res is not None and res <= last:
            c["resolved_total"] += 1
            c["resolved_" + (status if status in ("early", "overdue") else "on_time")] += 1
        else:
            c["pending_total"] += 1
            c["pending_overdue" if status == "pending_overdue" else "pending_in_time"] += 1
    for c in out.values():
        c["received_total"] = c["received_online"] + c["received_direct_postal"] + c["carried_over"]
    return {a: dict(c) for a, c in out.items()}


@pytest.mark.parametrize("hour", HOURS, ids=["08:00", "23:30"])
def test_each_month_equals_a_recount_at_its_own_end(recomputed, engine, hour):
    figures, dossiers = recomputed
    oracle = Oracle(engine.ruleset, engine.calendar)
    as_of = dt.datetime.combine(DAY, hour)
    for m in MONTHS:
        got = {a: f for a, f in figures[hour][m].items() if any(f.values())}
        assert got == recount(dossiers, oracle, m, as_of), m


def test_the_hour_of_the_recompute_does_not_change_a_finished_month(recomputed):
    figures, _ = recomputed
    for m in MONTHS[:-1]:
        assert figures[HOURS[0]][m] == figures[HOURS[1]][m], m


def test_a_dossier_due_on_the_months_last_day_is_in_time_at_that_months_end(recomputed, engine):
    figures, dossiers = recomputed
    (d,) = [d for _a, _c, d in dossiers if d.dossier_code == "DUE-LAST-DAY"]
    oracle = Oracle(engine.ruleset, engine.calendar)
    assert oracle.compute(d, dt.datetime(2025, 3, 31, 23, 59)).due_date == dt.date(2025, 3, 31)
    march = recount([("AG1", "online", d)], oracle, dt.date(2025, 3, 1), dt.datetime(2025, 9, 20, 8))
    april = recount([("AG1", "online", d)], oracle, dt.date(2025, 4, 1), dt.datetime(2025, 9, 20, 8))
    assert (march["AG1"]["pending_in_time"], march["AG1"]["pending_overdue"]) == (1, 0)
    assert (april["AG1"]["pending_in_time"], april["AG1"]["pending_overdue"]) == (0, 1)
