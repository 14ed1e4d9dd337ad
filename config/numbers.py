"""Numbers as their readers write them: Vietnamese groups thousands with dots and writes decimals
with a comma ("3.251", "89,66 %"); English the other way round ("3,251", "89.66%")."""
from __future__ import annotations


def number(v: float, digits: int = 0, lang: str = "vi") -> str:
    """`v` with `digits` decimals, grouped, in `lang`'s way ("vi" or "en")."""
    s = f"{float(v):,.{digits}f}"
    return s.replace(",", "\x00").replace(".", ",").replace("\x00", ".") if lang == "vi" else s


NBSP = "\u00a0"  # between a number and its unit: "89,66 %" never breaks across lines


def percent(ratio: float, digits: int = 1, lang: str = "vi") -> str:
    """A share as a percentage: 0.8966 → "89,66 %" (vi, 2 digits) / "89.66%" (en)."""
    return number(100 * float(ratio), digits, lang) + (NBSP + "%" if lang == "vi" else "%")
