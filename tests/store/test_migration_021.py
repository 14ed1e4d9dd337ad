"""Migration 021: month_key holds absolute month numbers now, so keys stored in the old layout are
dropped with the counts made from them, and the next refresh judges everything; the new facts of
each dossier are filled then, and the figures equal those of a store that never had the old keys."""
from __future__ import annotations

import datetime as dt

from benchmarks.synth import synth_select
from store import db
from store.db import Store
from store.dossier_writes import DOSSIER_DATA_COLUMNS, KEPT_WHEN_BLANK
from store.sla import recompute

AS_OF = dt.datetime(2026, 3, 31, 7, 0)
COLS = ", ".join(c for c in DOSSIER_DATA_COLUMNS if c not in KEPT_WHEN_BLANK)


def _fill(s: Store) -> None:
    with s.transaction() as con:
        con.execute(f"INSERT INTO dossiers (dossier_code, {COLS}) SELECT dossier_code, {COLS} "
                    f"FROM ({synth_select(2_000, seed=5, start='2025-06-01', days=300)})")


def test_old_keys_are_dropped_and_the_next_refresh_is_full(tmp_path, monkeypatch, engine):
    path = tmp_path / "old.duckdb"
    monkeypatch.setattr(db, "MIGRATIONS", [m for m in db.MIGRATIONS if m[0] <= 20])
    monkeypatch.setattr(db, "SCHEMA_VERSION", 20)
    with Store(path) as s:
        _fill(s)
        with s.transaction() as con:  # what the previous layout's refresh left
            con.execute("INSERT INTO sla_agencies VALUES (1, 'AG1')")
            con.execute("INSERT INTO sla_results (dossier_id, status, month_key, agency_ix) "
                        "SELECT dossier_id, 'pending_in_time', 123456789, 1 FROM dossiers")
            con.execute("INSERT INTO sla_month_counts VALUES (1, 123456789, 2000)")
            con.execute("INSERT INTO dashboard_counts_state VALUES (1, 2000, 2000)")
            con.execute("INSERT INTO dossier_facts_state VALUES ('older')")
    monkeypatch.undo()
    with Store(path) as s:
        assert s.schema_version() == db.SCHEMA_VERSION >= 21
        cur = s.cursor()
        assert cur.execute("SELECT count(month_key) FROM sla_results").fetchone() == (0,)
        assert cur.execute("SELECT count(*) FROM sla_month_counts").fetchone() == (0,)
        assert cur.execute("SELECT count(*) FROM dashboard_counts_state").fetchone() == (0,)
        res = recompute(s, engine, AS_OF, full=False)
        assert res["kind"] == "full" and res["facts_filled"] == 2_000, res
        assert cur.execute("SELECT count(*) FROM dossiers WHERE fx_month IS NULL OR fx_cycle IS NULL").fetchone() == (0,)
        migrated = cur.execute("SELECT * EXCLUDE (as_of) FROM agency_month_stats ORDER BY ALL").fetchall()
    fresh = tmp_path / "fresh.duckdb"
    with Store(fresh) as s:
        _fill(s)
        recompute(s, engine, AS_OF)
        assert s.cursor().execute("SELECT * EXCLUDE (as_of) FROM agency_month_stats ORDER BY ALL").fetchall() == migrated
    assert migrated
