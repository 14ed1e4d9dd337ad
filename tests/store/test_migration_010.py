"""Migration 010 (narrow sla_results: computed_as_of in sla_result_set, due_at derived from
late_from and each rule version's office close, clock_start_at no longer stored; ENUM state,
time unit and channel) on a real store written with the schema before it."""
from __future__ import annotations

import datetime as dt

import duckdb
import pytest

import store.db as db
from store.sla import recompute
from store.db import Store
from tests.store.test_migration_004 import AS_OF, DOSSIER_COLS, VIEW_SLA, _engines, rows, store_at_version


def v9_store(path, engine, monkeypatch, n: int = 3000, as_of: dt.datetime = AS_OF) -> None:
    """A store at schema version 9 whose sla_results hold the engine's own output as version 9
    kept it (every column, due_at and clock_start_at included), with its run recorded."""
    with store_at_version(path, 9, engine, monkeypatch, n) as cur:
        cur.execute(f"""
            INSERT INTO sla_results (dossier_id, status, clock_start_at, due_at, late_from, computed_as_of,
                                     month_key, agency_ix)
            SELECT d.dossier_id, CAST(o.status AS sla_status), o.clock_start_at, o.due_at, o.late_from,
                   o.computed_as_of, 12345, 1
            FROM ({engine.compute_sql('v_in', as_of, events='dossier_events')}) o
            JOIN dossiers d USING (dossier_code)""")
        cur.executemany("INSERT INTO sla_rule_versions VALUES (?, ?)", [v[:2] for v in engine.rule_versions()])
        cur.execute("INSERT INTO sla_runs VALUES (nextval('sla_run_seq'), ?, ?, TIMESTAMP '2025-09-10 16:00', "
                    "TIMESTAMP '2025-09-10 16:01', ?)", [engine.name, as_of, n])


@pytest.mark.parametrize("mode", ["restart", "mixed"])
def test_a_version_9_store_keeps_every_result_it_can_show(tmp_path, monkeypatch, mode):
    """Every column the view still shows reads back as version 9 stored it, due_at included for
    two rule versions closing at different hours (17:00 and 17:30); the as_of moves to
    sla_result_set; the old month keys are dropped (the next recompute writes them anew) and a
    recompute at the same as_of gives back the same rows."""
    engine = _engines()[mode]
    path = tmp_path / "v9.duckdb"
    v9_store(path, engine, monkeypatch)
    con = duckdb.connect(str(path), read_only=True)
    before = rows(con, f"SELECT {VIEW_SLA} FROM dossier_sla")
    dossiers_before = rows(con, f"SELECT {DOSSIER_COLS} FROM dossiers")
    con.close()
    assert len(before) == 3000

    with Store(path) as s:
        assert s.schema_version() == db.SCHEMA_VERSION
        cur = s.cursor()
        assert rows(cur, f"SELECT {VIEW_SLA} FROM dossier_sla") == before
        assert rows(cur, f"SELECT {DOSSIER_COLS} FROM dossiers") == dossiers_before
        assert cur.execute("SELECT as_of, run_id FROM sla_result_set").fetchall() == [(AS_OF, 1)]
        closes = dict(cur.execute("SELECT rule_version, office_close FROM sla_rule_versions").fetchall())
        assert closes == {v[0]: v[2] for v in engine.rule_versions()}
        assert cur.execute("SELECT count(month_key) FROM sla_results").fetchone()[0] == 0
        assert [r[0] for r in cur.execute("SELECT column_name FROM (DESCRIBE sla_results)").fetchall()] == \
            ["dossier_id", "status", "late_from", "month_key", "agency_ix", "flags", "audit_key"]
        types = dict(cur.execute("SELECT column_name, column_type FROM (DESCRIBE dossiers)").fetchall())
        assert types["state"].startswith("ENUM") and types["channel"].startswith("ENUM") \
            and types["time_unit"].startswith("ENUM")

        res = recompute(s, engine, AS_OF)
        assert res["dossiers"] == 3000
        assert rows(cur, f"SELECT {VIEW_SLA} FROM dossier_sla") == before
        assert cur.execute("SELECT count(month_key) FROM sla_results").fetchone()[0] > 0
    assert path.with_name(f"{path.name}.v9.bak").exists()


def _fails_and_keeps_version_9(path, match: str) -> None:
    with pytest.raises(duckdb.Error, match=match):
        Store(path)
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == 9
    assert "clock_start_at" in [r[0] for r in con.execute("DESCRIBE sla_results").fetchall()]
    con.close()


@pytest.mark.parametrize("damage, message", [
    ("UPDATE sla_results SET computed_as_of = computed_as_of - INTERVAL 1 DAY WHERE dossier_id = 7",
     "several as_of instants"),
    ("UPDATE sla_results SET due_at = due_at - INTERVAL 1 HOUR "
     "WHERE dossier_id = (SELECT min(dossier_id) FROM sla_results WHERE due_at IS NOT NULL)",
     "cannot be carried over unchanged"),
    ("UPDATE dossiers SET state = 'archived' WHERE dossier_id = 3", "archived"),
], ids=["results-of-two-instants", "due-at-the-view-would-not-give-back", "state-outside-the-canonical-values"])
def test_what_the_narrow_schema_cannot_hold_stops_the_migration(tmp_path, monkeypatch, damage, message):
    path = tmp_path / "v9.duckdb"
    v9_store(path, _engines()["restart"], monkeypatch, n=200)
    con = duckdb.connect(str(path))
    con.execute(damage)
    con.close()
    _fails_and_keeps_version_9(path, message)
