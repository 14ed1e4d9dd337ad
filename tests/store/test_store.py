"""The store core: migrations, versions, the single-writer lock, transactions."""
from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import duckdb
import pytest

import store.db as db
from store.db import SCHEMA_VERSION, Store, StoreError, StoreLockedError

TABLES = {"agencies", "procedures", "import_batches", "dossiers", "dossier_events", "quarantine",
          "dossier_sla", "sla_runs", "schema_migrations"}


def test_new_store_is_migrated_to_the_latest_version(tmp_path):
    with Store(tmp_path / "s.duckdb") as s:
        assert s.schema_version() == SCHEMA_VERSION
        names = {r[0] for r in s.cursor().execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert TABLES <= names


def test_reopening_applies_nothing_and_keeps_data(tmp_path):
    path = tmp_path / "s.duckdb"
    with Store(path) as s, s.transaction() as cur:
        cur.execute("INSERT INTO procedures (code, name) VALUES ('P1', 'Thủ tục một')")
    with Store(path) as s:
        assert s.migrate() == []
        assert s.cursor().execute("SELECT name FROM procedures").fetchall() == [("Thủ tục một",)]


def test_a_store_newer_than_the_program_is_refused_untouched(tmp_path):
    path = tmp_path / "s.duckdb"
    with Store(path) as s, s.transaction() as cur:
        cur.execute("INSERT INTO schema_migrations (version, name) VALUES (?, 'from_the_future')",
                    [SCHEMA_VERSION + 1])
    with pytest.raises(StoreError, match="newer than this program"):
        Store(path)
    con = duckdb.connect(str(path))
    assert con.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == SCHEMA_VERSION + 1


def test_migrating_a_store_with_data_keeps_a_backup_first(tmp_path, monkeypatch):
    path = tmp_path / "s.duckdb"
    with Store(path) as s, s.transaction() as cur:
        cur.execute("INSERT INTO procedures (code) VALUES ('KEEP')")
    extra = (SCHEMA_VERSION + 1, "test_extra", "CREATE TABLE extra_things (x INTEGER);")
    monkeypatch.setattr(db, "MIGRATIONS", [*db.MIGRATIONS, extra])
    monkeypatch.setattr(db, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with Store(path) as s:
        assert s.schema_version() == SCHEMA_VERSION + 1
    backup = path.with_name(f"{path.name}.v{SCHEMA_VERSION}.bak")
    assert backup.exists()
    con = duckdb.connect(str(backup), read_only=True)
    assert con.execute("SELECT code FROM procedures").fetchall() == [("KEEP",)]


def test_a_failed_migration_leaves_the_previous_version(tmp_path, monkeypatch):
    path = tmp_path / "s.duckdb"
    Store(path).close()
    broken = (SCHEMA_VERSION + 1, "broken", "CREATE TABLE ok_part (x INTEGER); SELECT * FROM no_such_table;")
    monkeypatch.setattr(db, "MIGRATIONS", [*db.MIGRATIONS, broken])
    monkeypatch.setattr(db, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(duckdb.Error):
        Store(path)
    monkeypatch.undo()
    with Store(path) as s:
        assert s.schema_version() == SCHEMA_VERSION
        assert not s.cursor().execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name='ok_part'").fetchone()[0]


def test_no_migration_drops_or_truncates_data():
    """No TRUNCATE; a table is dropped only right after a statement that fails the migration
    unless every row of that table is found again (tests/store/test_migration_004.py shows one at work)."""
    for version, name, sql in db.MIGRATIONS:
        statements = [st.strip() for st in re.sub(r"--[^\n]*", "", sql.upper()).split(";") if st.strip()]
        for i, st in enumerate(statements):
            assert not st.startswith("TRUNCATE") and " TRUNCATE " not in st, f"migration {version}_{name}"
            m = re.match(r"DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?([A-Z_0-9.]+)", st)
            if m:
                check = statements[i - 1] if i else ""
                assert m.group(1) in check and "EXCEPT" in check and "ERROR(" in check, \
                    f"migration {version}_{name} drops {m.group(1)} without checking its rows were carried over"


def test_transaction_rolls_back_on_ctrl_c(tmp_path):
    with Store(tmp_path / "s.duckdb") as s:
        with pytest.raises(KeyboardInterrupt), s.transaction() as cur:
            cur.execute("INSERT INTO procedures (code) VALUES ('HALF')")
            raise KeyboardInterrupt
        assert s.cursor().execute("SELECT count(*) FROM procedures").fetchone()[0] == 0


def test_second_process_gets_a_clear_lock_message(tmp_path):
    path = tmp_path / "s.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, duckdb
            con = duckdb.connect({str(path)!r})
            print('ready', flush=True)
            sys.stdin.readline()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreLockedError) as err:
            Store(path)
        assert str(holder.pid) in str(err.value)
        assert "app.py run" in str(err.value)
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)


def test_flushing_in_the_background_keeps_the_store_locked_and_its_writes(tmp_path):
    """start_flush (a recompute uses it before its COMMIT) syncs the store's filesystem without
    opening the store file again: another process is still refused the store afterwards, and
    the transaction it ran beside commits as usual."""
    path = tmp_path / "s.duckdb"
    with Store(path) as s:
        with s.transaction() as cur:
            cur.execute("INSERT INTO procedures (code) SELECT 'P' || i FROM range(1000) t(i)")
            thread = s.start_flush()
            assert thread is not None
            thread.join(timeout=30)
            assert not thread.is_alive()
        probe = subprocess.run(
            [sys.executable, "-c", f"import duckdb; duckdb.connect({str(path)!r})"], capture_output=True, text=True)
        assert probe.returncode != 0 and "lock" in probe.stderr.lower()
        assert s.cursor().execute("SELECT count(*) FROM procedures").fetchone()[0] == 1000
    with Store(":memory:") as m:
        assert m.start_flush() is None


def test_no_statement_of_the_store_draws_a_progress_bar():
    """DuckDB draws a progress bar on stdout for any statement over two seconds (even when stdout
    is a pipe), into what a command prints, JSON included; every cursor of the store has it off."""
    with Store(":memory:") as s:
        assert s.cursor().execute("SELECT current_setting('enable_progress_bar')").fetchone()[0] is False
        with s.transaction() as cur:
            assert cur.execute("SELECT current_setting('enable_progress_bar')").fetchone()[0] is False


def test_reopening_a_store_leaves_no_transaction_open_that_blocks_checkpoints(tmp_path):
    """Opening a store reads its schema version on the shared connection. A result left unread
    there (fetchone) kept its transaction open for the life of the process, and DuckDB refuses
    every checkpoint after a change of the catalog while it is open: the store could not free
    replaced data until the process closed."""
    path = tmp_path / "s.duckdb"
    Store(path).close()
    with Store(path) as s:
        with s.transaction() as cur:
            cur.execute("CREATE TABLE scratch (a INTEGER)")
        cur = s.cursor()
        cur.execute("CHECKPOINT")  # raised TransactionException
        cur.close()
        assert s.checkpoint() and not s.checkpoint_pending


def test_a_checkpoint_refused_while_a_reader_is_open_is_retried_later(tmp_path):
    """DuckDB refuses a checkpoint while another thread's transaction that began before a
    committed change of the catalog (a recompute drops and re-creates its results table) is
    still open; the store says so (False, pending) instead of raising, and the retry the owner
    runs every minute does it once the reader has finished."""
    with Store(tmp_path / "s.duckdb") as s:
        reader = s.cursor()
        reader.execute("BEGIN TRANSACTION")
        assert reader.execute("SELECT count(*) FROM procedures").fetchall() == [(0,)]
        with s.transaction() as cur:
            cur.execute("CREATE TABLE scratch AS SELECT 'P' || i AS code FROM range(1000) t(i)")
        assert s.checkpoint() is False and s.checkpoint_pending
        assert s.retry_checkpoint() is False  # still open
        reader.execute("COMMIT")
        reader.close()
        assert s.retry_checkpoint() is True and not s.checkpoint_pending
        assert s.retry_checkpoint() is True  # nothing pending: nothing to do
        assert s.cursor().execute("SELECT count(*) FROM scratch").fetchone()[0] == 1000
    with Store(":memory:") as m:
        assert m.checkpoint() is True
