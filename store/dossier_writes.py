"""SQL that writes the store's dossier tables for an import (owned by the import part).

Every function takes the cursor of an open write transaction (`store.transaction()`) and the
name of a TEMP relation staged by imports.staging (validated rows with the typed canonical
columns + row_no), so an import is one atomic unit: either all of these writes happen or none.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from config.redact import sql_mask
from store.dossier_facts import CLEAR_SQL

# dossiers columns written from a file, in table order (batch_id and updated_at are set here).
DOSSIER_DATA_COLUMNS: tuple[str, ...] = (
    "agency_code", "procedure_code", "field", "channel", "received_at", "time_limit", "time_unit",
    "supplement_requested_at", "supplement_received_at", "extended_due_at", "finished_at", "returned_at",
    "state", "reported_due_at", "reported_status", "source_system", "synced_at", "synced_status",
    "paid_online", "dossier_digitised", "result_digitised", "satisfaction_rating",
)
# What the 766 scorecard reads (migration 016), with their types: an export often lacks them, and a
# blank there means "not said", so a file that does not say keeps what an earlier file said (never
# erased by NULL); a source relation without them (a writer older than them) writes them NULL.
KEPT_WHEN_BLANK: dict[str, str] = {"paid_online": "BOOLEAN", "dossier_digitised": "BOOLEAN",
                                   "result_digitised": "BOOLEAN", "satisfaction_rating": "SMALLINT"}


@dataclass
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence | None = None) -> int:
    row = con.execute(sql, params).fetchone() if params is not None else con.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


# -- batches ----------------------------------------------------------------------------------
def begin_batch(con: duckdb.DuckDBPyConnection, *, kind: str, file_name: str, file_sha256: str,
                started_at: dt.datetime) -> int:
    return _one(
        con,
        "INSERT INTO import_batches (batch_id, kind, file_name, file_sha256, started_at, status) "
        "VALUES (nextval('import_batch_seq'), ?, ?, ?, ?, 'running') RETURNING batch_id",
        [kind, file_name, file_sha256, started_at],
    )


def finish_batch(con: duckdb.DuckDBPyConnection, batch_id: int, *, finished_at: dt.datetime, rows_read: int,
                 inserted: int, updated: int, unchanged: int, quarantined: int, columns_dropped: list[str],
                 pii_columns_dropped: list[str]) -> None:
    con.execute(
        "UPDATE import_batches SET finished_at = ?, rows_read = ?, rows_inserted = ?, rows_updated = ?, "
        "rows_unchanged = ?, rows_quarantined = ?, columns_dropped = ?, pii_columns_dropped = ?, "
        "status = 'done' WHERE batch_id = ?",
        [finished_at, rows_read, inserted, updated, unchanged, quarantined, columns_dropped,
         pii_columns_dropped, batch_id],
    )


# -- reference rows ---------------------------------------------------------------------------
def ensure_agencies(con: duckdb.DuckDBPyConnection, source: str) -> int:
    """Create an agency (level 'unit') for every agency code no agency row has yet. Returns the count."""
    return _one(
        con,
        f"INSERT INTO agencies (code, name, level) "
        f"SELECT agency_code, coalesce(arg_min(agency_name, row_no) FILTER (WHERE agency_name IS NOT NULL), "
        f"agency_code), 'unit' FROM {source} s "
        f"WHERE NOT EXISTS (SELECT 1 FROM agencies a WHERE a.code = s.agency_code) GROUP BY agency_code",
    )


def ensure_procedures(con: duckdb.DuckDBPyConnection, source: str) -> int:
    """Create a procedure for every unknown procedure code, from its first row in the file."""
    return _one(
        con,
        f"INSERT INTO procedures (code, name, field, time_limit, time_unit) "
        f"SELECT procedure_code, arg_min(procedure_name, row_no) FILTER (WHERE procedure_name IS NOT NULL), "
        f"arg_min(field, row_no) FILTER (WHERE field IS NOT NULL), arg_min(time_limit, row_no), "
        f"arg_min(time_unit, row_no) FROM {source} s WHERE procedure_code IS NOT NULL "
        f"AND NOT EXISTS (SELECT 1 FROM procedures p WHERE p.code = s.procedure_code) GROUP BY procedure_code",
    )


def inconsistent_states(con: duckdb.DuckDBPyConnection, source: str) -> int:
    """Staged rows whose state says processing while a result date is given (finished_at, else
    returned_at): the SLA engine judges them by that date and flags them (FLAG_INCONSISTENT_STATE)."""
    return _one(con, f"SELECT count(*) FROM {source} "
                     f"WHERE state = 'processing' AND coalesce(finished_at, returned_at) IS NOT NULL")


# -- events -----------------------------------------------------------------------------------
def has_events(con: duckdb.DuckDBPyConnection) -> bool:
    return con.execute("SELECT EXISTS (SELECT 1 FROM dossier_events)").fetchone()[0]


def unknown_event_dossiers(con: duckdb.DuckDBPyConnection, events: str, dossiers_in_file: str | None,
                           out: str) -> int:
    """TEMP table `out`(row_no, dossier_code): events whose dossier is neither stored nor in the file."""
    in_file = (f"AND NOT EXISTS (SELECT 1 FROM {dossiers_in_file} f WHERE f.dossier_code = e.dossier_code)"
               if dossiers_in_file else "")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {out} AS SELECT e.row_no, e.dossier_code FROM {events} e "
        f"WHERE NOT EXISTS (SELECT 1 FROM dossiers d WHERE d.dossier_code = e.dossier_code) {in_file}"
    )
    return _one(con, f"SELECT count(*) FROM {out}")


def upsert_events(con: duckdb.DuckDBPyConnection, source: str, batch_id: int) -> UpsertCounts:
    """Upsert (dossier_code, event, at, detail) rows keyed (dossier_code, event, at)."""
    con.execute(
        f'CREATE OR REPLACE TEMP TABLE _dw_ev AS SELECT s.dossier_code, s.event, s."at", s.detail, '
        f"CASE WHEN e.dossier_code IS NULL THEN 'new' WHEN e.detail IS NOT DISTINCT FROM s.detail THEN 'same' "
        f"ELSE 'changed' END AS change FROM {source} s "
        f'LEFT JOIN dossier_events e ON e.dossier_code = s.dossier_code AND e.event = s.event AND e."at" = s."at"'
    )
    counts = UpsertCounts(
        inserted=_one(con, "INSERT INTO dossier_events (dossier_code, event, \"at\", detail, batch_id) "
                           "SELECT dossier_code, event, \"at\", detail, ? FROM _dw_ev WHERE change = 'new'", [batch_id]),
        updated=_one(con, "UPDATE dossier_events SET detail = c.detail, batch_id = ? FROM _dw_ev c "
                          "WHERE c.change = 'changed' AND dossier_events.dossier_code = c.dossier_code "
                          "AND dossier_events.event = c.event AND dossier_events.\"at\" = c.\"at\"", [batch_id]),
        unchanged=_one(con, "SELECT count(*) FROM _dw_ev WHERE change = 'same'"),
    )
    con.execute("DROP TABLE _dw_ev")
    return counts


def supplement_cycles(con: duckdb.DuckDBPyConnection, codes_sql: str, out: str) -> None:
    """TEMP table `out`(dossier_code, ev_requested_at, ev_received_at): the latest supplement cycle of
    each dossier in `codes_sql` (a SELECT of dossier_code) according to its stored events: the last
    'supplement_requested' and the first 'supplement_received' at or after it (NULL if none yet)."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {out} AS "
        f"WITH codes AS (SELECT DISTINCT dossier_code FROM ({codes_sql})), "
        f'req AS (SELECT e.dossier_code, max(e."at") AS ev_requested_at FROM dossier_events e '
        f"  SEMI JOIN codes c ON c.dossier_code = e.dossier_code "
        f"  WHERE e.event = 'supplement_requested' GROUP BY e.dossier_code) "
        f"SELECT r.dossier_code, r.ev_requested_at, "
        f'(SELECT min(x."at") FROM dossier_events x WHERE x.dossier_code = r.dossier_code '
        "  AND x.event = 'supplement_received' AND x.\"at\" >= r.ev_requested_at) AS ev_received_at FROM req r"
    )


def apply_cycles_to_stored(con: duckdb.DuckDBPyConnection, cycles: str, batch_id: int, now: dt.datetime,
                           exclude: str | None = None) -> int:
    """Set stored dossiers' supplement dates to their latest event cycle (when the events' cycle is
    at least as recent as the stored one). `exclude`: a relation of dossier codes to leave alone."""
    skip = f"AND NOT EXISTS (SELECT 1 FROM {exclude} x WHERE x.dossier_code = c.dossier_code)" if exclude else ""
    return _one(
        con,
        f"UPDATE dossiers SET supplement_requested_at = c.ev_requested_at, "
        f"supplement_received_at = c.ev_received_at, {CLEAR_SQL}, updated_at = ? FROM {cycles} c "
        f"WHERE dossiers.dossier_code = c.dossier_code {skip} "
        f"AND (dossiers.supplement_requested_at IS NULL OR c.ev_requested_at >= dossiers.supplement_requested_at) "
        f"AND (dossiers.supplement_requested_at IS DISTINCT FROM c.ev_requested_at "
        f"  OR dossiers.supplement_received_at IS DISTINCT FROM c.ev_received_at)",
        [now],
    )


# -- dossiers ---------------------------------------------------------------------------------
def upsert_dossiers(con: duckdb.DuckDBPyConnection, source: str, batch_id: int, now: dt.datetime, *,
                    cycles: str | None = None, on_step=None) -> UpsertCounts:
    """Insert new dossiers, update changed ones, count unchanged ones (by dossier_code).

    With `cycles` (see supplement_cycles), a dossier's supplement dates come from its latest event
    cycle when that cycle is at least as recent as the file's."""
    cols = DOSSIER_DATA_COLUMNS
    if cycles:
        use_ev = "c.ev_requested_at IS NOT NULL AND (s.supplement_requested_at IS NULL " \
                 "OR c.ev_requested_at >= s.supplement_requested_at)"
        exprs = {
            "supplement_requested_at": f"CASE WHEN {use_ev} THEN c.ev_requested_at ELSE s.supplement_requested_at END",
            "supplement_received_at": f"CASE WHEN {use_ev} THEN c.ev_received_at ELSE s.supplement_received_at END",
        }
        join = f"LEFT JOIN {cycles} c ON c.dossier_code = s.dossier_code"
    else:
        exprs, join = {}, ""
    have = {d[0] for d in con.execute(f"SELECT * FROM {source} LIMIT 0").description}
    exprs.update({c: f"NULL::{t}" for c, t in KEPT_WHEN_BLANK.items() if c not in have})
    sel = ", ".join(f"{exprs.get(c, 's.' + c)} AS {c}" for c in cols)
    # each row with its stored dossier's id, found once: the update then joins on the integer id,
    # and the insert takes the rows without one (no second look-up of the codes)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _dw_in AS SELECT s.dossier_code, {sel}, d.dossier_id AS _id "
                f"FROM {source} s {join} LEFT JOIN dossiers d ON d.dossier_code = s.dossier_code")
    matched = _one(con, "SELECT count(_id) FROM _dw_in")
    differs = " OR ".join(f"(i.{c} IS NOT NULL AND dossiers.{c} IS DISTINCT FROM i.{c})" if c in KEPT_WHEN_BLANK
                          else f"dossiers.{c} IS DISTINCT FROM i.{c}" for c in cols)
    sets = ", ".join(f"{c} = coalesce(i.{c}, dossiers.{c})" if c in KEPT_WHEN_BLANK else f"{c} = i.{c}"
                     for c in cols)
    updated = _one(
        con,
        f"UPDATE dossiers SET {sets}, {CLEAR_SQL}, batch_id = ?, updated_at = ? "
        f"FROM (SELECT * FROM _dw_in WHERE _id IS NOT NULL) i "
        f"WHERE dossiers.dossier_id = i._id AND ({differs})",
        [batch_id, now],
    )
    if on_step:
        on_step("write:dossiers:updated")
    col_list = ", ".join(cols)
    inserted = _one(
        con,
        f"INSERT INTO dossiers (dossier_code, {col_list}, batch_id, updated_at) "
        f"SELECT dossier_code, {col_list}, ?, ? FROM _dw_in i WHERE _id IS NULL",
        [batch_id, now],
    )
    if on_step:
        on_step("write:dossiers:inserted")
    con.execute("DROP TABLE _dw_in")
    return UpsertCounts(inserted, updated, matched - updated)


# -- quarantine -------------------------------------------------------------------------------
def quarantine_rows(con: duckdb.DuckDBPyConnection, errors: str, *, file_sha256: str, file_name: str,
                    batch_id: int, now: dt.datetime) -> int:
    """Insert (row_no, field, value, reason, raw) errors; keyed (file_sha256, row_no, field), a
    re-run adds nothing. Returns the number of new quarantine rows.

    Values shaped like an ID or a phone number are masked on the way in (config/redact.py), whoever
    built the errors: the quarantine is kept, a citizen's number typed in a wrong column is not."""
    raw = f"{sql_mask('CAST(raw AS VARCHAR)')}::JSON"
    return _one(
        con,
        f"INSERT INTO quarantine (file_sha256, row_no, field, file_name, value, reason, raw, batch_id, created_at) "
        f"SELECT ?, row_no, field, ?, {sql_mask('value')}, {sql_mask('reason')}, {raw}, ?, ? FROM {errors} "
        f"ON CONFLICT DO NOTHING",
        [file_sha256, file_name, batch_id, now],
    )
