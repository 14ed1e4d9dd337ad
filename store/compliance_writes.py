"""Writing the compliance register's history (store/migrations/005_compliance.sql): append only.

    append_event(store, item_kind=..., item_id=..., action=..., actor=..., via=..., data={...}) -> dict
    store_file(con, files_dir, file_name, content, actor) -> dict       evidence bytes by SHA-256
    record_rejects(con, file_name, file_sha256, rejects)                bad rows of an import
(`con`: a cursor inside an open write transaction, `store.transaction()`.)

There is no function that updates or deletes an event, and none takes an event id or a time from
the caller: the id comes from a sequence and the time from the owner's clock. Each event stores the
hash of the one before it and its own hash over its content (`event_hash`), so the chain can be
verified (store/compliance_queries.py: compliance_history_verify).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from config.clock import local_now
from store.errors import StoreError

ITEM_KINDS = ("request", "criterion")
VIAS = ("cli", "import", "api", "dashboard", "library")
MAX_FILE_BYTES = 50 * 1024 * 1024


def canonical_json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def event_hash(prev_hash: str, event_id: int, item_kind: str, item_id: str, action: str, actor: str, via: str,
               at: dt.datetime, data_json: str, note: str | None) -> str:
    """SHA-256 over the previous hash and every field of the event (fields joined by a unit separator)."""
    parts = [prev_hash, str(event_id), item_kind, item_id, action, actor, via,
             at.isoformat(timespec="microseconds"), data_json, note or ""]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def append_event_con(con, *, item_kind: str, item_id: str, action: str, actor: str, via: str,
                     data: dict[str, Any], note: str | None = None) -> dict[str, Any]:
    """Append one event inside an open write transaction `con`."""
    if item_kind not in ITEM_KINDS:
        raise StoreError(f"compliance history: item kind must be one of {', '.join(ITEM_KINDS)}, got {item_kind!r}")
    if via not in VIAS:
        raise StoreError(f"compliance history: via must be one of {', '.join(VIAS)}, got {via!r}")
    actor = (actor or "").strip()
    if not actor:
        raise StoreError("compliance history: every change needs who made it (actor)")
    last = con.execute("SELECT hash, recorded_at FROM compliance_events ORDER BY event_id DESC LIMIT 1").fetchone()
    prev_hash = last[0] if last else ""
    at = local_now()
    if last and at <= last[1]:  # the history's clock never runs backwards, even if the machine's does
        at = last[1] + dt.timedelta(microseconds=1)
    event_id = int(con.execute("SELECT nextval('compliance_event_seq')").fetchone()[0])
    data_json = canonical_json(data)
    h = event_hash(prev_hash, event_id, item_kind, item_id, action, actor, via, at, data_json, note)
    con.execute("INSERT INTO compliance_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [event_id, item_kind, item_id, action, actor, via, at, data_json, note, prev_hash, h])
    return {"event_id": event_id, "item_kind": item_kind, "item_id": item_id, "action": action, "actor": actor,
            "via": via, "at": at, "data": data, "note": note}


def append_event(store, **kw: Any) -> dict[str, Any]:
    """Append one event in its own transaction (see append_event_con)."""
    with store.transaction() as con:
        return append_event_con(con, **kw)


def file_path(files_dir: Path | str, sha256: str) -> Path:
    return Path(files_dir) / sha256[:2] / sha256


def store_file(con, files_dir: Path | str, file_name: str, content: bytes, actor: str,
               content_type: str | None = None) -> dict[str, Any]:
    """Keep an evidence file's bytes under files_dir by SHA-256 (written once, read-only) and its
    metadata in the store. The same bytes uploaded again are stored once."""
    if not content:
        raise StoreError(f"{file_name}: the evidence file is empty")
    if len(content) > MAX_FILE_BYTES:
        raise StoreError(f"{file_name}: the evidence file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    sha = hashlib.sha256(content).hexdigest()
    path = file_path(files_dir, sha)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        tmp.write_bytes(content)
        os.chmod(tmp, 0o444)
        os.replace(tmp, path)
    name = Path(file_name).name or "evidence"
    con.execute("INSERT INTO compliance_files VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
                [sha, name, len(content), content_type, local_now(), actor])
    return {"sha256": sha, "file_name": name, "size": len(content)}


def record_rejects(con, file_name: str, file_sha256: str, rejects: list[dict[str, Any]]) -> int:
    """Keep the rows an import could not apply (row_no, field, value, reason, raw). A row rejected
    again for the same field keeps its first record."""
    if not rejects:
        return 0
    now = local_now()
    con.executemany(
        "INSERT INTO compliance_import_rejects VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (file_sha256, row_no, field) DO NOTHING",
        [[file_name, file_sha256, r["row_no"], r["field"], r.get("value"), r["reason"],
          canonical_json(r.get("raw") or {}), now] for r in rejects])
    return len(rejects)
