"""The open export of the store (backup/export.py over store/data_export.py), on a real store file
filled by the real import, recompute and probe writes: files read back with DuckDB against the
store, the internal tables left out, the README naming every column, CSV cells safe for
spreadsheets with numbers left as numbers, the manifest's hashes, schema.sql loading the files into
an empty database, one snapshot while another cursor writes, and nothing left by a refusal or a
failure."""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
from pathlib import Path

import duckdb
import pytest

from backup import export as backup_export
from backup.export import DESCRIPTIONS, ExportRefused, export_data
from probes.runner import ProbeResult
from store import data_export
from store.data_export import INTERNAL_COLUMNS, INTERNAL_TABLES
from store.db import SCHEMA_VERSION
from store.probe_writes import write_results

NOW = dt.datetime(2026, 3, 20, 10, 30)
HEADER = ("dossier_code,agency_code,agency_name,procedure_code,procedure_name,field,channel,received_at,"
          "time_limit,time_unit,state,finished_at")
ROWS = [
    '"D1","EV1","=1+2","P1","-2x","@f","online","2026-03-02 09:00","2","working_days","finished","2026-03-10 10:00"',
    '"D2","S1","Sở Tư pháp","P2","Đăng ký khai sinh","Hộ tịch","direct","2026-03-03 09:00","5","working_days",'
    '"processing",""',
    '"D3","S1","Sở Tư pháp","P2","Đăng ký khai sinh","Hộ tịch","postal","2026-03-04 14:00","5","working_days",'
    '"finished","2026-03-05 08:00"',
]


@pytest.fixture
def built(app, tmp_path):
    """The app's store with three dossiers (one agency named "=1+2", a procedure "-2x"), a recompute,
    and a probe result whose certificate expired 3.5 days ago (a negative number)."""
    f = tmp_path / "export.csv"
    f.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    assert app.import_file(str(f))["inserted"] == 3
    app.recompute("2026-03-20")
    write_results(app.store, [ProbeResult(name="-expired-cert", kind="check", step="", ok=False,
                                          started_at=dt.datetime(2026, 3, 20, 9, 0), reason="=HYPERLINK(1)",
                                          total_ms=12.5, cert_days_left=-3.5, url="https://127.0.0.1/")],
                  now=dt.datetime(2026, 3, 20, 9, 0))
    return app


def _export(app, out: Path, fmt: str) -> dict:
    cur = app.store.cursor()
    try:
        return export_data(cur, out, fmt, NOW)
    finally:
        cur.close()


def _store_rows(app, sql: str) -> list:
    cur = app.store.cursor()
    try:
        return cur.execute(sql).fetchall()
    finally:
        cur.close()


def test_parquet_gives_back_the_store(built, tmp_path):
    out = tmp_path / "analyst" / "export"
    summary = _export(built, out, "parquet")
    assert summary["out_dir"] == str(out) and summary["format"] == "parquet"
    assert summary["relations"]["dossiers"] == 3 and summary["relations"]["dossier_sla"] == 3
    assert sorted(p.name for p in out.iterdir()) == sorted(summary["files"])
    assert summary["bytes"] == sum(p.stat().st_size for p in out.iterdir())
    for rel, key in (("dossiers", "dossier_code"), ("dossier_sla", "dossier_code")):
        path = str(out / f"{rel}.parquet")
        exported = _store_rows(built, f"SELECT * FROM read_parquet($p) ORDER BY {key}".replace("$p", f"'{path}'"))
        # the facts the refresh keeps in each dossier's row are bookkeeping, left out
        left_out = f" EXCLUDE ({', '.join(INTERNAL_COLUMNS[rel])})" if rel in INTERNAL_COLUMNS else ""
        stored = _store_rows(built, f"SELECT *{left_out} FROM {rel} ORDER BY {key}")
        assert len(exported) == len(stored) == summary["relations"][rel] == 3
        # value for value (ENUMs come back as their text)
        assert [tuple(str(v) if isinstance(v, str) else v for v in r) for r in exported] == \
               [tuple(str(v) if isinstance(v, str) else v for v in r) for r in stored], rel
    # Parquet keeps text as it is: the formula-like name is a value, not a CSV cell
    names = dict(_store_rows(built, f"SELECT code, name FROM read_parquet('{out / 'agencies.parquet'}')"))
    assert names["EV1"] == "=1+2"
    statuses = dict(_store_rows(built, f"SELECT dossier_code, status FROM read_parquet('{out / 'dossier_sla.parquet'}')"))
    assert statuses == dict(_store_rows(built, "SELECT dossier_code, status FROM dossier_sla"))
    # every table of the store is there but the internal ones, and the internal ones are not
    tables = {r[0] for r in _store_rows(built, "SELECT table_name FROM duckdb_tables() WHERE database_name = "
                                               "current_database() AND schema_name = 'main'")}
    # (the 766 pre-counts exist once a running owner has kept them after a refresh)
    assert set(INTERNAL_TABLES) - {"index766_pre"} <= tables
    exported_names = set(summary["relations"])
    assert exported_names == (tables - set(INTERNAL_TABLES)) | {"dossier_sla"}
    for t in INTERNAL_TABLES:
        assert not list(out.glob(f"{t}.*"))
        assert f"### {t}\n" not in (out / "README.md").read_text(encoding="utf-8")


def test_readme_names_every_exported_column_and_describes_the_main_relations(built, tmp_path):
    out = tmp_path / "export"
    summary = _export(built, out, "parquet")
    readme = (out / "README.md").read_text(encoding="utf-8")
    sections = dict(re.findall(r"^### (\w+)\n(.*?)(?=^### |\Z)", readme, flags=re.S | re.M))
    assert set(sections) == set(summary["relations"])
    for rel in summary["relations"]:
        cols = [r[0] for r in _store_rows(built, f"DESCRIBE SELECT * FROM read_parquet('{out / (rel + '.parquet')}')")]
        assert cols, rel
        for c in cols:
            assert f"| `{c}` |" in sections[rel], (rel, c)
    assert "The dossier's code" in sections["dossiers"] and "first instant at which" in sections["dossier_sla"]
    for needed in ("dossiers", "dossier_sla", "dossier_events", "agencies", "procedures", "agency_month_stats",
                   "agency_month_audit", "agency_month_sync", "probe_results", "probe_runs", "loadtest_runs",
                   "compliance_events", "quarantine", "import_batches"):
        assert needed in DESCRIPTIONS
    # the README says what the export holds and leaves out, and how to read it
    assert "SELECT * FROM 'dossiers.parquet'" in readme and "pandas" in readme
    assert "personal data" in readme.lower() and all(f"`{t}`" in readme for t in INTERNAL_TABLES)
    assert all(f"`{c}`" in readme and f"| `{c}` |" not in readme for c in INTERNAL_COLUMNS["dossiers"])
    assert NOW.strftime("%Y-%m-%d %H:%M") in readme


def test_every_description_names_a_relation_and_columns_that_exist(built):
    """A description for a column renamed or dropped by a later migration fails here, not silently."""
    cur = built.store.cursor()
    try:
        with data_export.snapshot(cur):
            rels = {r.name: {c.name for c in r.columns} for r in data_export.relations(cur)}
    finally:
        cur.close()
    for rel, (_, columns) in DESCRIPTIONS.items():
        assert rel in rels, rel
        assert set(columns) <= rels[rel], (rel, set(columns) - rels[rel])


def test_csv_neutralises_formula_like_text_and_keeps_numbers(built, tmp_path):
    out = tmp_path / "csv"
    _export(built, out, "csv")

    def rows(name: str) -> list[dict]:
        raw = (out / f"{name}.csv").read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf")
        return list(csv.DictReader(raw.decode("utf-8").splitlines()))

    agencies = {r["code"]: r for r in rows("agencies")}
    assert agencies["EV1"]["name"] == "'=1+2" and agencies["S1"]["name"] == "Sở Tư pháp"
    procedures = {r["code"]: r for r in rows("procedures")}
    assert procedures["P1"]["name"] == "'-2x" and procedures["P1"]["field"] == "'@f"
    assert procedures["P2"]["name"] == "Đăng ký khai sinh"
    (probe,) = rows("probe_results")
    assert probe["name"] == "'-expired-cert" and probe["reason"] == "'=HYPERLINK(1)"
    assert probe["cert_days_left"] == "-3.5" and probe["total_ms"] == "12.5"   # numbers stay numbers
    dossiers = {r["dossier_code"]: r for r in rows("dossiers")}
    assert dossiers["D1"]["channel"] == "online" and dossiers["D1"]["received_at"] == "2026-03-02 09:00:00"
    assert dossiers["D1"]["time_limit"] == "2.0"
    # no text cell of any file starts like a formula
    for path in out.glob("*.csv"):
        for row in csv.reader(path.read_text(encoding="utf-8").splitlines()[1:]):
            for cell in row:
                assert not cell.startswith(("=", "+", "@", "\t", "\r")), (path.name, cell)
                if cell.startswith("-"):
                    float(cell)  # only a number may start with a minus
    # DuckDB reads the numbers back as numbers
    assert _store_rows(built, f"SELECT cert_days_left FROM read_csv('{out / 'probe_results.csv'}')") == [(-3.5,)]
    schema = (out / "schema.sql").read_text(encoding="utf-8")
    assert "COPY \"dossiers\" FROM 'dossiers.csv'" in schema and "apostrophe" in schema


def test_manifest_lists_every_file_with_its_hash(built, tmp_path):
    out = tmp_path / "export"
    summary = _export(built, out, "parquet")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format"] == "parquet" and manifest["created_at"] == "2026-03-20T10:30:00"
    assert manifest["schema_version"] == SCHEMA_VERSION == manifest["program_schema_version"]
    listed = {f["name"]: f for f in manifest["files"]}
    assert set(listed) | {"manifest.json"} == {p.name for p in out.iterdir()}
    for name, f in listed.items():
        data = (out / name).read_bytes()
        assert f["bytes"] == len(data) and f["sha256"] == hashlib.sha256(data).hexdigest(), name
    for rel, n in summary["relations"].items():
        assert listed[f"{rel}.parquet"]["rows"] == n
    assert listed["dossiers.parquet"]["rows"] == 3


def test_schema_sql_loads_the_files_into_an_empty_database(built, tmp_path):
    out = tmp_path / "export"
    summary = _export(built, out, "parquet")
    schema = (out / "schema.sql").read_text(encoding="utf-8")
    assert 'CREATE TYPE "dossier_state" AS ENUM' in schema and "CREATE SEQUENCE dossier_id_seq" in schema
    assert "sla_results" not in schema.split("Its definition in the store:")[0]
    con = duckdb.connect()
    con.execute(f"SET file_search_path = '{out}'")
    con.execute(schema)
    loads = [line[3:] for line in schema.splitlines() if line.startswith("-- COPY ")]
    assert len(loads) == len(summary["relations"])
    for stmt in loads:
        con.execute(stmt)
    for rel, n in summary["relations"].items():
        assert con.execute(f'SELECT count(*) FROM "{rel}"').fetchone()[0] == n, rel
    # the ENUMs are the store's named types, and the numbering goes on after the store's
    assert con.execute("SELECT data_type FROM duckdb_columns() WHERE table_name = 'dossiers' "
                       "AND column_name = 'state'").fetchone()[0].startswith("ENUM(")
    assert con.execute("SELECT nextval('dossier_id_seq')").fetchone()[0] == 4
    assert con.execute("SELECT name FROM agencies WHERE code = 'EV1'").fetchone()[0] == "=1+2"


def test_one_snapshot_while_another_cursor_writes(built, tmp_path, monkeypatch):
    """A dossier committed by another cursor while the export runs is in no file: every file is the
    store as it was when the export began."""
    copy = data_export.copy_relation
    written = []

    def copy_then_write(cur, rel, path, fmt):
        if not written:
            with built.store.transaction() as other:
                other.execute("INSERT INTO dossiers (dossier_code, agency_code, channel, received_at, time_unit, state) "
                              "VALUES ('LATE', 'S1', 'online', TIMESTAMP '2026-03-19 09:00', 'working_days', "
                              "'processing')")
                other.execute("UPDATE agencies SET name = 'renamed' WHERE code = 'S1'")
            written.append(rel.name)
        return copy(cur, rel, path, fmt)

    monkeypatch.setattr(data_export, "copy_relation", copy_then_write)
    out = tmp_path / "export"
    summary = _export(built, out, "parquet")
    assert written == ["agencies"]  # the write came after the first file's snapshot began
    assert _store_rows(built, "SELECT count(*) FROM dossiers") == [(4,)]
    assert summary["relations"]["dossiers"] == 3
    assert _store_rows(built, f"SELECT count(*) FROM read_parquet('{out / 'dossiers.parquet'}') "
                              "WHERE dossier_code = 'LATE'") == [(0,)]
    assert ("S1", "Sở Tư pháp") in _store_rows(built, f"SELECT code, name FROM read_parquet('{out / 'agencies.parquet'}')")


def test_a_folder_name_with_a_quote_is_a_path_not_sql(built, tmp_path):
    out = tmp_path / "it's'); DROP TABLE dossiers; --"
    summary = _export(built, out, "csv")
    assert (out / "dossiers.csv").exists() and summary["relations"]["dossiers"] == 3
    assert _store_rows(built, "SELECT count(*) FROM dossiers") == [(3,)]


def test_a_folder_holding_anything_is_refused_and_left_untouched(built, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("the analyst's own notes", encoding="utf-8")
    with pytest.raises(ExportRefused, match="not empty"):
        _export(built, out, "parquet")
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert (out / "notes.txt").read_text(encoding="utf-8") == "the analyst's own notes"
    a_file = tmp_path / "a-file"
    a_file.write_text("x", encoding="utf-8")
    with pytest.raises(ExportRefused, match="not a folder"):
        _export(built, a_file, "csv")
    assert a_file.read_text(encoding="utf-8") == "x"
    with pytest.raises(ValueError, match="unknown export format 'xlsx'"):
        _export(built, tmp_path / "new", "xlsx")
    assert sorted(p.name for p in tmp_path.iterdir() if "partial" in p.name or p.name == "new") == []
    # an empty folder is fine
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _export(built, empty, "csv")["relations"]["dossiers"] == 3


def test_a_failure_midway_leaves_no_folder_and_no_open_transaction(built, tmp_path, monkeypatch):
    copy = data_export.copy_relation
    done = []

    def failing(cur, rel, path, fmt):
        if len(done) == 3:
            raise RuntimeError("disk gone")
        done.append(copy(cur, rel, path, fmt))
        return done[-1]

    monkeypatch.setattr(data_export, "copy_relation", failing)
    out = tmp_path / "dest"
    cur = built.store.cursor()
    try:
        with pytest.raises(RuntimeError, match="disk gone"):
            export_data(cur, out, "parquet", NOW)
        assert len(done) == 3  # files were written before it failed
        assert not out.exists()
        assert not list(tmp_path.glob("dest*"))  # no partial folder beside it
        cur.execute("BEGIN TRANSACTION")  # refused if the export had left its transaction open
        cur.execute("ROLLBACK")
    finally:
        cur.close()
    # a later write and checkpoint are not held back by the failed export
    with built.store.transaction() as con:
        con.execute("UPDATE agencies SET name = 'after' WHERE code = 'S1'")
    assert built.store.checkpoint()


def test_a_failure_writing_the_readme_leaves_nothing_either(built, tmp_path, monkeypatch):
    def broken(*a, **k):
        raise OSError("no space left on device")

    monkeypatch.setattr(backup_export, "_readme", broken)
    with pytest.raises(OSError):
        _export(built, tmp_path / "dest", "csv")
    assert list(tmp_path.glob("dest*")) == []
