"""Errors raised by the import, with messages meant for the operator (no stack traces)."""
from __future__ import annotations

from config.errors import MotcuaError


class ImportRefused(MotcuaError):
    """The file as a whole cannot be imported (wrong encoding, empty, missing columns, ...).

    Nothing was written to the store. The message names the file and says what to do;
    `message_vi` is the same in Vietnamese where one was written (else empty).
    """

    def __init__(self, message: str, *, file: str = "", reason: str = "", message_vi: str = "") -> None:
        super().__init__(message)
        self.file = file
        self.reason = reason  # short machine-readable code: empty, binary, encoding, columns, ...
        self.message_vi = message_vi
