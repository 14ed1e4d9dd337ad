"""Migration 004 (integer dossier_id, narrow sla_results behind the dossier_sla view) on a real
store written with the schema before it, and the monthly figures counted by running sums checked
against the plain per-month expansion of the Biểu 06 rules (store.sla.month_facts_sql)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import datetime as dt

import duckdb
import pytest

import store.db as db
from benchmarks.synth import synth_select
from config.app import AppConfig
from sla_rules.engine import SlaEngine
from store.sla import recompute
from store.db import Store
from store.sla import COUNTS_SQL, STAT_COLUMNS, month_facts_sql

AS_OF = dt.datetime(2025, 9, 10, 15, 30)
V3 = [m for m in db.MIGRATIONS if m[0] <= 3]
DOSSIER_COLS = ("dossier_code, agency_code, procedure_code, field, channel, received_at, time_limit, time_unit, "
                "supplement_requested_at, supplement_received_at, extended_due_at, finished_at, returned_at, state, "
                "reported_due_at, reported_status, source_system, synced_at, synced_status")
# The view's columns since migration 010 (clock_start_at is no longer stored).
VIEW_SLA = "dossier_code, rule_version, due_date, due_at, late_from, final_status, status, computed_as_of"


def fill(cur: duckdb.DuckDBPyConnection, n: int, start: str = "2024-11-01", days: int = 330) -> None:
    """n synthetic dossiers (every unit, state and supplement case, both rule versions) and
    supplement events for some of them (repeated requests, answered or not)."""
    cur.execute(f"INSERT INTO dossiers ({DOSSIER_COLS}) SELECT {DOSSIER_COLS} FROM ({synth_select(n, 11, start, days)})")
    cur.execute("INSERT INTO agencies (code, name, level) SELECT DISTINCT agency_code, agency_code, 'unit' FROM dossiers")
    cur.execute("""
        INSERT INTO dossier_events (dossier_code, event, "at")
        SELECT dossier_code, 'supplement_requested', received_at + INTERVAL 2 DAY FROM dossiers
        WHERE hash(dossier_code) % 9 = 0
        UNION ALL
        SELECT dossier_code, 'supplement_received', received_at + INTERVAL 40 DAY FROM dossiers
        WHERE hash(dossier_code) % 9 = 0 AND hash(dossier_code) % 2 = 0
        UNION ALL
        SELECT dossier_code, 'supplement_requested', received_at + INTERVAL 45 DAY FROM dossiers
        WHERE hash(dossier_code) % 27 = 0""")


@contextmanager
def store_at_version(path, version: int, engine: SlaEngine, monkeypatch, n: int) -> Iterator[duckdb.DuckDBPyConnection]:
    """A store created at an older schema `version`, holding n dossiers and events, with the
    engine's calendar installed and its input view v_in: yields the open transaction's cursor."""
    monkeypatch.setattr(db, "MIGRATIONS", [m for m in db.MIGRATIONS if m[0] <= version])
    monkeypatch.setattr(db, "SCHEMA_VERSION", version)
    with Store(path) as s:
        assert s.schema_version() == version
        with s.transaction() as cur:
            fill(cur, n)
            engine.install(cur)
            cur.execute("CREATE TEMP VIEW v_in AS SELECT dossier_code, received_at, time_limit, time_unit, "
                        "supplement_requested_at, supplement_received_at, extended_due_at, finished_at, returned_at, "
                        "state FROM dossiers")
            yield cur
    monkeypatch.undo()


def old_store(path, engine: SlaEngine, monkeypatch, n: int = 4000) -> None:
    """A store at schema version 3 holding dossiers, events, the old dossier_sla (the engine's own
    output columns, keyed by the text code) and a monthly table."""
    with store_at_version(path, 3, engine, monkeypatch, n) as cur:
        cur.execute("INSERT INTO dossier_sla " + engine.compute_sql("v_in", AS_OF, events="dossier_events"))
        cur.execute("INSERT INTO agency_month_stats VALUES (DATE '2025-09-01', 'AG1', 3, 2, 1, 0, 1, 1, 0, 0, "
                    "2, 2, 0, ?)", [AS_OF])


def rows(con, sql: str) -> list[tuple]:
    return sorted(con.execute(sql).fetchall(), key=repr)


def test_an_old_store_keeps_every_row_and_recomputes_the_same_results(tmp_path, engine, monkeypatch):
    path = tmp_path / "old.duckdb"
    old_store(path, engine, monkeypatch)
    con = duckdb.connect(str(path), read_only=True)
    sla_before = rows(con, f"SELECT {VIEW_SLA} FROM dossier_sla")
    dossiers_before = rows(con, f"SELECT {DOSSIER_COLS} FROM dossiers")
    events_before = rows(con, "SELECT * FROM dossier_events")
    months_before = rows(con, "SELECT * FROM agency_month_stats")
    con.close()
    assert len(sla_before) == 4000 and len({r[1] for r in sla_before}) == 2     # both rule versions in use

    with Store(path) as s:
        assert s.schema_version() == db.SCHEMA_VERSION
        cur = s.cursor()
        # every row of every table is still there, value for value
        assert rows(cur, f"SELECT {VIEW_SLA} FROM dossier_sla") == sla_before
        assert rows(cur, f"SELECT {DOSSIER_COLS} FROM dossiers") == dossiers_before
        assert rows(cur, "SELECT * FROM dossier_events") == events_before
        assert rows(cur, "SELECT * FROM agency_month_stats") == months_before
        ids = cur.execute("SELECT count(DISTINCT dossier_id), count(dossier_id), max(dossier_id) FROM dossiers").fetchone()
        assert ids == (4000, 4000, 4000)
        # a dossier imported after the migration gets the next key
        with s.transaction() as w:
            w.execute("INSERT INTO dossiers (dossier_code, agency_code, channel, received_at, time_unit, state) "
                      "VALUES ('NEW-1', 'AG1', 'online', TIMESTAMP '2025-09-01 08:00', 'working_days', 'processing')")
            w.execute("DELETE FROM dossiers WHERE dossier_code = 'NEW-1'")
        assert store_stats_ok(s)

        # recomputing at the same as_of gives back exactly the results the old store held
        res = recompute(s, engine, AS_OF)
        assert res["dossiers"] == 4000
        assert rows(cur, f"SELECT {VIEW_SLA} FROM dossier_sla") == sla_before
        assert rows(cur, f"SELECT {DOSSIER_COLS} FROM dossiers") == dossiers_before
    assert path.with_name(f"{path.name}.v3.bak").exists()


def store_stats_ok(s: Store) -> bool:
    stats = s.query("store_stats").one()
    return stats["dossiers_computed"] == 4000 and stats["dossiers_not_computed"] == 0


def test_a_result_that_cannot_be_carried_over_stops_the_migration_and_keeps_the_store(tmp_path, engine,
                                                                                       monkeypatch):
    path = tmp_path / "orphan.duckdb"
    old_store(path, engine, monkeypatch, n=300)
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO dossier_sla SELECT 'NO-SUCH-DOSSIER', rule_version, clock_start_at, due_date, due_at, "
                "late_from, final_status, status, computed_as_of FROM dossier_sla LIMIT 1")
    con.close()
    with pytest.raises(duckdb.Error, match="cannot be carried over unchanged"):
        Store(path)
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == 3
    assert con.execute("SELECT count(*) FROM dossier_sla").fetchone()[0] == 301
    assert "dossier_id" not in [r[0] for r in con.execute("DESCRIBE dossiers").fetchall()]


@pytest.mark.parametrize("as_of", [AS_OF, dt.datetime(2025, 7, 1), dt.datetime(2025, 3, 31, 23, 59, 59),
                                   dt.datetime(2025, 12, 20, 9, 0), dt.datetime(2024, 12, 1, 0, 0, 0, 1)])
def test_running_sums_give_the_figures_of_the_per_month_expansion(tmp_path, engine, as_of):
    """agency_month_stats (running sums over packed month facts) against counting every
    (dossier, month) pair: month ends at exact month starts, as_of on a boundary, a microsecond
    after one, supplement waits across months, dossiers received after as_of."""
    with Store(tmp_path / "m.duckdb") as s:
        with s.transaction() as cur:
            fill(cur, 6000, start="2024-10-15", days=400)
        recompute(s, engine, as_of)
        cur = s.cursor()
        table = rows(cur, f"SELECT month, agency_code, {', '.join(STAT_COLUMNS)} FROM agency_month_stats")
        expanded = sorted(cur.execute(
            f"SELECT month, agency_code, {COUNTS_SQL} FROM ({month_facts_sql()}) GROUP BY month, agency_code",
            {"as_of": as_of, "m_from": None, "m_to": None}).fetchall(), key=repr)
    assert table and table == expanded
    assert any(r[STAT_COLUMNS.index("pending_overdue") + 2] for r in table)


def _engines() -> dict[str, SlaEngine]:
    from config.ruleset import RuleSet

    cfg = AppConfig()
    base = SlaEngine.from_files(cfg.sla.rule_set, cfg.sla.calendar_overrides)
    resume = base.ruleset.model_dump(mode="json")
    for v in resume["versions"]:
        v["settings"]["supplement_mode"] = "resume"
    mixed = base.ruleset.model_dump(mode="json")
    mixed["versions"][1]["settings"] = {"office_hours": ["07:30-11:30", "13:00-16:00", "16:30-17:30"],
                                        "same_day_cutoff": "15:30", "supplement_mode": "resume"}
    return {"restart": base, "resume": SlaEngine(RuleSet.model_validate(resume), base.calendar),
            "mixed": SlaEngine(RuleSet.model_validate(mixed), base.calendar)}


@pytest.mark.parametrize("mode", ["restart", "resume", "mixed"])
def test_stored_results_are_the_engines_own_output_in_every_supplement_mode(tmp_path, mode):
    """What a recompute stores (integer keys, ENUM status, derived columns in the view: due_date,
    due_at from late_from and each version's office close, final_status, computed_as_of) reads back
    exactly as the engine's plain output over the text codes, in restart and resume mode and with
    two rule versions of different settings (offices closing at 17:00 and 17:30)."""
    engine = _engines()[mode]
    with Store(tmp_path / "e.duckdb") as s:
        with s.transaction() as cur:
            fill(cur, 3000)
        res = recompute(s, engine, AS_OF)
        cur = s.cursor()
        engine.install(cur)
        cur.execute("CREATE TEMP VIEW v_in AS SELECT dossier_code, received_at, time_limit, time_unit, "
                    "supplement_requested_at, supplement_received_at, extended_due_at, finished_at, returned_at, "
                    "state FROM dossiers")
        plain = rows(cur, f"SELECT {VIEW_SLA} FROM ({engine.compute_sql('v_in', AS_OF, events='dossier_events')})")
        stored = rows(cur, f"SELECT {VIEW_SLA} FROM dossier_sla")
        statuses = dict(cur.execute("SELECT status, count(*) FROM dossier_sla GROUP BY ALL").fetchall())
    assert stored == plain and len(stored) == 3000
    assert res["statuses"] == statuses and statuses.get("waiting_supplement")
