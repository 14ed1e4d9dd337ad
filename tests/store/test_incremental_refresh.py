"""The incremental refresh (store.sla.recompute with full=False) against the full recompute.

After any sequence of imports, judging again only what changed must leave exactly the tables a
full recompute at the same instant leaves: every dossier's result and keys, the monthly figures,
the dashboard's audit, findings and sync counts. The deltas go through the import's own writes
(store/dossier_writes.py) on a real store file: new dossiers, changed states and results, agency
moves (to new agencies too), supplement dates and events, vendor and sync columns, facts dated
between the two instants, and a day that ends a month.
"""
from __future__ import annotations

import datetime as dt
import shutil

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from benchmarks.synth import synth_select
from config.clock import local_now
from store.db import Store
from store.dossier_facts import CLEAR_SQL
from store.dossier_writes import (DOSSIER_DATA_COLUMNS, KEPT_WHEN_BLANK, apply_cycles_to_stored, begin_batch,
                                  finish_batch,
                                  supplement_cycles, upsert_dossiers, upsert_events)
from store.sla import recompute, refresh_plan
from store.vendor import source_ix_of

T = dt.datetime
DAY = T(2026, 3, 31)  # the last day of a month: the current month is cut at as_of
AS_OF0 = DAY.replace(hour=7)
# the synthetic dossiers carry no 766 inputs (the upsert writes those NULL)
COLS = ", ".join(c for c in DOSSIER_DATA_COLUMNS if c not in KEPT_WHEN_BLANK)


def _insert_synth(con, n: int, seed: int, prefix: str, start: str, days: int) -> None:
    con.execute(f"CREATE OR REPLACE TEMP TABLE _gen AS SELECT '{prefix}' || dossier_code[2:] AS dossier_code, {COLS} "
                f"FROM ({synth_select(n, seed=seed, start=start, days=days)})")


@pytest.fixture(scope="module")
def base(tmp_path_factory, engine):
    """A store of 3,000 dossiers recomputed in full at AS_OF0 (copied for each example)."""
    path = tmp_path_factory.mktemp("incremental") / "base.duckdb"
    with Store(path, memory_limit="512MB") as s, s.transaction() as con:
        _insert_synth(con, 2_500, 11, "B", "2025-09-01", 210)
        con.execute(f"INSERT INTO dossiers (dossier_code, {COLS}) SELECT dossier_code, {COLS} FROM _gen")
        _insert_synth(con, 500, 12, "C", "2026-03-20", 12)  # around the day: facts on both sides of it
        con.execute(f"INSERT INTO dossiers (dossier_code, {COLS}) SELECT dossier_code, {COLS} FROM _gen")
    with Store(path, memory_limit="512MB") as s:
        res = recompute(s, engine, AS_OF0)
        assert res["kind"] == "full" and res["dossiers"] == 3_000
    return path


def apply_delta(store: Store, seed: int, changed: int, new: int, events: int, round_no: int) -> None:
    """One import's writes: `changed` stored dossiers altered, `new` dossiers added, supplement
    events for `events` dossiers."""
    now = local_now()
    with store.transaction() as con:
        batch = begin_batch(con, kind="dossiers", file_name=f"delta-{round_no}.csv", file_sha256=f"{seed}-{round_no}",
                            started_at=now)
        h = f"hash(dossier_code, {seed})"
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _delta AS
            SELECT dossier_code,
                   CASE WHEN {h} % 5 = 0 THEN 'AG' || CAST({h} % 130 AS VARCHAR) ELSE agency_code END AS agency_code,
                   procedure_code, field, channel, received_at, time_limit, time_unit,
                   CASE WHEN {h} % 7 = 1 THEN received_at + INTERVAL 1 DAY ELSE supplement_requested_at END
                       AS supplement_requested_at,
                   supplement_received_at, extended_due_at,
                   CASE WHEN {h} % 3 = 0 THEN TIMESTAMP '{DAY}' + to_minutes(CAST({h} % 1440 AS INTEGER))
                        WHEN {h} % 3 = 1 THEN NULL ELSE finished_at END AS finished_at,
                   returned_at,
                   CASE WHEN {h} % 3 = 0 THEN 'finished' WHEN {h} % 3 = 1 THEN 'processing' ELSE state END AS state,
                   CASE WHEN {h} % 4 = 0 THEN NULL ELSE reported_due_at END AS reported_due_at,
                   CASE WHEN {h} % 6 = 0 THEN 'Quá hạn' WHEN {h} % 6 = 1 THEN 'Đang xử lý' ELSE reported_status END
                       AS reported_status,
                   CASE WHEN {h} % 8 = 0 THEN '3.0' ELSE source_system END AS source_system,
                   CASE WHEN {h} % 5 = 2 THEN TIMESTAMP '{DAY}' + INTERVAL 20 HOUR ELSE synced_at END AS synced_at,
                   synced_status
            FROM dossiers USING SAMPLE reservoir({changed} ROWS) REPEATABLE ({seed})""")
        _insert_synth(con, new, seed, f"N{round_no}", "2026-03-25", 8)
        con.execute(f"INSERT INTO _delta SELECT dossier_code, {COLS} FROM _gen")
        counts = upsert_dossiers(con, "_delta", batch, now)
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _ev AS
            SELECT dossier_code, 'supplement_requested' AS event, received_at + INTERVAL 2 HOUR AS "at", NULL AS detail
            FROM dossiers USING SAMPLE reservoir({events} ROWS) REPEATABLE ({seed + 1})
            UNION ALL
            SELECT dossier_code, 'supplement_received', TIMESTAMP '{DAY}' + INTERVAL 9 HOUR, NULL
            FROM dossiers USING SAMPLE reservoir({events} ROWS) REPEATABLE ({seed + 1})""")
        upsert_events(con, "_ev", batch)
        supplement_cycles(con, "SELECT dossier_code FROM _ev", "_cyc")
        apply_cycles_to_stored(con, "_cyc", batch, now)
        finish_batch(con, batch, finished_at=now, rows_read=changed + new, inserted=counts.inserted,
                     updated=counts.updated, unchanged=counts.unchanged, quarantined=0, columns_dropped=[],
                     pii_columns_dropped=[])


def snapshot(store: Store) -> dict[str, list]:
    """Every table a refresh writes, keyed by codes (the agency and source numbering may differ)."""
    cur = store.cursor()
    q = {
        "results": f"""
            SELECT d.dossier_code, s.status, s.late_from, s.month_key, s.flags, s.audit_key,
                   d.fx_sync & 3, d.fx_sync >> 22, so.source_system, a.agency_code
            FROM sla_results s JOIN dossiers d USING (dossier_id) LEFT JOIN sla_agencies a USING (agency_ix)
            LEFT JOIN sla_sources so ON so.source_ix = {source_ix_of('d.fx_sync')}""",
        "view": "SELECT * FROM dossier_sla",
        "month_stats": "SELECT * FROM agency_month_stats",
        "audit": "SELECT * FROM agency_month_audit",
        "findings": "SELECT * FROM agency_month_findings",
        "sync": "SELECT * FROM agency_month_sync",
        "month_counts": "SELECT a.agency_code, month_key, n FROM sla_month_counts JOIN sla_agencies a USING (agency_ix)",
        "audit_counts": "SELECT a.agency_code, audit_key, n FROM sla_audit_counts JOIN sla_agencies a USING (agency_ix)",
        "sync_counts": f"""SELECT a.agency_code, so.source_system, sync_key & 3, sync_key >> 22, n FROM sla_sync_counts c
                           JOIN sla_agencies a USING (agency_ix)
                           LEFT JOIN sla_sources so ON so.source_ix = {source_ix_of('c.sync_key')}""",
        "result_set": "SELECT as_of FROM sla_result_set",
    }
    out = {k: sorted(cur.execute(v).fetchall(), key=repr) for k, v in q.items()}
    out["audit_by_agency"] = store.query("audit_by_agency").rows
    out["sync_by_agency"] = store.query("sync_by_agency").rows
    out["bieu06"] = store.query("bieu06", month="2026-03").rows
    return out


def assert_same(a: dict[str, list], b: dict[str, list]) -> None:
    for k in a:
        assert a[k] == b[k], f"{k}: incremental and full differ " \
                             f"({len(set(map(repr, a[k])) ^ set(map(repr, b[k])))} rows)"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(1, 10_000),
       rounds=st.lists(st.tuples(st.integers(0, 120), st.integers(0, 60), st.integers(0, 30), st.integers(0, 16 * 60)),
                       min_size=1, max_size=3))
def test_incremental_refresh_equals_a_full_recompute(tmp_path, base, engine, seed, rounds):
    path = tmp_path / f"s{seed}.duckdb"
    shutil.copy(base, path)
    with Store(path, memory_limit="512MB") as s:
        minutes = 0
        for i, (changed, new, events, later) in enumerate(rounds):
            apply_delta(s, seed + i, changed, new, events, i)
            minutes = min(minutes + later, 16 * 60 + 59)  # the same day, never earlier
            res = recompute(s, engine, AS_OF0 + dt.timedelta(minutes=minutes), full=False)
            assert res["kind"] == "incremental", res
            assert res["dossiers"] == s.cursor().execute("SELECT count(*) FROM dossiers").fetchone()[0]
        incremental = snapshot(s)
        # the copies of the rows whose cycles are judged one by one follow the imports
        cur = s.cursor()
        assert sorted(cur.execute("SELECT * FROM cycle_dossiers").fetchall(), key=repr) == \
            sorted(cur.execute("SELECT * FROM dossiers WHERE fx_cycle").fetchall(), key=repr)
        res = recompute(s, engine, AS_OF0 + dt.timedelta(minutes=minutes), full=True)
        assert res["kind"] == "full"
        assert_same(incremental, snapshot(s))
        # the facts kept in the rows through the imports equal the facts computed from scratch
        with s.transaction() as con:
            con.execute(f"UPDATE dossiers SET {CLEAR_SQL}")
        res = recompute(s, engine, AS_OF0 + dt.timedelta(minutes=minutes), full=True)
        assert res["facts_filled"] == res["dossiers"]
        assert_same(incremental, snapshot(s))
    path.unlink()


def test_facts_computed_differently_are_computed_again_and_everything_judged(tmp_path, base, engine):
    path = tmp_path / "digest.duckdb"
    shutil.copy(base, path)
    with Store(path, memory_limit="512MB") as s:
        before = snapshot(s)
        # a row's facts made wrong, as an older classification of the words would have left them
        with s.transaction() as con:
            con.execute("UPDATE dossiers SET fx_audit = xor(fx_audit, 256) WHERE dossier_id % 3 = 0")
            con.execute("UPDATE dossier_facts_state SET digest = 'older'")
        res = recompute(s, engine, AS_OF0, full=False)
        assert res["kind"] == "full" and "facts" in res["full_reason"], res
        assert res["facts_filled"] == res["dossiers"]
        assert_same(before, snapshot(s))
        assert recompute(s, engine, AS_OF0, full=False)["facts_filled"] == 0


def test_supplement_dates_taken_from_events_clear_the_rows_facts(tmp_path, base, engine):
    """A stored dossier whose supplement dates an events import changes has its stored facts
    computed again (whether its cycle needs its first deadline depends on those dates)."""
    path = tmp_path / "s.duckdb"
    shutil.copy(base, path)
    with Store(path, memory_limit="512MB") as s:
        code = s.cursor().execute("SELECT min(dossier_code) FROM dossiers WHERE supplement_requested_at IS NULL "
                                  "AND time_unit = 'working_days' AND received_at < '2026-01-01'").fetchone()[0]
        now = local_now()
        with s.transaction() as con:
            batch = begin_batch(con, kind="events", file_name="ev.csv", file_sha256="ev", started_at=now)
            con.execute(f"""CREATE OR REPLACE TEMP TABLE _ev AS
                SELECT dossier_code, 'supplement_requested' AS event, received_at + INTERVAL 60 DAY AS "at", NULL AS detail
                FROM dossiers WHERE dossier_code = '{code}'
                UNION ALL SELECT dossier_code, 'supplement_received', received_at + INTERVAL 61 DAY, NULL
                FROM dossiers WHERE dossier_code = '{code}'""")
            upsert_events(con, "_ev", batch)
            supplement_cycles(con, "SELECT dossier_code FROM _ev", "_cyc")
            assert apply_cycles_to_stored(con, "_cyc", batch, now) == 1
            assert con.execute(f"SELECT fx_audit FROM dossiers WHERE dossier_code = '{code}'").fetchone() == (None,)
        assert recompute(s, engine, AS_OF0, full=False)["kind"] == "incremental"
        # a request two months after reception is late: the cycle is judged against the first deadline
        assert s.cursor().execute(f"SELECT fx_cycle FROM dossiers WHERE dossier_code = '{code}'").fetchone() == (True,)
        assert s.cursor().execute(f"SELECT count(*) FROM cycle_dossiers WHERE dossier_code = '{code}'").fetchone() == (1,)


def test_only_the_touched_dossiers_are_judged_again(tmp_path, base, engine):
    path = tmp_path / "s.duckdb"
    shutil.copy(base, path)
    with Store(path, memory_limit="512MB") as s:
        apply_delta(s, 5, 40, 10, 0, 0)
        res = recompute(s, engine, AS_OF0, full=False)
        # the changed and new ones, and no other (the instant did not move)
        assert res["kind"] == "incremental" and 10 <= res["judged"] <= 50, res
        runs = s.query("sla_runs").to_dicts()
        assert [r["kind"] for r in runs[:2]] == ["incremental", "full"]
        res = recompute(s, engine, AS_OF0, full=False)
        assert res["judged"] == 0 and res["kind"] == "incremental"


def test_the_system_says_when_it_must_recompute_everything(tmp_path, base, engine):
    path = tmp_path / "s.duckdb"
    shutil.copy(base, path)
    with Store(path, memory_limit="512MB") as s:
        cur = s.cursor()
        assert refresh_plan(cur, engine, AS_OF0 + dt.timedelta(hours=3)) == ("incremental", "")
        kind, why = refresh_plan(cur, engine, AS_OF0 + dt.timedelta(days=1))
        assert kind == "full" and "new day" in why
        kind, why = refresh_plan(cur, engine, AS_OF0 - dt.timedelta(hours=1))
        assert kind == "full" and "earlier" in why
        with s.transaction() as con:  # results judged under another rule set or calendar
            con.execute("UPDATE sla_result_set SET engine_key = 'another'")
        kind, why = refresh_plan(cur, engine, AS_OF0)
        assert kind == "full" and "rule set" in why
        res = recompute(s, engine, AS_OF0, full=False)
        assert res["kind"] == "full" and "rule set" in res["full_reason"]
        # a third of the store changed: the full pass costs less than the incremental one
        apply_delta(s, 9, 1_200, 0, 0, 0)
        res = recompute(s, engine, AS_OF0, full=False)
        assert res["kind"] == "full" and "30%" in res["full_reason"]


def test_the_digest_follows_every_part_of_the_facts_definition(monkeypatch):
    """A new wording of the vendor's or the portal's status words, or another layout of the keys,
    changes the facts' digest (and so makes the next refresh compute them all again)."""
    import store.vendor as vendor
    from store.dossier_facts import digest

    before = digest()
    assert digest() == before
    monkeypatch.setattr(vendor, "VENDOR_STATUS_CLASSES", [*vendor.VENDOR_STATUS_CLASSES, ("overdue", ["tre qua"])])
    assert digest() != before
    monkeypatch.undo()
    monkeypatch.setattr(vendor, "SYNC_STATUS_CLASSES", [("resolved", ["xong"]), *vendor.SYNC_STATUS_CLASSES])
    assert digest() != before
    monkeypatch.undo()
    monkeypatch.setattr(vendor, "_A_MONTH", 16)
    assert digest() != before
    monkeypatch.undo()
    import store.month_key as month_key
    monkeypatch.setattr(month_key, "_KEY", {**month_key._KEY, "online": 49})
    assert digest() != before
