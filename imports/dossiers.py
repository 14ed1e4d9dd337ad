"""Dossier import: `import_dossiers(store, path, events_path=...)` and `load_staging(con, path)`.

Flow (all SQL set-based in DuckDB; the store writes are in store/dossier_writes.py):

1. check the file (imports.reader): encoding, format, header row, column mapping. A file that
   cannot be read as a whole is refused with ImportRefused and nothing changes;
2. in ONE write transaction: read it into TEMP staging tables, validate (imports.staging),
   create unknown agencies/procedures, upsert events then dossiers, quarantine bad rows, record
   the import batch. Any exception, Ctrl-C included, rolls everything back.

Personal-data columns are never read past the header: they are not in staging, not in the
quarantine's raw JSON and not in any message; only their header names are reported.
"""
from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

import duckdb

from config.clock import local_now
from config.mapping import ColumnMapping, load_mapping
from imports.errors import ImportRefused
from imports.reader import Kind, PreparedFile, inspect_file, prepare_file
from imports.staging import RowError, StagingResult, collect_errors, drop_temp, error_rows, stage
from imports.workbook import ReaderLimits
from store import dossier_writes as dw

__all__ = ["ImportRefused", "ImportSummary", "StagingResult", "RowError", "import_dossiers", "import_events",
           "load_staging", "resolve_mapping"]

MAX_ERRORS = 20
StageHook = Callable[[str], None]


def resolve_mapping(mapping: ColumnMapping | Path | str | None) -> ColumnMapping:
    if isinstance(mapping, ColumnMapping):
        return mapping
    return load_mapping(mapping)


# -- summary ----------------------------------------------------------------------------------
@dataclass
class ImportSummary:
    """What an import did. For an events file the row counts are events."""

    file: str
    batch_id: int | None
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0                 # rows with at least one error
    columns_dropped: list[str] = field(default_factory=list)
    pii_columns_dropped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)   # the first MAX_ERRORS messages (import's `lang`)
    errors_vi: list[str] = field(default_factory=list)  # the same in Vietnamese
    error_rows: list[dict[str, Any]] = field(default_factory=list)  # the same as data (staging.error_rows)
    duration_s: float = 0.0
    kind: str = "dossiers"
    file_sha256: str = ""
    error_count: int = 0                 # (row, field) errors in the file
    quarantine_added: int = 0            # new quarantine rows (0 when re-importing the same file)
    agencies_created: int = 0
    procedures_created: int = 0
    dossiers_updated_from_events: int = 0
    sheet: str | None = None
    header_row: int = 1
    events: "ImportSummary | None" = None
    dry_run: bool = False                # validated and counted, then rolled back: nothing stored
    inconsistent_states: int = 0         # valid rows in state processing with a result date

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["events"] = self.events.to_dict() if self.events else None
        return d

    def render(self, lang: str = "en") -> str:
        vi = lang == "vi"
        what = ("sự kiện" if vi else "events") if self.kind == "events" else ("hồ sơ" if vi else "dossiers")
        where = f' (sheet "{self.sheet}")' if self.sheet else ""
        if vi:
            lines = [
                (f"Kiểm tra {what} từ {self.file}{where} (chưa nhập: không lưu gì), {self.duration_s:.1f} giây"
                 if self.dry_run else f"Nhập {what} từ {self.file}{where} — lô {self.batch_id}, {self.duration_s:.1f} giây"),
                f"  Số dòng đọc:        {self.rows_read:>10,}",
                f"  Thêm mới:           {self.inserted:>10,}",
                f"  Cập nhật:           {self.updated:>10,}",
                f"  Không đổi:          {self.unchanged:>10,}",
                f"  Cách ly (dòng lỗi): {self.quarantined:>10,}",
            ]
        else:
            lines = [
                (f"Checked {what} from {self.file}{where} (dry run: nothing stored), {self.duration_s:.1f} s"
                 if self.dry_run else f"Imported {what} from {self.file}{where}: batch {self.batch_id}, {self.duration_s:.1f} s"),
                f"  rows read:          {self.rows_read:>10,}",
                f"  inserted:           {self.inserted:>10,}",
                f"  updated:            {self.updated:>10,}",
                f"  unchanged:          {self.unchanged:>10,}",
                f"  quarantined rows:   {self.quarantined:>10,}",
            ]
        if self.agencies_created or self.procedures_created:
            lines.append(
                f"  {'Cơ quan mới' if vi else 'new agencies'}: {self.agencies_created}, "
                f"{'thủ tục mới' if vi else 'new procedures'}: {self.procedures_created}"
            )
        if self.inconsistent_states:
            n_vi = f"{self.inconsistent_states:,}".replace(",", ".")  # Vietnamese groups thousands with dots
            lines.append(f"  Trạng thái mâu thuẫn: {n_vi} hồ sơ đang xử lý nhưng có ngày có kết "
                         f"quả, được xét theo ngày đó" if vi else
                         f"  inconsistent state: {self.inconsistent_states:,} dossiers processing but with a result "
                         f"date, judged by that date")
        if self.dossiers_updated_from_events:
            lines.append(f"  {'Hồ sơ cập nhật theo sự kiện' if vi else 'dossiers updated from events'}: "
                         f"{self.dossiers_updated_from_events}")
        if self.pii_columns_dropped:
            lines.append(("  Cột dữ liệu cá nhân đã bỏ (không lưu): " if vi
                          else "  personal-data columns dropped (never stored): ")
                         + ", ".join(self.pii_columns_dropped))
        if self.columns_dropped:
            lines.append(("  Cột không nhận diện đã bỏ: " if vi else "  unknown columns dropped: ")
                         + ", ".join(self.columns_dropped))
        errors = (self.errors_vi or self.errors) if vi else self.errors
        if errors:
            more = self.error_count - len(errors)
            lines.append(("  Lỗi" if vi else "  errors") + (f" ({len(errors)} / {self.error_count}):"))
            lines += [f"    {e}" for e in errors]
            if more > 0:
                lines.append(f"    ... {'và' if vi else 'and'} {more} {'lỗi khác' if vi else 'more'}"
                             + (" (bảng quarantine)" if vi else " (see the quarantine table)"))
        if self.events:
            lines.append(self.events.render(lang))
        return "\n".join(lines)


# -- progress ---------------------------------------------------------------------------------
_STAGES = {"check": "checking", "read": "reading", "validate": "validating", "write": "writing"}


@contextmanager
def _progress(enabled: bool, total: int) -> Iterator[Callable[[str], None]]:
    if not enabled:
        yield lambda stage: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description:<28}"), BarColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=False) as prog:
        task = prog.add_task("starting", total=total)

        def advance(stage: str) -> None:
            head, _, rest = stage.partition(":")
            prog.update(task, advance=1, description=f"{_STAGES.get(head, head)} {rest}".strip())

        yield advance
        prog.update(task, completed=total, description="done")


# -- staging without the store ------------------------------------------------------------------
def load_staging(con: duckdb.DuckDBPyConnection, path: Path | str, mapping: ColumnMapping | Path | str | None = None,
                 *, kind: Kind = "dossiers", prefix: str | None = None, max_errors: int = 1000,
                 lang: str = "en", reader_limits: ReaderLimits | None = None) -> StagingResult:
    """Read and validate a dossier (or events) file into TEMP relations of `con`; no store writes.

    Returns a StagingResult whose `.relation` names a TEMP view of the valid rows with the typed
    canonical columns (typed as config/mapping.py declares them) + row_no (events: dossier_code, event, at, detail, row_no),
    `.errors` the first `max_errors` row errors (file, row, field, reason) and `.error_count` all
    of them. Raises ImportRefused when the file cannot be read as a whole (a workbook is read in
    a child process within `reader_limits`, imports/workbook.py)."""
    m = resolve_mapping(mapping)
    info = inspect_file(path)
    prefix = prefix or ("stg_dossiers" if kind == "dossiers" else "stg_events")
    with tempfile.TemporaryDirectory(prefix="motcua-import-") as tmp:
        prep = prepare_file(info, m, kind, Path(tmp), reader_limits)
        result = stage(con, prep, m, prefix, max_errors=max_errors, lang=lang)
        con.execute(f"DROP TABLE IF EXISTS {prefix}_raw")
    _refuse_if_no_rows(result, prep)
    return result


def _refuse_if_no_rows(result: StagingResult, prep: PreparedFile) -> None:
    if result.rows_read == 0:
        where = f' (sheet "{prep.sheet}")' if prep.sheet else ""
        raise ImportRefused(
            f"{prep.info.name}{where}: no data rows after the header (row {prep.header_row}); nothing imported",
            file=prep.info.name, reason="no_rows",
        )


# -- import -----------------------------------------------------------------------------------
def import_dossiers(store, path: Path | str, *, events_path: Path | str | None = None,
                    mapping: ColumnMapping | Path | str | None = None, progress: bool = False,
                    on_stage: StageHook | None = None, lang: str = "en",
                    max_errors: int = MAX_ERRORS, dry_run: bool = False,
                    reader_limits: ReaderLimits | None = None, names: tuple[str | None, str | None] = (None, None),
                    ) -> ImportSummary:
    """Import a dossier file (CSV/XLSX), optionally with its events file, in one transaction.

    Re-importing updates (upsert on dossier_code): unchanged rows are counted, never duplicated.
    `on_stage(name)` is called at each stage (read:dossiers, validate:dossiers, write:...), inside
    the transaction: an exception raised from it (e.g. KeyboardInterrupt) rolls everything back.
    Raises ImportRefused (nothing written) when a file cannot be imported as a whole.
    dry_run=True does everything an import does, counts what it would insert, update and
    quarantine, then rolls the transaction back: the validation report before the import.
    A workbook is read in a child process within `reader_limits` (imports/workbook.py).
    `names` are the files' names in messages and records when not their paths (a copy's)."""
    return _run_import(store, path, events_path, mapping, progress, on_stage, lang, max_errors, dossiers=True,
                       dry_run=dry_run, reader_limits=reader_limits, names=names)


def import_events(store, path: Path | str, *, mapping: ColumnMapping | Path | str | None = None,
                  progress: bool = False, on_stage: StageHook | None = None, lang: str = "en",
                  max_errors: int = MAX_ERRORS, reader_limits: ReaderLimits | None = None) -> ImportSummary:
    """Import an events file alone (dossier_code, event, at, detail) into dossier_events; the
    stored dossiers' supplement dates follow their events. Events of dossiers not stored are
    quarantined. A workbook is read within `reader_limits`, as in import_dossiers."""
    return _run_import(store, None, path, mapping, progress, on_stage, lang, max_errors, dossiers=False,
                       reader_limits=reader_limits)


class _RollBack(Exception):
    """Raised inside a dry run's transaction to undo it after counting."""

    def __init__(self, summary: ImportSummary) -> None:
        super().__init__("dry run")
        self.summary = summary


def _run_import(store, path, events_path, mapping, progress, on_stage, lang, max_errors, *,
                dossiers: bool, dry_run: bool = False, reader_limits: ReaderLimits | None = None,
                names: tuple[str | None, str | None] = (None, None)) -> ImportSummary:
    t0 = time.monotonic()
    m = resolve_mapping(mapping)
    # stages: check, read, validate (+ references, dossiers, updated, inserted) + quarantine
    n_stages = (7 if dossiers else 0) + (4 if events_path is not None else 0) + 1
    with tempfile.TemporaryDirectory(prefix="motcua-import-") as tmp, _progress(progress, n_stages) as bar:
        def hook(stage_name: str) -> None:
            bar(stage_name)
            if on_stage:
                on_stage(stage_name)

        d_prep = e_prep = None
        if dossiers:
            hook("check:dossiers")
            d_prep = prepare_file(inspect_file(path, names[0]), m, "dossiers", Path(tmp), reader_limits)
        if events_path is not None:
            hook("check:events")
            e_prep = prepare_file(inspect_file(events_path, names[1]), m, "events", Path(tmp), reader_limits)
        try:
            with store.transaction() as con:
                result = _import_in_transaction(con, d_prep, e_prep, m, hook, lang, max_errors)
                if dry_run:
                    raise _RollBack(result)
        except _RollBack as rb:
            result = rb.summary
            for s_ in (result, result.events):
                if s_ is not None:
                    s_.dry_run, s_.batch_id = True, None
    duration = round(time.monotonic() - t0, 3)
    result.duration_s = duration
    if result.events is not None and result.events is not result:
        result.events.duration_s = duration
    return result


def _import_in_transaction(con: duckdb.DuckDBPyConnection, d_prep: PreparedFile | None,
                           e_prep: PreparedFile | None, m: ColumnMapping, hook: StageHook, lang: str,
                           max_errors: int) -> ImportSummary:
    now = local_now().replace(microsecond=0)
    d_res = e_res = None
    if d_prep:
        d_res = stage(con, d_prep, m, "_imp_d", max_errors=max_errors, lang=lang, on_stage=hook)
        _refuse_if_no_rows(d_res, d_prep)
    if e_prep:
        e_res = stage(con, e_prep, m, "_imp_e", max_errors=max_errors, lang=lang, on_stage=hook)
        _refuse_if_no_rows(e_res, e_prep)

    d_sum = e_sum = None
    if d_prep and d_res:
        d_sum = _summary_base(d_res, d_prep)
        d_sum.batch_id = dw.begin_batch(con, kind="dossiers", file_name=d_prep.info.name,
                                        file_sha256=d_prep.info.sha256, started_at=now)
    if e_prep and e_res:
        e_sum = _summary_base(e_res, e_prep)
        e_sum.batch_id = dw.begin_batch(con, kind="events", file_name=e_prep.info.name,
                                        file_sha256=e_prep.info.sha256, started_at=now)

    for s_, prep_, prefix_ in ((d_sum, d_prep, "_imp_d"), (e_sum, e_prep, "_imp_e")):
        if s_ is not None and prep_ is not None:
            s_.errors_vi = [str(e) for e in collect_errors(con, prefix_, prep_, limit=max_errors, lang="vi")]
            s_.error_rows = error_rows(con, prefix_, prep_, limit=max_errors)

    if d_sum is not None:
        d_sum.inconsistent_states = dw.inconsistent_states(con, "_imp_d_valid")
        hook("write:references")
        d_sum.agencies_created = dw.ensure_agencies(con, "_imp_d_valid")
        d_sum.procedures_created = dw.ensure_procedures(con, "_imp_d_valid")

    if e_sum is not None and e_prep is not None:
        hook("write:events")
        _quarantine_unknown_event_dossiers(con, e_prep, "_imp_d_valid" if d_sum is not None else None)
        counts = dw.upsert_events(con, "_imp_e_ok", e_sum.batch_id)
        e_sum.inserted, e_sum.updated, e_sum.unchanged = counts.inserted, counts.updated, counts.unchanged
        e_sum.quarantined, e_sum.error_count = con.execute(
            "SELECT count(DISTINCT row_no), count(*) FROM _imp_e_err").fetchone()
        e_sum.errors = [str(e) for e in collect_errors(con, "_imp_e", e_prep, limit=max_errors, lang=lang)]
        e_sum.errors_vi = [str(e) for e in collect_errors(con, "_imp_e", e_prep, limit=max_errors, lang="vi")]
        e_sum.error_rows = error_rows(con, "_imp_e", e_prep, limit=max_errors)

    # Latest supplement cycle from the stored events, for the dossiers of either file.
    cycles = None
    if dw.has_events(con):
        codes = []
        if d_sum is not None:
            codes.append("SELECT dossier_code FROM _imp_d_valid")
        if e_sum is not None:
            codes.append("SELECT dossier_code FROM _imp_e_ok")
        cycles = "_imp_cycles"
        dw.supplement_cycles(con, " UNION ALL ".join(codes), cycles)

    if d_sum is not None and d_prep is not None:
        hook("write:dossiers")
        counts = dw.upsert_dossiers(con, "_imp_d_valid", d_sum.batch_id, now, cycles=cycles, on_step=hook)
        d_sum.inserted, d_sum.updated, d_sum.unchanged = counts.inserted, counts.updated, counts.unchanged
    if e_sum is not None and cycles is not None:
        e_sum.dossiers_updated_from_events = dw.apply_cycles_to_stored(
            con, cycles, e_sum.batch_id, now, exclude="_imp_d_valid" if d_sum is not None else None)

    hook("write:quarantine")
    for s, prep, prefix in ((d_sum, d_prep, "_imp_d"), (e_sum, e_prep, "_imp_e")):
        if s is None or prep is None:
            continue
        s.quarantine_added = dw.quarantine_rows(con, f"{prefix}_err", file_sha256=prep.info.sha256,
                                                file_name=prep.info.name, batch_id=s.batch_id, now=now)
        dw.finish_batch(con, s.batch_id, finished_at=local_now().replace(microsecond=0), rows_read=s.rows_read,
                        inserted=s.inserted, updated=s.updated, unchanged=s.unchanged, quarantined=s.quarantined,
                        columns_dropped=s.columns_dropped, pii_columns_dropped=s.pii_columns_dropped)
    for prefix in ("_imp_d", "_imp_e"):
        drop_temp(con, prefix)
    con.execute("DROP TABLE IF EXISTS _imp_cycles; DROP TABLE IF EXISTS _imp_e_ok; DROP TABLE IF EXISTS _imp_e_unknown")
    if d_sum is not None:
        d_sum.events = e_sum
        return d_sum
    assert e_sum is not None
    return e_sum


def _summary_base(res: StagingResult, prep: PreparedFile) -> ImportSummary:
    return ImportSummary(
        file=prep.info.name, batch_id=None, rows_read=res.rows_read, quarantined=res.quarantined_rows,
        columns_dropped=list(res.columns_dropped), pii_columns_dropped=list(res.pii_columns_dropped),
        errors=[str(e) for e in res.errors], kind=prep.kind, file_sha256=prep.info.sha256,
        error_count=res.error_count, sheet=prep.sheet, header_row=prep.header_row,
    )


def _quarantine_unknown_event_dossiers(con: duckdb.DuckDBPyConnection, e_prep: PreparedFile,
                                       dossiers_in_file: str | None) -> None:
    """Events of dossiers neither stored nor in the dossier file join the events' errors."""
    dw.unknown_event_dossiers(con, "_imp_e_valid", dossiers_in_file, "_imp_e_unknown")
    canon = ", ".join(f'"{c}" := v."{c}"' for c in ("dossier_code", "event", "at", "detail"))
    con.execute(
        "INSERT INTO _imp_e_err SELECT u.row_no, 'dossier_code', u.dossier_code, "
        "'unknown dossier: ' || u.dossier_code || ' is neither in the store nor in the dossier file', "
        "'hồ sơ không tồn tại: ' || u.dossier_code || ' không có trong kho dữ liệu và tệp hồ sơ', "
        f"to_json(struct_pack({canon})) FROM _imp_e_unknown u JOIN _imp_e_valid v USING (row_no)"
    )
    con.execute("CREATE OR REPLACE TEMP TABLE _imp_e_ok AS SELECT * FROM _imp_e_valid v "
                "ANTI JOIN _imp_e_unknown u USING (row_no)")
