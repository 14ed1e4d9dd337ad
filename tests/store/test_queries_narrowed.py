"""The dashboard's named queries answer the same whether they narrow sla_results to the agency's
scope and month first (month_key, agency_ix) and add up the recompute's audit and sync counts
(agency_month_audit / agency_month_sync), or count everything from the dossiers: a random store,
recomputed by the real engine, every agency subtree, months, roll-up and successor flags; then
again after dossiers change without a recompute."""
from __future__ import annotations

import datetime as dt
import math
import random

import pytest

import store.queries as queries
from config.app import AppConfig
from config.clock import local_now
from config.reference import ReferenceData
from sla_rules.engine import SlaEngine
from store.sla import recompute
from store.db import Store
from store.dossier_facts import CLEAR_SQL
from store.reference import load_reference

AS_OF = dt.datetime(2024, 5, 15, 12, 0)
MONTHS = ["2023-11", "2024-01", "2024-03", "2024-04", "2024-05", "2024-06"]
REFERENCE = ReferenceData.model_validate({
    "agencies": [
        {"code": "P", "name": "UBND tỉnh", "level": "province"},
        {"code": "S1", "name": "Sở Tư pháp", "level": "department", "parent": "P"},
        {"code": "H1", "name": "Huyện cũ", "level": "district", "parent": "P", "valid_to": "2024-03-01",
         "successor": "H2"},
        {"code": "H2", "name": "Huyện mới", "level": "district", "parent": "P", "valid_from": "2024-03-01"},
        {"code": "X1", "name": "Xã A", "level": "commune", "parent": "H1"},
        {"code": "X2", "name": "Xã B", "level": "commune", "parent": "H2", "valid_from": "2024-03-01"},
    ],
    "procedures": [
        {"code": "PR-A", "name": "Khai sinh", "field": "Hộ tịch", "time_limit": 3, "time_unit": "working_days"},
        {"code": "PR-B", "name": "Xây dựng", "field": "Xây dựng", "time_limit": 15, "time_unit": "working_days"},
    ],
})
AGENCIES = ["P", "S1", "H1", "H2", "X1", "X2", "ZZ"]  # ZZ: unknown to the reference data
REPORTED = [None, "Đúng hạn", "Quá hạn", "Trước hạn", "Đang xử lý", "Chờ bổ sung", "???"]
SYNCED = [None, "Đã giải quyết", "Đang xử lý", "Hoàn thành", "xyz"]


def _dossiers(rng: random.Random, n: int) -> list[tuple]:
    start = dt.datetime(2023, 10, 1)
    out = []
    for i in range(n):
        rec = start + dt.timedelta(minutes=rng.randrange(0, 60 * 24 * 260))
        state = rng.choice(["processing", "finished", "finished", "returned", "withdrawn", "rejected"])
        fin = rec + dt.timedelta(hours=rng.randrange(1, 24 * 40)) if state != "processing" or rng.random() < .1 else None
        if fin is not None and rng.random() < .03:  # bad data: finished before it was received
            fin = rec - dt.timedelta(hours=rng.randrange(1, 24 * 60))
        req = rec + dt.timedelta(days=rng.randrange(0, 10)) if rng.random() < .2 else None
        rcv = req + dt.timedelta(days=rng.randrange(0, 10)) if req and rng.random() < .6 else None
        unit = rng.choice(["working_days", "working_days", "working_hours"])
        synced = (fin or rec) + dt.timedelta(hours=rng.randrange(-24, 72)) if rng.random() < .7 else None
        out.append((f"D{i:05d}", rng.choice(AGENCIES), rng.choice(["PR-A", "PR-B"]), rng.choice(["Hộ tịch", "Xây dựng", None]),
                    rng.choice(["online", "direct", "postal"]), rec, rng.randrange(1, 12) if rng.random() < .95 else None, unit,
                    req, rcv, fin if state != "returned" else None, fin if state == "returned" else None, state,
                    rec + dt.timedelta(days=rng.randrange(0, 30)) if rng.random() < .8 else None,
                    rng.choice(REPORTED), rng.choice(["1.0", "2.0"]), synced, rng.choice(SYNCED)))
    return out


COLS = ("dossier_code, agency_code, procedure_code, field, channel, received_at, time_limit, time_unit, "
        "supplement_requested_at, supplement_received_at, finished_at, returned_at, state, reported_due_at, "
        "reported_status, source_system, synced_at, synced_status")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    cfg = AppConfig()
    engine = SlaEngine.from_files(cfg.sla.rule_set, cfg.sla.calendar_overrides)
    rng = random.Random(20240515)
    with Store(tmp_path_factory.mktemp("narrow") / "n.duckdb") as s:
        load_reference(s, REFERENCE)
        rows = _dossiers(rng, 1500)
        with s.transaction() as c:
            c.executemany(f"INSERT INTO dossiers ({COLS}) VALUES ({', '.join('?' * 18)})", rows)
            c.executemany('INSERT INTO dossier_events (dossier_code, event, "at") VALUES (?, ?, ?)',
                          [(r[0], "supplement_requested", r[5] + dt.timedelta(days=2)) for r in rows[::17]])
        recompute(s, engine, AS_OF)
        yield s


def _both(store, monkeypatch, name, **params):
    monkeypatch.setattr(queries, "NARROW_RESULTS", True)
    monkeypatch.setattr(queries, "USE_DASHBOARD_COUNTS", True)
    new = store.query(name, **params)
    monkeypatch.setattr(queries, "NARROW_RESULTS", False)
    monkeypatch.setattr(queries, "USE_DASHBOARD_COUNTS", False)
    old = store.query(name, **params)
    return new, old


def _nan_free(rows):  # NaN (0 / 0 ratios) compares unequal to itself
    return [tuple("NaN" if isinstance(v, float) and math.isnan(v) else v for v in r) for r in rows]


def _check_all(store, monkeypatch, every: int = 1) -> int:
    """Compare the narrowed and the full answers of the dashboard's queries over agencies, months,
    roll-ups and options; `every` > 1 compares one case in that many (each query still covered)."""
    compared = 0
    cases = []
    for agency in [None, *AGENCIES]:
        for rollup in (True, False):
            for month in [None, *MONTHS]:
                cases.append(("dossiers_overdue", dict(agency=agency, month=month, rollup=rollup, limit=100_000)))
            cases.append(("dossiers_overdue", dict(agency=agency, rollup=rollup, limit=7)))
            for month in MONTHS[1::2]:
                for by in ("procedure", "field", "channel"):
                    for follow in (False, True):
                        cases.append(("bieu06", dict(month=month, by=by, agency=agency, rollup=rollup,
                                                     follow_successor=follow)))
            for ss in (None, "1.0"):
                for limit in (1, 60, 100_000):
                    cases.append(("sync_unsynced", dict(agency=agency, source_system=ss, rollup=rollup, limit=limit)))
    for month in [None, *MONTHS, "2020-01"]:
        for agency in [None, *AGENCIES]:
            cases.append(("audit_by_agency", dict(month=month, agency=agency)))
            cases.append(("sync_by_agency", dict(month=month, agency=agency)))
    cases = cases[::every]
    assert {name for name, _ in cases} == {"dossiers_overdue", "bieu06", "sync_unsynced", "audit_by_agency",
                                           "sync_by_agency"}
    nonempty = 0
    for name, params in cases:
        new, old = _both(store, monkeypatch, name, **params)
        assert new.columns == old.columns, (name, params)
        assert _nan_free(new.rows) == _nan_free(old.rows), (name, params)
        compared += 1
        nonempty += bool(old.rows)
    assert nonempty > len(cases) // 2  # the comparison is about real answers, not empty tables
    return compared


def test_the_counts_tables_are_used(store):
    assert queries._dashboard_counts_valid(store.cursor())
    n = store.cursor().execute("SELECT count(*) FROM agency_month_audit").fetchone()[0]
    assert n > 0


def test_narrowed_answers_equal_the_full_count(store, monkeypatch):
    assert _check_all(store, monkeypatch) > 500


def test_changed_dossiers_without_recompute_still_answer_the_same(store, monkeypatch):
    with store.transaction() as c:  # as an import does: new values, updated_at stamped
        c.execute(f"UPDATE dossiers SET agency_code = 'X2', state = 'finished', finished_at = received_at + INTERVAL 40 DAY, "
                  f"reported_status = 'Quá hạn', synced_at = NULL, updated_at = ?, {CLEAR_SQL} "
                  "WHERE dossier_code IN (SELECT dossier_code FROM dossiers ORDER BY dossier_code LIMIT 40)",
                  [local_now()])
    assert not queries._dashboard_counts_valid(store.cursor())
    # one case in three (the whole grid is compared above; this is the path for changed rows)
    assert _check_all(store, monkeypatch, every=3) > 150
