"""An agent's disk buffer: probe results waiting to reach the central system.

    spool = Spool(Path("data/agent-spool"), max_bytes=200 << 20)
    spool.put([{"id": "…", "name": "home", …}])      # one batch file, written atomically
    for batch in spool.batches(): results = spool.read(batch); …; spool.remove(batch)

Each batch is one JSON file, written to a temporary name, fsynced, then renamed: a crash leaves
either the whole batch or nothing (a stray `.tmp` is removed at start). Names sort oldest first
(`<ns since epoch>-<seq>-<count>.json`) and carry the batch's result count, so what is waiting is
counted without reading a file. The folder is bounded: a batch that would take it past
`max_bytes` first drops the oldest batches, each with a warning and counted in `dropped_results`
(an agent cut off for weeks keeps its newest results, never fills the disk). A batch is read only
when its size is within `max_file_bytes`; one that is too big or not a batch of ours is moved to
`bad/` and reported, never raised: the agent goes on.

Results hold no secret: the runner has already redacted its messages.
"""
from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("motcua.agents")

MAX_SPOOL_MB = 200
MAX_FILE_BYTES = 16 << 20  # our own batches are far smaller; anything larger is not one of ours
BAD_DIR = "bad"
_NAME = re.compile(r"^(\d{20})-(\d{6})-(\d{1,7})\.json$")


@dataclass(frozen=True)
class Batch:
    path: Path
    count: int
    size: int


class Spool:
    def __init__(self, folder: Path | str, max_bytes: int = MAX_SPOOL_MB << 20,
                 max_file_bytes: int = MAX_FILE_BYTES) -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.max_file_bytes = max_file_bytes
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # the writer and the sender share the folder
        self._seq = 0
        self.dropped_results = 0
        self.dropped_batches = 0
        self.bad_files = 0
        for stray in self.folder.glob("*.tmp"):  # a write a crash cut short: never renamed, never sent
            stray.unlink(missing_ok=True)

    # -- writing -------------------------------------------------------------------------------
    def put(self, results: list[dict[str, Any]]) -> Path | None:
        """Write one batch (None when empty); drops the oldest batches first if the folder is full."""
        if not results:
            return None
        data = json.dumps({"v": 1, "results": results}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        with self._lock:
            self._seq = (self._seq + 1) % 1_000_000
            name = f"{time.time_ns():020d}-{self._seq:06d}-{len(results)}.json"
            self._make_room(len(data))
            tmp = self.folder / (name + ".tmp")
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.folder / name)
            _fsync_dir(self.folder)
        return self.folder / name

    def _make_room(self, incoming: int) -> None:
        batches = self.batches()
        total = sum(b.size for b in batches)
        while batches and total + incoming > self.max_bytes:
            oldest = batches.pop(0)
            oldest.path.unlink(missing_ok=True)
            total -= oldest.size
            self.dropped_batches += 1
            self.dropped_results += oldest.count
            log.warning("agent spool %s is full (%d MB): dropped the oldest batch, %d result(s) measured at %s, "
                        "never sent", self.folder, self.max_bytes >> 20, oldest.count,
                        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(int(oldest.path.name[:20]) / 1e9)))

    # -- reading -------------------------------------------------------------------------------
    def batches(self) -> list[Batch]:
        """The waiting batches, oldest first."""
        out = []
        for entry in os.scandir(self.folder):
            m = _NAME.match(entry.name)
            if m is None or not entry.is_file():
                continue
            try:
                size = entry.stat().st_size
            except FileNotFoundError:  # sent and removed meanwhile
                continue
            out.append(Batch(Path(entry.path), int(m.group(3)), size))
        out.sort(key=lambda b: b.path.name)
        return out

    def waiting(self) -> int:
        """Results waiting to be sent (counted from the names)."""
        return sum(b.count for b in self.batches())

    def read(self, batch: Batch) -> list[dict[str, Any]] | None:
        """A batch's results; None (the file moved to bad/, reported) when it is not a good batch."""
        try:
            size = batch.path.stat().st_size
        except FileNotFoundError:
            return None
        if size > self.max_file_bytes:
            self.set_aside(batch, f"{size} bytes, more than {self.max_file_bytes}")
            return None
        try:
            with open(batch.path, "rb") as f:
                data = json.loads(f.read(self.max_file_bytes + 1))
            results = data["results"]
            if (not isinstance(results, list) or len(results) != batch.count
                    or not all(isinstance(r, dict) and isinstance(r.get("id"), str) for r in results)):
                raise ValueError("not a batch of results")
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
            self.set_aside(batch, type(e).__name__ if not isinstance(e, ValueError) else "not valid JSON "
                            "or not a batch of results")
            return None
        return results

    def remove(self, batch: Batch) -> None:
        with self._lock:
            batch.path.unlink(missing_ok=True)

    def set_aside(self, batch: Batch, why: str) -> None:
        bad = self.folder / BAD_DIR
        bad.mkdir(exist_ok=True)
        with self._lock:
            try:
                os.replace(batch.path, bad / batch.path.name)
            except FileNotFoundError:
                return
        self.bad_files += 1
        log.error("agent spool: %s is not a readable batch (%s): moved to %s, its results are not sent",
                  batch.path.name, why, bad)


def _fsync_dir(folder: Path) -> None:
    """The rename itself made durable (POSIX); a platform without directory fds skips it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
