"""The briefing as a PDF (fpdf2), the same blocks as the DOCX.

Font: DejaVu Serif, the TTF files matplotlib ships (so a fresh machine with only pip has them),
embedded as subsets. Times New Roman, the font Nghị định 30/2020/NĐ-CP names, is a proprietary
font that is not on a Linux machine and may not be redistributed with the project; DejaVu Serif
is a free serif font that covers every Vietnamese letter with its diacritics (precomposed glyphs).
"""
from __future__ import annotations

import io
from importlib.resources import files
from typing import Any

from fpdf import FPDF
from fpdf.fonts import FontFace

from reports.briefing.model import Briefing, Heading, Image, PageBreak, Para, TableBlock, issued_line, title_lines

FAMILY = "DejaVuSerif"
FONT_DIR = files("matplotlib") / "mpl-data" / "fonts" / "ttf"
FONT_FILES = {"": "DejaVuSerif.ttf", "B": "DejaVuSerif-Bold.ttf", "I": "DejaVuSerif-Italic.ttf",
              "BI": "DejaVuSerif-BoldItalic.ttf"}
BODY_PT = 12  # DejaVu Serif is wider than Times New Roman: 12 pt sets about like Times 13 pt
ALIGN = {"left": "L", "right": "R", "center": "C", "justify": "J"}


class _Pdf(FPDF):
    def header(self) -> None:  # ND 30: page numbers centred at the top, none on the first page
        if self.page_no() > 1:
            self.set_font(FAMILY, "", 10)
            self.set_y(8)
            self.cell(0, 5, str(self.page_no()), align="C")
            self.set_y(self.t_margin)


def _pdf() -> _Pdf:
    pdf = _Pdf(orientation="P", unit="mm", format="A4")
    for style, name in FONT_FILES.items():
        pdf.add_font(FAMILY, style, str(FONT_DIR / name))
    pdf.set_margins(30, 20, 15)
    pdf.set_auto_page_break(True, margin=20)
    pdf.set_font(FAMILY, "", BODY_PT)
    return pdf


def _letterhead(pdf: FPDF, b: Briefing) -> None:
    lh = b.letterhead
    y0 = pdf.get_y()
    left_w, right_w = 62, pdf.epw - 62
    x0 = pdf.l_margin
    pdf.set_xy(x0, y0)
    pdf.set_font(FAMILY, "", 11)
    pdf.multi_cell(left_w, 5.5, lh.parent_body, align="C", new_x="LEFT", new_y="NEXT")
    pdf.set_font(FAMILY, "B", 11)
    pdf.multi_cell(left_w, 5.5, lh.issuing_body, align="C", new_x="LEFT", new_y="NEXT")
    pdf.line(x0 + left_w / 2 - 10, pdf.get_y() + 0.5, x0 + left_w / 2 + 10, pdf.get_y() + 0.5)
    pdf.set_y(pdf.get_y() + 2)
    pdf.set_x(x0)
    pdf.set_font(FAMILY, "", 11)
    pdf.multi_cell(left_w, 5.5, lh.number, align="C", new_x="LEFT", new_y="NEXT")
    y_left = pdf.get_y()
    xr = x0 + left_w
    pdf.set_xy(xr, y0)
    pdf.set_font(FAMILY, "B", 10.5)
    pdf.multi_cell(right_w, 5.5, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", align="C", new_x="LEFT", new_y="NEXT")
    pdf.set_font(FAMILY, "B", 11)
    pdf.multi_cell(right_w, 5.5, "Độc lập - Tự do - Hạnh phúc", align="C", new_x="LEFT", new_y="NEXT")
    w = pdf.get_string_width("Độc lập - Tự do - Hạnh phúc")
    mid = xr + right_w / 2
    pdf.line(mid - w / 2, pdf.get_y() + 0.5, mid + w / 2, pdf.get_y() + 0.5)
    pdf.set_xy(xr, pdf.get_y() + 2)
    pdf.set_font(FAMILY, "I", 11)
    pdf.multi_cell(right_w, 5.5, issued_line(b), align="C", new_x="LEFT", new_y="NEXT")
    pdf.set_xy(x0, max(y_left, pdf.get_y()) + 8)
    first, second = title_lines(b)
    pdf.set_font(FAMILY, "B", 13)
    pdf.multi_cell(0, 6.5, first, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 6.5, second, align="C", new_x="LMARGIN", new_y="NEXT")
    y = pdf.get_y() + 1
    pdf.line(pdf.l_margin + pdf.epw / 2 - 15, y, pdf.l_margin + pdf.epw / 2 + 15, y)
    pdf.ln(6)


def _signature(pdf: FPDF, b: Briefing) -> None:
    lh = b.letterhead
    if pdf.will_page_break(45):
        pdf.add_page()
    pdf.ln(4)
    y0, x0 = pdf.get_y(), pdf.l_margin
    lw = pdf.epw * 0.5
    pdf.set_font(FAMILY, "BI", 11)
    pdf.multi_cell(lw, 5, "Nơi nhận:", new_x="LEFT", new_y="NEXT")
    pdf.set_font(FAMILY, "", 10)
    for r in lh.recipients:
        pdf.multi_cell(lw, 4.5, f"- {r}", new_x="LEFT", new_y="NEXT")
    pdf.set_xy(x0 + lw, y0)
    pdf.set_font(FAMILY, "B", 12)
    pdf.multi_cell(pdf.epw - lw, 6, lh.signer_title, align="C", new_x="LEFT", new_y="NEXT")
    pdf.ln(22)
    pdf.set_x(x0 + lw)
    pdf.multi_cell(pdf.epw - lw, 6, lh.signer_name or " ", align="C", new_x="LMARGIN", new_y="NEXT")


def _table(pdf: FPDF, tb: TableBlock) -> None:
    size = tb.font_size - 1 if tb.font_size > 8 else tb.font_size - 1.5
    pdf.set_font(FAMILY, "", size)
    aligns = tuple(ALIGN[a] for a in (tb.align or ["left"] * len(tb.columns)))
    heading_rows = (2 if tb.groups else 1) + (1 if tb.number_row else 0)
    bold = FontFace(emphasis="BOLD")
    line_h = size * 0.48
    with pdf.table(col_widths=tb.widths, text_align=aligns, num_heading_rows=heading_rows, line_height=line_h,
                   padding=(0.6, 0.8), headings_style=FontFace(emphasis="BOLD"), width=pdf.epw) as t:
        if tb.groups:
            r1 = t.row()
            for title, span in tb.groups:
                if span == 1:
                    r1.cell(title, align="C", rowspan=2)
                else:
                    r1.cell(title, align="C", colspan=span)
            r2 = t.row()
            col = 0
            for _title, span in tb.groups:
                if span > 1:
                    for j in range(col, col + span):
                        r2.cell(tb.columns[j], align="C")
                col += span
        else:
            r = t.row()
            for c in tb.columns:
                r.cell(c, align="C")
        if tb.number_row:
            r = t.row()
            for j in range(len(tb.columns)):
                r.cell(f"({j + 1})", align="C", style=FontFace(emphasis="ITALICS"))
        for i, row in enumerate(tb.rows):
            r = t.row()
            for v in row:
                r.cell(v, style=bold if i in tb.bold_rows else None)
    pdf.ln(3)


def render_pdf(b: Briefing, blocks: list[Any]) -> bytes:
    pdf = _pdf()
    pdf.set_title(" ".join(title_lines(b)))
    pdf.set_author(b.letterhead.issuing_body)
    pdf.set_lang("vi-VN")
    pdf.set_creator("motcua-watch")
    pdf.add_page()
    _letterhead(pdf, b)
    signed = False
    for blk in blocks:
        if isinstance(blk, Heading):
            if pdf.will_page_break(20):
                pdf.add_page()
            pdf.set_font(FAMILY, "B", BODY_PT)
            indent = 8 if blk.level > 1 else 0
            pdf.set_x(pdf.l_margin + indent)
            pdf.multi_cell(pdf.epw - indent, 6, blk.text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1.5)
        elif isinstance(blk, Para):
            if blk.italic and pdf.will_page_break(30):  # a table's caption stays with its table
                pdf.add_page()
            style = ("B" if blk.bold else "") + ("I" if blk.italic else "")
            pdf.set_font(FAMILY, style, BODY_PT if blk.align == "justify" else BODY_PT - 1)
            pdf.multi_cell(0, 6, blk.text, align=ALIGN[blk.align], new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1.5)
        elif isinstance(blk, TableBlock):
            _table(pdf, blk)
        elif isinstance(blk, Image):
            w = min(blk.width_cm * 10, pdf.epw)
            from PIL import Image as PILImage

            with PILImage.open(io.BytesIO(blk.png)) as im:
                h = w * im.height / im.width
            if pdf.will_page_break(h + 10):
                pdf.add_page()
            pdf.image(io.BytesIO(blk.png), x=pdf.l_margin + (pdf.epw - w) / 2, w=w)
            pdf.set_font(FAMILY, "I", 10)
            pdf.multi_cell(0, 5, blk.caption, align="C", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
        elif isinstance(blk, PageBreak):
            if not signed:
                _signature(pdf, b)
                signed = True
            if blk.landscape:
                pdf.set_margins(20, 15, 15)
                pdf.add_page(orientation="L")
            else:
                pdf.add_page()
    if not signed:
        _signature(pdf, b)
    return bytes(pdf.output())
