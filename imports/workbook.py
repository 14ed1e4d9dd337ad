"""Workbooks read so that a hostile one never takes the reading process down.

python-calamine reads a worksheet into one dense rectangle, from the first to the last cell that
holds a value, 32 bytes a cell, whatever the sheet's `<dimension>` declares; an allocation that
fails aborts the whole process (Rust aborts, Python cannot catch it). A 5 KB XLSX with a value in
A1 and one in XFD1048576 asks for 512 GiB. So a workbook is never read by the calling process
(the store's owner): `run_isolated` runs the reading in a child process of its own, and

- the child first limits itself: address space (`imports.reader_memory_mb`), CPU time, no core
  file (a core would put the cells, personal data included, on disk);
- before python-calamine opens a ZIP-based workbook (XLSX, XLSM, ODS) the child checks it,
  streaming and bounded by the sizes it has checked already:
  * the ZIP container opens; at most MAX_ENTRIES parts; no part unpacks to more than MAX_UNPACKED
    in all; no part of more than RATIO_FLOOR bytes is packed at more than MAX_RATIO:1 (a
    compression bomb); every part unpacks to exactly its declared size with its CRC;
  * every worksheet: the rectangle calamine would allocate, from the cells' own references. A
    scan at C speed (regular expressions over the unpacked XML) bounds it when every row and cell
    carries a plain reference; otherwise (cells without references, odd references, or a bound
    too large) an expat parse, with no DTD, follows calamine's own rules to find the exact
    rectangle of cells holding a value. The declared `<dimension>` is read too and named in the
    message, but only the cells count: a dimension can lie both ways. A rectangle larger than
    the memory limit allows, or mostly empty (a few far cells in a tiny file), refuses the file;
- whatever the checks miss ends in the child: out of memory, a crash, the time limit. Each is a
  refused file (ImportRefused) with a plain message in English and Vietnamese.

The child runs `python -c` with the project on its path and calls a named function
("package.module:function") with a JSON payload; its answer is one JSON document on stdout.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import zipfile
import zlib
from collections import Counter
from dataclasses import asdict, dataclass
from operator import itemgetter
from pathlib import Path, PurePosixPath
from typing import Any, NoReturn
from xml.parsers import expat

from config.app import DEFAULT_READER_MEMORY_MB
from config.numbers import number
from imports.errors import ImportRefused

ROOT = Path(__file__).resolve().parents[1]
ZIP_MAGIC = b"PK\x03\x04"

MAX_ENTRIES = 10_000
MAX_UNPACKED = 2 << 30           # bytes, all parts together
MAX_RATIO = 200                  # real sheets pack at 5-50:1; deflate's ceiling is ~1030:1
RATIO_FLOOR = 16 << 20           # smaller parts may pack at any ratio: they cost nothing
# calamine keeps 32 bytes per cell of the rectangle and ~40 per cell holding a value; with the
# Python rows built from them and the interpreter, ~80 bytes a cell of the memory limit.
BYTES_PER_CELL = 80
# A rectangle this many times larger than its cells with a value (and above SPARSE_FLOOR cells)
# is a file made to exhaust memory: a real export fills most of its rectangle.
SPARSE_RATIO = 20
SPARSE_FLOOR = 1_000_000
EXCEL_ROWS, EXCEL_COLS = 1_048_576, 16_384
CPU_SECONDS = 300
EXIT_OUT_OF_MEMORY = 3
_CHUNK = 4 << 20


@dataclass(frozen=True)
class ReaderLimits:
    """How much a workbook reader may take: memory (MB of address space) and CPU seconds."""

    memory_mb: int = DEFAULT_READER_MEMORY_MB
    cpu_seconds: int = CPU_SECONDS

    @property
    def max_cells(self) -> int:
        return (self.memory_mb << 20) // BYTES_PER_CELL


# -- messages ---------------------------------------------------------------------------------------

def _n(v: int, lang: str) -> str:
    return number(v, 0, lang)


def _size(v: int, lang: str) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if v >= scale:
            return f"{number(v / scale, 1, lang)} {unit}"
    return f"{v} B"


def _refuse(name: str, reason: str, en: str, vi: str) -> NoReturn:
    raise ImportRefused(f"{name}: {en}", file=name, reason=reason, message_vi=f"{name}: {vi}")


def _damaged(name: str, detail: str) -> NoReturn:
    detail = detail[:200]
    _refuse(name, "workbook",
            f"not a readable Excel/OpenDocument workbook: the file is damaged or incomplete ({detail}); "
            "save it again from Excel, or download it again, and import it again",
            f"không đọc được tệp Excel/OpenDocument: tệp bị hỏng hoặc không đầy đủ ({detail}); "
            "hãy lưu lại tệp từ Excel hoặc tải lại tệp rồi nhập lại")


def _col_name(col: int) -> str:
    s = ""
    while col > 0:
        col, r = divmod(col - 1, 26)
        s = chr(65 + r) + s
    return s or "?"


# -- the ZIP container --------------------------------------------------------------------------------

def _check_zip(zf: zipfile.ZipFile, name: str) -> None:
    infos = zf.infolist()
    if len(infos) > MAX_ENTRIES:
        _refuse(name, "workbook_parts",
                f"not a spreadsheet export: the workbook holds {_n(len(infos), 'en')} parts "
                f"(at most {_n(MAX_ENTRIES, 'en')})",
                f"không phải tệp xuất dữ liệu: bảng tính chứa {_n(len(infos), 'vi')} phần "
                f"(tối đa {_n(MAX_ENTRIES, 'vi')})")
    twice = [n for n, k in Counter(i.filename for i in infos).items() if k > 1]
    if twice:  # two parts of one name: the checks could read one and python-calamine the other
        _damaged(name, f"the part {twice[0]} appears twice")
    total = 0
    for i in infos:
        total += i.file_size
        if i.file_size > RATIO_FLOOR and i.file_size > MAX_RATIO * max(i.compress_size, 1):
            ratio = i.file_size // max(i.compress_size, 1)
            _refuse(name, "zip_bomb",
                    f"part {i.filename} unpacks from {_size(i.compress_size, 'en')} to "
                    f"{_size(i.file_size, 'en')} ({_n(ratio, 'en')}:1): a compression bomb, not a spreadsheet export",
                    f"phần {i.filename} giải nén từ {_size(i.compress_size, 'vi')} thành "
                    f"{_size(i.file_size, 'vi')} (tỉ lệ {_n(ratio, 'vi')}:1): tệp nén bất thường (bom nén), "
                    "không phải tệp xuất dữ liệu")
        if total > MAX_UNPACKED:
            _refuse(name, "too_large",
                    f"the workbook unpacks to more than {_size(MAX_UNPACKED, 'en')} "
                    f"(part {i.filename}: {_size(i.file_size, 'en')}): too large to read; "
                    "save the sheet as CSV UTF-8 (or split it) and import that",
                    f"bảng tính giải nén ra hơn {_size(MAX_UNPACKED, 'vi')} "
                    f"(phần {i.filename}: {_size(i.file_size, 'vi')}): quá lớn để đọc; "
                    "hãy lưu trang tính dưới dạng CSV UTF-8 (hoặc chia nhỏ) rồi nhập lại")


def _stream(zf: zipfile.ZipFile, entry: str, name: str):
    """The part's unpacked bytes in chunks; zipfile stops at the declared size and checks the CRC."""
    try:
        with zf.open(entry) as f:
            while chunk := f.read(_CHUNK):
                yield chunk
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError) as e:
        _damaged(name, f"part {entry}: {e}")


# -- parsing parts with expat (no DTD, no entities) --------------------------------------------------

class _NoDtd(Exception):
    pass


def _parser(start, end=None) -> expat.XMLParserType:
    p = expat.ParserCreate()
    p.buffer_text = True

    def no_dtd(*_a: Any) -> None:
        raise _NoDtd()

    p.StartDoctypeDeclHandler = no_dtd
    p.EntityDeclHandler = no_dtd
    p.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    p.StartElementHandler = start
    if end is not None:
        p.EndElementHandler = end
    return p


def _parse(zf: zipfile.ZipFile, entry: str, name: str, start, end=None) -> None:
    p = _parser(start, end)
    try:
        for chunk in _stream(zf, entry, name):
            p.Parse(chunk, False)
        p.Parse(b"", True)
    except _NoDtd:
        _refuse(name, "workbook",
                f"part {entry} declares a DTD, which no spreadsheet does: not read",
                f"phần {entry} khai báo DTD, điều mà không bảng tính nào làm: không đọc")
    except expat.ExpatError as e:
        _damaged(name, f"part {entry}: {expat.ErrorString(e.code)}, line {e.lineno}")


def _local(tag: str) -> str:
    return tag.rpartition(":")[2]


def _sheet_parts(zf: zipfile.ZipFile, name: str) -> dict[str, str]:
    """{part: sheet name} for every worksheet calamine could read: the workbook's worksheet
    relationships, and every part under xl/worksheets/ in case those do not parse."""
    names = set(zf.namelist())
    out: dict[str, str] = {n: n for n in names if n.startswith("xl/worksheets/") and n.endswith(".xml")}
    wb_part = "xl/workbook.xml"
    small = 16 << 20

    def rels(entry: str) -> dict[str, tuple[str, str]]:
        found: dict[str, tuple[str, str]] = {}
        if entry not in names or zf.getinfo(entry).file_size > small:
            return found

        def start(tag: str, attrs: dict[str, str]) -> None:
            if _local(tag) == "Relationship" and "Id" in attrs:
                found[attrs["Id"]] = (attrs.get("Type", ""), attrs.get("Target", ""))

        _parse(zf, entry, name, start)
        return found

    for typ, target in rels("_rels/.rels").values():
        if typ.endswith("/officeDocument") and target:
            wb_part = target.lstrip("/")
    base = PurePosixPath(wb_part).parent
    wb_rels = rels(str(base / "_rels" / (PurePosixPath(wb_part).name + ".rels")))
    sheets: list[tuple[str, str]] = []
    if wb_part in names and zf.getinfo(wb_part).file_size <= small:
        def start(tag: str, attrs: dict[str, str]) -> None:
            if _local(tag) == "sheet":
                rid = next((v for k, v in attrs.items() if _local(k) == "id"), "")
                sheets.append((attrs.get("name", ""), rid))

        _parse(zf, wb_part, name, start)
    for sheet_name, rid in sheets:
        typ, target = wb_rels.get(rid, ("", ""))
        if not target:
            continue
        part = target.lstrip("/") if target.startswith("/") else str(base / target)
        part = os.path.normpath(part).replace(os.sep, "/")
        if part in names:
            out[part] = sheet_name or part
    return out


# -- the rectangle of a worksheet -----------------------------------------------------------------------

# What Excel, LibreOffice, openpyxl and xlsxwriter write: unprefixed <row r="N"> and <c r="A1" ...>
# with the reference first. Only such a part is bounded by the fast scan; anything else is parsed.
# (each starts with a literal, so that the regular expression engine skips to it)
_ODD_TAG = re.compile(rb"<(?:[\w.\-]+:|(?:c|row)[>/\t\n\r])")
_ODD_R = re.compile(rb"r(?<=[\t\n\r\"']r)\s*=|r(?<=\sr)(?:\s+=|=')")
_C_REF = re.compile(rb'<c r="([A-Za-z]{1,3})([0-9]{1,7})"')
_ROW_REF = re.compile(rb'<row r="([0-9]{1,7})"')
_DIMENSION = re.compile(rb"<dimension\s[^<>]*?\bref\s*=\s*[\"']([^\"'<>]{0,40})[\"']")
_REF_TEXT = re.compile(r"^([A-Za-z]{0,3})([0-9]{1,7})$")


def _letters_value(s: str) -> int:
    v = 0
    for ch in s.upper():
        v = v * 26 + ord(ch) - 64
    return v


@dataclass
class Rectangle:
    """The cells of a sheet calamine would hold: rows and columns are 1-based, inclusive."""

    first_row: int = 0
    last_row: int = 0
    first_col: int = 0
    last_col: int = 0
    values: int = 0          # cells holding a value (the scan: every <c> element, an upper bound)
    declared: str = ""       # the sheet's <dimension ref="...">, as written

    @property
    def cells(self) -> int:
        if not self.values:
            return 0
        return (self.last_row - self.first_row + 1) * (self.last_col - self.first_col + 1)

    @property
    def ref(self) -> str:
        return (f"{_col_name(self.first_col)}{self.first_row}:{_col_name(self.last_col)}{self.last_row}"
                if self.values else "")


def _scan(zf: zipfile.ZipFile, entry: str, name: str) -> Rectangle | None:
    """A bound of the sheet's rectangle at C speed (counts and regular expressions with a literal
    start), or None when the part is not written the plain way: every <row> and <c> unprefixed
    with `r="..."` first, letters (up to 3) and digits (1 to 7), and no other `r` attribute
    anywhere (a second `r` in a tag would win in calamine)."""
    n = [0] * 6   # <c >, <c r=">, refs of c, <row >, <row r=">, refs of rows; then ' r="'
    n_r = 0
    rows: list[int] = []
    cols: list[int] = []
    declared = "-"
    rest = b""

    def take(part: bytes) -> bool:
        nonlocal n_r
        if _ODD_TAG.search(part) or _ODD_R.search(part):
            return False
        c_refs = _C_REF.findall(part)
        row_refs = _ROW_REF.findall(part)
        n[0] += part.count(b"<c ")
        n[1] += part.count(b'<c r="')
        n[2] += len(c_refs)
        n[3] += part.count(b"<row ")
        n[4] += part.count(b'<row r="')
        n[5] += len(row_refs)
        n_r += part.count(b' r="')
        # the distinct values only (a few thousand rows, a few dozen columns) reach Python
        numbers = set(map(itemgetter(1), c_refs)).union(row_refs)
        if numbers:
            numbers_ = [int(x) for x in numbers]
            rows.extend((min(numbers_), max(numbers_)))
        letters = [_letters_value(x.decode("ascii")) for x in set(map(itemgetter(0), c_refs))]
        if letters:
            cols.extend((min(letters), max(letters)))
        return True

    for chunk in _stream(zf, entry, name):
        buf = rest + chunk
        # a tag is never split between two pieces (one absurdly long is: the counts then differ)
        cut = buf.rfind(b"<")
        if cut <= 0 or len(buf) - cut > (1 << 20):
            cut = len(buf)
        part, rest = buf[:cut], buf[cut:]
        if declared == "-":
            m = _DIMENSION.search(part)
            declared = m.group(1).decode("ascii", "replace") if m else ""
        if not take(part):
            return None
    if not take(rest):
        return None
    if not (n[0] == n[1] == n[2] and n[3] == n[4] == n[5] and n_r == n[1] + n[4]):
        return None
    if not n[0]:
        return Rectangle(declared=declared)
    if min(rows) < 1:
        return None
    return Rectangle(min(rows), max(rows), min(cols), max(cols), n[0], declared)


def _parse_rectangle(zf: zipfile.ZipFile, entry: str, name: str, sheet: str) -> Rectangle:
    """The exact rectangle of cells holding a value, following calamine's rules: a row's `r` sets
    the row, a cell's `r` its row and column, a cell without one takes the next column, a row end
    moves to the next row; a cell with any element inside counts as holding a value."""
    rect = Rectangle()
    state = {"row": 1, "col": 1, "in_c": 0, "pos": (0, 0), "has": False, "data": False}
    first_row, last_row, first_col, last_col = [EXCEL_ROWS + 1], [0], [EXCEL_COLS + 1], [0]

    def ref(value: str) -> tuple[int, int]:
        m = _REF_TEXT.match(value)
        row = int(m.group(2)) if m else 0
        col = _letters_value(m.group(1)) if m and m.group(1) else 1
        if not m or not 1 <= row <= EXCEL_ROWS or col > EXCEL_COLS:
            _refuse(name, "workbook",
                    f'sheet "{sheet}": the cell reference {value[:20]!r} is outside an Excel sheet '
                    f"(A1 to XFD{EXCEL_ROWS}): a damaged or hostile file",
                    f'trang tính "{sheet}": tham chiếu ô {value[:20]!r} nằm ngoài một trang tính Excel '
                    f"(A1 đến XFD{EXCEL_ROWS}): tệp bị hỏng hoặc được tạo ra để phá hoại")
        return row, col

    def start(tag: str, attrs: dict[str, str]) -> None:
        if state["in_c"]:
            state["in_c"] += 1
            state["has"] = True
            return
        local = _local(tag)
        if local == "c" and state["data"]:
            if "r" in attrs:
                row, col = ref(attrs["r"])
                state["col"] = col
                state["pos"] = (row, col)
            else:
                state["pos"] = (state["row"], state["col"])
            state["in_c"], state["has"] = 1, False
        elif local == "row" and state["data"]:
            if "r" in attrs:
                state["row"] = ref(attrs["r"])[0]
        elif local == "sheetData":
            state["data"] = True
        elif local == "dimension" and not rect.declared:
            rect.declared = attrs.get("ref", "")[:40]

    def end(tag: str) -> None:
        if state["in_c"]:
            state["in_c"] -= 1
            if state["in_c"]:
                return
            if state["has"]:
                row, col = state["pos"]
                first_row[0], last_row[0] = min(first_row[0], row), max(last_row[0], row)
                first_col[0], last_col[0] = min(first_col[0], col), max(last_col[0], col)
                rect.values += 1
            state["col"] += 1
        elif _local(tag) == "row" and state["data"]:
            state["row"] += 1
            state["col"] = 1
        elif _local(tag) == "sheetData":
            state["data"] = False

    _parse(zf, entry, name, start, end)
    if rect.values:
        rect.first_row, rect.last_row, rect.first_col, rect.last_col = (
            first_row[0], last_row[0], first_col[0], last_col[0])
    return rect


def _too_large(rect: Rectangle, limits: ReaderLimits) -> bool:
    cells = rect.cells
    return cells > limits.max_cells or (cells > SPARSE_FLOOR and cells > SPARSE_RATIO * max(rect.values, 1))


def _refuse_rectangle(name: str, sheet: str, rect: Rectangle, limits: ReaderLimits) -> NoReturn:
    rows = rect.last_row - rect.first_row + 1
    cols = rect.last_col - rect.first_col + 1
    first = f"{_col_name(rect.first_col)}{rect.first_row}"
    last = f"{_col_name(rect.last_col)}{rect.last_row}"
    declared_en = declared_vi = ""
    if rect.declared and rect.declared.upper() != rect.ref:
        declared_en = f"; the sheet declares its range as {rect.declared}"
        declared_vi = f"; trang tính tự khai vùng dữ liệu là {rect.declared}"
    en = (f'sheet "{sheet}" has cells from {first} to {last} ({_n(rows, "en")} rows × {_n(cols, "en")} columns '
          f'= {_n(rect.cells, "en")} cells, {_n(rect.values, "en")} of them with a value{declared_en})')
    vi = (f'trang tính "{sheet}" có ô từ {first} đến {last} ({_n(rows, "vi")} dòng × {_n(cols, "vi")} cột '
          f'= {_n(rect.cells, "vi")} ô, {_n(rect.values, "vi")} ô có giá trị{declared_vi})')
    sparse = rect.cells > SPARSE_RATIO * max(rect.values, 1)
    if rect.cells > limits.max_cells:
        need = rect.cells * BYTES_PER_CELL
        en += (f": reading it would need about {_size(need, 'en')} of memory, more than the reader's limit of "
               f"{_n(limits.memory_mb, 'en')} MB (imports.reader_memory_mb)")
        vi += (f": cần khoảng {_size(need, 'vi')} bộ nhớ để đọc, vượt giới hạn {_n(limits.memory_mb, 'vi')} MB "
               "của bộ đọc (imports.reader_memory_mb)")
    if sparse:
        en += (": mostly empty, a file built to exhaust memory, not a spreadsheet export. Delete the stray cells "
               "far from the data and import it again")
        vi += (": gần như trống, tệp được tạo ra để làm cạn bộ nhớ, không phải tệp xuất dữ liệu. Hãy xoá các ô "
               "lạc xa vùng dữ liệu rồi nhập lại")
    else:
        en += ". Delete the empty rows and columns after the data, or save the sheet as CSV UTF-8, and import it again"
        vi += ". Hãy xoá các dòng, cột trống sau dữ liệu hoặc lưu trang tính dưới dạng CSV UTF-8 rồi nhập lại"
    _refuse(name, "sparse" if sparse else "too_large", en, vi)


def check_workbook(path: Path | str, name: str, limits: ReaderLimits | None = None) -> None:
    """Refuse (ImportRefused) a ZIP-based workbook that is damaged or would cost more than
    `limits` to read; other formats pass (see the module's doc). Bounded in memory and time by
    the sizes it checks first."""
    limits = limits or ReaderLimits()
    p = Path(path)
    with p.open("rb") as f:
        if f.read(4) != ZIP_MAGIC:
            return
    try:
        zf = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError, OSError) as e:
        _damaged(name, f"the ZIP container does not open: {e}")
    with zf:
        _check_zip(zf, name)
        sheets = _sheet_parts(zf, name)
        for entry, sheet in sorted(sheets.items()):
            rect = _scan(zf, entry, name)
            if rect is None or _too_large(rect, limits):
                rect = _parse_rectangle(zf, entry, name, sheet)
                if _too_large(rect, limits):
                    _refuse_rectangle(name, sheet, rect, limits)
        # the other parts: python-calamine reads some of them whole (shared strings, styles);
        # each must unpack to no more than it declares
        for info in zf.infolist():
            if info.filename not in sheets and not info.is_dir():
                for _ in _stream(zf, info.filename, name):
                    pass


# -- the child process ----------------------------------------------------------------------------------

def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process of ours: this one's, with the project on its path."""
    path = [str(ROOT)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])
    return dict(os.environ, PYTHONPATH=os.pathsep.join(path), **extra)


def run_isolated(target: str, payload: dict[str, Any], *, path: Path | str, name: str,
                 limits: ReaderLimits | None = None) -> Any:
    """Run `target` ("package.module:function") on `payload` in a child process that checks the
    workbook at `path` first (check_workbook) under `limits`; returns what the function returned.
    Raises ImportRefused for a refused file, whatever happened in the child."""
    limits = limits or ReaderLimits()
    request = json.dumps({"target": target, "payload": payload, "path": str(path), "name": name,
                          "limits": asdict(limits)}).encode("utf-8")
    env = child_env(RUST_BACKTRACE="0")
    cmd = [sys.executable, "-c", "from imports.workbook import _child_main; _child_main()"]
    try:
        proc = subprocess.run(cmd, input=request, capture_output=True, env=env,
                              timeout=limits.cpu_seconds * 2 + 60)
    except subprocess.TimeoutExpired:
        _too_slow(name, limits)
    except OSError as e:
        _refuse(name, "reader",
                f"cannot start the workbook reader ({e.strerror or e}); try again later",
                f"không khởi động được bộ đọc bảng tính ({e.strerror or e}); hãy thử lại sau")
    answer: dict[str, Any] | None = None
    if proc.returncode == 0:
        try:
            answer = json.loads(proc.stdout)
        except ValueError:
            answer = None
    if answer is not None and "result" in answer:
        return answer["result"]
    if answer is not None and "refused" in answer:
        r = answer["refused"]
        raise ImportRefused(r["message"], file=r.get("file") or name, reason=r.get("reason", ""),
                            message_vi=r.get("message_vi", ""))
    err = proc.stderr[-4000:]
    if (proc.returncode in (EXIT_OUT_OF_MEMORY, -signal.SIGKILL)
            or b"memory allocation of" in err or b"MemoryError" in err):
        _refuse(name, "memory",
                f"not enough memory to read the file: the reader's limit is {_n(limits.memory_mb, 'en')} MB "
                "(imports.reader_memory_mb) and this workbook needs more, or is built to exhaust it. "
                "Save the sheet as CSV UTF-8 (or split the file) and import that",
                f"không đủ bộ nhớ để đọc tệp: giới hạn của bộ đọc là {_n(limits.memory_mb, 'vi')} MB "
                "(imports.reader_memory_mb) mà bảng tính này cần nhiều hơn, hoặc được tạo ra để làm cạn bộ nhớ. "
                "Hãy lưu trang tính dưới dạng CSV UTF-8 (hoặc chia nhỏ tệp) rồi nhập lại")
    if proc.returncode == -signal.SIGXCPU:
        _too_slow(name, limits)
    if answer is not None and "error" in answer:
        how = answer["error"]
    elif proc.returncode < 0:
        how = f"signal {signal.Signals(-proc.returncode).name}"
    else:
        how = f"exit status {proc.returncode}"
    _refuse(name, "reader_crashed",
            f"the workbook reader failed on this file ({how}): the file is damaged or built to crash "
            "readers; nothing was imported. Save it again from Excel, or as CSV UTF-8, and import it again",
            f"bộ đọc bảng tính gặp lỗi khi đọc tệp này ({how}): tệp bị hỏng hoặc được tạo ra để làm hỏng "
            "bộ đọc; chưa nhập gì. Hãy lưu lại tệp từ Excel hoặc dưới dạng CSV UTF-8 rồi nhập lại")


def _too_slow(name: str, limits: ReaderLimits) -> NoReturn:
    _refuse(name, "too_slow",
            f"reading the workbook took longer than {_n(limits.cpu_seconds, 'en')} s and was stopped; "
            "save the sheet as CSV UTF-8 (or split the file) and import that",
            f"đọc bảng tính quá {_n(limits.cpu_seconds, 'vi')} giây nên đã dừng; "
            "hãy lưu trang tính dưới dạng CSV UTF-8 (hoặc chia nhỏ tệp) rồi nhập lại")


def _limit_self(limits: ReaderLimits) -> None:
    import resource

    mem = limits.memory_mb << 20
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _child_main() -> None:
    """The child: limits, checks, the named function; one JSON answer on stdout."""
    import importlib

    request = json.loads(sys.stdin.buffer.read())
    limits = ReaderLimits(**request["limits"])
    out = sys.stdout
    try:
        _limit_self(limits)
        check_workbook(request["path"], request["name"], limits)
        module, _, fn = request["target"].partition(":")
        result = getattr(importlib.import_module(module), fn)(request["payload"])
        answer: dict[str, Any] = {"result": result}
    except MemoryError:
        os._exit(EXIT_OUT_OF_MEMORY)
    except ImportRefused as e:
        answer = {"refused": {"message": str(e), "message_vi": e.message_vi, "reason": e.reason, "file": e.file}}
    except Exception as e:  # noqa: BLE001 - any other failure is the file's: said, never a traceback
        # the type and a bounded excerpt only: an exception's text may quote a cell
        answer = {"error": f"{type(e).__name__}: {str(e)[:200]}"}
    try:
        out.write(json.dumps(answer, ensure_ascii=False))
        out.flush()
    except MemoryError:
        os._exit(EXIT_OUT_OF_MEMORY)
