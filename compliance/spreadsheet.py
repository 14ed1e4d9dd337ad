"""Reading agencies' requests from a spreadsheet: CSV (UTF-8, UTF-8 BOM, UTF-16 with BOM) or
XLSX/XLS/ODS (python-calamine, in a child process with a memory limit after checks of the file:
imports/workbook.py), with Vietnamese or English headers.

    read_requests(path) -> Sheet      rows as dicts, and per-row problems (file, row, field, reason)

Headers are matched without case or diacritics ("Cơ quan" = "co quan"), searched in the first 10
rows below any title rows. Required columns: agency (Cơ quan / Đơn vị), date (Ngày đề nghị) and
description (Nội dung). Optional: request id (Mã yêu cầu), criterion (Tiêu chí), check (Kiểm tra),
status (Trạng thái), the vendor's answer (Trả lời của nhà cung cấp). Dates: DD/MM/YYYY,
YYYY-MM-DD or a date cell. A row with a problem is not applied; it is returned in `rejects`
with the raw row, so nothing is lost. Columns that name citizens' personal data (config/mapping.py
is_personal_header: Họ tên, CCCD, Số điện thoại, Địa chỉ, ...) are dropped on reading.
"""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compliance.common import ComplianceRefused, fold
from config.mapping import is_personal_header
from imports.errors import ImportRefused
from imports.workbook import ReaderLimits, run_isolated

HEADER_ROWS = 10
# A requests list is a few hundred rows: anything far larger is not one, and is not read whole.
MAX_FILE_BYTES = 64 << 20
MAX_CELLS = 1_000_000
COLUMNS: dict[str, tuple[str, ...]] = {
    "request_id": ("ma yeu cau", "ma de nghi", "ma kien nghi", "so yeu cau", "ma", "id", "request id", "request_id"),
    "agency": ("co quan", "don vi", "co quan de nghi", "don vi de nghi", "co quan, don vi", "agency"),
    "requested_on": ("ngay de nghi", "ngay yeu cau", "ngay gui", "ngay", "date", "requested on", "requested_on"),
    "description": ("noi dung", "noi dung de nghi", "noi dung yeu cau", "noi dung kien nghi", "mo ta",
                    "description"),
    "criterion": ("tieu chi", "ma tieu chi", "criterion"),
    "check": ("kiem tra", "ma kiem tra", "check"),
    "status": ("trang thai", "tinh trang", "status"),
    "vendor_answer": ("tra loi cua nha cung cap", "nha cung cap tra loi", "phan hoi cua nha cung cap", "tra loi",
                      "vendor answer", "vendor_answer", "answer"),
}
REQUIRED = ("agency", "requested_on", "description")
STATUS_WORDS: dict[str, tuple[str, ...]] = {
    "open": ("moi", "moi tiep nhan", "chua xu ly", "open", "new"),
    "in_progress": ("dang xu ly", "dang khac phuc", "in progress", "in_progress"),
    "answered": ("da tra loi", "nha cung cap da tra loi", "answered"),
    "resolved": ("da khac phuc", "da giai quyet", "hoan thanh", "da xu ly", "resolved", "done"),
    "withdrawn": ("rut yeu cau", "don vi rut yeu cau", "da rut", "huy", "withdrawn"),
}
_HEADER_INDEX = {alias: col for col, aliases in COLUMNS.items() for alias in aliases}
_STATUS_INDEX = {w: s for s, words in STATUS_WORDS.items() for w in words}


@dataclass
class Sheet:
    name: str
    sha256: str
    headers: dict[str, str] = field(default_factory=dict)   # column → header text as in the file
    rows: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    total: int = 0
    dropped: list[str] = field(default_factory=list)          # personal-data columns left out

    def reject(self, row_no: int, column: str, value: Any, reason: str, raw: dict[str, Any]) -> None:
        header = self.headers.get(column, column)
        self.rejects.append({"row_no": row_no, "field": header, "value": None if value is None else str(value),
                             "reason": reason, "raw": raw})
        self.errors.append(f"{self.name}, row {row_no}, {header}: {reason}")


def _cell(v: Any) -> Any:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dt.datetime, dt.date)):
        return v
    return "" if v is None else str(v).strip()


def _read_csv(p: Path, data: bytes) -> list[list[list[Any]]]:
    """The file read with each usual delimiter; the one whose header row is found wins."""
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        text = data.decode("utf-16")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            line = data[: e.start].count(b"\n") + 1
            raise ComplianceRefused(f"{p}: not UTF-8 text (line {line}); save it as 'CSV UTF-8' and import it again") from None
    return [[list(r) for r in csv.reader(io.StringIO(text), delimiter=d)] for d in (",", ";", "\t", "|")]


def _read_workbook(p: Path, limits: ReaderLimits | None = None) -> list[list[list[Any]]]:
    """Every sheet's rows, read in a child process (a hostile workbook is a refusal, never a dead
    owner); dates travel as tagged ISO texts."""
    try:
        sheets = run_isolated("compliance.spreadsheet:sheets_in_child", {"path": str(p)}, path=p, name=str(p),
                              limits=limits or ReaderLimits())
    except ImportRefused as e:
        detail = str(e)[len(str(p)) + 2:] if str(e).startswith(f"{p}: ") else str(e)
        raise ComplianceRefused(f"{p}: cannot read the workbook: {detail}") from None
    return [[[_decode(c) for c in row] for row in rows] for rows in sheets]


_DATE_TAGS = {"__datetime__": dt.datetime, "__date__": dt.date, "__time__": dt.time}


def _encode(v: Any) -> Any:
    for tag, kind in _DATE_TAGS.items():
        if type(v) is kind:
            return {tag: v.isoformat()}
    if isinstance(v, dt.timedelta):
        return str(v.total_seconds())
    return v


def _decode(v: Any) -> Any:
    if isinstance(v, dict) and len(v) == 1:
        tag, text = next(iter(v.items()))
        if tag in _DATE_TAGS:
            return _DATE_TAGS[tag].fromisoformat(text)
    return v


def sheets_in_child(payload: dict[str, Any]) -> list[list[list[Any]]]:
    """In the reader's child process: every sheet as rows of JSON-able cells."""
    from python_calamine import CalamineWorkbook

    path = payload["path"]
    try:
        wb = CalamineWorkbook.from_path(path)
        sheets = [wb.get_sheet_by_name(n) for n in wb.sheet_names]
        # sized before any row becomes Python objects (ten times calamine's cells)
        cells = sum(sh.height * sh.width for sh in sheets)
        if cells > MAX_CELLS:
            raise ImportRefused(f"{path}: {cells:,} cells: far more than a requests list holds "
                                f"(at most {MAX_CELLS:,})", file=path, reason="too_large")
        return [[[_encode(c) for c in row] for row in sh.to_python()] for sh in sheets]
    except ImportRefused:
        raise
    except Exception as e:  # calamine raises its own error types for damaged files
        raise ImportRefused(f"{path}: {type(e).__name__}: {str(e)[:200]}", file=path, reason="workbook") from None


def _find_header(rows: list[list[Any]]) -> tuple[int, dict[int, str], dict[str, str]] | None:
    for i, r in enumerate(rows[:HEADER_ROWS]):
        cols: dict[int, str] = {}
        texts: dict[str, str] = {}
        for j, c in enumerate(r):
            col = _HEADER_INDEX.get(fold(str(c or "")).rstrip(" :*"))
            if col and col not in texts:
                cols[j] = col
                texts[col] = str(c).strip()
        if all(k in texts for k in REQUIRED):
            return i, cols, texts
    return None


def _date_value(v: Any) -> dt.date | str:
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    text = str(v).strip()
    try:
        serial = float(text)
    except ValueError:
        return text
    if 20000 < serial < 80000:  # an Excel day number in a cell not formatted as a date
        return dt.date(1899, 12, 30) + dt.timedelta(days=int(serial))
    return text


def read_requests(path: Path | str, limits: ReaderLimits | None = None) -> Sheet:
    """The requests of a CSV or a workbook (read within `limits`: the import's, by default the
    reader's own)."""
    p = Path(path)
    if not p.is_file():
        raise ComplianceRefused(f"{p}: file not found")
    if p.stat().st_size > MAX_FILE_BYTES:
        raise ComplianceRefused(f"{p}: {p.stat().st_size / (1 << 20):,.0f} MB: far larger than a requests list "
                                f"(at most {MAX_FILE_BYTES >> 20} MB); not read")
    data = p.read_bytes()
    if not data.strip():
        raise ComplianceRefused(f"{p}: the file is empty")
    sheet = Sheet(name=str(path), sha256=hashlib.sha256(data).hexdigest())
    if data[:4] == b"PK\x03\x04" or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        tables = _read_workbook(p, limits)
    else:
        tables = _read_csv(p, data)
    found = None
    for rows in tables:
        h = _find_header(rows)
        if h:
            found = rows, h
            break
    if found is None:
        raise ComplianceRefused(f"{p}: no header row with the columns for the agency (Cơ quan), the date "
                                f"(Ngày đề nghị) and the description (Nội dung) in its first {HEADER_ROWS} rows")
    rows, (hi, cols, texts) = found
    sheet.headers = texts
    header_cells = [str(c).strip() for c in rows[hi]]
    # columns naming citizens' personal data (Họ tên, CCCD, Số điện thoại, ...) are never kept
    personal = {j for j, h in enumerate(header_cells) if h and j not in cols and is_personal_header(h)}
    sheet.dropped = [header_cells[j] for j in sorted(personal)]
    for n, r in enumerate(rows[hi + 1:], start=hi + 2):
        cells = [_cell(c) for c in r]
        if not any(c not in ("", None) for c in cells):
            continue
        sheet.total += 1
        raw = {header_cells[j] if j < len(header_cells) and header_cells[j] else f"column {j + 1}":
               (c.isoformat() if isinstance(c, (dt.date, dt.datetime)) else c) for j, c in enumerate(cells)
               if c != "" and j not in personal}
        row: dict[str, Any] = {"_row": n, "_raw": raw}
        for j, col in cols.items():
            v = cells[j] if j < len(cells) else ""
            row[col] = None if v == "" else v
        problems = []
        for col in REQUIRED:
            if row.get(col) is None:
                problems.append((col, None, "required, but empty"))
        if row.get("requested_on") is not None:
            d = _date_value(row["requested_on"])
            if isinstance(d, str):
                from compliance.period import PeriodError, parse_date
                try:
                    d = parse_date(d, texts["requested_on"])
                except PeriodError:
                    problems.append(("requested_on", row["requested_on"], "expected a date DD/MM/YYYY"))
                    d = None
            row["requested_on"] = d.isoformat() if d else None
        if row.get("status") is not None:
            s = _STATUS_INDEX.get(fold(str(row["status"])))
            if s is None:
                problems.append(("status", row["status"], "unknown status; expected one of: Mới tiếp nhận, "
                                 "Đang xử lý, Đã trả lời, Đã khắc phục, Rút yêu cầu"))
            row["status"] = s
        if problems:
            for col, value, reason in problems:
                sheet.reject(n, col, value, reason, raw)
            continue
        row.setdefault("request_id", None)
        sheet.rows.append(row)
    return sheet
