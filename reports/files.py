"""The monthly briefing as files: each format rendered from the briefing's content.

`build(ops, "2026-10", "pdf", agency=None, cfg=cfg) -> (filename, bytes)`, `build_all` for several
formats with the store read once, `build_report` for one file with what a page says about it. The
content (reports/briefing/) knows nothing of the renderers, which read its model.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from config.cells import ILLEGAL_CHARACTERS_RE
from reports.briefing.collect import Ops, collect
from reports.briefing.document import document
from reports.briefing.model import FORMATS, MIME, Briefing, BriefingError, month_str
from reports.render_docx import render_docx
from reports.render_pdf import render_pdf
from reports.render_xlsx import render_xlsx


def render(b: Briefing, fmt: str) -> bytes:
    if fmt == "docx":
        return render_docx(b, _printable(document(b)))
    if fmt == "pdf":
        return render_pdf(b, _printable(document(b)))
    if fmt == "xlsx":
        return render_xlsx(b)
    raise BriefingError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}")


def _printable(blocks: list[Any]) -> list[Any]:
    """The blocks with the control characters an imported name may carry left out: a document's
    XML cannot hold them (python-docx refuses the whole briefing for one)."""
    def clean(v: Any) -> Any:
        if isinstance(v, str):
            return ILLEGAL_CHARACTERS_RE.sub("", v)
        if isinstance(v, list):
            return [clean(x) for x in v]
        if isinstance(v, tuple):
            return tuple(clean(x) for x in v)
        return v

    out = []
    for blk in blocks:
        if dataclasses.is_dataclass(blk):
            blk = dataclasses.replace(blk, **{f.name: clean(getattr(blk, f.name)) for f in dataclasses.fields(blk)
                                              if f.init and not isinstance(getattr(blk, f.name), bytes)})
        out.append(blk)
    return out


def _check_formats(formats: list[str] | tuple[str, ...]) -> list[str]:
    out = []
    for f in formats:
        f = str(f).lower().lstrip(".")
        if f not in FORMATS:
            raise BriefingError(f"format {f!r}: expected one of {', '.join(FORMATS)}")
        out.append(f)
    return out


def build_all(ops: Ops, month: str, formats: list[str] | tuple[str, ...] = FORMATS, agency: str | None = None,
              cfg: Any | None = None, issued: dt.date | None = None) -> list[tuple[str, bytes]]:
    """The briefing in several formats: [(filename, bytes)], the store read once."""
    fmts = _check_formats(formats)
    b = collect(ops, month, agency, cfg, issued)
    if any(f in ("docx", "pdf") for f in fmts):
        from reports.charts import draw_charts

        b.charts = draw_charts(b)
    return [(b.filename(f), render(b, f)) for f in fmts]


@dataclass
class Report:
    """One generated file and what a page needs to say about it."""

    filename: str
    data: bytes
    fmt: str
    month: str
    agency: str | None
    scope_name: str
    empty: bool                          # no dossier received, resolved or pending in the scope that month

    @property
    def mime(self) -> str:
        return MIME[self.fmt]


def build_report(ops: Ops, month: str, fmt: str, agency: str | None = None, cfg: Any | None = None) -> Report:
    """One format of the month's briefing with its file name, scope and whether the month was empty."""
    (f,) = _check_formats([fmt])
    b = collect(ops, month, agency, cfg)
    if f in ("docx", "pdf"):
        from reports.charts import draw_charts

        b.charts = draw_charts(b)
    return Report(b.filename(f), render(b, f), f, month_str(b.month), b.agency, b.scope_name, b.empty)


def build(ops: Ops, month: str, fmt: str, agency: str | None = None, cfg: Any | None = None) -> tuple[str, bytes]:
    """One format of the month's briefing: (file name, file bytes). See the module docstring."""
    return build_all(ops, month, [fmt], agency, cfg)[0]
