"""What the register's actions and its spreadsheet reader share: the refusal and text folding."""
from __future__ import annotations

import unicodedata

from store.errors import StoreError


class ComplianceRefused(StoreError):
    """A change the register refuses (no evidence, unknown request, bad value). Plain message."""


def fold(text: str) -> str:
    """Text compared without case, diacritics or repeated spaces ("Sở Tư pháp" = "so tu phap")."""
    t = unicodedata.normalize("NFD", str(text).replace("Đ", "D").replace("đ", "d"))
    return " ".join("".join(c for c in t if not unicodedata.combining(c)).lower().split())
