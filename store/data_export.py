"""The open export of the store (`app.py export-data`): every SQL statement of it.

Which relations leave the store, their columns and types, the COPY of each into a Parquet or CSV
file, and the CREATE statements of their schema. The relations are read from DuckDB's catalog, so a
table added by a later migration is exported without anyone listing it; only what is left out is
listed. Everything is read on the caller's cursor inside one transaction (`snapshot`): the files are
one consistent state of the store while its owner goes on writing from other threads. The folder,
the README and the manifest are backup/export.py's.
"""
from __future__ import annotations

import re
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from config.cells import csv_cell_sql
from store.db import in_transaction
from store.dossier_facts import FACT_COLUMNS
from store.errors import StoreError

__all__ = ["FORMATS", "INTERNAL_TABLES", "EXPORTED_VIEWS", "Column", "Relation", "snapshot", "relations",
           "copy_relation", "schema_sql", "store_schema_version", "file_name"]

FORMATS = ("parquet", "csv")

# Left out: the recompute's own bookkeeping, numbers that mean nothing outside the program. The
# per-dossier results packed into keys (`sla_results`; the view `dossier_sla` gives them in readable
# columns), the key counts per agency the monthly tables are counted from (`sla_*_counts`; the
# `agency_month_*` tables are what they count to), the numberings those keys use (`sla_agencies`,
# `sla_sources`), which run wrote the counts (`dashboard_counts_state`), the digest of the
# dossiers' stored facts (`dossier_facts_state`) and the copies of some dossier rows the refresh
# reads (`cycle_dossiers`: the dossiers table holds them).
INTERNAL_TABLES = ("sla_results", "sla_month_counts", "sla_audit_counts", "sla_sync_counts", "sla_agencies",
                   "sla_sources", "dashboard_counts_state", "index766_pre", "index766_pre_stamp",
                   "dossier_facts_state", "cycle_dossiers")
# Columns left out of a table that is exported: the facts the refresh keeps in each dossier's row
# (store/dossier_facts.py), numbers of the same bookkeeping.
INTERNAL_COLUMNS = {"dossiers": FACT_COLUMNS}
# Views exported as data: the readable form of what an internal table holds.
EXPORTED_VIEWS = ("dossier_sla",)


@dataclass(frozen=True)
class Column:
    name: str
    type: str        # DuckDB's name of the type, e.g. VARCHAR, TIMESTAMP, ENUM('online', ...)
    text: bool       # VARCHAR, JSON or ENUM: a CSV cell that a spreadsheet could read as a formula


@dataclass(frozen=True)
class Relation:
    name: str
    kind: str        # table | view
    columns: tuple[Column, ...]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def file_name(relation: str, fmt: str) -> str:
    """The file a relation is written to: `<relation>.<fmt>`. A name that is not a plain identifier
    (none of the store's are) is refused rather than turned into a path."""
    if not relation.isidentifier() or fmt not in FORMATS:
        raise StoreError(f"cannot name an export file for relation {relation!r} in format {fmt!r}")
    return f"{relation}.{fmt}"


def snapshot(cur: duckdb.DuckDBPyConnection) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
    """One transaction on `cur` around everything the export reads: committed when done (it wrote
    nothing), rolled back on any failure. The caller keeps the cursor; it is left with no
    transaction open, which would keep DuckDB from checkpointing (store/db.py, checkpoint)."""
    return in_transaction(cur)


def relations(cur: duckdb.DuckDBPyConnection) -> list[Relation]:
    """The relations exported, in name order: every base table of the store's schema `main` but
    INTERNAL_TABLES, and the views of EXPORTED_VIEWS, each with its columns in table order."""
    rows = cur.execute(
        """
        WITH rel AS (
            SELECT table_name AS name, 'table' AS kind FROM duckdb_tables()
            WHERE database_name = current_database() AND schema_name = 'main' AND NOT internal AND NOT temporary
              AND NOT list_contains($internal, table_name)
            UNION ALL
            SELECT view_name, 'view' FROM duckdb_views()
            WHERE database_name = current_database() AND schema_name = 'main' AND NOT internal AND NOT temporary
              AND list_contains($views, view_name)
        )
        SELECT rel.name, rel.kind, c.column_name, c.data_type,
               c.data_type IN ('VARCHAR', 'JSON') OR starts_with(c.data_type, 'ENUM(') AS text
        FROM rel
        JOIN duckdb_columns() c
          ON c.database_name = current_database() AND c.schema_name = 'main' AND c.table_name = rel.name
        ORDER BY rel.name, c.column_index
        """,
        {"internal": list(INTERNAL_TABLES), "views": list(EXPORTED_VIEWS)},
    ).fetchall()
    out: dict[str, tuple[str, list[Column]]] = {}
    for name, kind, column, type_, text in rows:
        if column in INTERNAL_COLUMNS.get(name, ()):
            continue
        out.setdefault(name, (kind, []))[1].append(Column(column, type_, bool(text)))
    return [Relation(name, kind, tuple(cols)) for name, (kind, cols) in out.items()]


def _select(rel: Relation, fmt: str) -> str:
    if fmt == "parquet":  # every value in its own type
        cols = ", ".join(_ident(c.name) for c in rel.columns)
    else:  # text made safe for spreadsheets; numbers, dates and booleans as they are
        cols = ", ".join(f"{csv_cell_sql(f'CAST({_ident(c.name)} AS VARCHAR)')} AS {_ident(c.name)}"
                         if c.text else _ident(c.name) for c in rel.columns)
    return f"SELECT {cols} FROM main.{_ident(rel.name)}"


def copy_relation(cur: duckdb.DuckDBPyConnection, rel: Relation, path: Path, fmt: str) -> int:
    """Write the relation's rows into `path` (Parquet, or CSV with a header, UTF-8); returns the
    number of rows written (DuckDB's own count of the COPY). The path is bound as a parameter,
    never spliced into the SQL."""
    if fmt == "parquet":
        options = "FORMAT parquet"
    elif fmt == "csv":
        options = "FORMAT csv, HEADER true, DELIMITER ','"
    else:
        raise StoreError(f"unknown export format {fmt!r} (one of: {', '.join(FORMATS)})")
    (rows,) = cur.execute(f"COPY ({_select(rel, fmt)}) TO $path ({options})", {"path": str(path)}).fetchone()
    return int(rows)


def store_schema_version(cur: duckdb.DuckDBPyConnection) -> int:
    """The store's own schema version (its last migration applied)."""
    return int(cur.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchall()[0][0])


def schema_sql(cur: duckdb.DuckDBPyConnection, rels: list[Relation], fmt: str) -> str:
    """The CREATE statements of the exported relations (DuckDB's dialect): the ENUM types, the
    sequences (starting where the store's are), the tables, and each exported view as a table
    holding its file's rows (its definition reads internal tables, which are not exported); then,
    as comments, the COPY statements that load the files."""
    names = {r.name for r in rels}
    types = cur.execute(
        "SELECT type_name, labels FROM duckdb_types() "
        "WHERE database_name = current_database() AND schema_name = 'main' AND NOT internal "
        "AND logical_type = 'ENUM' ORDER BY type_name").fetchall()
    sequences = cur.execute(
        "SELECT sql FROM duckdb_sequences() WHERE database_name = current_database() AND schema_name = 'main' "
        "AND NOT temporary ORDER BY sequence_name").fetchall()
    tables = dict(cur.execute(
        "SELECT table_name, sql FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND NOT internal AND NOT temporary").fetchall())
    views = dict(cur.execute(
        "SELECT view_name, sql FROM duckdb_views() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND NOT internal AND NOT temporary").fetchall())

    # DuckDB writes a column of a named ENUM type with its labels inline; the name is what both
    # DuckDB and PostgreSQL take once the type is created above.
    inline = {"ENUM(" + ", ".join(_literal(v) for v in labels) + ")": name for name, labels in types}

    def named_types(sql: str) -> str:
        for spelled, name in inline.items():
            sql = sql.replace(spelled, _ident(name))
        return sql

    out = ["-- The schema of the exported relations, in DuckDB's SQL. Run it in an empty database,",
           "-- then load each file with the COPY statements at the end.", "", "-- Types"]
    out += [f"CREATE TYPE {_ident(name)} AS ENUM ({', '.join(_literal(v) for v in labels)});" for name, labels in types]
    out += ["", "-- Sequences (numbering goes on after the last number the store gave)"]
    out += [sql for (sql,) in sequences]
    out += ["", "-- Tables"]
    for rel in rels:
        if rel.kind == "table":
            sql = tables[rel.name]
            for column in INTERNAL_COLUMNS.get(rel.name, ()):  # their definitions, as the files lack them
                sql = re.sub(rf",\s*{column} [^,()]+(?=[,)])", "", sql)
            out.append(named_types(sql))
    for rel in rels:
        if rel.kind == "view":
            cols = ",\n    ".join(f"{_ident(c.name)} {named_types(c.type)}" for c in rel.columns)
            out += ["", f"-- {rel.name}: a view in the store, over the recompute's results (not exported);",
                    "-- here a table holding its file's rows. Its definition in the store:"]
            out += ["--   " + line for line in views.get(rel.name, "").splitlines()]
            out.append(f"CREATE TABLE {_ident(rel.name)} (\n    {cols}\n);")
    out += ["", "-- Load the files (from the export's folder):"]
    load = "FORMAT parquet" if fmt == "parquet" else "FORMAT csv, HEADER true"
    out += [f"-- COPY {_ident(r)} FROM {_literal(file_name(r, fmt))} ({load});" for r in sorted(names)]
    if fmt == "csv":
        out += ["-- In the CSV files a text starting with = + - @ (or a tab or carriage return) carries a",
                "-- leading apostrophe, for spreadsheets; the Parquet export holds every value as stored."]
    return "\n".join(out) + "\n"
