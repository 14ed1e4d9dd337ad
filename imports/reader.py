"""Reading dossier/event files: encoding and format checks, header detection and column mapping.

The result of `prepare_file` is a `PreparedFile`: a UTF-8 CSV that DuckDB can read as it is (the
original file when it already is one), the delimiter, how many lines precede the first data row,
and which physical column holds which canonical column. Nothing here touches the store.

- CSV: UTF-8 (with or without BOM) is read in place; UTF-16 LE/BE with a BOM is transcoded to a
  temporary UTF-8 file, streaming. Anything else that is not valid UTF-8 is refused, naming the
  line of the first bad byte (Windows-1258/TCVN3 exports must be saved again as "CSV UTF-8").
- XLSX/XLS/ODS: read with python-calamine in a child process with a memory limit, after checks of
  the ZIP container and of every sheet's size (imports/workbook.py): a hostile workbook is a
  refused file, never a dead caller. The first sheet with a recognised header row (searched in
  the first 20 rows, below title rows) is used. Only the mapped columns are written to the
  temporary CSV, so personal data never leaves the workbook.
- The header row of a CSV is also searched in the first 20 records, below any title rows.
"""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NoReturn

from config.mapping import DOSSIER_COLUMNS, EVENT_COLUMNS, ColumnMapping, is_personal_header, normalize_label
from config.numbers import number
from config.vocabulary import FIRST_YEAR, LAST_YEAR
from imports.errors import ImportRefused
from imports.workbook import ReaderLimits, run_isolated

Kind = Literal["dossiers", "events"]

HEADER_SEARCH_ROWS = 20
REQUIRED: dict[str, tuple[str, ...]] = {
    "dossiers": ("dossier_code", "agency_code", "channel", "received_at", "time_unit", "state"),
    "events": ("dossier_code", "event", "at"),
}
CANONICAL: dict[str, tuple[str, ...]] = {"dossiers": DOSSIER_COLUMNS, "events": EVENT_COLUMNS}
# A row is taken for the header when it names at least this many known columns.
MIN_HEADER_SCORE = 2
MAX_HEADERS_SHOWN = 40
HEAD_BYTES = 1 << 20           # what is read of a CSV to find its header: the first MB
_CHUNK = 1 << 23
_DELIMITERS = (",", ";", "\t", "|")
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass
class FileInfo:
    path: Path
    name: str                      # as shown in messages (the path as given)
    sha256: str
    size: int
    format: Literal["csv", "workbook"]
    encoding: Literal["utf-8", "utf-8-sig", "utf-16", ""] = ""
    has_quotes: bool = True        # a '"' somewhere: fields may span lines (DuckDB reads serially)


@dataclass
class PreparedFile:
    info: FileInfo
    kind: Kind
    csv_path: Path                 # UTF-8 CSV for DuckDB
    delimiter: str
    skip_lines: int                # physical lines before the first data row
    n_columns: int                 # physical columns in csv_path
    columns: dict[str, int]        # canonical column -> physical position in csv_path
    headers: list[str]             # the header row as found (original texts)
    columns_dropped: list[str] = field(default_factory=list)      # unknown / duplicate columns
    pii_columns_dropped: list[str] = field(default_factory=list)  # personal data, never read
    header_row: int = 1            # 1-based row (record) of the header in the file / sheet
    sheet: str | None = None       # workbook sheet used
    data_row_offset: int | None = None  # workbook: sheet row of data row n is n + offset

    def where(self, row_no: int, lang: str = "en") -> str:
        """'row 5' or, for a workbook, 'row 5 (sheet "X" row 9)' (Vietnamese: 'dòng 5 (trang tính ...)')."""
        row, sheet = ("dòng", "trang tính") if lang == "vi" else ("row", "sheet")
        if self.data_row_offset is None:
            return f"{row} {row_no}"
        return f'{row} {row_no} ({sheet} "{self.sheet}" {row} {row_no + self.data_row_offset})'


# -- file checks ------------------------------------------------------------------------------
def inspect_file(path: Path | str, name: str | None = None) -> FileInfo:
    """Hash the file and check its format/encoding. Raises ImportRefused with a clear message.
    `name` is how messages name the file (default: the path as given)."""
    p = Path(path)
    name = name or str(path)
    if not p.exists():
        raise ImportRefused(f"{name}: file not found", file=name, reason="missing")
    if not p.is_file():
        raise ImportRefused(f"{name}: not a file", file=name, reason="missing")
    try:
        with p.open("rb") as f:
            head = f.read(8)
    except OSError as e:
        raise ImportRefused(f"{name}: cannot read the file: {e.strerror or e}", file=name, reason="io") from None
    size = p.stat().st_size
    if size == 0:
        raise ImportRefused(f"{name}: the file is empty", file=name, reason="empty")
    if head.startswith(_ZIP_MAGIC) or head.startswith(_OLE_MAGIC):
        return FileInfo(p, name, _sha256(p), size, "workbook")
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        return FileInfo(p, name, _sha256(p), size, "csv", "utf-16")
    sha, encoding, quotes = _hash_and_check_utf8(p, name)
    return FileInfo(p, name, sha, size, "csv", encoding, quotes)


def _sha256(p: Path) -> str:
    h = hashlib.sha256()
    with p.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _hash_and_check_utf8(p: Path, name: str) -> tuple[str, Literal["utf-8", "utf-8-sig"], bool]:
    """One pass: SHA-256, the whole file must decode as UTF-8 and hold no NUL byte; any quote?"""
    h = hashlib.sha256()
    dec = codecs.getincrementaldecoder("utf-8")()
    lines_before = 0
    bom = False
    first = True
    quotes = False
    with p.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            if first:
                bom = chunk.startswith(codecs.BOM_UTF8)
                first = False
            nul = chunk.find(b"\x00")
            if nul >= 0:
                line = lines_before + chunk.count(b"\n", 0, nul) + 1
                raise ImportRefused(
                    f"{name}: not a text file (binary data on line {line}); "
                    "expected a CSV file in UTF-8 or UTF-16 with a byte-order mark, or an Excel workbook",
                    file=name, reason="binary",
                )
            try:
                dec.decode(chunk)
            except UnicodeDecodeError as e:
                line = lines_before + chunk.count(b"\n", 0, max(e.start, 0)) + 1
                raise ImportRefused(
                    f"{name}: not UTF-8 or UTF-16 text (invalid byte 0x{chunk[e.start]:02X} on line {line}). "
                    "Files in Windows-1258, TCVN3 or other legacy encodings are not read: "
                    'save the file as "CSV UTF-8" and import it again',
                    file=name, reason="encoding",
                ) from None
            lines_before += chunk.count(b"\n")
            quotes = quotes or b'"' in chunk
    try:
        dec.decode(b"", final=True)
    except UnicodeDecodeError:
        raise ImportRefused(
            f"{name}: not UTF-8 or UTF-16 text (the file ends in the middle of a character); "
            'save the file as "CSV UTF-8" and import it again',
            file=name, reason="encoding",
        ) from None
    return h.hexdigest(), ("utf-8-sig" if bom else "utf-8"), quotes


def _transcode_utf16(info: FileInfo, out: Path) -> None:
    """Stream a UTF-16 (BOM) file into UTF-8 without BOM."""
    dec = codecs.getincrementaldecoder("utf-16")()
    lines = 0
    try:
        with info.path.open("rb") as src, out.open("w", encoding="utf-8", newline="") as dst:
            while chunk := src.read(_CHUNK):
                text = dec.decode(chunk)
                if "\x00" in text:
                    raise ImportRefused(
                        f"{info.name}: not a text file (binary data on line {lines + text.count(chr(10), 0, text.index(chr(0))) + 1})",
                        file=info.name, reason="binary",
                    )
                dst.write(text)
                lines += text.count("\n")
            dst.write(dec.decode(b"", final=True))
    except UnicodeDecodeError:
        raise ImportRefused(
            f"{info.name}: starts with a UTF-16 byte-order mark but is not valid UTF-16 text "
            f"(near line {lines + 1}); save the file again as UTF-8 or UTF-16",
            file=info.name, reason="encoding",
        ) from None


# -- header detection -------------------------------------------------------------------------
@dataclass
class HeaderMatch:
    row_index: int                 # 0-based record index
    columns: dict[str, int]
    headers: list[str]
    dropped: list[str]
    pii: list[str]

    @property
    def score(self) -> int:
        return len(self.columns)


def match_header(cells: list[str], mapping: ColumnMapping, kind: Kind, row_index: int = 0) -> HeaderMatch:
    index = mapping.header_index(kind)
    columns: dict[str, int] = {}
    dropped: list[str] = []
    pii: list[str] = []
    for i, cell in enumerate(cells):
        text = "" if cell is None else str(cell).strip()
        key = normalize_label(text)
        if not key:
            continue
        canon = index.get(key)
        if canon is not None and canon not in columns:
            columns[canon] = i
        elif canon is None and is_personal_header(text, mapping.personal_data):
            pii.append(text)
        else:
            dropped.append(text if canon is None else f"{text} (second column for {canon})")
    return HeaderMatch(row_index, columns, [("" if c is None else str(c).strip()) for c in cells], dropped, pii)


def find_header(rows: list[list[str]], mapping: ColumnMapping, kind: Kind) -> HeaderMatch | None:
    """The header among the first rows: the first row naming every required column, else the row
    naming most known columns (at least MIN_HEADER_SCORE). None when no row qualifies."""
    best: HeaderMatch | None = None
    required = REQUIRED[kind]
    for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        m = match_header(row, mapping, kind, i)
        if all(r in m.columns for r in required):
            return m
        if m.score >= MIN_HEADER_SCORE and (best is None or m.score > best.score):
            best = m
    return best


def _first_nonblank(rows: list[list[str]]) -> int | None:
    for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        if any(str(c).strip() for c in row if c is not None):
            return i
    return None


def _check_columns(info: FileInfo, mapping: ColumnMapping, kind: Kind, m: HeaderMatch | None,
                   rows: list[list[str]], where: str = "") -> HeaderMatch:
    required = REQUIRED[kind]
    guessed = m is None
    if m is None:
        first = _first_nonblank(rows)
        if first is None:
            raise ImportRefused(f"{info.name}{where}: no data (the first {HEADER_SEARCH_ROWS} rows are blank)",
                                file=info.name, reason="empty")
        m = match_header(rows[first], mapping, kind, first)
    missing = [c for c in required if c not in m.columns]
    if missing or guessed:
        # When no header was recognised the row may be data: never echo what looks like an ID
        # number, a phone number or an e-mail address.
        shown = [("…" if guessed and _looks_personal(h) else h[:60]) for h in m.headers if h]
        found = ", ".join(repr(h) for h in shown[:MAX_HEADERS_SHOWN]) or "(none)"
        if len(shown) > MAX_HEADERS_SHOWN:  # a message stays a message, whatever the row holds
            found += f" … and {len(shown) - MAX_HEADERS_SHOWN:,} more"
        raise ImportRefused(
            f"{info.name}{where}: missing required column(s): {', '.join(missing) or '(none)'}. "
            f"Headers found (row {m.row_index + 1}): {found}. "
            f"A {kind} file needs the columns {', '.join(required)} "
            "(canonical names or the Vietnamese headers of the column mapping)",
            file=info.name, reason="columns",
        )
    return m


def _refuse_no_header(info: FileInfo, mapping: ColumnMapping, kind: Kind, rows: list[list[str]],
                      where: str = "") -> NoReturn:
    _check_columns(info, mapping, kind, None, rows, where)  # raises, naming the missing columns
    raise ImportRefused(f"{info.name}{where}: no header row recognised", file=info.name, reason="columns")


_PERSONAL_VALUE = re.compile(r"\d{6,}|@|\d{3,4}[ .-]\d{3}[ .-]\d{3,4}")


def _looks_personal(cell: str) -> bool:
    return bool(_PERSONAL_VALUE.search(cell))


# -- CSV ------------------------------------------------------------------------------------------
def _head_text(p: Path, limit: int = HEAD_BYTES) -> tuple[str, bool]:
    """The first `limit` bytes as text, cut after the last whole line; and whether they hold no
    line break at all while the file goes on (one huge line)."""
    with p.open("rb") as f:
        data = f.read(limit)
    one_line = len(data) == limit and b"\n" not in data and b"\r" not in data
    text = data.decode("utf-8", errors="ignore")
    if text.startswith("\ufeff"):
        text = text[1:]
    if len(data) == limit:  # drop the last, maybe partial, line
        cut = text.rfind("\n")
        text = text[: cut + 1] if cut >= 0 else text
    return text, one_line


def _records(text: str, delimiter: str) -> tuple[list[list[str]], list[int], str]:
    """First records of `text`, for each the physical line count up to its end, and the CSV
    reader's complaint that stopped it early, if any ('line 3: field larger than ...')."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', doublequote=True)
    rows: list[list[str]] = []
    ends: list[int] = []
    try:
        for row in reader:
            rows.append(row)
            ends.append(reader.line_num)
            if len(rows) >= HEADER_SEARCH_ROWS:
                break
    except csv.Error as e:
        return rows, ends, f"line {reader.line_num}: {e}"
    return rows, ends, ""


def _prepare_csv(info: FileInfo, mapping: ColumnMapping, kind: Kind, tmpdir: Path) -> PreparedFile:
    csv_path = info.path
    if info.encoding == "utf-16":
        csv_path = tmpdir / f"{kind}-utf8.csv"
        _transcode_utf16(info, csv_path)
    text, one_line = _head_text(csv_path)
    if one_line:
        mb_en = f"{number(csv_path.stat().st_size / (1 << 20), 1, 'en')} MB"
        mb_vi = f"{number(csv_path.stat().st_size / (1 << 20), 1, 'vi')} MB"
        raise ImportRefused(
            f"{info.name}: one line of {mb_en} with no line break: not a CSV export (an export has a line "
            "per dossier). Export the list again as CSV UTF-8 or XLSX",
            file=info.name, reason="one_line",
            message_vi=f"{info.name}: một dòng dài {mb_vi} không có dấu xuống dòng: không phải tệp CSV xuất "
                       "dữ liệu (mỗi hồ sơ một dòng). Hãy xuất lại danh sách dưới dạng CSV UTF-8 hoặc XLSX",
        )
    if not text.strip():
        raise ImportRefused(f"{info.name}: the file is empty (no header, no rows)", file=info.name, reason="empty")
    best: tuple[HeaderMatch, str, list[int]] | None = None
    candidates = []
    complaints: list[str] = []
    for d in _DELIMITERS:
        rows, ends, complaint = _records(text, d)
        candidates.append((d, rows, ends))
        complaints.append(complaint if not rows else "")
        m = find_header(rows, mapping, kind)
        if m is not None:
            complete = all(r in m.columns for r in REQUIRED[kind])
            if best is None or (complete, m.score) > (all(r in best[0].columns for r in REQUIRED[kind]), best[0].score):
                best = (m, d, ends)
    if best is None and all(complaints):
        # not even a first record: say why rather than "the first rows are blank"
        raise ImportRefused(f"{info.name}: cannot be read as CSV: {complaints[0][:300]}", file=info.name,
                            reason="csv")
    if best is None:
        # No recognisable header: report against the first row, read with the most plausible delimiter.
        d, rows, ends = max(candidates, key=lambda c: max((len(r) for r in c[1][:1]), default=0))
        _refuse_no_header(info, mapping, kind, rows)
    m, delimiter, ends = best
    m = _check_columns(info, mapping, kind, m, [])
    return PreparedFile(
        info=info, kind=kind, csv_path=csv_path, delimiter=delimiter, skip_lines=ends[m.row_index],
        n_columns=len(m.headers), columns=m.columns, headers=m.headers, columns_dropped=m.dropped,
        pii_columns_dropped=m.pii, header_row=m.row_index + 1,
    )


# -- workbooks --------------------------------------------------------------------------------
# Excel serial day numbers of the first and last plausible days (config/vocabulary.py): a number in
# a date column in this range is a date cell without a date format (Excel's epoch is 1899-12-30).
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_SERIAL_MIN = (dt.datetime(FIRST_YEAR, 1, 1) - _EXCEL_EPOCH).days
_SERIAL_MAX = (dt.datetime(LAST_YEAR, 12, 31) - _EXCEL_EPOCH).days
DATE_COLUMNS: dict[str, tuple[str, ...]] = {
    "dossiers": ("received_at", "supplement_requested_at", "supplement_received_at", "extended_due_at",
                 "finished_at", "returned_at", "reported_due_at", "synced_at"),
    "events": ("at",),
}


def _date_cell_text(v: object) -> str:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and _SERIAL_MIN <= v <= _SERIAL_MAX:
        t = _EXCEL_EPOCH + dt.timedelta(days=float(v))
        return t.replace(microsecond=0).isoformat(sep=" ") if t.microsecond < 500_000 else \
            (t.replace(microsecond=0) + dt.timedelta(seconds=1)).isoformat(sep=" ")
    return _cell_text(v)


def _cell_text(v: object) -> str:
    if v is None or v == "":
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isfinite(v) and v.is_integer():
            return str(int(v))
        return repr(v)
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, (dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, dt.timedelta):
        return str(v.total_seconds())
    return str(v)


def _prepare_workbook(info: FileInfo, mapping: ColumnMapping, kind: Kind, tmpdir: Path,
                      limits: ReaderLimits | None) -> PreparedFile:
    """Read the workbook in a child process (imports/workbook.py): a hostile workbook costs at
    most `limits` and ends as ImportRefused, never as a dead caller."""
    out = run_isolated("imports.reader:workbook_to_csv", {
        "path": str(info.path), "name": info.name, "kind": kind, "out": str(tmpdir / f"{kind}-sheet.csv"),
        "mapping": mapping.model_dump(mode="json"),
    }, path=info.path, name=info.name, limits=limits)
    return PreparedFile(
        info=info, kind=kind, csv_path=Path(out["csv_path"]), delimiter=",", skip_lines=0,
        n_columns=len(out["order"]), columns={c: i for i, c in enumerate(out["order"])}, headers=out["headers"],
        columns_dropped=out["dropped"], pii_columns_dropped=out["pii"], header_row=out["header_row"],
        sheet=out["sheet"], data_row_offset=out["header_row"],
    )


def workbook_to_csv(payload: dict) -> dict:
    """In the reader's child process: find the sheet and its header row, write the mapped columns
    (never the personal-data ones) to a UTF-8 CSV; what the parent needs to describe it."""
    name = payload["name"]
    mapping = ColumnMapping.model_validate(payload["mapping"])
    kind: Kind = payload["kind"]
    try:
        from python_calamine import CalamineWorkbook

        wb = CalamineWorkbook.from_path(payload["path"])
    except Exception as e:  # noqa: BLE001 - calamine raises several types for broken files
        raise ImportRefused(
            f"{name}: not a readable Excel/OpenDocument workbook ({type(e).__name__}: {str(e)[:200]})",
            file=name, reason="workbook",
            message_vi=f"{name}: không đọc được tệp Excel/OpenDocument ({type(e).__name__}: {str(e)[:200]})",
        ) from None
    try:
        sheets: list[tuple[str, list[list[str]], object]] = []
        for sheet_name in wb.sheet_names:
            try:
                sheet = wb.get_sheet_by_name(sheet_name)
            except Exception:  # noqa: BLE001 - chart sheets etc.
                continue
            it = iter(sheet.iter_rows())
            head: list[list[str]] = []
            for row in it:
                head.append([_cell_text(c) for c in row])
                if len(head) >= HEADER_SEARCH_ROWS:
                    break
            sheets.append((sheet_name, head, sheet))
        if not sheets:
            raise ImportRefused(f"{name}: the workbook has no worksheet", file=name, reason="empty")
        chosen = None
        for want_complete in (True, False):
            for sheet_name, head, sheet in sheets:
                m = find_header(head, mapping, kind)
                if m is None:
                    continue
                if not want_complete or all(r in m.columns for r in REQUIRED[kind]):
                    chosen = (sheet_name, head, sheet, m)
                    break
            if chosen:
                break
        info = FileInfo(Path(payload["path"]), name, "", 0, "workbook")
        if chosen is None:
            sheet_name, head, _ = sheets[0]
            _refuse_no_header(info, mapping, kind, head, where=f' (sheet "{sheet_name}")')
        sheet_name, head, sheet, m = chosen
        m = _check_columns(info, mapping, kind, m, head, where=f' (sheet "{sheet_name}")')
        order = list(m.columns.items())
        date_cols = set(DATE_COLUMNS[kind])
        out = Path(payload["out"])
        with out.open("w", encoding="utf-8", newline="") as f:
            # "\r\n": the writer quotes a field holding either character; with "\n" alone a cell
            # holding a bare "\r" was written unquoted and split its row in two
            w = csv.writer(f, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
            for r_index, row in enumerate(sheet.iter_rows()):  # type: ignore[attr-defined]
                if r_index <= m.row_index:
                    continue
                n = len(row)
                w.writerow([(_date_cell_text(row[pos]) if c in date_cols else _cell_text(row[pos])) if pos < n
                            else "" for c, pos in order])
    finally:
        try:
            wb.close()
        except Exception:  # noqa: BLE001
            pass
    return {"csv_path": str(out), "order": [c for c, _ in order], "headers": m.headers, "dropped": m.dropped,
            "pii": m.pii, "header_row": m.row_index + 1, "sheet": sheet_name}


def prepare_file(info: FileInfo, mapping: ColumnMapping, kind: Kind, tmpdir: Path,
                 limits: ReaderLimits | None = None) -> PreparedFile:
    """Find the header, map the columns and produce a UTF-8 CSV for DuckDB (see module doc).
    A workbook is read in a child process within `limits` (default: ReaderLimits())."""
    if info.format == "workbook":
        return _prepare_workbook(info, mapping, kind, tmpdir, limits)
    return _prepare_csv(info, mapping, kind, tmpdir)
