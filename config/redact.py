"""Masking of values shaped like a citizen's ID number or a Vietnamese phone number.

Personal-data columns are dropped when a file is read; this catches the same data typed into any
other field (a phone in a date column, an ID number in a note), wherever a value from a file is
shown or kept: the quarantine, import reports, the archive's copies, the log files.

Shapes, as a whole value or as a token between spaces or punctuation (never inside a longer
run of letters, digits or the separators of a dossier code: `.` `-` `/` `_`):
- a 12-digit citizen ID (CCCD) or a 9-digit old ID (CMND): `079203001234` -> `0*********34`;
- a phone number, 0 or +84 followed by 9 digits, with or without spaces or dots:
  `0905 123 456` -> `0*******56`, `+84905123456` -> `+84*******56`.
The first digit (or +84) and the last two are kept, so an official can match the row with the
file, without the number itself being kept.

One set of patterns serves Python (`mask_text`) and DuckDB (`sql_mask`): they use only syntax
both regular-expression engines read the same way (no look-around: the boundaries are captured
and written back, and each pattern runs twice so that two numbers separated by one character are
both masked).
"""
from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path

# Characters that end a token. Not letters or digits, and not the separators inside dossier codes
# and dates (. - / _) nor + (a phone's +84) nor * (an already masked value).
_BOUND = "[ \t\r\n\u00a0,;:()\\[\\]{}<>'\"|=!?#&]"
_LEFT = f"(^|{_BOUND})"
# a sentence may end right after the number: "gọi 0905123456."
_RIGHT = f"({_BOUND}|\\.{_BOUND}|\\.$|$)"

# (pattern, replacement); the replacement keeps the boundaries (\1 and the last group).
RULES: tuple[tuple[str, str], ...] = (
    (_LEFT + r"(\+84|0)(?:[ .]?[0-9]){7}[ .]?([0-9])[ .]?([0-9])" + _RIGHT, r"\1\2*******\3\4\5"),
    (_LEFT + r"([0-9])[0-9]{9}([0-9]{2})" + _RIGHT, r"\1\2*********\3\4"),
    (_LEFT + r"([0-9])[0-9]{6}([0-9]{2})" + _RIGHT, r"\1\2******\3\4"),
)
_COMPILED = tuple((re.compile(p), r) for p, r in RULES)
# Every shape has nine digits or more, at most one space or dot apart: text without such a run
# is left as it is without running the patterns (most of an import's text: names, dates, codes).
HINT = r"[0-9](?:[ .]?[0-9]){8}"
_HINT = re.compile(HINT)


def mask_text(text: str | None) -> str | None:
    """`text` with every ID- or phone-shaped token masked; None stays None."""
    if not text or not isinstance(text, str) or not _HINT.search(text):
        return text
    for rx, repl in _COMPILED:
        text = rx.sub(repl, rx.sub(repl, text))
    return text


def mask_value(v: object) -> object:
    """A text value masked, anything else (numbers, dates, None) unchanged."""
    return mask_text(v) if isinstance(v, str) else v


def mask_data(v: object) -> object:
    """Every text inside dicts, lists and tuples masked (an import report as data)."""
    if isinstance(v, str):
        return mask_text(v)
    if isinstance(v, dict):
        return {k: mask_data(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return type(v)(mask_data(x) for x in v)
    return v


def sql_mask(expr: str) -> str:
    """A DuckDB expression: the VARCHAR expression `expr` masked as `mask_text` masks it."""

    def lit(s: str) -> str:
        return "'" + s.replace("'", "''") + "'"

    out = expr
    for pattern, repl in RULES:
        for _ in range(2):
            out = f"regexp_replace({out}, {lit(pattern)}, {lit(repl)}, 'g')"
    return f"CASE WHEN regexp_matches({expr}, {lit(HINT)}) THEN {out} ELSE {expr} END"


# -- logs -----------------------------------------------------------------------------------------
class RedactFilter(logging.Filter):
    """Masks the shapes above in a record's message, its exception text and its stack, before any
    handler writes it. Installed on the handlers of the project's log files."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is logged as it is
            msg = str(record.msg)
        record.msg, record.args = mask_text(msg), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True


class _PrivateFileHandler(logging.FileHandler):
    """A FileHandler whose file, created on the first record, is readable by its owner only (a log
    names files, users and what failed)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, encoding="utf-8", delay=True)

    def _open(self):  # noqa: ANN202 - logging.FileHandler's own hook
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.fchmod(fd, 0o600)
        except OSError:  # a file of another user's: written as it is
            pass
        return open(fd, "a", encoding=self.encoding, errors=self.errors)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        # a log that cannot be written (a full disk) must not add its own traceback to the
        # command's plain message, nor stop it
        pass

    def close(self) -> None:
        try:
            super().close()
        except OSError:  # the last flush on a full disk
            pass


class _Stderr(logging.StreamHandler):
    """Python's last-resort output (the message on stderr), masked; sys.stderr as it is now."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):  # noqa: ANN201
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:  # StreamHandler.__init__ sets it
        pass

    def filter(self, record: logging.LogRecord) -> bool:
        # a record meant for the file alone (its console already shows a plainer message)
        return getattr(record, "console", True) and super().filter(record)


def file_handler(path: Path | str, level: int = logging.WARNING) -> logging.Handler:
    """A handler appending to the log file `path` (UTF-8, mode 0600) with the RedactFilter."""
    h = _PrivateFileHandler(Path(path))
    h.setLevel(level)
    h.setFormatter(logging.Formatter("--- %(asctime)s %(name)s %(levelname)s\n%(message)s"))
    h.addFilter(RedactFilter())
    return h


def install(path: Path | str, logger: str = "motcua", level: int = logging.WARNING) -> logging.Handler:
    """Send `logger`'s records of `level` and above to the log file `path`, masked, and their
    message to stderr, masked too (what Python prints for a logger without handlers). A second
    call replaces the first (a process runs one configuration at a time). The logger's own level
    is left as it is."""
    lg = logging.getLogger(logger)
    uninstall(logger)
    h = file_handler(path, level)
    err = _Stderr()
    err.setLevel(level)
    err.addFilter(RedactFilter())
    for x in (h, err):
        x._motcua_redact = True  # type: ignore[attr-defined]
        lg.addHandler(x)
    return h


def uninstall(logger: str = "motcua") -> None:
    """Remove what `install` added (a command that ran in a process that goes on)."""
    lg = logging.getLogger(logger)
    for old in [h for h in lg.handlers if getattr(h, "_motcua_redact", False)]:
        lg.removeHandler(old)
        old.close()


def log_exception(path: Path | str, header: str) -> None:
    """Append the exception being handled, with `header`, to the log file `path`, masked (for a
    process that has no log handler of its own: a command's unexpected failure, a page's)."""
    h = file_handler(path, logging.ERROR)
    try:
        h.handle(logging.LogRecord("motcua", logging.ERROR, __file__, 0, "%s", (header,), sys.exc_info()))
    finally:
        h.close()
