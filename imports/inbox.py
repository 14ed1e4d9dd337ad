"""The watch folder: dossier exports dropped into data/inbox/ are imported by the store's owner.

A file is taken once its size has stopped changing between two polls (so a half-copied export is
never read). After the import the archive keeps a copy without personal data and the import's
report (imports/archive.py) and the file itself is deleted; a file refused as a whole moves to
rejected/ with a report beside it. An events file travels with its dossier file when named
`<name>.events.csv` (or .xlsx) next to `<name>.csv`.

A file is never read twice if reading it could have stopped the system: before its import a
marker (`.importing-<name>.json`, hidden) is written beside it and removed once the file has
been archived or moved. A marker found when the inbox starts means the system stopped during that
import (a crash or a kill): its files go to rejected/ with a report saying so, unread. A file that
cannot be archived or moved is not taken again until the system restarts.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from config.app import InboxConfig
from config.clock import local_now
from config.mapping import ColumnMapping, load_mapping
from imports import archive

log = logging.getLogger("motcua.inbox")
SUFFIXES = (".csv", ".xlsx", ".xlsm", ".xls")
MARKER = ".importing-"
CRASHED_EN = ("not imported: the system stopped while it was reading this file (the reader or the whole "
              "system crashed, or was killed). The file is not read again, so that it cannot stop the system "
              "again. Check it (or export it again); to try once more, drop it into the watch folder again.")
CRASHED_VI = ("chưa nhập: hệ thống dừng đột ngột khi đang đọc tệp này (bộ đọc hoặc cả hệ thống bị sập hay bị "
              "tắt). Tệp không được đọc lại để không làm hệ thống dừng lần nữa. Hãy kiểm tra tệp (hoặc xuất lại); "
              "muốn thử lại thì thả tệp vào thư mục theo dõi một lần nữa.")


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
        self._stuck: set[tuple[Path, int, int]] = set()   # files that could not be moved away
        for d in (cfg.path, cfg.archive, cfg.rejected):
            Path(d).mkdir(parents=True, exist_ok=True)
        self.recovered = self._recover()

    def _ready(self) -> list[Path]:
        """Files whose size did not change since the previous poll."""
        seen: dict[Path, int] = {}
        ready = []
        for p in sorted(Path(self.cfg.path).iterdir()):
            if not p.is_file() or p.suffix.lower() not in SUFFIXES or p.name.startswith("."):
                continue
            st = p.stat()
            seen[p] = st.st_size
            if self._sizes.get(p) == st.st_size and (p, st.st_size, st.st_mtime_ns) not in self._stuck:
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
        n = 1
        while dest.exists():  # two files of the same name in one second: neither is lost
            dest = Path(dest_dir) / f"{stamp}-{n}_{p.name}"
            n += 1
        shutil.move(str(p), dest)
        return dest

    # -- files that were being read when the system stopped ------------------------------------
    def _marker(self, p: Path) -> Path:
        return Path(self.cfg.path) / f"{MARKER}{p.name}.json"

    @staticmethod
    def _write_marker(marker: Path, info: dict[str, Any]) -> None:
        tmp = marker.with_name(marker.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            json.dump(info, f, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())  # on disk before the file is read: a crash right after still finds it
        os.replace(tmp, marker)

    def _recover(self) -> list[dict[str, Any]]:
        """Move the files of an import the system did not finish (a marker left behind) to
        rejected/, with a report, without reading them."""
        out = []
        inbox = Path(self.cfg.path)
        for marker in sorted(inbox.glob(f"{MARKER}*.json")):
            try:
                info = json.loads(marker.read_text(encoding="utf-8"))
                names = [str(info["file"])] + ([str(info["events"])] if info.get("events") else [])
                started = str(info.get("started") or "?")
            except (OSError, ValueError, KeyError, TypeError):
                names, started = [marker.name[len(MARKER):-len(".json")]], "?"
            stamp = local_now().strftime("%Y%m%d-%H%M%S")
            moved: list[Path] = []
            for n in names:
                src = inbox / Path(n).name  # a marker never moves anything from outside the inbox
                if src.is_file():
                    try:
                        moved.append(self._move(src, self.cfg.rejected, stamp))
                    except OSError as e:
                        log.error("inbox: %s could not be moved to %s: %s", src.name, self.cfg.rejected, e)
            if moved:
                self._report(moved[0], f"{names[0]}: {CRASHED_EN}\n(import started {started})\n\n"
                                       f"{names[0]}: {CRASHED_VI}\n")
                log.warning("inbox: %s was being imported when the system stopped; moved to %s, not read again",
                            names[0], moved[0])
                out.append({"file": names[0], "status": "crashed", "moved_to": str(moved[0])})
            marker.unlink(missing_ok=True)
        return out

    @staticmethod
    def _report(dest: Path, text: str) -> None:
        try:
            dest.with_name(dest.name + ".report.txt").write_text(text, encoding="utf-8")
        except OSError as e:  # the file itself is kept; its report is what is lost
            log.error("inbox: the report of %s could not be written: %s", dest.name, e)

    def _hold(self, *paths: Path) -> None:
        """Files that could not be moved: not taken again by this process (no loop)."""
        for p in paths:
            try:
                st = p.stat()
            except OSError:
                continue
            self._stuck.add((p, st.st_size, st.st_mtime_ns))

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
            stamp = local_now().strftime("%Y%m%d-%H%M%S")
            marker = self._marker(p)
            try:
                self._write_marker(marker, {"file": p.name, "events": events.name if events else None,
                                            "started": local_now().isoformat(timespec="seconds"),
                                            "pid": os.getpid()})
            except OSError as e:  # unmarked, a file that crashed the system would be read again
                log.error("inbox: %s not imported: its marker could not be written (%s)", p.name, e)
                self._hold(p, *([events] if events else []))
                continue
            try:
                res = self.import_file(str(p), str(events) if events else None)
            except Exception as e:  # the file as a whole was refused: keep it, say why
                try:
                    dest = self._move(p, self.cfg.rejected, stamp)
                    if events:
                        self._move(events, self.cfg.rejected, stamp)
                except OSError as move_error:
                    log.error("inbox: %s refused (%s) and not moved to %s: %s", p.name, e, self.cfg.rejected,
                              move_error)
                    self._hold(p, *([events] if events else []))
                    marker.unlink(missing_ok=True)
                    continue
                vi = getattr(e, "message_vi", "")
                self._report(dest, f"{p.name}: refused\n{e}\n" + (f"\n{p.name}: bị từ chối\n{vi}\n" if vi else ""))
                marker.unlink(missing_ok=True)
                log.warning("inbox: %s refused: %s", p.name, e)
                results.append({"file": p.name, "status": "rejected", "error": str(e), "moved_to": str(dest)})
                continue
            try:
                dest = archive.keep(p, self.cfg.archive, stamp, self.mapping, "dossiers")
                if events:
                    archive.keep(events, self.cfg.archive, stamp, self.mapping, "events")
            except OSError as move_error:  # imported, but left in the inbox: not imported again and again
                log.error("inbox: %s imported but not archived in %s: %s", p.name, self.cfg.archive, move_error)
                self._hold(p, *([events] if events else []))
                continue
            finally:
                marker.unlink(missing_ok=True)
            report = {k: v for k, v in res.items() if k != "text"}
            archive.write_report(Path(self.cfg.archive) / f"{stamp}_{p.name}.report.txt", res.get("text", ""), report)
            log.info("inbox: %s imported", p.name)
            results.append({"file": p.name, "status": "imported", "result": report,
                            "moved_to": str(dest) if dest else None})
        if results and self.on_imported and any(r["status"] == "imported" for r in results):
            self.on_imported(results)
        return results
