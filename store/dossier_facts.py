"""What the refresh reads of each dossier that no rule, calendar or as_of changes, kept in its row.

Columns of `dossiers` (migrations 020 and 021):
- fx_agency: the agency's number in sla_agencies (numbers are given once and never change);
- fx_audit: the head of the audit key (store/vendor.py: the audit's month, the vendor's class of
  its status word, refused or withdrawn, no reported due date);
- fx_rdue: the vendor's due date as the day or minute the audit compares (store/vendor.py);
- fx_sync: the sync key (store/vendor.py), NULL for a dossier that is not resolved;
- fx_month: the row's part of month_key (store/month_key.py: the months of its reception and of
  its result, its channel);
- fx_cycle: whether the engine must judge its supplement cycle against its first deadline
  (sla_rules/engine.py, restart_cycle_sql).
The rows with fx_cycle (a few in a thousand) are also copied whole into `cycle_dossiers`: a full
refresh reads them from there, where picking them out of every dossier's columns cost more than
judging them.

They are a function of the row alone and of the classification in store/vendor.py. `fill` computes
them for every row where they are missing; the import marks every row it changes as missing them
(store/dossier_writes.py, CLEAR_SQL: fx_audit cleared), and anything else that changes a dossier row must mark it
too. The digest of the SQL they were computed with is kept (dossier_facts_state): when the code
computes them differently, `fill` computes every row again and says so, so that the refresh
judges everything again rather than counting with old facts.

Why: the engine pass read the vendor's and the portal's status words, the source system and the
agency of every dossier through four joins, built the keys' heads and tested which dossiers need
their supplement cycles judged, on every refresh; now once per written row.
"""
from __future__ import annotations

import hashlib

import duckdb

from sla_rules.engine import restart_cycle_sql
from store.month_key import row_fact_sql
from store.vendor import WORD_COLUMNS, WORD_JOINS, classify_words, stored_facts_sql, word_classes_sql

FACT_COLUMNS = ("fx_agency", "fx_audit", "fx_rdue", "fx_sync", "fx_month", "fx_cycle")
# fx_audit is never NULL once filled (every dossier has a reception month): it marks a filled row.
# Clearing it alone marks the row to fill (the others are written with it): the import's UPDATE
# of tens of thousands of rows pays for one column, not six.
MARK = "fx_audit"
CLEAR_SQL = f"{MARK} = NULL"


def _facts_select(where: str) -> tuple[str, str]:
    """(SELECT of dossier_id and the facts of the dossiers `where` holds for, the digest of
    everything that computes them: that SELECT and the classification of the status words)."""
    exprs = {**stored_facts_sql(), "fx_month": row_fact_sql("d"),
             "fx_cycle": f"coalesce({restart_cycle_sql('d')}, false)"}
    cols = ", ".join(f"{exprs[c]} AS {c}" for c in FACT_COLUMNS if c != "fx_agency")
    body = (f"SELECT d.dossier_id, a.agency_ix AS fx_agency, {cols} "
            f"FROM (SELECT d.*, {WORD_COLUMNS} FROM dossiers d {WORD_JOINS} WHERE {{where}}) d "
            f"JOIN sla_agencies a ON a.agency_code = d.agency_code")
    key = hashlib.sha256("\n".join((body, *word_classes_sql("dossiers"))).encode()).hexdigest()[:16]
    return body.replace("{where}", where), key


def digest() -> str:
    """The digest of the facts' SQL as this code computes them."""
    return _facts_select("TRUE")[1]


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    return con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? "
                       "AND schema_name = 'main' AND database_name = current_database() ORDER BY column_index",
                       [table]).fetchall()


def fill(con: duckdb.DuckDBPyConnection) -> tuple[int, bool]:
    """Compute the facts of every dossier that lacks them, or of every dossier when they were
    computed by other SQL (another digest) or the dossiers' columns changed, and copy the rows
    whose supplement cycles the engine judges one by one (fx_cycle) into `cycle_dossiers`. In the
    caller's transaction. Returns (rows filled, whether every row was computed again)."""
    stored = con.execute("SELECT max(digest) FROM dossier_facts_state").fetchone()[0]
    # the copies hold whole rows: a migration that changes the dossiers' columns makes them anew
    every = (stored is not None and stored != digest()) or _columns(con, "cycle_dossiers") != _columns(con, "dossiers")
    if every:
        where = "TRUE"
    else:  # the rows to fill, fixed before the writes below change their mark
        con.execute(f"CREATE OR REPLACE TEMP TABLE facts_todo AS SELECT dossier_id FROM dossiers WHERE {MARK} IS NULL")
        if not con.execute("SELECT EXISTS (SELECT 1 FROM temp.facts_todo)").fetchone()[0]:
            con.execute("DROP TABLE temp.facts_todo")
            if stored is None:
                con.execute("INSERT INTO dossier_facts_state VALUES (?)", [digest()])
            return 0, False
        where = "d.dossier_id IN (SELECT dossier_id FROM temp.facts_todo)"
        # their copies go, and come back below if they still need one
        con.execute("DELETE FROM cycle_dossiers WHERE dossier_id IN (SELECT dossier_id FROM temp.facts_todo)")
    todo = f"(SELECT * FROM dossiers d WHERE {where})"
    # agencies new to the store take the next numbers; a number once given is never changed
    con.execute(f"""INSERT INTO sla_agencies
        SELECT coalesce((SELECT max(agency_ix) FROM sla_agencies), 0) + row_number() OVER (ORDER BY agency_code),
               agency_code
        FROM (SELECT DISTINCT agency_code FROM {todo} EXCEPT SELECT agency_code FROM sla_agencies)""")
    classify_words(con, todo)
    select, key = _facts_select(where)
    # three columns at a time: one UPDATE of all six took ten times as long as two of three for a
    # day's export on ten million dossiers (DuckDB 2.0)
    for group in (FACT_COLUMNS[:3], FACT_COLUMNS[3:]):
        n = con.execute(f"UPDATE dossiers SET {', '.join(f'{c} = f.{c}' for c in group)} "
                        f"FROM ({select}) f WHERE dossiers.dossier_id = f.dossier_id").fetchone()[0]
    if every:
        con.execute("CREATE OR REPLACE TABLE cycle_dossiers AS SELECT * FROM dossiers WHERE fx_cycle")
    else:
        con.execute("INSERT INTO cycle_dossiers SELECT * FROM dossiers "
                    "WHERE fx_cycle AND dossier_id IN (SELECT dossier_id FROM temp.facts_todo)")
        con.execute("DROP TABLE temp.facts_todo")
    con.execute("DELETE FROM dossier_facts_state")
    con.execute("INSERT INTO dossier_facts_state VALUES (?)", [key])
    return int(n), every
