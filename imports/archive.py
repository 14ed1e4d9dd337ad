"""What is kept of an imported file: a copy without personal data, and the import's report.

An official's export carries citizens' names, ID numbers and phones in columns the import drops.
The watch folder and the dashboard's uploads archive, instead of the file itself:

- `<stamp>_<name>` (a workbook: `<stamp>_<name>.csv`): a UTF-8 CSV (with BOM, for spreadsheet
  programs) of the file's canonical columns only, under their canonical names, row for row (the
  quarantine's row numbers still point at the same rows). In a row with more fields than the header
  the columns right of a dropped one are left empty (they may hold a dropped column's value, see
  imports/staging.py). Values shaped like an ID or a phone number are masked
  (config/redact.py) and text that a spreadsheet would run as a formula is quoted (config/cells.py);
- `<stamp>_<name>.report.txt`: the import's report with the file's SHA-256, masked too.

Both are written readable by their owner only (0600). `purge` deletes archived files older than
`inbox.retention_days` and uploads never imported older than `inbox.upload_hours`; the owner runs
it at start and daily.
"""
from __future__ import annotations

import csv
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from config.cells import csv_cell
from config.clock import local_now
from config.mapping import ColumnMapping
from config.redact import mask_data, mask_text
from imports.reader import CANONICAL, Kind, inspect_file, prepare_file
from imports.staging import shifted_unsafe
from imports.workbook import child_env

log = logging.getLogger("motcua.archive")
COPY_TIMEOUT_S = 600


def uploads_dir(store_path: Path | str) -> Path:
    """Where the dashboard keeps an uploaded file between its check and its import."""
    return Path(store_path).parent / "uploads"


def open_private(path: Path | str, mode: str = "w", **kw: Any):
    """Open `path` for writing (truncated), created readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an older file of the same name keeps no wider mode
    except OSError:
        pass
    return open(fd, mode, **kw)


def write_private(path: Path | str, data: bytes) -> Path:
    """Write `path` whole or not at all (a hidden temporary file renamed over it): a reader never
    finds it half-written."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open_private(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return path


def personal_free_copy(src: Path | str, dest: Path | str, mapping: ColumnMapping, kind: Kind) -> Path:
    """Write the copy described above of the dossier (or events) file `src` to `dest`."""
    info = inspect_file(src)
    with tempfile.TemporaryDirectory(prefix="motcua-archive-") as tmp:
        prep = prepare_file(info, mapping, kind, Path(tmp))
        cols = [c for c in CANONICAL[kind] if c in prep.columns]
        pos = [prep.columns[c] for c in cols]
        unsafe = {prep.columns[c] for c in shifted_unsafe(prep)}
        with prep.csv_path.open(encoding="utf-8-sig", newline="") as f, \
                open_private(dest, "w", encoding="utf-8-sig", newline="") as out:
            for _ in range(prep.skip_lines):
                f.readline()
            w = csv.writer(out, lineterminator="\n")
            w.writerow(cols)
            for rec in csv.reader(f, delimiter=prep.delimiter, quotechar='"', doublequote=True):
                if not rec:
                    continue  # a blank line: no data row, for the import either
                shifted = len(rec) > prep.n_columns
                w.writerow([csv_cell(mask_text(rec[i])) if i < len(rec) and not (shifted and i in unsafe) else ""
                            for i in pos])
    return Path(dest)


def _copy_in_child(src: Path, dest: Path, mapping: ColumnMapping, kind: Kind) -> None:
    """personal_free_copy in a process of its own: a cell-by-cell copy in Python would hold the
    owner's interpreter for a second per 50,000 rows while the new figures are being asked for."""
    request = json.dumps({"src": str(src), "dest": str(dest), "mapping": mapping.model_dump(mode="json"),
                          "kind": kind}).encode("utf-8")
    proc = subprocess.run([sys.executable, "-c", "from imports.archive import _child_main; _child_main()"],
                          input=request, capture_output=True, env=child_env(), timeout=COPY_TIMEOUT_S)
    if proc.returncode != 0:
        # the type of the failure only: an exception's text may quote a cell
        last = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
        raise RuntimeError(f"the copy failed ({last[0].split(':', 1)[0][:80]}, exit status {proc.returncode})")


def _child_main() -> None:
    request = json.loads(sys.stdin.buffer.read())
    personal_free_copy(request["src"], request["dest"], ColumnMapping.model_validate(request["mapping"]),
                       request["kind"])


def keep(src: Path, archive: Path | str, stamp: str, mapping: ColumnMapping, kind: Kind,
         name: str | None = None) -> Path | None:
    """Archive the copy of `src` (as `<stamp>_<name>`, by default its own name) and delete `src`.
    None when no copy could be made (the file changed since its import): then only the report is
    kept."""
    archive = Path(archive)
    archive.mkdir(parents=True, exist_ok=True)
    name = name or src.name
    name = name if name.lower().endswith(".csv") else name + ".csv"
    dest = archive / f"{stamp}_{name}"
    try:
        _copy_in_child(src, dest, mapping, kind)
    except Exception as e:  # noqa: BLE001 - never keep the original instead
        dest.unlink(missing_ok=True)
        log.warning("archive: no copy of %s kept (%s)", src.name, e)
        dest = None
    src.unlink(missing_ok=True)
    return dest


def write_report(path: Path | str, text: str, report: dict[str, Any]) -> Path:
    """The import's report (its text, then the same as JSON, the file's SHA-256 in it), masked."""
    body = (mask_text(text) or "") + "\n" + json.dumps(mask_data(report), ensure_ascii=False, default=str) + "\n"
    return write_private(path, body.encode("utf-8"))


def purge(archive: Path | str, uploads: Path | str, retention_days: float, upload_hours: float,
          now: float | None = None) -> dict[str, int]:
    """Delete archived files older than `retention_days` and uploads older than `upload_hours`
    (by modification time). Returns how many of each."""
    now = time.time() if now is None else now
    out = {}
    for key, folder, age in (("archive", archive, retention_days * 86400), ("uploads", uploads, upload_hours * 3600)):
        n = 0
        d = Path(folder)
        if d.is_dir():
            for p in d.iterdir():
                try:
                    if p.is_file() and now - p.stat().st_mtime > age:
                        p.unlink()
                        n += 1
                except OSError as e:  # one file that cannot go does not stop the others
                    log.warning("retention: cannot delete %s (%s)", p.name, e)
        out[key] = n
    return out


def stamp() -> str:
    return local_now().strftime("%Y%m%d-%H%M%S")
