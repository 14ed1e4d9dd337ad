"""Taking a backup of the live store, listing the backups of a folder, and keeping the right ones.

`take_backup` writes the snapshot into `.partial-motcua-<stamp>/` inside the backups folder, copies
the evidence files the snapshot refers to, writes the manifest last and only then renames the
folder to `motcua-<stamp>/`: a backup killed half-way leaves a `.partial-` folder without a
manifest, never one that looks complete, and the next backup removes it.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from backup import manifest as mf
from store.snapshot import describe, snapshot_to, store_bytes

log = logging.getLogger("motcua.backup")

PREFIX = "motcua-"
PARTIAL = ".partial-"
_NAME = re.compile(r"^motcua-(\d{8}-\d{6})$")


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    created_at: dt.datetime
    bytes: int


def _stamp(t: dt.datetime) -> str:
    return t.strftime("%Y%m%d-%H%M%S")


def list_backups(folder: Path) -> list[BackupInfo]:
    """The finished backups in `folder` (a manifest that reads), oldest first. Not checked byte by
    byte (see manifest.verify): this is what the schedule and the gauge look at."""
    out = []
    if not folder.is_dir():
        return out
    for p in folder.iterdir():
        if not (_NAME.match(p.name) and p.is_dir()):
            continue
        try:
            m = mf.read(p)
        except mf.BackupInvalid:
            continue
        out.append(BackupInfo(p, m.created_at, sum(f.bytes for f in m.files)))
    out.sort(key=lambda b: (b.created_at, b.path.name))
    return out


def remove_partials(folder: Path) -> list[Path]:
    """Remove what interrupted backups left (`.partial-motcua-*`). Only one backup runs at a time
    (the owner's lock, or the store file's own lock for a command without the owner)."""
    gone = []
    if folder.is_dir():
        for p in folder.iterdir():
            if p.name.startswith(PARTIAL + PREFIX) and p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
                gone.append(p)
    return gone


def take_backup(con: duckdb.DuckDBPyConnection, folder: Path, evidence_dir: Path | None,
                now: dt.datetime) -> dict[str, Any]:
    """Back the store `con` is open on up into `folder`; returns the backup's summary."""
    t0 = time.perf_counter()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OSError(e.errno, f"{folder}: cannot create the backups folder: {e.strerror or e}") from None
    remove_partials(folder)
    mf.check_room(folder, store_bytes(con), "a backup", "set backup.folder to another disk")
    name = PREFIX + _stamp(now)
    final = folder / name
    n = 1
    while final.exists():  # two backups in one second (a manual one beside the schedule)
        n += 1
        final = folder / f"{name}-{n}"
    work = folder / (PARTIAL + final.name)
    work.mkdir()
    try:
        snapshot_to(con, work / mf.STORE_FILE)
        facts = describe(work / mf.STORE_FILE)
        entries = [mf.entry(work, mf.STORE_FILE)]
        missing, altered = [], []
        for sha in facts["evidence_files"]:
            src = evidence_dir / sha[:2] / sha if evidence_dir is not None else None
            if src is None or not src.is_file():
                missing.append(sha)
                continue
            rel = f"evidence/{sha[:2]}/{sha}"
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, work / rel)
            e = mf.entry(work, rel)
            if e.sha256 != sha:  # changed on disk since it was registered: not copied as if it were evidence
                (work / rel).unlink()
                altered.append(sha)
                continue
            entries.append(e)
        m = mf.Manifest(created_at=now, schema_version=facts["schema_version"], tables=facts["tables"],
                        compliance_head=facts["compliance_head"], sla_as_of=facts["sla_as_of"],
                        seconds=round(time.perf_counter() - t0, 3), files=entries)
        mf.write(work, m)
        os.replace(work, final)
        mf.fsync(folder)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    if missing or altered:
        log.warning("backup %s: of the evidence files the register refers to, %d missing from %s and %d "
                    "altered there (content no longer matches its SHA-256): not in the backup",
                    final.name, len(missing), evidence_dir, len(altered))
    total = sum(e.bytes for e in entries)
    log.info("backup %s: %d tables, %d files, %.0f MB in %.1f s", final, len(facts["tables"]), len(entries),
             total / 1e6, time.perf_counter() - t0)
    return {"path": str(final), "created_at": now.isoformat(sep=" "), "schema_version": facts["schema_version"],
            "tables": facts["tables"], "files": len(entries), "bytes": total,
            "compliance_head": facts["compliance_head"], "evidence_missing": missing, "evidence_altered": altered,
            "seconds": round(time.perf_counter() - t0, 3)}


def to_keep(backups: list[BackupInfo], keep_daily: int, keep_monthly: int) -> set[Path]:
    """The backups a rotation keeps: the newest of each of the `keep_daily` most recent days that
    have one, the newest of each of the `keep_monthly` most recent months, and always the newest."""
    keep: set[Path] = set()
    newest_first = sorted(backups, key=lambda b: b.created_at, reverse=True)
    if newest_first:
        keep.add(newest_first[0].path)
    for key, limit in ((lambda b: b.created_at.date(), keep_daily),
                       (lambda b: (b.created_at.year, b.created_at.month), keep_monthly)):
        seen: list[Any] = []
        for b in newest_first:
            k = key(b)
            if k in seen:
                continue
            if len(seen) >= limit:
                break
            seen.append(k)
            keep.add(b.path)
    return keep


def prune(folder: Path, keep_daily: int, keep_monthly: int) -> list[Path]:
    """Remove the finished backups the rotation does not keep (to_keep); the removed paths."""
    backups = list_backups(folder)
    keep = to_keep(backups, keep_daily, keep_monthly)
    gone = []
    for b in backups:
        if b.path not in keep:
            shutil.rmtree(b.path, ignore_errors=True)
            gone.append(b.path)
    return gone
