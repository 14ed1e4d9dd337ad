"""Restoring a backup: checked first, never over the live store without --force and a copy kept.

`restore` verifies the backup (manifest.verify: every file there, of its size and checksum),
refuses a backup of a newer schema than this program knows, refuses a store file a running system
holds, copies the snapshot beside the target as `<file>.restoring`, migrates that copy forward
(an older backup) and checks it against the manifest, then moves the current store aside as
`<file>.before-restore-<stamp>` and renames the copy into place. Evidence files missing from the
compliance register's folder are put back. Any failure before the rename leaves the current store
as it was.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from pathlib import Path
from typing import Any

from backup import manifest as mf
from config.errors import MotcuaError
from store.db import SCHEMA_VERSION, Store
from store.snapshot import describe, ensure_not_in_use


class RestoreRefused(MotcuaError):
    """A restore that would lose data or cannot be made: what to do instead."""


def _aside_name(to: Path, now: dt.datetime) -> Path:
    base = to.with_name(f"{to.name}.before-restore-{now:%Y%m%d-%H%M%S}")
    p, n = base, 1
    while p.exists():
        n += 1
        p = base.with_name(f"{base.name}-{n}")
    return p


def restore(backup: Path, to: Path, *, force: bool = False, evidence_dir: Path | None = None,
            now: dt.datetime, memory_limit: str | None = "1GB") -> dict[str, Any]:
    """Restore the backup folder `backup` as the store file `to`; a summary of what was done."""
    t0 = time.perf_counter()
    backup, to = Path(backup), Path(to)
    m = mf.verify(backup)
    if m.schema_version > SCHEMA_VERSION:
        raise mf.BackupInvalid(f"{backup}: the backup has schema version {m.schema_version}, newer than this "
                               f"program knows ({SCHEMA_VERSION}): restore it with a newer motcua-watch")
    ensure_not_in_use(to)
    if to.exists() and not force:
        raise RestoreRefused(f"{to} exists: restoring would replace it. Add --force to restore anyway (the current "
                             f"store is then kept as {to.name}.before-restore-<time>), or --to another path")
    to.parent.mkdir(parents=True, exist_ok=True)
    mf.check_room(to.parent, m.file(mf.STORE_FILE).bytes, "the restore", "restore --to another disk")
    work = to.with_name(to.name + ".restoring")
    for p in (work, work.with_name(work.name + ".wal")):
        p.unlink(missing_ok=True)
    try:
        shutil.copyfile(backup / mf.STORE_FILE, work)
        if mf.sha256_of(work) != m.file(mf.STORE_FILE).sha256:
            raise RestoreRefused(f"{work}: the copy differs from the backup (a disk error?): nothing was restored")
        with Store(work, memory_limit=memory_limit) as s:  # migrates an older backup forward
            version = s.schema_version()
        for old in work.parent.glob(work.name + ".v*.bak"):  # the backup itself is the copy before migrating
            old.unlink()
        facts = describe(work)
        if version == m.schema_version and facts["tables"] != m.tables:
            diff = sorted(t for t in set(m.tables) | set(facts["tables"])
                          if m.tables.get(t) != facts["tables"].get(t))
            raise RestoreRefused(f"{backup}: the restored copy does not hold what the manifest says "
                                 f"(row counts differ in {', '.join(diff[:5])}): nothing was restored")
        head = m.compliance_head.model_dump() if m.compliance_head else None
        if facts["compliance_head"] != head:
            raise RestoreRefused(f"{backup}: the restored compliance history ends elsewhere than the manifest says: "
                                 "nothing was restored")
    except BaseException:
        for p in (work, work.with_name(work.name + ".wal")):
            p.unlink(missing_ok=True)
        raise
    aside = None
    if to.exists():
        aside = _aside_name(to, now)
        os.replace(to, aside)
        wal = to.with_name(to.name + ".wal")
        if wal.exists():
            os.replace(wal, aside.with_name(aside.name + ".wal"))
    os.replace(work, to)
    mf.fsync(to.parent)
    evidence = 0
    if evidence_dir is not None:
        for f in m.files:
            if not f.name.startswith("evidence/"):
                continue
            dest = evidence_dir / f.sha256[:2] / f.sha256
            if dest.is_file() and mf.sha256_of(dest) == f.sha256:
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(dest.name + ".tmp")
            shutil.copyfile(backup / f.name, tmp)
            os.replace(tmp, dest)
            evidence += 1
    return {"restored_from": str(backup), "to": str(to), "kept_aside": str(aside) if aside else None,
            "backup_created_at": m.created_at.isoformat(sep=" "), "backup_schema_version": m.schema_version,
            "schema_version": version, "tables": facts["tables"], "compliance_head": facts["compliance_head"],
            "evidence_restored": evidence, "seconds": round(time.perf_counter() - t0, 3)}
