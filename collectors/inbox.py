"""The watch folder: dossier exports dropped into data/inbox/ are imported by the store's owner.

A file is taken once its size has stopped changing between two polls (so a half-copied export is
never read). After the import the archive keeps a copy without personal data and the import's
report (collectors/archive.py) and the file itself is deleted; a file refused as a whole moves to
rejected/ with a report beside it. An events file travels with its dossier file when named
`<name>.events.csv` (or .xlsx) next to `<name>.csv`.
"""
from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from collectors import archive
from config.app import InboxConfig
from config.mapping import ColumnMapping, load_mapping

log = logging.getLogger("motcua.inbox")
SUFFIXES = (".csv", ".xlsx", ".xlsm", ".xls")


class Inbox:
    def __init__(self, cfg: InboxConfig, import_file: Callable[[str, str | None], dict[str, Any]],
                 on_imported: Callable[[list[dict[str, Any]]], Any] | None = None,
                 mapping: ColumnMapping | Path | str | None = None) -> None:
        self.cfg = cfg
        self.import_file = import_file
        self.on_imported = on_imported
        # the archive's copy keeps the columns the import reads, as that mapping reads them
        self.mapping = mapping if isinstance(mapping, ColumnMapping) else load_mapping(mapping)
        self._sizes: dict[Path, int] = {}
        for d in (cfg.path, cfg.archive, cfg.rejected):
            Path(d).mkdir(parents=True, exist_ok=True)

    def _ready(self) -> list[Path]:
        """Files whose size did not change since the previous poll."""
        seen: dict[Path, int] = {}
        ready = []
        for p in sorted(Path(self.cfg.path).iterdir()):
            if not p.is_file() or p.suffix.lower() not in SUFFIXES or p.name.startswith("."):
                continue
            size = p.stat().st_size
            seen[p] = size
            if self._sizes.get(p) == size:
                ready.append(p)
        self._sizes = seen
        return ready

    @staticmethod
    def _events_for(p: Path) -> Path | None:
        stem = p.name[: -len(p.suffix)]
        for suffix in SUFFIXES:
            cand = p.with_name(f"{stem}.events{suffix}")
            if cand.exists():
                return cand
        return None

    def _move(self, p: Path, dest_dir: Path, stamp: str) -> Path:
        dest = Path(dest_dir) / f"{stamp}_{p.name}"
        shutil.move(str(p), dest)
        return dest

    def poll(self) -> list[dict[str, Any]]:
        """Import every ready file once. Returns one result per dossier file handled."""
        results = []
        ready = self._ready()
        events_files = {e for p in ready if (e := self._events_for(p)) is not None}
        for p in ready:
            if p in events_files or not p.exists():
                continue
            if ".events." in p.name:
                continue  # an events file waits for its dossier file
            events = self._events_for(p)
            if events is not None and events not in ready:
                continue  # its events file is still being copied
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            try:
                res = self.import_file(str(p), str(events) if events else None)
            except Exception as e:  # the file as a whole was refused: keep it, say why
                dest = self._move(p, self.cfg.rejected, stamp)
                if events:
                    self._move(events, self.cfg.rejected, stamp)
                dest.with_name(dest.name + ".report.txt").write_text(f"{p.name}: refused\n{e}\n", encoding="utf-8")
                log.warning("inbox: %s refused: %s", p.name, e)
                results.append({"file": p.name, "status": "rejected", "error": str(e), "moved_to": str(dest)})
                continue
            dest = archive.keep(p, self.cfg.archive, stamp, self.mapping, "dossiers")
            if events:
                archive.keep(events, self.cfg.archive, stamp, self.mapping, "events")
            report = {k: v for k, v in res.items() if k != "text"}
            archive.write_report(Path(self.cfg.archive) / f"{stamp}_{p.name}.report.txt", res.get("text", ""), report)
            log.info("inbox: %s imported", p.name)
            results.append({"file": p.name, "status": "imported", "result": report,
                            "moved_to": str(dest) if dest else None})
        if results and self.on_imported and any(r["status"] == "imported" for r in results):
            self.on_imported(results)
        return results
