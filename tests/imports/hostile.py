"""A corpus of hostile files, generated (no binary is committed): what an attacker or a broken
exporter drops into the system. Each writer returns the path; sizes on disk are small except
`one_line` (50 MB)."""
from __future__ import annotations

import zipfile
from pathlib import Path

from config.mapping import BOOLEAN_COLUMNS, DOSSIER_COLUMNS, RATING_COLUMNS

# the header the hostile sheets carry: the columns every export has (21, A to U), not the optional ones
BASIC_COLUMNS = [c for c in DOSSIER_COLUMNS if c not in (*BOOLEAN_COLUMNS, *RATING_COLUMNS)]

_CT = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
       '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
       '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
       '<Default Extension="xml" ContentType="application/xml"/>'
       '<Override PartName="/xl/workbook.xml" '
       'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
       '<Override PartName="/xl/worksheets/sheet1.xml" '
       'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
         '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
         'officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WB = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
       '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
       'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
       '<sheets><sheet name="Danh sách" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WB_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'worksheet" Target="worksheets/sheet1.xml"/>{extra}</Relationships>')
_SST_REL = ('<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'sharedStrings" Target="sharedStrings.xml"/>')


def _col(n: int) -> str:
    s = ""
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def header_row(r: int = 1, refs: bool = True) -> str:
    """The canonical dossier header as inline-string cells: a sheet that would be imported."""
    cells = "".join(f'<c{f" r={chr(34)}{_col(i)}{r}{chr(34)}" if refs else ""} t="inlineStr"><is><t>{h}</t></is></c>'
                    for i, h in enumerate(BASIC_COLUMNS, 1))
    return f'<row r="{r}">{cells}</row>' if refs else f"<row>{cells}</row>"


def workbook(path: Path, rows: str, dimension: str | None = "A1:U2", shared_strings_mb: int = 0) -> Path:
    """A minimal XLSX: one sheet with `rows` (sheetData XML), its <dimension> as given."""
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    sheet = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             f"{dim}<sheetData>{rows}</sheetData></worksheet>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _CT)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("xl/workbook.xml", _WB)
        z.writestr("xl/_rels/workbook.xml.rels", _WB_RELS.format(extra=_SST_REL if shared_strings_mb else ""))
        z.writestr("xl/worksheets/sheet1.xml", sheet)
        if shared_strings_mb:
            # one shared string of blanks: packs at ~1000:1, as a compression bomb does
            with z.open("xl/sharedStrings.xml", "w", force_zip64=True) as f:
                f.write(b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
                        b'2006/main" count="1" uniqueCount="1"><si><t>')
                block = b" " * (1 << 20)
                for _ in range(shared_strings_mb):
                    f.write(block)
                f.write(b"</t></si></sst>")
    return path


def dimension_bomb(path: Path) -> Path:
    """5 KB: the header in row 1 and one value in the sheet's last cell, declared as such."""
    return workbook(path, header_row() + '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>',
                    dimension="A1:XFD1048576")


def lying_dimension(path: Path) -> Path:
    """The same cells, but the sheet declares A1:U2."""
    return workbook(path, header_row() + '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>',
                    dimension="A1:U2")


def unreferenced_bomb(path: Path) -> Path:
    """No `r` on the cells of the first row (calamine counts them: 16,384 columns) and a last row
    far down: the scan cannot bound it, the parse must."""
    wide = "<row>" + "<c><v>1</v></c>" * 16384 + "</row>"
    return workbook(path, wide + '<row r="1048576"><c r="A1048576"><v>1</v></c></row>', dimension=None)


def zip_bomb(path: Path, mb: int = 64) -> Path:
    """A sound sheet and a shared-strings part of `mb` MB of blanks packed at ~1000:1."""
    return workbook(path, header_row(), shared_strings_mb=mb)


def truncated(path: Path) -> Path:
    """A sound workbook cut in the middle (a download that stopped)."""
    good = good_workbook(path.with_name("whole-" + path.name))
    data = good.read_bytes()
    good.unlink()
    path.write_bytes(data[: len(data) // 2])
    return path


def duplicate_part(path: Path) -> Path:
    """A sound sheet, then a second part of the same name holding the dimension bomb's cells:
    a reader that takes the other one of the two would meet the bomb."""
    import warnings

    good_workbook(path)
    bomb = dimension_bomb(path.with_name("bomb-" + path.name))
    with zipfile.ZipFile(bomb) as z:
        sheet = z.read("xl/worksheets/sheet1.xml")
    bomb.unlink()
    with warnings.catch_warnings(), zipfile.ZipFile(path, "a") as z:
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name: it is the point
        z.writestr("xl/worksheets/sheet1.xml", sheet)
    return path


def one_line(path: Path, mb: int = 50) -> Path:
    """`mb` MB of comma-separated text with no line break."""
    with path.open("wb") as f:
        block = b"a," * (1 << 19)
        for _ in range(mb):
            f.write(block)
    return path


def ods_bomb(path: Path) -> Path:
    """1 KB of OpenDocument whose repeated cells ask for ~3 GB (6,000 rows × 16,384 columns with a
    value): no check of the XML bounds it, the reader's memory limit must."""
    content = ('<?xml version="1.0" encoding="UTF-8"?><office:document-content '
               'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
               'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
               'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
               '<office:body><office:spreadsheet><table:table table:name="S">'
               '<table:table-row table:number-rows-repeated="6000"><table:table-cell '
               'table:number-columns-repeated="16384" office:value-type="string"><text:p>x</text:p>'
               "</table:table-cell></table:table-row></table:table></office:spreadsheet></office:body>"
               "</office:document-content>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/manifest.xml",
                   '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
                   'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
                   '<manifest:file-entry manifest:full-path="/" '
                   'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
                   '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                   "</manifest:manifest>")
        z.writestr("content.xml", content)
    return path


GOOD_ROW = ["{code}", "STP", "Sở Tư pháp", "1.001", "Cấp phiếu lý lịch tư pháp", "Lý lịch tư pháp", "online",
            "2024-03-04 09:15:00", "10", "working_days"]


def good_workbook(path: Path, n: int = 3) -> Path:
    """A sound export written by openpyxl (as Excel writes them)."""
    from openpyxl import Workbook

    cols = list(DOSSIER_COLUMNS[:10]) + ["state"]
    wb = Workbook()
    ws = wb.active
    ws.title = "Danh sách"
    ws.append(cols)
    for i in range(n):
        ws.append([v.format(code=f"GOOD-{i}") for v in GOOD_ROW] + ["processing"])
    wb.save(path)
    return path


# name -> (writer, the refusal's reason code)
XLSX_CORPUS = {
    "dimension-bomb.xlsx": (dimension_bomb, "sparse"),
    "lying-dimension.xlsx": (lying_dimension, "sparse"),
    "unreferenced-bomb.xlsx": (unreferenced_bomb, "sparse"),
    "zip-bomb.xlsx": (zip_bomb, "zip_bomb"),
    "truncated.xlsx": (truncated, "workbook"),
    "duplicate-part.xlsx": (duplicate_part, "workbook"),
}
