"""A backup's manifest: what it holds and the checksum of every file, checked before any restore.

A backup is a folder `motcua-YYYYMMDD-HHMMSS/` holding `store.duckdb` (a snapshot of the store),
`evidence/<sha[:2]>/<sha256>` (the compliance register's evidence files the snapshot refers to)
and `manifest.json`, written last: a folder without a manifest is not a backup. The manifest
records when it was taken, the store's schema version, the row count of every table, the head of
the compliance history's hash chain, and each file's size and SHA-256.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from config.errors import MotcuaError

FORMAT = "motcua-backup/1"
MANIFEST = "manifest.json"
STORE_FILE = "store.duckdb"
CHUNK = 1 << 20


class NoRoom(MotcuaError):
    """Not enough free disk space for a copy, said before anything was written."""


class BackupInvalid(MotcuaError):
    """A backup that cannot be restored: what is wrong with it, in plain words."""


class FileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)   # relative to the backup folder, '/'-separated
    bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class ChainHead(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: int
    hash: str


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: str = FORMAT
    created_at: dt.datetime          # local time, when the snapshot was taken
    schema_version: int = Field(ge=1)
    tables: dict[str, int]           # exact row counts of the snapshot
    compliance_head: ChainHead | None = None
    sla_as_of: str | None = None
    seconds: float = 0.0
    files: list[FileEntry]

    def file(self, name: str) -> FileEntry | None:
        return next((f for f in self.files if f.name == name), None)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def entry(folder: Path, name: str) -> FileEntry:
    p = folder / name
    return FileEntry(name=name, bytes=p.stat().st_size, sha256=sha256_of(p))


def write(folder: Path, manifest: Manifest) -> None:
    """Write the manifest durably: the files it names first, then itself, each synced to disk."""
    for f in manifest.files:
        fsync(folder / f.name)
    tmp = folder / f".{MANIFEST}.tmp"
    tmp.write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    fsync(tmp)
    os.replace(tmp, folder / MANIFEST)


def fsync(path: Path) -> None:
    """Make a file's (or a folder's entries') writes durable before what follows relies on them."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read(folder: Path) -> Manifest:
    p = folder / MANIFEST
    if not folder.is_dir():
        raise BackupInvalid(f"{folder}: not a backup folder (not found, or not a folder)")
    if not p.is_file():
        raise BackupInvalid(f"{folder}: not a finished backup: it has no {MANIFEST} (a backup writes it last; "
                            "a backup that was interrupted has none)")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise BackupInvalid(f"{p}: the manifest cannot be read: {e}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BackupInvalid(f"{p}: not a motcua-watch backup manifest (format {FORMAT!r} expected)")
    try:
        return Manifest.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise BackupInvalid(f"{p}: the manifest is damaged: {where}: {first['msg']}") from None


def verify(folder: Path) -> Manifest:
    """The manifest, once every file it names is there with its size and checksum; else
    BackupInvalid naming the first file that is missing, truncated or altered."""
    m = read(folder)
    if m.file(STORE_FILE) is None:
        raise BackupInvalid(f"{folder}: the manifest names no {STORE_FILE}")
    for f in m.files:
        p = folder / f.name
        if ".." in Path(f.name).parts or Path(f.name).is_absolute():
            raise BackupInvalid(f"{folder}: the manifest names a file outside the backup: {f.name!r}")
        if not p.is_file():
            raise BackupInvalid(f"{folder}: {f.name} is missing")
        size = p.stat().st_size
        if size != f.bytes:
            raise BackupInvalid(f"{folder}: {f.name} has {size} bytes where the manifest says {f.bytes}: "
                                "the file is truncated or was changed")
        if sha256_of(p) != f.sha256:
            raise BackupInvalid(f"{folder}: {f.name} is corrupted: its SHA-256 differs from the manifest's")
    return m


def check_room(folder: Path, needed: int, what: str, instead: str) -> None:
    """Refuse before writing anything when the folder's disk cannot hold `needed` bytes (with 10 %
    to spare): a disk filled by a copy would stop the store itself."""
    free = shutil.disk_usage(folder).free
    if free < needed * 1.1:
        raise NoRoom(f"{folder}: not enough free disk space for {what}: {free / 1e6:,.0f} MB free, "
                     f"about {needed * 1.1 / 1e6:,.0f} MB needed; free some space or {instead}")
