"""What a monthly briefing is: its figures (`Briefing`, with the letterhead of the issuing office)
and its content as format-neutral blocks (headings, paragraphs, tables, charts, page breaks).

reports/briefing/collect.py fills a Briefing from the store, reports/briefing/document.py turns it
into blocks, and the renderers (reports/render_docx.py, render_pdf.py, render_xlsx.py) lay out
these: they read this module and the labels, never the store.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from config.errors import MotcuaError
from config.vocabulary import BIEU06_COUNT_NAMES
from reports.briefing.labels import month_label

FORMATS = ("docx", "xlsx", "pdf")
MIME = {"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pdf": "application/pdf"}
COUNT_COLUMNS = list(BIEU06_COUNT_NAMES)
MAX_DOSSIER_ROWS = 100_000


class BriefingError(MotcuaError):
    """A request the briefing cannot serve (bad month, format or agency), in plain words."""


def parse_month(value: Any) -> dt.date:
    m = re.fullmatch(r"\s*(\d{4})-(\d{1,2})\s*", str(value or ""))
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise BriefingError(f"month {value!r}: expected YYYY-MM, e.g. 2026-10")
    return dt.date(int(m.group(1)), int(m.group(2)), 1)


def prev_month(m: dt.date) -> dt.date:
    return (m - dt.timedelta(days=1)).replace(day=1)


def month_str(m: dt.date) -> str:
    return f"{m.year:04d}-{m.month:02d}"


# -- settings --------------------------------------------------------------------------------------

@dataclass
class Letterhead:
    """Nghị định 30/2020/NĐ-CP header and signature block (from config: reports section)."""

    parent_body: str = "UBND TỈNH QUẢNG NGÃI"
    issuing_body: str = "VĂN PHÒNG"
    number: str = "Số:        /BC-VP"
    place: str = "Quảng Ngãi"
    province: str = "Quảng Ngãi"
    signer_title: str = "CHÁNH VĂN PHÒNG"
    signer_name: str = ""
    recipients: list[str] = field(default_factory=lambda: ["Chủ tịch, các PCT UBND tỉnh (để báo cáo);",
                                                           "Các sở, ban, ngành; UBND cấp xã;", "Lưu: VT, KSTT."])
    top: int = 10

    @classmethod
    def from_config(cls, cfg: Any | None) -> "Letterhead":
        if cfg is None:
            return cls()
        r = getattr(cfg, "reports", None)
        if r is None:
            return cls(province=getattr(cfg, "province", cls.province))
        return cls(parent_body=r.parent_body, issuing_body=r.issuing_body, number=r.number,
                   place=r.place or cfg.province, province=cfg.province, signer_title=r.signer_title,
                   signer_name=r.signer_name, recipients=list(r.recipients), top=r.top)


# -- the figures -----------------------------------------------------------------------------------

@dataclass
class Briefing:
    month: dt.date
    agency: str | None
    scope_name: str
    letterhead: Letterhead
    issued: dt.date
    as_of: Any
    now: dict[str, Any]                 # Biểu 06 total row of the month
    before: dict[str, Any]              # … of the month before
    series: list[dict[str, Any]]        # total rows of the last 12 months (oldest first)
    bieu06_agency: list[dict[str, Any]]  # Biểu 06 rows by agency (total first, roll-up, tree order)
    bieu06_field: list[dict[str, Any]]   # … by field
    own: list[dict[str, Any]]           # per agency, own dossiers only (no roll-up)
    ranking: list[dict[str, Any]]       # the scope's direct sub-units, best on-time ratio first
    overdue_agencies: list[dict[str, Any]]
    overdue_procedures: list[dict[str, Any]]
    overdue_dossiers: list[dict[str, Any]]
    audit_total: dict[str, Any]
    audit_agencies: list[dict[str, Any]]
    sync_systems: list[dict[str, Any]]
    sync_total: dict[str, Any]
    sync_agencies: list[dict[str, Any]]
    probe_total: dict[str, Any] | None
    probe_checks: list[dict[str, Any]]
    probe_daily: list[dict[str, Any]]
    incidents: list[dict[str, Any]]
    probe_titles: dict[str, str]
    loadtests: list[dict[str, Any]]     # loadtest_runs started in the month (oldest first), each with
                                        # criteria_total / criteria_passed / judged_at_users from loadtest_verdicts
    compliance: dict[str, Any] | None = None  # compliance.briefing_section for the month (province only)
    charts: dict[str, bytes] = field(default_factory=dict)
    score_denominator: str = "received_and_carried"  # of the 766 score (reports.score_766.denominator)
    findings_agencies: list[dict[str, Any]] = field(default_factory=list)  # audit rows with an engine finding
    refusals_overdue: bool = False      # refusals after the deadline count as resolved overdue (rule set)
    # dossiers due soon (config.vocabulary DUE_SOON_DAYS) as of the briefing's making (due_soon_by_agency,
    # due_soon): what can still be saved, whatever the month reported; None when the store cannot say
    due_soon_as_of: dt.datetime | None = None
    due_soon_agencies: list[dict[str, Any]] = field(default_factory=list)  # total first
    due_soon_dossiers: list[dict[str, Any]] = field(default_factory=list)  # most urgent first
    # the month-end forecast (month_forecast) of the month under way at the last recompute, whatever
    # the month reported: the total row first, then the scope's agencies in tree order
    forecast_month: dt.date | None = None
    forecast_rows: list[dict[str, Any]] = field(default_factory=list)
    # the 766 scorecard's estimate of the month (index766 with the rules of reports.index766): every
    # row (total first, tree order), the scope's direct sub-units as the ranking picks them (best
    # share of the measured maximum first), and for an agency the procedures that cost it the most
    # progress points (index766_losses, those that cost any)
    index766_rules: Any = None          # config.index766.Index766
    index766_file: str = "index766.yaml"
    index766_rows: list[dict[str, Any]] = field(default_factory=list)
    index766_agencies: list[dict[str, Any]] = field(default_factory=list)
    index766_losses: list[dict[str, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(int(self.now.get(c) or 0) for c in COUNT_COLUMNS)

    @property
    def label(self) -> str:
        return month_label(self.month)

    def filename(self, fmt: str) -> str:
        return f"{self.filename_for(month_str(self.month), self.agency)}.{fmt}"

    @staticmethod
    def filename_for(month: str, agency: str | None) -> str:
        """The file name without its extension: bao-cao-tthc-YYYY-MM[-AGENCY]."""
        scope = f"-{re.sub(r'[^A-Za-z0-9._-]+', '_', agency)}" if agency else ""
        return f"bao-cao-tthc-{month}{scope}"


# -- the document, format-neutral ------------------------------------------------------------------

@dataclass
class Heading:
    text: str
    level: int = 1


@dataclass
class Para:
    text: str
    italic: bool = False
    bold: bool = False
    align: str = "justify"


@dataclass
class TableBlock:
    columns: list[str]
    rows: list[list[str]]
    widths: list[float]                  # relative
    align: list[str] = field(default_factory=list)   # 'left' | 'right' | 'center' per column
    groups: list[tuple[str, int]] | None = None      # a first header row of spanning titles
    bold_rows: set[int] = field(default_factory=set)
    font_size: float = 11
    number_row: bool = False             # a row (1) (2) … under the header, as in official forms


@dataclass
class Image:
    png: bytes
    width_cm: float
    caption: str


@dataclass
class PageBreak:
    landscape: bool = False


def issued_line(b: Briefing) -> str:
    """Place and date as Nghị định 30/2020 writes them: a 0 before days under 10 and months under 3
    ("ngày 05 tháng 02 năm 2026", "ngày 15 tháng 6 năm 2026")."""
    d = b.issued
    month = f"{d.month:02d}" if d.month < 3 else str(d.month)
    return f"{b.letterhead.place}, ngày {d.day:02d} tháng {month} năm {d.year}"


def title_lines(b: Briefing) -> list[str]:
    second = f"Tình hình, kết quả giải quyết thủ tục hành chính tháng {b.label}"
    if b.agency:
        second += f" của {b.scope_name}"
    return ["BÁO CÁO", second]
