"""The briefing as a Word document in the layout of Nghị định 30/2020/NĐ-CP (python-docx).

A4, margins top/bottom 20 mm, left 30 mm, right 15 mm; Times New Roman 13 pt body; the header
(issuing body / national motto), the number and place-date line, the title, the body, the
recipients and signature block; the Biểu 06 appendix on a landscape page.
"""
from __future__ import annotations

import io
from typing import Any

from docx import Document
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Mm, Pt
from docx.table import _Cell

from reports.briefing.model import Briefing, Heading, Image, PageBreak, Para, TableBlock, issued_line, title_lines

FONT = "Times New Roman"
BODY_PT = 13
ALIGN = {"left": WD_ALIGN_PARAGRAPH.LEFT, "right": WD_ALIGN_PARAGRAPH.RIGHT,
         "center": WD_ALIGN_PARAGRAPH.CENTER, "justify": WD_ALIGN_PARAGRAPH.JUSTIFY}


def _font(run, size: float | None = None, bold: bool | None = None, italic: bool | None = None,
          underline: bool | None = None) -> None:
    run.font.name = FONT
    rpr = run._element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for k in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        fonts.set(qn(k), FONT)
    if size:
        run.font.size = Pt(size)
    if bold:  # only what differs from the style (each property set costs an XML look-up)
        run.bold = True
    if italic:
        run.italic = True
    if underline:
        run.underline = True


def _para(container, text: str, size: float = BODY_PT, bold: bool = False, italic: bool = False,
          align: str = "justify", underline: bool = False, space_after: float = 6, indent: bool = False):
    p = container.add_paragraph()
    p.alignment = ALIGN[align]
    pf = p.paragraph_format
    pf.space_after = Pt(space_after)
    pf.space_before = Pt(0)
    if indent:
        pf.first_line_indent = Cm(1.0)
    _font(p.add_run(text), size, bold, italic, underline)
    return p


def _cell_text(cell, text: str, size: float, bold: bool = False, italic: bool = False, align: str = "left") -> None:
    p = cell.paragraphs[0]
    p.alignment = ALIGN[align]
    cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    p.paragraph_format.space_after = Pt(0)
    _font(p.add_run(text), size, bold, italic)


def _widths(table, widths) -> None:
    """Column widths on the grid and on every cell (Word reads the cells, LibreOffice the grid)."""
    table.autofit = False
    for j, w in enumerate(widths):
        table.columns[j].width = w
        for cell in table.columns[j].cells:
            cell.width = w


def _no_borders(table) -> None:
    tbl_pr = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), "nil")
        borders.append(el)
    tbl_pr.append(borders)


def _repeat_header(row) -> None:
    tr_pr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    tr_pr.append(el)


def _letterhead(doc, b: Briefing) -> None:
    lh = b.letterhead
    t = doc.add_table(rows=1, cols=2)
    _no_borders(t)
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    _widths(t, [Cm(6.5), Cm(9.5)])
    left, right = t.rows[0].cells
    _cell_text(left, lh.parent_body, 13, align="center")
    _para(left, lh.issuing_body, 13, bold=True, align="center", space_after=0)
    _para(left, "―――――", 9, align="center", space_after=2)
    _para(left, lh.number, 13, align="center", space_after=0)
    _cell_text(right, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", 12, bold=True, align="center")
    _para(right, "Độc lập - Tự do - Hạnh phúc", 13, bold=True, align="center", space_after=0)
    _para(right, "―――――――――――", 9, align="center", space_after=2)
    _para(right, issued_line(b), 13, italic=True, align="center", space_after=0)
    first, second = title_lines(b)
    _para(doc, "", 6, space_after=6)
    _para(doc, first, 14, bold=True, align="center", space_after=0)
    _para(doc, second, 14, bold=True, align="center", space_after=2)
    _para(doc, "―――――――", 9, align="center", space_after=10)


def _signature(doc, b: Briefing) -> None:
    lh = b.letterhead
    t = doc.add_table(rows=1, cols=2)
    _no_borders(t)
    _widths(t, [Cm(8.5), Cm(7.5)])
    left, right = t.rows[0].cells
    _cell_text(left, "Nơi nhận:", 12, bold=True, italic=True)
    for r in lh.recipients:
        _para(left, f"- {r}", 11, align="left", space_after=0)
    _cell_text(right, lh.signer_title, 13, bold=True, align="center")
    _para(right, "", 13, space_after=48)
    _para(right, lh.signer_name, 13, bold=True, align="center", space_after=0)


def _row_cells(table, row) -> list:
    """A row's cells straight from its XML (python-docx's row.cells re-reads the whole table)."""
    return [_Cell(tc, table) for tc in row._tr.tc_lst]


def _table(doc, tb: TableBlock) -> None:
    ncol = len(tb.columns)
    header_rows = 2 if tb.groups else 1
    t = doc.add_table(rows=header_rows, cols=ncol)
    t.style = "Table Grid"
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    t.autofit = False
    # widths, relative to the text width: on the grid (LibreOffice) and on each cell (Word);
    # rows added below take their cells' widths from the grid
    total = sum(tb.widths)
    section = doc.sections[-1]
    avail = section.page_width - section.left_margin - section.right_margin
    widths = [int(avail * w / total) for w in tb.widths]
    for j, w in enumerate(widths):
        t.columns[j].width = w
    for r in t.rows:
        for j, c in enumerate(_row_cells(t, r)):
            c.width = widths[j]
    size = tb.font_size
    if tb.groups:
        col = 0
        for title, span in tb.groups:
            top = t.cell(0, col)
            if span == 1:  # a title spanning both header rows
                top = top.merge(t.cell(1, col))
            else:
                top = top.merge(t.cell(0, col + span - 1))
            _cell_text(top, title, size, bold=True, align="center")
            if span > 1:
                for j in range(col, col + span):
                    _cell_text(t.cell(1, j), tb.columns[j], size, bold=True, align="center")
            col += span
    else:
        for j, c in enumerate(tb.columns):
            _cell_text(t.cell(0, j), c, size, bold=True, align="center")
    for r in t.rows:
        _repeat_header(r)
    if tb.number_row:
        for j, c in enumerate(_row_cells(t, t.add_row())):
            _cell_text(c, f"({j + 1})", size, italic=True, align="center")
    aligns = tb.align or ["left"] * ncol
    for i, row in enumerate(tb.rows):
        for j, (c, v) in enumerate(zip(_row_cells(t, t.add_row()), row)):
            _cell_text(c, v, size, bold=i in tb.bold_rows, align=aligns[j])
    _para(doc, "", 4, space_after=4)


def _page_numbers(section) -> None:
    """ND 30: the page number centred at the top, none on the first page."""
    section.different_first_page_header_footer = True
    p = section.header.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = p.add_run()
    _font(run, 13)
    for kind, text in (("begin", None), (None, "PAGE"), ("end", None)):
        if kind:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        else:
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = text
        run._r.append(el)


def _landscape(doc) -> None:
    s = doc.add_section(WD_SECTION.NEW_PAGE)
    s.orientation = WD_ORIENT.LANDSCAPE
    s.different_first_page_header_footer = False  # numbered like the pages before it
    s.page_width, s.page_height = Mm(297), Mm(210)
    s.top_margin = s.bottom_margin = Mm(15)
    s.left_margin, s.right_margin = Mm(20), Mm(15)


def render_docx(b: Briefing, blocks: list[Any]) -> bytes:
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = FONT
    style.font.size = Pt(BODY_PT)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), FONT)
    core = doc.core_properties
    core.title = " ".join(title_lines(b))
    core.author = b.letterhead.issuing_body
    core.language = "vi-VN"
    s = doc.sections[0]
    s.page_width, s.page_height = Mm(210), Mm(297)
    s.top_margin = s.bottom_margin = Mm(20)
    s.left_margin, s.right_margin = Mm(30), Mm(15)
    _page_numbers(s)
    _letterhead(doc, b)
    signed = False
    for blk in blocks:
        if isinstance(blk, Heading):
            p = _para(doc, blk.text, BODY_PT, bold=True, align="left", space_after=6, indent=blk.level > 1)
            p.paragraph_format.keep_with_next = True
        elif isinstance(blk, Para):
            p = _para(doc, blk.text, BODY_PT, bold=blk.bold, italic=blk.italic, align=blk.align,
                      indent=blk.align == "justify")
            p.paragraph_format.keep_with_next = blk.italic  # a table's caption stays with its table
        elif isinstance(blk, TableBlock):
            _table(doc, blk)
        elif isinstance(blk, Image):
            p = doc.add_paragraph()
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
            p.add_run().add_picture(io.BytesIO(blk.png), width=Cm(blk.width_cm))
            _para(doc, blk.caption, 11, italic=True, align="center", space_after=10)
        elif isinstance(blk, PageBreak):
            if not signed:
                _signature(doc, b)
                signed = True
            if blk.landscape:
                _landscape(doc)
            else:
                doc.add_page_break()
    if not signed:
        _signature(doc, b)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
