"""Staging and validation in DuckDB, set-based (no per-row Python).

A prepared file (imports.reader) is loaded with read_csv (all VARCHAR, no sniffing) into a TEMP
table holding only the mapped canonical columns, then typed and validated with SQL:

    <p>_raw     row_no + canonical columns as text + `_extra` (more fields than the header)
    <p>_typed   row_no + typed canonical columns (config/mapping.py types) + trimmed source text `s_<col>`
                of the typed columns + `_bad` (the row has a fault); blank rows dropped
    <p>_err     one row per (row_no, field) at fault: value, reason (English), reason_vi, raw JSON
                (values shaped like an ID or a phone number masked: config/redact.py)
    <p>_valid   VIEW: typed rows without any error, canonical columns + row_no: the rows to import

Everything here works on TEMP relations of the given connection only; no store table is touched.

Personal data: the dropped columns are never selected. A CSV row with more fields than the header
(an unquoted comma in a name) is shifted: the values right of the extra comma moved into the
next columns, so a canonical column right of a dropped one may hold a dropped column's value.
In such a row those columns are blanked before anything reads them (`shifted_unsafe`) and their
errors left out; the row is quarantined by its own error ("more fields than the header"), with
the file, the row number and the columns left of any dropped one (the dossier code, usually).
A citizen's number typed into another field is masked (config/redact.py): in the errors, and in
the text columns stored (names, fields), never in the codes (CODE_COLUMNS).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb

from config.clock import timezone_name
from config.mapping import BOOLEAN_COLUMNS, ENUMS, RATING_COLUMNS, ColumnMapping, normalize_label
from config.redact import mask_text, sql_mask
from config.vocabulary import FIRST_YEAR, LAST_YEAR, RATING_MAX, RATING_MIN, RESOLVED_STATES, quoted_list
from imports.errors import ImportRefused
from imports.reader import CANONICAL, DATE_COLUMNS, REQUIRED, PreparedFile

TIMESTAMP_COLUMNS = DATE_COLUMNS
# enumerated columns: (strict -> unknown values are errors; else kept as they are)
ENUM_COLUMNS = {
    "dossiers": {"channel": True, "time_unit": True, "state": True, "reported_status": False},
    "events": {"event": False},
}
# yes/no columns (their words: the mapping's `values.boolean`) and whole-number rating columns
BOOLEAN_COLS = {"dossiers": BOOLEAN_COLUMNS, "events": ()}
RATING_COLS = {"dossiers": RATING_COLUMNS, "events": ()}
REQUIRED_VALUES = REQUIRED
# Keys, never masked: a masked code could merge two dossiers. Every other text column (names,
# fields, source systems) is stored with ID- and phone-shaped values masked (config/redact.py).
CODE_COLUMNS = ("dossier_code", "agency_code", "procedure_code")
# Plausible dates (config/vocabulary.py): anything outside is a typo or a placeholder.
MIN_TS = f"{FIRST_YEAR}-01-01"
MAX_TS = f"{LAST_YEAR}-12-31 23:59:59"
DMY_FORMATS = ["%d/%m/%Y %H:%M:%S.%f", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y"]
DATE_HINT = "YYYY-MM-DD[ HH:MM[:SS]] or dd/mm/yyyy [HH:MM[:SS]]"


@dataclass
class RowError:
    file: str
    row: int
    field: str
    reason: str
    value: str | None = None
    where: str = ""      # 'row 5' or 'row 5 (sheet "X" row 9)'
    sheet_row: int | None = None   # a workbook's own row number of the data row (None: a CSV)

    def message(self) -> str:
        at = self.where or f"row {self.row}"
        return f"{self.file}: {at}, {self.field or '(row)'}: {self.reason}"

    def __str__(self) -> str:
        return self.message()


@dataclass
class StagingResult:
    """Where the staged rows are, for `sla explain` and for the store writer."""

    relation: str                    # TEMP table of valid rows, typed canonical columns + row_no
    errors_relation: str             # TEMP table of errors: row_no, field, value, reason, reason_vi, raw
    file: str
    file_sha256: str
    kind: str
    rows_read: int                   # non-blank data rows
    valid_rows: int
    quarantined_rows: int            # rows with at least one error
    error_count: int                 # (row, field) errors
    errors: list[RowError] = field(default_factory=list)   # the first `max_errors`, in row order
    columns_dropped: list[str] = field(default_factory=list)
    pii_columns_dropped: list[str] = field(default_factory=list)
    header_row: int = 1
    sheet: str | None = None
    prepared: PreparedFile | None = None


def _q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


# A line longer than this is refused by the CSV reader (DuckDB's default is 2 MB); a longer
# value than MAX_TEXT in a text column is quarantined (see _checks).
MAX_LINE_BYTES = 64 * 1024 * 1024
MAX_TEXT = 1000


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# The NULL string of read_csv: a control character, never a whole field of an export.
_NO_TEXT = "\x01"


def shifted_unsafe(prep: PreparedFile) -> list[str]:
    """Canonical columns that a shifted row (more fields than the header) may fill with the value of
    a dropped column: those right of the first column that is not read (personal data, unknown, or
    blank header). Values only ever move right in such a row. A workbook's cells cannot shift."""
    if prep.data_row_offset is not None:
        return []
    mapped = set(prep.columns.values())
    first = next((i for i in range(prep.n_columns) if i not in mapped), None)
    if first is None:
        return []
    return [c for c in CANONICAL[prep.kind] if c in prep.columns and prep.columns[c] > first]


def blank_shifted(con: duckdb.DuckDBPyConnection, prefix: str, unsafe: list[str]) -> None:
    """In <prefix>_raw, NULL the `unsafe` columns of the rows with more fields than the header."""
    if unsafe:
        sets = ", ".join(f"{_ident(c)} = NULL" for c in unsafe)
        con.execute(f"UPDATE {prefix}_raw SET {sets} WHERE _extra IS NOT NULL")


def load_raw(con: duckdb.DuckDBPyConnection, prep: PreparedFile, prefix: str) -> None:
    """read_csv the prepared file into <prefix>_raw: row_no (1-based data row, from WITH ORDINALITY:
    file order, also with the parallel reader; blank lines are skipped by the reader), the canonical
    columns as text (NULL when empty), and `_extra`, set when a row has more fields than the header.
    (rowid cannot serve: inside a transaction it starts at 2^55.)

    Empty fields are read as '' (the NULL string is a control character, _NO_TEXT) so that a
    field past the header's last one counts even when it is empty: "a,b,c," after an unquoted
    comma in a name. A file with columns that are not read (shifted_unsafe) sets `_extra` for such
    rows; any other file only for a non-empty one, as a trailing delimiter is harmless there."""
    canon = CANONICAL[prep.kind]
    cols = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(prep.n_columns)) + ", '_extra': 'VARCHAR'"
    select = ", ".join(
        (f"nullif(c{prep.columns[c]}, '')" if c in prep.columns else "NULL::VARCHAR") + f" AS {_ident(c)}"
        for c in canon
    )
    extra = "_extra" if shifted_unsafe(prep) else "nullif(_extra, '') AS _extra"
    sql = (
        f"CREATE OR REPLACE TEMP TABLE {prefix}_raw AS SELECT ordinality AS row_no, {select}, {extra} "
        f"FROM read_csv({_q(str(prep.csv_path))}, delim={_q(prep.delimiter)}, quote='\"', escape='\"', "
        f"header=false, skip={prep.skip_lines}, auto_detect=false, columns={{{cols}}}, null_padding=true, "
        f"nullstr={_q(_NO_TEXT)}, "
        f"strict_mode=false, encoding='utf-8', max_line_size={MAX_LINE_BYTES}, parallel=PARALLEL) WITH ORDINALITY"
    )
    # DuckDB's parallel reader refuses null_padding when a quoted field spans lines; a failed
    # statement would abort the caller's transaction, so read serially whenever quotes occur.
    parallel = prep.csv_path == prep.info.path and not prep.info.has_quotes
    try:
        con.execute(sql.replace("PARALLEL", "true" if parallel else "false"))
    except duckdb.InvalidInputException as e:
        # DuckDB's first line names the fault; the lines after it quote the file's row
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ImportRefused(f"{prep.info.name}: cannot be read as CSV: {mask_text(first[:300])}", file=prep.info.name,
                            reason="csv") from None


# Above this many distinct mapped values a column is mapped with a join instead of a CASE.
_MAX_CASE_VALUES = 500


def _value_maps(con: duckdb.DuckDBPyConnection, prefix: str, kind: str,
                mapping: ColumnMapping) -> dict[str, dict[str, str]]:
    """For each enumerated or yes/no column, {distinct trimmed source value: canonical value} (mapped
    ones only)."""
    cols = [*ENUM_COLUMNS[kind], *BOOLEAN_COLS[kind]]
    union = " UNION ALL ".join(
        f"SELECT {_q(c)} AS col, v FROM (SELECT DISTINCT trim({_ident(c)}) AS v FROM {prefix}_raw) WHERE v <> ''"
        for c in cols
    )
    out: dict[str, dict[str, str]] = {c: {} for c in cols}
    indexes = {c: mapping.value_index("boolean" if c in BOOLEAN_COLS[kind] else c) for c in cols}
    for col, raw in con.execute(union).fetchall():
        val = indexes[col].get(normalize_label(raw))
        if val is not None:
            out[col][raw] = val
    return out


def _ts(x: str) -> str:
    """Text -> TIMESTAMP (NULL when unparseable). `x` is a column of trimmed text.

    dd/mm/yyyy [HH:MM[:SS[.f]]]; ISO (space or T) without an offset is local time already; ISO with
    Z or a +hh[:mm] / -hh[:mm] offset after the seconds (API exports) is converted to local time."""
    fmts = "[" + ", ".join(_q(f) for f in DMY_FORMATS) + "]"
    offset = f"(suffix({x}, 'Z') OR contains({x}, '+') OR (strlen({x}) > 19 AND contains({x}[20:], '-')))"
    return (f"CASE WHEN contains({x}, '/') THEN try_strptime({x}, {fmts}) "
            f"WHEN {offset} THEN timezone('{timezone_name()}', try_cast({x} AS TIMESTAMPTZ)) "
            f"ELSE try_cast({x} AS TIMESTAMP) END")


def _trimmed(x: str) -> str:
    """Trimmed text, NULL when blank (read_csv already gives NULL for empty fields); cheap when
    there is nothing to trim."""
    return f"CASE WHEN prefix({x}, ' ') OR suffix({x}, ' ') THEN nullif(trim({x}), '') ELSE {x} END"


def _typed_select(con: duckdb.DuckDBPyConnection, prefix: str, kind: str, mapping: ColumnMapping) -> str:
    """SELECT of row_no, typed canonical columns, `s_<col>` (trimmed source text, NULL when blank)
    and `_extra`, over the non-blank rows of <prefix>_raw."""
    canon = CANONICAL[kind]
    vmaps = _value_maps(con, prefix, kind, mapping)
    inner = ", ".join(f"{_trimmed('r.' + _ident(c))} AS {_ident(c)}" for c in canon)
    # read_csv gives NULL for empty fields: a row of NULLs is a blank line
    nonblank = "coalesce(" + ", ".join(f"r.{_ident(c)}" for c in canon) + ", r._extra) IS NOT NULL"
    sel = ["t.row_no"]
    joins = []
    for c in canon:
        t = f"t.{_ident(c)}"
        if c in TIMESTAMP_COLUMNS[kind]:
            sel.append(f"{_ts(t)} AS {_ident(c)}")
        elif c == "time_limit":
            sel.append(f"try_cast(replace({t}, ',', '.') AS DOUBLE) AS {_ident(c)}")
        elif c in RATING_COLS[kind]:
            # a whole number ("4", or "4.0" as a spreadsheet may write it); the range is a check
            sel.append(f"CASE WHEN regexp_full_match({t}, '[0-9]{{1,4}}([.,]0+)?') "
                       f"THEN CAST(regexp_extract({t}, '^[0-9]+') AS SMALLINT) END AS {_ident(c)}")
        elif c in ENUM_COLUMNS[kind] or c in BOOLEAN_COLS[kind]:
            vm = vmaps[c]
            if len(vm) <= _MAX_CASE_VALUES:
                whens = " ".join(f"WHEN {_q(k)} THEN {_q(v)}" for k, v in vm.items())
                mapped = f"(CASE {t} {whens} END)" if vm else "NULL::VARCHAR"
            else:
                table = f"{prefix}_vmap_{c}"
                con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT unnest(?::VARCHAR[]) AS raw, "
                            "unnest(?::VARCHAR[]) AS val", [list(vm), list(vm.values())])
                joins.append(f"LEFT JOIN {table} m_{c} ON m_{c}.raw = {t}")
                mapped = f"m_{c}.val"
            if c in BOOLEAN_COLS[kind]:
                sel.append(f"CAST({mapped} AS BOOLEAN) AS {_ident(c)}")
                continue
            strict = ENUM_COLUMNS[kind][c]
            sel.append(f"{mapped} AS {_ident(c)}" if strict else f"coalesce({mapped}, {sql_mask(t)}) AS {_ident(c)}")
        elif c == "detail":
            # Free text may carry personal data: strip e-mail addresses, phone and ID numbers.
            sel.append(
                f"regexp_replace(regexp_replace(regexp_replace({t}, "
                r"'[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}', '[email]', 'g'), "
                r"'(\+84|0)[0-9]{2,3}[ .-][0-9]{3}[ .-][0-9]{3,4}', '[số]', 'g'), "
                r"'[0-9]{9,}', '[số]', 'g') AS " + c
            )
        elif c in CODE_COLUMNS:
            sel.append(f"{t} AS {_ident(c)}")
        else:  # names kept as they are given, but for a citizen's number typed into one
            sel.append(f"{sql_mask(t)} AS {_ident(c)}")
    for c in _CHECKED[kind]:
        if not _is_text(kind, c):  # text columns are their own source text
            sel.append(f"t.{_ident(c)} AS s_{c}")
    sel.append("t._extra")
    return (f"SELECT {', '.join(sel)} FROM (SELECT r.row_no, {inner}, r._extra FROM {prefix}_raw r "
            f"WHERE {nonblank}) t {' '.join(joins)}")


def _src(kind: str, c: str) -> str:
    """The trimmed source text of column c in <prefix>_typed."""
    return _ident(c) if _is_text(kind, c) else f"s_{c}"


def _is_text(kind: str, c: str) -> bool:
    return (c not in TIMESTAMP_COLUMNS[kind] and c not in ENUM_COLUMNS[kind] and c not in ("time_limit", "detail")
            and c not in BOOLEAN_COLS[kind] and c not in RATING_COLS[kind])


# source columns whose text the checks need
_CHECKED = {
    "dossiers": sorted({*REQUIRED_VALUES["dossiers"], *TIMESTAMP_COLUMNS["dossiers"], "time_limit",
                        *BOOLEAN_COLS["dossiers"], *RATING_COLS["dossiers"]}),
    "events": sorted({*REQUIRED_VALUES["events"], *TIMESTAMP_COLUMNS["events"]}),
}


def _checks(kind: str) -> list[tuple[str, str, str, str, str]]:
    """(field, condition, value, reason, reason_vi) SQL expressions over <prefix>_typed, one per fault."""
    out: list[tuple[str, str, str, str, str]] = [
        ("", "_extra IS NOT NULL", "NULL", "'the row has more fields than the header'",
         "'dòng có nhiều cột hơn dòng tiêu đề'"),
    ]
    for c in REQUIRED_VALUES[kind]:
        out.append((c, f"{_src(kind, c)} IS NULL", "NULL", "'required value is empty'", "'thiếu giá trị bắt buộc'"))
    for c, strict in ENUM_COLUMNS[kind].items():
        if strict:
            allowed = ", ".join(ENUMS[c])
            out.append((c, f"s_{c} IS NOT NULL AND {_ident(c)} IS NULL", f"s_{c}",
                        f"'unknown value ''' || s_{c} || ''' (expected {allowed} or a value of the column mapping)'",
                        f"'giá trị không hợp lệ ''' || s_{c} || ''' (cần một trong: {allowed})'"))
    for c in BOOLEAN_COLS[kind]:
        out.append((c, f"s_{c} IS NOT NULL AND {_ident(c)} IS NULL", f"s_{c}",
                    f"'not a yes/no value: ''' || s_{c} || ''' (expected true, false or a value of the column mapping)'",
                    f"'không phải giá trị có/không: ''' || s_{c} || ''''"))
    for c in RATING_COLS[kind]:
        out.append((c, f"s_{c} IS NOT NULL AND ({_ident(c)} IS NULL OR {_ident(c)} < {RATING_MIN} "
                       f"OR {_ident(c)} > {RATING_MAX})", f"s_{c}",
                    f"'a rating is a whole number from {RATING_MIN} to {RATING_MAX}, got ''' || s_{c} || ''''",
                    f"'mức đánh giá phải là số nguyên từ {RATING_MIN} đến {RATING_MAX}, nhận được ''' || s_{c} || ''''"))
    for c in TIMESTAMP_COLUMNS[kind]:
        out.append((c, f"s_{c} IS NOT NULL AND {_ident(c)} IS NULL", f"s_{c}",
                    f"'not a date: ''' || s_{c} || ''' (expected {DATE_HINT})'",
                    f"'ngày giờ không hợp lệ: ''' || s_{c} || ''' (định dạng {DATE_HINT})'"))
        out.append((c, f"{_ident(c)} < TIMESTAMP '{MIN_TS}' OR {_ident(c)} > TIMESTAMP '{MAX_TS}'", f"s_{c}",
                    f"'date out of range: ''' || s_{c} || ''' (years {FIRST_YEAR} to {LAST_YEAR})'",
                    f"'ngày ngoài khoảng hợp lý: ''' || s_{c} || ''' (năm {FIRST_YEAR} đến {LAST_YEAR})'"))
    for c in CANONICAL[kind]:
        if _is_text(kind, c):
            out.append((c, f"length({_ident(c)}) > {MAX_TEXT}", f"left({_ident(c)}, 60) || '…'",
                        f"'value too long: ' || length({_ident(c)}) || ' characters (at most {MAX_TEXT})'",
                        f"'giá trị quá dài: ' || length({_ident(c)}) || ' ký tự (tối đa {MAX_TEXT})'"))
    if kind == "dossiers":
        out += [
            ("time_limit", "s_time_limit IS NOT NULL AND (time_limit IS NULL OR NOT isfinite(time_limit) "
             "OR time_limit < 0)", "s_time_limit",
             "'time limit must be a number >= 0, got ''' || s_time_limit || ''''",
             "'thời hạn phải là số >= 0, nhận được ''' || s_time_limit || ''''"),
            ("finished_at", "finished_at < received_at", "s_finished_at",
             "'finished_at (' || s_finished_at || ') is before received_at (' || s_received_at || ')'",
             "'ngày có kết quả (' || s_finished_at || ') trước ngày tiếp nhận (' || s_received_at || ')'"),
            ("returned_at", "returned_at < received_at", "s_returned_at",
             "'returned_at (' || s_returned_at || ') is before received_at (' || s_received_at || ')'",
             "'ngày trả kết quả (' || s_returned_at || ') trước ngày tiếp nhận (' || s_received_at || ')'"),
            # A latest request after the latest receipt is no error: the dossier is waiting for the
            # citizen again (a second cycle), and the engine judges it so.
            ("finished_at", f"state IN ({quoted_list(RESOLVED_STATES)}) AND s_finished_at IS NULL AND s_returned_at IS NULL",
             "NULL", "'state is ' || state || ' but neither finished_at nor returned_at is given'",
             "'trạng thái ' || state || ' nhưng thiếu cả ngày có kết quả và ngày trả kết quả'"),
        ]
    return out


def _duplicates_sql(prefix: str, kind: str) -> str:
    """Duplicates within the file: the first occurrence wins, later ones are errors."""
    if kind == "dossiers":
        key, label_en, label_vi = "dossier_code", "dossier_code", "mã hồ sơ"
    else:
        key, label_en, label_vi = 'dossier_code, event, "at"', "event", "sự kiện"
    not_null = " AND ".join(f"{k.strip()} IS NOT NULL" for k in key.split(","))
    return (
        f"SELECT row_no, 'dossier_code' AS field, dossier_code AS value, "
        f"'duplicate {label_en} in this file: duplicate of row ' || first_row AS reason, "
        f"'{label_vi} trùng trong tệp: trùng với dòng ' || first_row AS reason_vi FROM ("
        f"SELECT row_no, dossier_code, min(row_no) OVER (PARTITION BY {key}) AS first_row "
        f"FROM {prefix}_typed SEMI JOIN (SELECT {key} FROM {prefix}_typed WHERE {not_null} "
        f"GROUP BY {key} HAVING count(*) > 1) USING ({key})) WHERE row_no > first_row"
    )


def validate(con: duckdb.DuckDBPyConnection, prefix: str, kind: str, mapping: ColumnMapping,
             shifted: list[str] | tuple[str, ...] = ()) -> None:
    """Build <prefix>_typed (typing + a `_bad` flag in one scan), <prefix>_err (one row per
    (row_no, field) at fault, from the flagged rows and the duplicate check) and the view
    <prefix>_valid from <prefix>_raw. `shifted`: the columns blanked in shifted rows
    (blank_shifted), whose errors in those rows say nothing about the file and are left out."""
    checks = _checks(kind)
    items = ", ".join(
        f"CASE WHEN {cond} THEN struct_pack(field := {_q(f)}, value := ({val})::VARCHAR, "
        f"reason := ({en})::VARCHAR, reason_vi := ({vi})::VARCHAR) END"
        for f, cond, val, en, vi in checks
    )
    bad = " OR ".join(f"coalesce({cond}, false)" for _, cond, _, _, _ in checks)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {prefix}_typed AS SELECT *, ({bad}) AS _bad "
        f"FROM ({_typed_select(con, prefix, kind, mapping)})"
    )
    canon = CANONICAL[kind]
    # one row's values, the same for each of its errors: masked once per (row, field)
    raw_json = ("to_json(struct_pack(" + ", ".join(
        f"{_ident(c)} := {sql_mask(f'left(any_value(r.{_ident(c)}), {MAX_TEXT})')}" for c in canon) + "))")

    def reasons(col: str) -> str:
        return sql_mask(f"string_agg(e.{col}, '; ' ORDER BY e.reason)")

    skip = (f"WHERE NOT (r._extra IS NOT NULL AND e.field IN ({', '.join(_q(c) for c in shifted)})) "
            if shifted else "")
    per_row = (
        f"SELECT row_no, e.field AS field, e.value AS value, e.reason AS reason, e.reason_vi AS reason_vi "
        f"FROM (SELECT row_no, unnest(list_filter([{items}], lambda x: x IS NOT NULL)) AS e "
        f"FROM {prefix}_typed WHERE _bad)"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {prefix}_err AS "
        f"SELECT e.row_no, e.field, {sql_mask('min(e.value)')} AS value, "
        f"{reasons('reason')} AS reason, {reasons('reason_vi')} AS reason_vi, {raw_json} AS raw "
        f"FROM ({per_row} UNION ALL {_duplicates_sql(prefix, kind)}) e "
        f"JOIN {prefix}_raw r ON r.row_no = e.row_no {skip}GROUP BY e.row_no, e.field"
    )
    cols = ", ".join(["t." + c for c in canon] + ["t.row_no"])
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {prefix}_valid AS SELECT {cols} FROM {prefix}_typed t "
        f"WHERE NOT EXISTS (SELECT 1 FROM {prefix}_err e WHERE e.row_no = t.row_no)"
    )


def collect_errors(con: duckdb.DuckDBPyConnection, prefix: str, prep: PreparedFile, *, limit: int,
                   lang: str = "en", table: str | None = None) -> list[RowError]:
    reason = "reason_vi" if lang == "vi" else "reason"
    rows = con.execute(
        f"SELECT row_no, field, value, {reason} FROM {table or prefix + '_err'} ORDER BY row_no, field LIMIT ?",
        [limit],
    ).fetchall()
    # masked again here: rows added to the errors after validation (the events' unknown dossiers)
    return [RowError(prep.info.name, r, f, mask_text(why), mask_text(v), prep.where(r, lang), _sheet_row(prep, r))
            for r, f, v, why in rows]


def _sheet_row(prep: PreparedFile, row_no: int) -> int | None:
    return None if prep.data_row_offset is None else row_no + prep.data_row_offset


def error_rows(con: duckdb.DuckDBPyConnection, prefix: str, prep: PreparedFile, *, limit: int,
               table: str | None = None) -> list[dict[str, object]]:
    """The first `limit` errors as data, for a report that lays them out itself: the data row
    (`row`, 1-based, as in the quarantine), the workbook's own row (`sheet_row`, None for a CSV)
    and `sheet`, the canonical `field` ('' for the whole row), the `value` and the reason in
    English and Vietnamese. No file path: a report shows only the name the user gave."""
    rows = con.execute(
        f"SELECT row_no, field, value, reason, reason_vi FROM {table or prefix + '_err'} "
        "ORDER BY row_no, field LIMIT ?", [limit]).fetchall()
    return [{"row": r, "sheet_row": _sheet_row(prep, r), "sheet": prep.sheet, "field": f or "",
             "value": mask_text(v), "reason": mask_text(en), "reason_vi": mask_text(vi)} for r, f, v, en, vi in rows]


def stage(con: duckdb.DuckDBPyConnection, prep: PreparedFile, mapping: ColumnMapping, prefix: str, *,
          max_errors: int = 20, lang: str = "en", on_stage: Callable[[str], None] | None = None) -> StagingResult:
    """Load and validate a prepared file into TEMP relations named <prefix>_*."""
    if on_stage:
        on_stage(f"read:{prep.kind}")
    load_raw(con, prep, prefix)
    unsafe = shifted_unsafe(prep)
    blank_shifted(con, prefix, unsafe)
    if on_stage:
        on_stage(f"validate:{prep.kind}")
    validate(con, prefix, prep.kind, mapping, unsafe)
    rows_read, = con.execute(f"SELECT count(*) FROM {prefix}_typed").fetchone()
    n_err, n_rows = con.execute(f"SELECT count(*), count(DISTINCT row_no) FROM {prefix}_err").fetchone()
    valid = rows_read - n_rows
    return StagingResult(
        relation=f"{prefix}_valid", errors_relation=f"{prefix}_err", file=prep.info.name,
        file_sha256=prep.info.sha256, kind=prep.kind, rows_read=rows_read, valid_rows=valid,
        quarantined_rows=n_rows, error_count=n_err,
        errors=collect_errors(con, prefix, prep, limit=max_errors, lang=lang),
        columns_dropped=list(prep.columns_dropped), pii_columns_dropped=list(prep.pii_columns_dropped),
        header_row=prep.header_row, sheet=prep.sheet, prepared=prep,
    )


def drop_temp(con: duckdb.DuckDBPyConnection, prefix: str) -> None:
    con.execute(f"DROP VIEW IF EXISTS {prefix}_valid")
    for suffix in ("raw", "typed", "err", *(f"vmap_{c}" for kinds in (*ENUM_COLUMNS.values(), *BOOLEAN_COLS.values())
                                            for c in kinds)):
        con.execute(f"DROP TABLE IF EXISTS {prefix}_{suffix}")
