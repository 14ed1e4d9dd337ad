"""Copies of the store file: a consistent snapshot of the live store, and what a copy holds.

`snapshot_to(cursor, dest)` writes every table, view, type, sequence (with its current value)
and macro of the open store into a new DuckDB file with DuckDB's own COPY FROM DATABASE. It runs
as one statement, so in one transaction: the copy is the store as of one instant while the owner
keeps writing from other threads (DuckDB's MVCC), and nothing of this process waits for it.
`describe(path)` opens a copy on its own and reads what a backup's manifest records of it.
"""
from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import duckdb

from store.errors import StoreError, StoreLockedError


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def snapshot_to(con: duckdb.DuckDBPyConnection, dest: Path) -> None:
    """Copy the store `con` is open on into the new file `dest` (which must not exist)."""
    if dest.exists():
        raise StoreError(f"{dest}: already exists; a snapshot is written into a new file only")
    alias = f"motcua_snapshot_{secrets.token_hex(4)}"
    source = con.execute("SELECT current_database()").fetchone()[0]
    con.execute(f"ATTACH {_literal(str(dest))} AS {alias}")
    try:
        con.execute(f"COPY FROM DATABASE {_ident(source)} TO {alias}")
    finally:
        con.execute(f"DETACH {alias}")


def store_bytes(con: duckdb.DuckDBPyConnection) -> int:
    """The size of the file (and log) of the store `con` is open on: a snapshot is at most about
    that big. 0 for a store in memory."""
    path = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0]
    if not path:
        return 0
    p = Path(path)
    return sum(f.stat().st_size for f in (p, p.with_name(p.name + ".wal")) if f.is_file())


def describe(path: Path) -> dict[str, Any]:
    """What a store file holds: its schema version, the exact row count of every table, the head
    of the compliance history's hash chain (None when empty) and the results' as_of. Opened read-only
    in a DuckDB instance of its own; refused plainly when the file is not a readable store."""
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as e:
        raise StoreError(f"{path}: not a readable store file: {e}") from None
    try:
        tables = [t for (t,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND NOT temporary ORDER BY table_name").fetchall()]
        counts = {t: con.execute(f"SELECT count(*) FROM main.{_ident(t)}").fetchone()[0] for t in tables}
        version = (con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]
                   if "schema_migrations" in counts else 0)
        head = None
        if "compliance_events" in counts:
            row = con.execute("SELECT event_id, hash FROM compliance_events ORDER BY event_id DESC LIMIT 1").fetchone()
            head = {"event_id": int(row[0]), "hash": row[1]} if row else None
        as_of = None
        if "sla_result_set" in counts:
            row = con.execute("SELECT max(as_of) FROM sla_result_set").fetchone()
            as_of = row[0].isoformat(sep=" ") if row and row[0] is not None else None
        files = []
        if "compliance_files" in counts:
            files = sorted({h for (h,) in con.execute("SELECT sha256 FROM compliance_files").fetchall()})
        return {"schema_version": int(version), "tables": counts, "compliance_head": head, "sla_as_of": as_of,
                "evidence_files": files}
    except duckdb.Error as e:
        raise StoreError(f"{path}: not a readable store file: {e}") from None
    finally:
        con.close()


def ensure_not_in_use(path: Path) -> None:
    """Raise StoreLockedError when another process holds the store file (a running `app.py run`).
    A file DuckDB cannot open for another reason (a damaged store: what a restore is for) is not
    in use."""
    if not path.exists():
        return
    try:
        duckdb.connect(str(path)).close()
    except duckdb.Error as e:
        if "lock" in str(e).lower():
            raise StoreLockedError(f"{path}: the store is in use by a running motcua-watch (app.py run); "
                                   "stop it first") from None
