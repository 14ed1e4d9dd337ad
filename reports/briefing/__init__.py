"""The monthly briefing's content: what it holds (model.py), how its figures are read from the
store (collect.py), what it says (document.py) and in which words and number formats (labels.py).

reports/files.py makes the files: `collect` reads the figures (named queries only, no SQL here)
into a `Briefing`; `document` turns it into format-neutral blocks (headings, paragraphs, tables,
charts), which reports/render_docx.py and reports/render_pdf.py lay out, so the DOCX and the PDF
say the same thing; reports/render_xlsx.py writes the spreadsheet form. The renderers read the
model and the labels only.
"""
