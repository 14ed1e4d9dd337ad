"""Reference data in the store: agencies (effective-dated tree) and procedures.

Roll-up rule (how a dossier's agency reaches its ancestors)
------------------------------------------------------------
Counts are rolled up along the agency tree **as it stood on a tree date** — for a monthly report,
the last day of the month reported. For every agency code the store keeps one row per version;
on the tree date each code is represented by exactly one version:

1. the version valid on that date, else
2. for a closed agency, its last version (it keeps the parents it had when it closed), else
3. for an agency not yet created, its first version.

So history stays comparable: a district closed on 2025-07-01 still has its own row (with
`valid_to` and `successor`) and still rolls up to its old parents for any month, including dossiers
it carried into later months. When asked (`follow_successor=True`), an agency that is closed on the
tree date hands its dossiers to its successor (following successor chains), and they roll up along
the successor's parents instead. Codes found in dossiers but unknown to the reference data are
their own single-node tree. (Using the tree on the tree date, rather than the version valid at each
dossier's receipt, keeps one month's report a plain tree: every dossier counted once per ancestor.)
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb

from config.clock import local_today
from config.errors import ConfigError
from config.reference import ReferenceData, load_reference_file
from store.errors import QueryError
from store.registry import Table, named_query, run

MAX_TREE_DEPTH = 16


# -- loading --------------------------------------------------------------------------------

_AGENCY_COLS = ["code", "name", "level", "parent_code", "valid_from", "valid_to", "successor_code"]
_PROCEDURE_COLS = ["code", "name", "field", "time_limit", "time_unit", "online_level"]


def load_reference(store: Any, src: Path | str | ReferenceData) -> dict[str, Any]:
    """Upsert agencies (key: code + valid_from) and procedures (key: code). Idempotent.

    Returns counts per table: inserted, updated, unchanged. Rows absent from the file are kept
    (the file may be partial). After the upsert the whole tree is checked (parents and successors
    exist, versions of one code do not overlap, no cycles); any problem rolls everything back and
    raises ConfigError naming the source and the agency.
    """
    if isinstance(src, ReferenceData):
        data, where = src, "reference data"
    else:
        data, where = load_reference_file(src), str(src)
    agencies = [(a.code, a.name, a.level, a.parent, a.valid_from, a.valid_to, a.successor) for a in data.agencies]
    procedures = [(p.code, p.name, p.field, p.time_limit, p.time_unit, p.online_level) for p in data.procedures]
    with store.transaction() as con:
        counts = {
            "agencies": _upsert(con, "agencies", _AGENCY_COLS, ["code", "valid_from"], agencies),
            "procedures": _upsert(con, "procedures", _PROCEDURE_COLS, ["code"], procedures),
        }
        problems = check_agency_tree(con)
        if problems:
            raise ConfigError(f"{where}: the agency tree is not consistent:\n" + "\n".join(f"  - {p}" for p in problems))
    return counts


def _upsert(con: duckdb.DuckDBPyConnection, table: str, cols: list[str], key: list[str],
            rows: list[tuple]) -> dict[str, int]:
    if not rows:
        return {"inserted": 0, "updated": 0, "unchanged": 0}
    stage = f"_stage_{table}"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {stage} AS SELECT {', '.join(cols)} FROM {table} LIMIT 0")
    con.executemany(f"INSERT INTO {stage} VALUES ({', '.join('?' for _ in cols)})", rows)
    on = " AND ".join(f"t.{k} = s.{k}" for k in key)
    differs = " OR ".join(f"t.{c} IS DISTINCT FROM s.{c}" for c in cols if c not in key)
    inserted, updated = con.execute(
        f"SELECT count(*) FILTER (t.{key[0]} IS NULL), count(*) FILTER (t.{key[0]} IS NOT NULL AND ({differs})) "
        f"FROM {stage} s LEFT JOIN {table} t ON {on}"
    ).fetchone()
    sets = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in key)
    con.execute(f"INSERT INTO {table} ({', '.join(cols)}) SELECT * FROM {stage} "
                f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets}")
    con.execute(f"DROP TABLE {stage}")
    return {"inserted": inserted, "updated": updated, "unchanged": len(rows) - inserted - updated}


def check_agency_tree(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Problems with the agencies table as a whole (empty list when consistent)."""
    rows = con.execute(f"SELECT {', '.join(_AGENCY_COLS)} FROM agencies ORDER BY code, valid_from").fetchall()
    versions: dict[str, list[tuple]] = defaultdict(list)
    for r in rows:
        versions[r[0]].append(r)
    problems = []
    for code, vs in versions.items():
        for prev, cur in zip(vs, vs[1:]):
            if prev[5] is None or prev[5] > cur[4]:
                problems.append(f"agency {code}: the version from {prev[4]} overlaps the version from {cur[4]} "
                                f"(set valid_to on the earlier one)")
        for v in vs:
            if v[3] is not None and v[3] not in versions:
                problems.append(f"agency {code} (from {v[4]}): parent {v[3]} is not a known agency")
            if v[6] is not None and v[6] not in versions:
                problems.append(f"agency {code} (from {v[4]}): successor {v[6]} is not a known agency")
    # Cycles: check the tree on every date where some version starts (the tree only changes then).
    for day in sorted({r[4] for r in rows} | {r[5] for r in rows if r[5] is not None}):
        parent = {code: _version_on(vs, day)[3] for code, vs in versions.items()}
        for start in parent:
            seen, node = [start], parent.get(start)
            while node is not None and node not in seen:
                seen.append(node)
                node = parent.get(node)
            if node == start:
                problems.append(f"agencies {' → '.join(seen + [start])} form a cycle on {day}")
                break
    return list(dict.fromkeys(problems))


def _version_on(vs: list[tuple], day: dt.date) -> tuple:
    """The version representing a code on `day` (same rule as the SQL in agency_tree_ctes)."""
    def rank(v: tuple) -> tuple[int, int]:
        valid = v[4] <= day and (v[5] is None or v[5] > day)
        bucket = 0 if valid else 1 if v[4] <= day else 2
        return bucket, abs((v[4] - day).days)
    return min(vs, key=rank)


# -- the tree as SQL --------------------------------------------------------------------------

def natural_key_sql(expr: str) -> str:
    """A VARCHAR sort key of the text `expr` in natural order: 'Cơ quan số 9' before 'Cơ quan số 10'.

    Each run of digits becomes its length (3 digits) then the digits without leading zeros, so a
    shorter number sorts first and equal lengths compare digit by digit; text runs are kept as
    they are. NULL gives ''."""
    return (f"array_to_string(list_transform(regexp_extract_all(coalesce({expr}, ''), '[0-9]+|[^0-9]+'), "
            "lambda x: CASE WHEN x[1] BETWEEN '0' AND '9' "
            "THEN lpad(CAST(length(ltrim(x, '0')) AS VARCHAR), 3, '0') || ltrim(x, '0') ELSE x END), '')")


def agency_tree_ctes(tree_date: str, follow_successor: bool | str = False, extra_codes: str | None = None) -> str:
    """Common table expressions (to follow `WITH RECURSIVE`) describing the tree on a date.

    `tree_date` is a SQL expression of type DATE (e.g. a `$param`); `follow_successor` a bool or a
    SQL boolean expression; `extra_codes` an optional SELECT of one column of agency codes that
    should exist as nodes even when unknown to the reference data (e.g. codes seen in dossiers).
    Defines:
      agency_node(code, name, level, parent_code, valid_from, valid_to, successor_code, is_valid)
      agency_up(code, ancestor_code, depth, path)      -- tree walk up from every node
      agency_path(code, depth, path)                    -- root…node sort key: tree order, siblings
                                                          by level, then name, then code (both in
                                                          natural order: natural_key_sql)
      agency_rollup(agency_code, ancestor_code, depth)  -- after following successors when asked
    """
    follow = ("TRUE" if follow_successor else "FALSE") if isinstance(follow_successor, bool) else follow_successor
    extra = ""
    if extra_codes:
        extra = f"""
        UNION ALL
        SELECT DISTINCT x.code, NULL, 'unit', NULL, NULL, NULL, NULL, TRUE
        FROM ({extra_codes}) x(code)
        WHERE x.code IS NOT NULL AND x.code NOT IN (SELECT code FROM agencies)"""
    t = f"({tree_date})"
    return f"""
    agency_node AS (
        SELECT code, name, level, parent_code, valid_from, valid_to, successor_code,
               (valid_from <= {t} AND (valid_to IS NULL OR valid_to > {t})) AS is_valid
        FROM (
            SELECT a.*, row_number() OVER (
                PARTITION BY code
                ORDER BY CASE WHEN valid_from <= {t} AND (valid_to IS NULL OR valid_to > {t}) THEN 0
                              WHEN valid_from <= {t} THEN 1 ELSE 2 END,
                         abs(date_diff('day', valid_from, {t}))) AS rn
            FROM agencies a
        ) WHERE rn = 1{extra}
    ),
    agency_seg AS (  -- sort key of a node among its siblings: level, then name, then code; chr(2)
                     -- sorts below any character, so a name sorts before its own continuations
        SELECT code, list_position(['province', 'department', 'district', 'commune', 'unit'], level) || chr(2)
                     || {natural_key_sql('name')} || chr(2) || {natural_key_sql('code')} || chr(2) || code AS seg
        FROM agency_node
    ),
    agency_up AS (
        SELECT n.code, n.code AS ancestor_code, 0 AS depth, s.seg AS path
        FROM agency_node n JOIN agency_seg s USING (code)
        UNION ALL
        SELECT u.code, n.parent_code, u.depth + 1, coalesce(ps.seg, n.parent_code) || chr(1) || u.path
        FROM agency_up u JOIN agency_node n ON n.code = u.ancestor_code
        LEFT JOIN agency_seg ps ON ps.code = n.parent_code
        WHERE n.parent_code IS NOT NULL AND u.depth < {MAX_TREE_DEPTH}
    ),
    agency_path AS (
        SELECT code, max(depth) AS depth, arg_max(path, depth) AS path FROM agency_up GROUP BY code
    ),
    agency_target AS (
        SELECT code, code AS target, 0 AS hops FROM agency_node
        UNION ALL
        SELECT t.code, n.successor_code, t.hops + 1
        FROM agency_target t
        JOIN agency_node n ON n.code = t.target
        JOIN agency_node s ON s.code = n.successor_code
        WHERE {follow} AND NOT n.is_valid AND t.hops < {MAX_TREE_DEPTH}
    ),
    agency_rollup AS (
        SELECT t.code AS agency_code, u.ancestor_code, u.depth
        FROM (SELECT code, arg_max(target, hops) AS target FROM agency_target GROUP BY code) t
        JOIN agency_up u ON u.code = t.target
    )"""


def parse_date(value: Any, what: str, query: str) -> dt.date | None:
    """A date parameter given as date or ISO text (JSON transport)."""
    if value is None or isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise QueryError(f"{query}: {what} must be a date YYYY-MM-DD, got {value!r}") from None


# -- named queries ------------------------------------------------------------------------------

@named_query("agencies_current", cache="until_write")
def agencies_current(con: duckdb.DuckDBPyConnection, as_of: str | None = None) -> Table:
    """Agencies valid on `as_of` (default today), in tree order, with their depth in the tree."""
    day = parse_date(as_of, "as_of", "agencies_current") or local_today()
    return run(con, f"""
        WITH RECURSIVE {agency_tree_ctes('$day')}
        SELECT n.code, n.name, n.level, n.parent_code, p.depth, n.valid_from, n.valid_to, n.successor_code
        FROM agency_node n JOIN agency_path p USING (code)
        WHERE n.is_valid
        ORDER BY p.path""", {"day": day})


@named_query("agency_history", cache="until_write")
def agency_history(con: duckdb.DuckDBPyConnection, code: str | None = None) -> Table:
    """Every version of every agency (or of one code), closed ones included."""
    return run(con, """
        SELECT code, name, level, parent_code, valid_from, valid_to, successor_code,
               (valid_to IS NULL OR valid_to > current_date) AS open_now
        FROM agencies WHERE $code IS NULL OR code = $code
        ORDER BY code, valid_from""", {"code": code})


@named_query("rollup")
def rollup(con: duckdb.DuckDBPyConnection, as_of: str | None = None, follow_successor: bool = False) -> Table:
    """For every agency code, each ancestor its dossiers count towards on `as_of` (default today).

    depth 0 is the agency itself, or with follow_successor=True and a closed agency, the (last)
    successor that took over its dossiers.
    """
    day = parse_date(as_of, "as_of", "rollup") or local_today()
    return run(con, f"""
        WITH RECURSIVE {agency_tree_ctes('$day', bool(follow_successor))}
        SELECT agency_code, ancestor_code, depth FROM agency_rollup
        ORDER BY agency_code, depth""", {"day": day})


@named_query("procedures", cache="until_write")
def procedures(con: duckdb.DuckDBPyConnection, field: str | None = None) -> Table:
    """The procedure catalogue, optionally one field (lĩnh vực)."""
    return run(con, """
        SELECT code, name, field, time_limit, time_unit, online_level FROM procedures
        WHERE $field IS NULL OR field = $field ORDER BY field, code""", {"field": field})
