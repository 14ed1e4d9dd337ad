"""The watch folder: dossier exports dropped into data/inbox/ are imported by the store's owner.

`InboxWatcher` looks at the folder on every file-system event (watchdog) and, as a fallback, every
`poll_seconds`, on one thread of its own, so imports never run side by side. A file is taken once
its size and modification time stayed the same over `settle_seconds` (so a half-copied export is
never read). After the import the archive keeps a copy without personal data and the import's
report (imports/archive.py) and the file itself is deleted; a file refused as a whole moves to
rejected/ with a report beside it. An events file travels with its dossier file when named
`<name>.events.csv` (or .xlsx) next to `<name>.csv` and settled when the dossier file is: a dossier
file never waits for an events file that may come (new figures soon after a file lands). An events
file without its dossier file waits `events_wait_seconds` after its last change, in case its
dossier file is being copied just after it, then is imported alone (`import_file(None, events)`):
its events apply to the stored dossiers, those of unknown dossiers are quarantined.

The figures are refreshed (`on_imported`) right after the imports of a look at the folder, before
the archive's copies are written: officials wait for the first, nobody for the second.

A file is never read twice if reading it could have stopped the system: before its import a
marker (`.importing-<name>.json`, hidden) is written beside it; it says so once the import is
done, and goes once the file has been archived or moved. A marker found when the inbox starts
means the system stopped during that import (a crash or a kill): its files go to rejected/ with a
report saying so, unread; or, if it says imported, after it: its files are archived then. A file
that cannot be archived or moved is not taken again until the system restarts.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import stat
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
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
IMPORTED_EN = ("imported; the system stopped before the file was archived, so its report is this note (the "
               "import's own record is in the store: `app.py query import_batches`).")
IMPORTED_VI = ("đã nhập; hệ thống dừng trước khi lưu trữ tệp, nên báo cáo chỉ là ghi chú này (bản ghi của lần nhập "
               "nằm trong kho dữ liệu: `app.py query import_batches`).")
CRASHED_VI = ("chưa nhập: hệ thống dừng đột ngột khi đang đọc tệp này (bộ đọc hoặc cả hệ thống bị sập hay bị "
              "tắt). Tệp không được đọc lại để không làm hệ thống dừng lần nữa. Hãy kiểm tra tệp (hoặc xuất lại); "
              "muốn thử lại thì thả tệp vào thư mục theo dõi một lần nữa.")


@dataclass(frozen=True)
class _Seen:
    sig: tuple[int, int]  # size, mtime_ns
    since: float          # time.monotonic() when this size and mtime were first seen


class Inbox:
    def __init__(self, cfg: InboxConfig, import_file: Callable[[str | None, str | None], dict[str, Any]],
                 on_imported: Callable[[list[dict[str, Any]]], Any] | None = None,
                 after_archive: Callable[[], Any] | None = None,
                 mapping: ColumnMapping | Path | str | None = None) -> None:
        self.cfg = cfg
        self.import_file = import_file
        self.on_imported = on_imported
        self.after_archive = after_archive
        # the archive's copy keeps the columns the import reads, as that mapping reads them
        self.mapping = mapping if isinstance(mapping, ColumnMapping) else load_mapping(mapping)
        self._seen: dict[Path, _Seen] = {}
        self._stuck: set[tuple[Path, int, int]] = set()   # files that could not be moved away
        self._lock = threading.Lock()       # one look at the folder at a time
        self.due: float | None = None       # monotonic time at which a file seen may be ready
        self.closing = threading.Event()    # set on stop: no further file is started
        for d in (cfg.path, cfg.archive, cfg.rejected):
            Path(d).mkdir(parents=True, exist_ok=True)
        self.recovered = self._recover()

    def _ready(self) -> list[Path]:
        """Files whose size and mtime were the same at an earlier look, at least settle_seconds ago
        (events_wait_seconds for an events file without its dossier file). Sets `due`: when a file
        seen but not yet ready should be looked at again."""
        self.due = None
        now = time.monotonic()
        settle, events_wait = self.cfg.settle_seconds, max(self.cfg.settle_seconds, self.cfg.events_wait_seconds)
        files = {}
        for p in Path(self.cfg.path).iterdir():
            if p.suffix.lower() not in SUFFIXES or p.name.startswith("."):
                continue
            try:
                st = p.stat()
            except FileNotFoundError:  # moved away between the listing and now
                continue
            if stat.S_ISREG(st.st_mode):
                files[p] = (st.st_size, st.st_mtime_ns)
        seen: dict[Path, _Seen] = {}
        ready, due = [], []
        for p in sorted(files):
            sig, old = files[p], self._seen.get(p)
            seen[p] = s = old if old is not None and old.sig == sig else _Seen(sig, now)
            if (p, *sig) in self._stuck:
                continue
            lone = _is_events(p) and self._dossier_for(p) is None
            wait = events_wait if lone else settle
            if s is old and now - s.since >= wait:  # two looks at least `wait` apart saw the same file
                ready.append(p)
            else:
                due.append(s.since + wait)
        self._seen = seen
        self.due = min(due) if due else None
        return ready

    def _events_for(self, p: Path) -> Path | None:
        """The events file beside dossier file `p`, if there is one."""
        return self._first(p.with_name(f"{_stem(p)}.events{s}") for s in SUFFIXES)

    def _dossier_for(self, events: Path) -> Path | None:
        """The dossier file beside `events`, if there is one."""
        return self._first(events.with_name(f"{_stem(events)[: -len('.events')]}{s}") for s in SUFFIXES)

    def _first(self, candidates: Iterable[Path]) -> Path | None:
        for cand in candidates:
            try:
                st = cand.stat()
            except OSError:
                continue
            # a file that could not be moved away is left out: the other one of the pair goes on
            if stat.S_ISREG(st.st_mode) and (cand, st.st_size, st.st_mtime_ns) not in self._stuck:
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
                imported = info.get("imported") is True
            except (OSError, ValueError, KeyError, TypeError):
                names, started, imported = [marker.name[len(MARKER):-len(".json")]], "?", False
            stamp = local_now().strftime("%Y%m%d-%H%M%S")
            if imported:  # stopped after the import, before the archive: archived now
                out.append(self._archive_recovered(inbox, names, stamp, started))
                marker.unlink(missing_ok=True)
                continue
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

    def _archive_recovered(self, inbox: Path, names: list[str], stamp: str, started: str) -> dict[str, Any]:
        files = [inbox / Path(n).name for n in names]
        dest = None
        for i, src in enumerate(files):
            if src.is_file():
                try:
                    d = archive.keep(src, self.cfg.archive, stamp, self.mapping,
                                     "events" if i or _is_events(src) else "dossiers")
                    dest = dest or d
                except OSError as e:
                    log.error("inbox: %s could not be archived in %s: %s", src.name, self.cfg.archive, e)
        text = f"{names[0]}: {IMPORTED_EN}\n(import started {started})\n\n{names[0]}: {IMPORTED_VI}\n"
        archive.write_report(Path(self.cfg.archive) / f"{stamp}_{Path(names[0]).name}.report.txt", text, {})
        log.warning("inbox: %s was imported when the system stopped, before it was archived; archived now", names[0])
        return {"file": names[0], "status": "imported_before_stop", "moved_to": str(dest) if dest else None}

    @staticmethod
    def _report(dest: Path, text: str) -> None:
        try:
            archive.write_private(dest.with_name(dest.name + ".report.txt"), text.encode("utf-8"))
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
        """Import every ready file once. Returns one result per import (a dossier file, with its
        events file or not, or an events file alone)."""
        with self._lock:
            return self._poll()

    def _poll(self) -> list[dict[str, Any]]:
        results, imported = [], []
        ready = self._ready()
        for p in ready:
            if self.closing.is_set():
                break  # the rest waits for the next start
            if not p.exists():  # gone with its dossier file, earlier in this loop
                continue
            if _is_events(p):
                if self._dossier_for(p) is not None:
                    continue  # goes with its dossier file, once that has settled
                dossier, events = None, p  # waited events_wait_seconds: imported alone
            else:
                dossier, events = p, self._events_for(p)
                if events is not None and events not in ready:
                    continue  # its events file, already there, is still being copied
            taken = self._take(dossier, events)
            if taken is not None:
                results.append(taken[0])
                if taken[1] is not None:
                    imported.append(taken)
        # the figures first (what officials wait for), then the archive's copies
        try:
            if imported and self.on_imported:
                self.on_imported(results)
        finally:  # a failed refresh must not leave imported files to be imported again
            for r, job in imported:
                self._archive(r, *job)
        if imported and self.after_archive:
            self.after_archive()  # the store's upkeep, once the figures and the copies are done
        return results

    def _take(self, dossier: Path | None, events: Path | None) -> tuple[dict[str, Any], tuple | None] | None:
        """Import a dossier file (with its events file or not) or an events file alone, or move them
        to rejected/ if refused: (the result, what _archive needs when imported). None when left in
        the folder."""
        p = dossier or events
        assert p is not None
        pair = [f for f in (dossier, events) if f is not None]
        stamp = local_now().strftime("%Y%m%d-%H%M%S")
        marker = self._marker(p)
        try:
            self._write_marker(marker, {"file": p.name, "events": events.name if dossier and events else None,
                                        "started": local_now().isoformat(timespec="seconds"),
                                        "pid": os.getpid()})
        except OSError as e:  # unmarked, a file that crashed the system would be read again
            log.error("inbox: %s not imported: its marker could not be written (%s)", p.name, e)
            self._hold(*pair)
            return None
        try:
            res = self.import_file(str(dossier) if dossier else None, str(events) if events else None)
        except Exception as e:  # the file as a whole was refused: keep it, say why
            try:
                dest = self._move(p, self.cfg.rejected, stamp)
                if dossier and events:
                    self._move(events, self.cfg.rejected, stamp)
            except OSError as move_error:
                log.error("inbox: %s refused (%s) and not moved to %s: %s", p.name, e, self.cfg.rejected,
                          move_error)
                self._hold(*pair)
                marker.unlink(missing_ok=True)
                return None
            marker.unlink(missing_ok=True)  # moved: gone before its report says so
            vi = getattr(e, "message_vi", "")
            self._report(dest, f"{p.name}: refused\n{e}\n" + (f"\n{p.name}: bị từ chối\n{vi}\n" if vi else ""))
            log.warning("inbox: %s refused: %s", p.name, e)
            return {"file": p.name, "status": "rejected", "error": str(e), "moved_to": str(dest)}, None
        # imported: a stop from now on archives the files at the next start instead of refusing them
        try:
            self._write_marker(marker, {"file": p.name, "events": events.name if dossier and events else None,
                                        "started": local_now().isoformat(timespec="seconds"), "pid": os.getpid(),
                                        "imported": True})
        except OSError as e:
            log.warning("inbox: the marker of %s could not say it was imported (%s)", p.name, e)
        log.info("inbox: %s imported%s", p.name, "" if dossier else " (events alone)")
        return ({"file": p.name, "status": "imported", "result": {k: v for k, v in res.items() if k != "text"},
                 "moved_to": None}, (dossier, events, stamp, res.get("text", "")))

    def _archive(self, r: dict[str, Any], dossier: Path | None, events: Path | None, stamp: str, text: str) -> None:
        """Keep an imported file's copy without personal data and its report; remove the file;
        `r`, its result, says where the copy went."""
        p = dossier or events
        try:
            dest = archive.keep(p, self.cfg.archive, stamp, self.mapping, "dossiers" if dossier else "events")
            if dossier and events:
                archive.keep(events, self.cfg.archive, stamp, self.mapping, "events")
            archive.write_report(Path(self.cfg.archive) / f"{stamp}_{p.name}.report.txt", text, r["result"])
        except OSError as move_error:  # imported, but left in the inbox: not imported again and again
            log.error("inbox: %s imported but not archived in %s: %s", p.name, self.cfg.archive, move_error)
            self._hold(*[f for f in (dossier, events) if f is not None])
            return
        finally:  # last: once the marker is gone, the copy and its report are both there
            self._marker(p).unlink(missing_ok=True)
        r["moved_to"] = str(dest) if dest else None


def _stem(p: Path) -> str:
    return p.name[: -len(p.suffix)]


def _is_events(p: Path) -> bool:
    """`<name>.events.csv` (or another suffix): the events file of `<name>.csv`."""
    return _stem(p).endswith(".events")


# A copy writes many times a second, each write an event: the folder is looked at no more often.
MIN_GAP_SECONDS = 0.1


class InboxWatcher:
    """Runs an Inbox on one thread of its own, so that its imports never overlap: woken by the
    folder's file-system events (watchdog), when a file seen may have settled, and every
    `poll_seconds` (events are lost on network shares, or past the inotify limits)."""

    def __init__(self, inbox: Inbox, events: bool = True) -> None:
        self.inbox = inbox
        self._events = events
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="inbox", daemon=True)
        self._observer: Any = None

    @property
    def watching(self) -> bool:
        """True when file-system events are seen (otherwise the folder is only polled)."""
        return self._observer is not None

    def start(self) -> InboxWatcher:
        if self._events:
            self._observer = self._observe()
        self._thread.start()
        return self

    def nudge(self) -> None:
        """Something may have changed in the folder: look at it now."""
        self._wake.set()

    def stop(self) -> None:
        """Stop watching; an import under way finishes first, files not started wait."""
        self.inbox.closing.set()
        self._stop.set()
        self._wake.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=10)
            self._observer = None
        if self._thread.is_alive():
            self._thread.join()

    def _observe(self) -> Any:
        from watchdog.events import (EventsLostEvent, FileClosedEvent, FileCreatedEvent, FileModifiedEvent,
                                     FileMovedEvent, FileSystemEventHandler)
        from watchdog.observers import Observer

        nudge = self.nudge

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                path = getattr(event, "dest_path", "") or event.src_path
                # the inbox's own markers (hidden) say nothing new
                if isinstance(event, EventsLostEvent) or not os.path.basename(os.fsdecode(path)).startswith("."):
                    nudge()

        path = Path(self.inbox.cfg.path)
        observer = Observer()
        try:
            observer.schedule(Handler(), str(path), recursive=False,
                              event_filter=[FileCreatedEvent, FileModifiedEvent, FileMovedEvent, FileClosedEvent,
                                            EventsLostEvent])
            observer.start()
        except OSError as e:  # e.g. the inotify watch or instance limit (fs.inotify.max_user_*)
            log.warning("inbox: cannot watch %s for new files (%s); it is looked at every %g s instead",
                        path, e.strerror or e, self.inbox.cfg.poll_seconds)
            with contextlib.suppress(Exception):
                observer.stop()
            return None
        return observer

    def _run(self) -> None:
        next_poll = time.monotonic()  # at once: files that landed while the system was down
        while True:
            wake_at = min(next_poll, self.inbox.due if self.inbox.due is not None else next_poll)
            self._wake.wait(max(0.0, wake_at - time.monotonic()))
            if self._stop.is_set():
                return
            self._wake.clear()  # before the look: a change during it wakes the next one
            try:
                self.inbox.poll()
            except Exception:  # noqa: BLE001 - the folder is looked at again; the owner goes on
                log.exception("inbox: looking at %s failed", self.inbox.cfg.path)
            next_poll = time.monotonic() + self.inbox.cfg.poll_seconds
            if self._stop.wait(MIN_GAP_SECONDS):
                return
