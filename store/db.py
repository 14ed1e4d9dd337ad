"""The DuckDB store: one file, versioned migrations, one writer.

`Store` owns a read-write connection to the file. Only one process may hold it (DuckDB's rule):
while the system runs that is `app.py run`, and every other process reaches the store through
the owner's loopback API (store/service.py). `store.ops.open_ops` picks the right one.
"""
from __future__ import annotations

import logging
import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from config.clock import timezone_name
from config.redact import sql_mask
from sla_rules.constants import office_time_sql
from store.errors import StoreError, StoreLockedError
from store.catalog import run_query
from store.registry import Table

log = logging.getLogger("motcua.store")

__all__ = ["Store", "StoreError", "StoreLockedError", "SCHEMA_VERSION", "MIGRATIONS"]


# A migration writes a rule of the deadline engine as OFFICE_TIME(unit, limit), and the masking of
# ID- and phone-shaped values as PII_MASK(expr): the SQL comes from the rule's one definition
# (sla_rules.constants, config.redact), never a copy in the file.
_RULES = {"OFFICE_TIME": office_time_sql}


def _render_rules(sql: str) -> str:
    sql = re.sub(r"\b(OFFICE_TIME)\(\s*([\w.]+)\s*,\s*([\w.]+)\s*\)",
                 lambda m: _RULES[m.group(1)](m.group(2), m.group(3)), sql)
    return re.sub(r"\bPII_MASK\(\s*([\w.]+)\s*\)", lambda m: sql_mask(m.group(1)), sql)


def _migrations() -> list[tuple[int, str, str]]:
    out = []
    for f in resources.files("store.migrations").iterdir():
        m = re.match(r"^(\d+)_([\w-]+)\.sql$", f.name)
        if m:
            out.append((int(m.group(1)), m.group(2), _render_rules(f.read_text(encoding="utf-8"))))
    out.sort()
    versions = [v for v, _, _ in out]
    if versions != list(range(1, len(versions) + 1)):
        raise StoreError(f"store migrations are not numbered 1..n: {versions}")
    return out


MIGRATIONS = _migrations()
SCHEMA_VERSION = MIGRATIONS[-1][0] if MIGRATIONS else 0


@contextmanager
def in_transaction(cur: duckdb.DuckDBPyConnection, commit: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
    """One transaction on `cur`: committed (or, commit=False, rolled back) at the end, rolled back on
    any exception or Ctrl-C; the cursor is left with none open."""
    cur.execute("BEGIN TRANSACTION")
    try:
        yield cur
    except BaseException:
        cur.execute("ROLLBACK")
        raise
    else:
        cur.execute("COMMIT" if commit else "ROLLBACK")


class Store:
    """A read-write (or read-only) connection to the store file, safe to share between threads.

    Reads run on per-call cursors; writes are serialised by a lock so that concurrent
    transactions of this process never conflict.
    """

    def __init__(self, path: Path | str, *, memory_limit: str | None = "1GB", threads: int | None = None,
                 read_only: bool = False, migrate: bool = True) -> None:
        self.path = Path(path)
        self.read_only = read_only
        config: dict[str, Any] = {}
        if memory_limit:
            config["memory_limit"] = memory_limit
        if threads:
            config["threads"] = threads
        if str(path) != ":memory:":
            if read_only and not self.path.exists():
                raise StoreError(f"{self.path}: store file not found")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(str(path), read_only=read_only, config=config)
        except duckdb.IOException as e:
            msg = str(e)
            if "lock" in msg.lower():
                pid = re.search(r"PID (\d+)", msg)
                holder = f" by process {pid.group(1)}" if pid else ""
                raise StoreLockedError(
                    f"{self.path}: the store is in use{holder}. While `app.py run` is running, "
                    "other commands go through it; otherwise wait for the other command to finish."
                ) from None
            raise StoreError(f"{self.path}: cannot open the store: {msg}") from None
        except duckdb.Error as e:
            raise StoreError(f"{self.path}: cannot open the store: {e}") from None
        self._con.execute(f"SET TimeZone = '{timezone_name()}'")  # an IANA name (AppConfig checks it)
        # No progress bar (the cursors inherit it): DuckDB draws it on stdout for any statement
        # over two seconds, into what a command prints (`app.py sla recompute --json` at 10M).
        self._con.execute("SET enable_progress_bar = false")
        # An import's update of rows spread over a large store, checkpointed at its COMMIT (DuckDB
        # does so past 16 MB of log), rewrites every row group it touched: 2.9 s of a 50,000-row
        # import into ten million dossiers. The log takes it instead; every write leaves a checkpoint
        # pending, which the owner runs after the figures are refreshed or within a minute
        # (retry_checkpoint), off the path from a file to its figures.
        if not read_only:
            self._con.execute("SET wal_autocheckpoint = '1GB'")
        self._write_lock = threading.RLock()
        self.checkpoint_pending = False
        if migrate and not read_only:
            self.migrate()
        else:
            self._check_version()

    # -- lifecycle -------------------------------------------------------------------------
    def start_flush(self) -> threading.Thread | None:
        """Start writing the store's written pages to disk in the background.

        A large transaction (a recompute writes ten million rows) leaves its pages to the
        operating system, and COMMIT then waits until they are on disk. Flushing them while the
        transaction's last statements still compute moves that wait off the critical path. It
        only makes data durable earlier, never changes what is stored. The whole filesystem is
        synced (syncfs on the store's folder): the store file itself is never opened a second
        time, as closing another descriptor of it would drop DuckDB's lock on it. Returns the
        thread (None where there is nothing to flush or no syncfs)."""
        if str(self.path) == ":memory:" or self.read_only:
            return None
        try:
            import ctypes
            import os

            syncfs = ctypes.CDLL(None, use_errno=True).syncfs
        except (OSError, AttributeError):
            return None
        folder = str(self.path.resolve().parent)

        def flush() -> None:
            fd = os.open(folder, os.O_RDONLY)
            try:
                syncfs(fd)
            finally:
                os.close(fd)

        thread = threading.Thread(target=flush, name="store-flush", daemon=True)
        thread.start()
        return thread

    def checkpoint(self) -> bool:
        """Write the store's committed changes into the file and free the blocks of replaced data.

        DuckDB frees the blocks of data a transaction replaced (a recompute's previous results, an
        import's replaced rows) only at a checkpoint, and by itself only past a size of log this
        store raises to 1 GB (see __init__); large writes never fill it (their rows go straight to
        the file). Every committed write leaves one pending. Without a checkpoint the file grew by a full set of results at every recompute
        (254 MB at ten million dossiers) until the process closed, and writing at the end of an
        ever longer file made each recompute slower. The recompute calls this after it commits.

        DuckDB refuses a checkpoint while a transaction that began before a committed change of
        the catalog (the recompute drops and re-creates its results table) is still open, e.g.
        a dashboard query in another thread: then this returns False and
        `checkpoint_pending` stays set for the owner's periodic `retry_checkpoint`. True when done
        (or nothing to do: a read-only or in-memory store)."""
        if self.read_only or str(self.path) == ":memory:":
            return True
        with self._write_lock:
            cur = self._con.cursor()
            t0 = time.perf_counter()
            try:
                cur.execute("CHECKPOINT")
            except duckdb.TransactionException:
                self.checkpoint_pending = True
                log.info("checkpoint refused (a reader's transaction is open); retried later")
                return False
            finally:
                cur.close()
        self.checkpoint_pending = False
        log.info("checkpoint done in %.2f s", time.perf_counter() - t0)
        return True

    def retry_checkpoint(self) -> bool:
        """Checkpoint if an earlier one was refused (see checkpoint); cheap when none was."""
        return self.checkpoint() if self.checkpoint_pending else True

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ----------------------------------------------------------------------------
    def schema_version(self) -> int:
        # fetchall, not fetchone: a result left unread keeps its transaction open on the shared
        # connection for as long as the process lives, and DuckDB refuses every checkpoint after
        # a change of the catalog while that transaction is open (see checkpoint)
        exists = self._con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
        ).fetchall()[0][0]
        if not exists:
            return 0
        return self._con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchall()[0][0]

    def _check_version(self) -> int:
        v = self.schema_version()
        if v > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: the store has schema version {v}, newer than this program knows "
                f"({SCHEMA_VERSION}). Upgrade motcua-watch; the store was left untouched."
            )
        return v

    def migrate(self) -> list[int]:
        """Apply pending migrations, each in its own transaction. Returns the versions applied.

        Before migrating a store that already holds data, a copy of the file is kept beside it
        (`<file>.v<N>.bak`), so a newer schema can never silently lose data.
        """
        current = self._check_version()
        pending = [m for m in MIGRATIONS if m[0] > current]
        if not pending:
            return []
        if current > 0 and str(self.path) != ":memory:":
            self._con.execute("CHECKPOINT")
            backup = self.path.with_name(f"{self.path.name}.v{current}.bak")
            shutil.copy2(self.path, backup)
        applied = []
        with self._write_lock:
            for version, name, sql in pending:
                con = self._con
                con.execute("BEGIN TRANSACTION")
                try:
                    if version == 1:
                        con.execute(
                            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                            "name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL DEFAULT localtimestamp)"
                        )
                    con.execute(sql)
                    con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [version, name])
                    con.execute("COMMIT")
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                applied.append(version)
        return applied

    # -- access ----------------------------------------------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new cursor on the shared connection, for use by one thread."""
        return self._con.cursor()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write transaction: commits on success, rolls back on any exception or Ctrl-C."""
        with self._transaction(commit=True) as cur:
            yield cur

    @contextmanager
    def scratch(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write transaction that is always rolled back: what it writes is seen only by the
        statements run on its cursor (figures at another instant, never stored)."""
        with self._transaction(commit=False) as cur:
            yield cur

    @contextmanager
    def _transaction(self, commit: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        if self.read_only:
            raise StoreError(f"{self.path}: opened read-only")
        with self._write_lock:
            cur = self._con.cursor()
            try:
                with in_transaction(cur, commit):
                    yield cur
                if commit:  # in the log only (wal_autocheckpoint, above): into the file at the next retry
                    self.checkpoint_pending = True
            finally:
                cur.close()

    def query(self, name: str, **params: Any) -> Table:
        """Run a named query (store/catalog.py)."""
        cur = self.cursor()
        try:
            return self.query_in(cur, name, **params)
        finally:
            cur.close()

    def query_in(self, cur: duckdb.DuckDBPyConnection, name: str, **params: Any) -> Table:
        """Run a named query on the given cursor (inside its transaction)."""
        return run_query(cur, name, **params)
