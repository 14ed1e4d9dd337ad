"""Dossier files into the store: checked and mapped (reader.py; workbooks read in a child process,
workbook.py), staged and validated in DuckDB (staging.py), written in one transaction
(dossiers.py). The watch folder (inbox.py) and the archive of what is kept of a file (archive.py)
run on top; sample.py writes synthetic files for tests and benchmarks."""
