"""The open export of the store for analysts (`app.py export-data`): a folder of open files.

One file per relation of the store (Parquet or CSV, store/data_export.py decides which and writes
them, all read in one snapshot), `schema.sql` to load them elsewhere, a README in English saying
what each table and column means, and `manifest.json` with each file's size and SHA-256. The folder
is written beside its destination under a temporary name and renamed at the end, so a folder with
the destination's name is always complete; an analyst's folder that holds anything is never
written into. No SQL here.
"""
from __future__ import annotations

import datetime as dt
import json
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

import duckdb

from backup.manifest import fsync, sha256_of
from config.clock import timezone_name
from config.errors import MotcuaError
from config.vocabulary import BIEU06_COLUMNS, BIEU06_GROUPS
from store import data_export
from store.data_export import FORMATS, INTERNAL_COLUMNS, INTERNAL_TABLES, Relation
from store.db import SCHEMA_VERSION

__all__ = ["export_data", "ExportRefused", "DESCRIPTIONS", "FORMATS"]


class ExportRefused(MotcuaError, ValueError):
    """The export was not started: an unknown format, or a destination that is not an empty folder."""


def _bieu06_columns() -> dict[str, str]:
    """The count columns of agency_month_stats in the vocabulary's words (the form's own titles),
    with what the form's titles leave unsaid."""
    notes = {"received_total": "received_online + received_direct_postal + carried_over",
             "carried_over": "received before the month and not resolved before it started",
             "pending_total": "at the end of the month, or at `as_of` for the month under way",
             "pending_in_time": "dossiers waiting for a supplement included"}
    return {c.name: f"{BIEU06_GROUPS[c.group].en}: {c.en.lower()}"
                    + (f" ({notes[c.name]})." if c.name in notes else ".") for c in BIEU06_COLUMNS}


# What each relation and column means, for the README. Taken from the migrations' comments and the
# development guide's "Data model"; a column not listed here is shown with its type alone.
DESCRIPTIONS: dict[str, tuple[str, dict[str, str]]] = {
    "dossiers": ("One row per dossier (hồ sơ), as the portal's exports describe it, upserted by every import; "
                 "the vendor's own figures are kept beside ours to audit them.", {
        "dossier_code": "The dossier's code (the natural key).",
        "agency_code": "The agency that handles it (`agencies.code`).",
        "procedure_code": "Its administrative procedure (`procedures.code`).",
        "field": "The procedure's field (lĩnh vực).",
        "channel": "How it was received: online, direct (in person) or postal.",
        "received_at": "When it was received.",
        "time_limit": "The time limit for resolving it, in `time_unit`.",
        "time_unit": "The unit of `time_limit`: working_days, calendar_days, same_day or working_hours.",
        "supplement_requested_at": "The latest supplement request (Mẫu 02).",
        "supplement_received_at": "The complete dossier back after that request.",
        "extended_due_at": "The new date of an apology letter (Mẫu 04); recorded, never used for judging.",
        "finished_at": "When the result was ready.",
        "returned_at": "When the result was returned.",
        "state": "Its state: processing, finished, returned, withdrawn or rejected.",
        "reported_due_at": "The due date the vendor's system reports (kept to audit it).",
        "reported_status": "The status the vendor's system reports (kept to audit it).",
        "source_system": "The source system the export names (e.g. 1.0 or 2.0).",
        "synced_at": "The last sync to the National Public Service Portal.",
        "synced_status": "The status sent at that sync.",
        "batch_id": "The import that last wrote the row (`import_batches.batch_id`).",
        "updated_at": "When an import last changed the row.",
        "dossier_id": "An integer surrogate key, never reused (the store's SLA tables join on it).",
        "paid_online": "The fee was paid online (Thanh toán trực tuyến); empty when the exports do not say.",
        "dossier_digitised": "Digitised at reception (Đã số hoá hồ sơ); empty when the exports do not say.",
        "result_digitised": "The result digitised (Số hoá kết quả); empty when the exports do not say.",
        "satisfaction_rating": "The citizen's rating, 1 to 5; empty when the exports do not say.",
    }),
    "dossier_sla": ("Each dossier's deadline and status as motcua-watch's own recompute judged them, from the "
                    "law's rules (not the vendor's figures); in the store a view over the recompute's results.", {
        "dossier_code": "The dossier (`dossiers.dossier_code`).",
        "rule_version": "The rule set's version it was judged by: the last in force on its reception date.",
        "due_date": "The due date: the day of the last instant before `late_from`.",
        "due_at": "The due instant: `late_from` − 1 µs for office-time deadlines (working hours), "
                  "otherwise the due date at the office close of the version in force.",
        "late_from": "The first instant at which the dossier is late; empty when it has no deadline.",
        "final_status": "The class of a resolved dossier (early, on_time, overdue); empty otherwise.",
        "status": "The status at `computed_as_of`: early, on_time, overdue, pending_in_time, pending_overdue, "
                  "waiting_supplement, excluded (withdrawn or rejected) or no_deadline.",
        "computed_as_of": "The instant the recompute judged at.",
    }),
    "dossier_events": ("Steps of a dossier's handling that may repeat: supplement requests and receipts, "
                       "extensions, pauses and resumes.", {
        "dossier_code": "The dossier (`dossiers.dossier_code`).",
        "event": "What happened: supplement_requested, supplement_received, extended, pause or resume.",
        "at": "When it happened.",
        "detail": "The detail the export gives, if any.",
        "batch_id": "The import that wrote it (`import_batches.batch_id`).",
    }),
    "agencies": ("The agencies, effective-dated: a row holds from `valid_from` to `valid_to` (districts were "
                 "abolished and provinces merged in 07/2025, and history stays comparable).", {
        "code": "The agency's code.",
        "name": "Its name.",
        "level": "province, department, district, commune or unit.",
        "parent_code": "The agency above it in the tree.",
        "valid_from": "First day the row holds (inclusive).",
        "valid_to": "Day the row stops holding (exclusive); empty while it still holds.",
        "successor_code": "Where its dossiers went when it closed.",
    }),
    "procedures": ("The administrative procedures (thủ tục hành chính).", {
        "code": "The procedure's code.",
        "name": "Its name.",
        "field": "Its field (lĩnh vực).",
        "time_limit": "Its time limit, in `time_unit`.",
        "time_unit": "working_days, working_hours, calendar_days or same_day.",
        "online_level": "full, partial or none (dịch vụ công trực tuyến toàn trình / một phần).",
    }),
    "agency_month_stats": ("The monthly figures of Biểu số 06/VPCP/KSTT per agency and month, as recorded on the "
                           "dossiers (no roll-up along the agency tree), rebuilt by every recompute.", {
        "month": "The month (its first day).",
        "agency_code": "The agency.",
        **_bieu06_columns(),
        "as_of": "The recompute's instant.",
    }),
    "agency_month_audit": ("Per month and agency, the vendor's due dates and statuses against the recompute's "
                           "(month resolved in, or received in when not resolved).", {
        "month": "The month (its first day).",
        "agency_code": "The agency.",
        "dossiers": "Dossiers audited.",
        "reported_overdue_resolved_on_time": "The vendor says overdue; resolved on time by the recompute.",
        "reported_on_time_actually_overdue": "The vendor says on time; overdue by the recompute.",
        "no_reported_due": "No due date from the vendor.",
        "due_date_differs": "The vendor's due date differs from the recompute's.",
        "status_differs": "The vendor's status differs from the recompute's.",
        "mismatches": "Dossiers with a disagreement.",
        "reported_overdue": "Overdue as the vendor reports.",
        "recomputed_overdue": "Overdue as recomputed.",
    }),
    "agency_month_sync": ("Per month (resolved in), agency and source system, the results sent to the National "
                          "Public Service Portal.", {
        "month": "The month resolved in (empty: a resolved state without a date).",
        "agency_code": "The agency.",
        "source_system": "The source system (e.g. 1.0 or 2.0).",
        "resolved": "Dossiers resolved.",
        "synced_ok": "Synced with the right status after resolution.",
        "never_synced": "Never sent.",
        "synced_before_resolution": "Sent before they were resolved.",
        "status_differs": "Sent with another status.",
        "unsynced": "Dossiers with a sync problem.",
    }),
    "agency_month_findings": ("Per month and agency, what the recompute found in the vendor's facts (only pairs "
                              "with a finding).", {
        "month": "Month resolved in, or received in when not resolved.",
        "agency_code": "The agency.",
        "late_request": "A supplement request after the deadline in force.",
        "orphan_receipt": "A supplement receipt with no request before it.",
        "after_result": "Supplement facts dated after the result.",
        "inconsistent_state": "State processing with a result date.",
        "negative_after_deadline": "Refused or handed back after the deadline.",
        "findings": "Dossiers with at least one of the above.",
        "negative_counted_overdue": "Of negative_after_deadline: counted resolved overdue.",
    }),
    "quarantine": ("Every rejected input row, keyed by file, row and field, with the reason; ID- and phone-shaped "
                   "values are masked and personal-data columns are never kept.", {
        "file_sha256": "The SHA-256 of the file read.",
        "row_no": "The data row, from 1 (header excluded).",
        "field": "The field at fault; empty when the whole row is.",
        "file_name": "The file's name.",
        "value": "The value at fault (masked).",
        "reason": "Why it was rejected.",
        "raw": "The row's known columns as read (JSON, masked).",
        "batch_id": "The import (`import_batches.batch_id`).",
        "created_at": "When it was rejected.",
    }),
    "import_batches": ("One row per import of a file.", {
        "batch_id": "The import's number.",
        "kind": "dossiers or events.",
        "file_name": "The file imported.",
        "file_sha256": "Its SHA-256.",
        "started_at": "When the import started.",
        "finished_at": "When it finished.",
        "rows_read": "Rows read.",
        "rows_inserted": "Rows inserted.",
        "rows_updated": "Rows updated.",
        "rows_unchanged": "Rows already stored as they were.",
        "rows_quarantined": "Rows rejected (see `quarantine`).",
        "columns_dropped": "Unknown columns, ignored.",
        "pii_columns_dropped": "Columns of personal data, never stored (their names only).",
        "status": "running, done or failed.",
    }),
    "probe_runs": ("One row per batch of synthetic probe results (a `probe --once` run or one scheduled job).", {
        "run_id": "The batch's number.",
        "started_at": "When it started.",
        "finished_at": "When it finished.",
        "target": "The base URL probed (scheme://host:port).",
        "results": "Results written.",
        "failures": "Of them, failures.",
    }),
    "probe_results": ("The synthetic probes' raw results: one row per check, journey step or journey summary "
                      "(kept 35 days by default). Never stored: request bodies, credentials, query strings.", {
        "run_id": "The batch (`probe_runs.run_id`).",
        "name": "The check's or journey's name.",
        "kind": "check or journey.",
        "step": "Empty for a check; the step's name; `*` for a journey's summary.",
        "grp": "Its group (e.g. feature-inventory).",
        "started_at": "When it started.",
        "ok": "Whether it passed.",
        "reason": "Why it failed.",
        "status_code": "The HTTP status.",
        "total_ms": "The portal's time as a browser meets it: the sum of the phases below, over redirects.",
        "dns_ms": "DNS resolution.",
        "connect_ms": "TCP connect.",
        "tls_ms": "TLS handshake.",
        "ttfb_ms": "Time to the first byte.",
        "transfer_ms": "Transfer of the body.",
        "bytes": "Bytes received.",
        "cert_days_left": "Days left on the TLS certificate.",
        "url": "The URL, without its query string.",
        "location": "Where it was measured from: `central` (the monitor's own probes) or an agent's location.",
        "result_id": "An agent's id for the result (it is stored once however often it is sent); empty for the central's.",
    }),
    "probe_rollup_hourly": ("The probes' results per hour, location, check and step (kept 400 days).", {
        "hour": "The hour's start.",
        "location": "Where it was measured from (as `probe_results.location`).",
        "count": "Results.", "failures": "Failures.",
        "p50_ms": "Median total time.", "p95_ms": "95th percentile.", "max_ms": "Maximum.",
    }),
    "probe_rollup_daily": ("The probes' results per day, location, check and step (kept 400 days).", {
        "day": "The day.",
        "location": "Where it was measured from (as `probe_results.location`).",
        "count": "Results.", "failures": "Failures.",
        "p50_ms": "Median total time.", "p95_ms": "95th percentile.", "max_ms": "Maximum.",
    }),
    "agent_contacts": ("When each remote probe location last reported, and how much it sent.", {
        "location": "The location (the `agents` config section).",
        "first_seen_at": "Its first batch accepted.", "last_seen_at": "Its last batch accepted.",
        "last_result_at": "The newest result's own time in that batch.",
        "batches": "Batches accepted.", "results": "Results stored.",
        "duplicates": "Results received again and left out.", "agent_version": "The agent's version.",
    }),
    "loadtest_runs": ("One row per load-test run (Locust), whatever its end, with the configuration it ran "
                      "(no credentials, request bodies or uploaded files).", {
        "run_id": "The run's id (e.g. 20261201-181502-3fa2).",
        "scenario": "The scenario run.",
        "release": "The release label under test.",
        "target": "The base URL (scheme://host:port).",
        "status": "running, completed, interrupted, failed or refused.",
        "message": "Why it was refused, failed or interrupted.",
        "started_at": "When it started.", "finished_at": "When it finished.",
        "duration_s": "Planned duration, seconds.", "elapsed_s": "Measured duration, seconds.",
        "workers": "Worker processes (0: one local process).",
        "requests": "Requests sent.", "failures": "Failed requests.",
        "rps": "Requests per second.", "error_rate": "Share of failed requests.",
        "p50_ms": "Median response time.", "p95_ms": "95th percentile.", "p99_ms": "99th percentile.",
        "generator_cpu_max": "CPU of the busiest generator process, % of one core.",
        "generator_cpu_avg": "Average generator CPU, % of one core.",
        "verdict": "pass, fail or none, against the acceptance criteria.",
        "config_json": "The resolved scenario, shape and criteria (JSON, no secrets).",
    }),
    "compliance_events": ("The compliance register's history (requests, evidence, judgements of criteria): "
                          "append-only, each event carrying the SHA-256 of the one before.", {
        "event_id": "The event's number.",
        "item_kind": "request or criterion.",
        "item_id": "The request's id (e.g. YC-2022-001) or the criterion's.",
        "action": "What was done (created, imported, updated, answered, evidence_added, resolved, judged, …).",
        "actor": "Who recorded it, as given (an official's user name).",
        "via": "cli, import, api, dashboard or library.",
        "recorded_at": "When, by the store's own clock.",
        "data": "The fields the event set (JSON).",
        "note": "A note.",
        "prev_hash": "The previous event's hash (empty for the first).",
        "hash": "SHA-256 over prev_hash and this event's content.",
    }),
    "sla_runs": ("One row per recompute of the SLA results.", {
        "run_id": "The run's number.", "rule_set": "The rule set used.", "as_of": "The instant judged at.",
        "started_at": "When it started.", "finished_at": "When it finished.", "dossiers": "Dossiers judged.",
        "kind": "full or incremental (empty: before incremental refreshes existed, full).",
    }),
    "sla_rule_versions": ("The rule set's versions the last recompute used.", {
        "rule_version": "The version.", "effective_from": "From when it is in force (by reception date).",
        "office_close": "Its office close.", "session_starts": "Its office sessions' starts.",
        "session_ends": "Its office sessions' ends.",
    }),
    "sla_calendar": ("The working-day calendar of the last full recompute.", {
        "d": "The date.", "is_working": "Whether it is a working day.",
        "wd_index": "Working days up to and including it.",
    }),
    "sla_result_set": ("The one set of SLA results the store holds.", {
        "as_of": "The instant every status was judged at.", "run_id": "The recompute that wrote them (`sla_runs`).",
        "batch_id": "The last import they include.",
    }),
    "incidents": ("The public status page's incidents: one row per incident, as citizens see it now.", {
        "service": "The service it concerns (an id of config/status_page.yaml).",
        "status": "investigating, identified, monitoring or resolved.",
        "impact": "degraded or outage: the service's status while it is open.",
        "title_vi": "Its title in Vietnamese.", "title_en": "Its title in English.",
        "message_vi": "The latest message shown, in Vietnamese.", "message_en": "The same in English.",
        "source": "alert (opened by the monitor) or manual (by a person).",
        "auto_resolve": "Whether the monitor may resolve it (opened by an alert, no person changed it since).",
        "opened_at": "When it was opened.", "opened_by": "Who opened it ('monitor' for the monitor).",
        "updated_at": "Its last change.", "resolved_at": "When it was resolved.",
    }),
    "incident_updates": ("Every change to an incident, append-only: who, when, what changed.", {
        "incident_id": "The incident (`incidents.incident_id`).", "at": "When.",
        "actor": "The account, or 'monitor'.", "via": "alert, dashboard, cli, api or library.",
        "action": "open, post, edit, resolve or join.",
        "public": "Whether it is an entry of the page's timeline (open, post, resolve).",
        "changed": "JSON: each field changed, {\"field\": [before, after]}.",
        "alert_key": "For a change by an alert: its key (check:<name>).",
        "alert_since": "And since when that alert fires.",
    }),
    "schema_migrations": ("The store's schema migrations applied.", {
        "version": "The migration's number.", "name": "Its name.", "applied_at": "When it was applied.",
    }),
}


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _readme(rels: list[Relation], rows: dict[str, int], fmt: str, now: dt.datetime, store_version: int) -> str:
    lines = [
        "# motcua-watch: open export of the store",
        "",
        f"Made {now:%Y-%m-%d %H:%M:%S} (local time, {timezone_name()}). Format: {fmt.upper()}. "
        f"Store schema version {store_version}.",
        "",
        "motcua-watch is an independent record of a provincial one-stop portal: the dossiers its exports",
        "describe, the deadlines recomputed from the law's rules, the portal's measured availability, load",
        "tests and the compliance register. This folder holds every table of its store as an open file, one",
        "file per table, all read in one consistent snapshot.",
        "",
        "## How to read it",
        "",
        f"- DuckDB: `SELECT * FROM 'dossiers.{fmt}'`; joined, e.g. `SELECT * FROM 'dossiers.{fmt}' "
        f"JOIN 'dossier_sla.{fmt}' USING (dossier_code)`.",
        f"- pandas: `pandas.read_{fmt}('dossiers.{fmt}')`.",
        "- Another database: `schema.sql` creates the tables (DuckDB's SQL; for PostgreSQL change DuckDB's",
        "  own types: UINTEGER → bigint, UTINYINT → smallint, DOUBLE → double precision, VARCHAR[] → text[])",
        "  and ends with the statements that load each file.",
        "- `manifest.json` lists every file with its rows, size and SHA-256 (compare with `sha256sum FILE`).",
        f"- Times are local times of {timezone_name()} without a time zone attached: the law counts in local",
        "  civil days. Empty cells are NULL (unknown or not applicable).",
    ]
    if fmt == "csv":
        lines += [
            "- CSV: UTF-8 (no byte-order mark), comma-separated, one header row. A text cell starting with",
            "  = + - @ (or a tab or carriage return) carries a leading apostrophe so that no spreadsheet runs",
            "  it as a formula; numbers, dates and booleans are written as they are. To move the data to",
            "  another system exactly, make a Parquet export.",
        ]
    lines += [
        "",
        "## Personal data",
        "",
        "The export holds no citizen's personal data, because the store never keeps any: columns with",
        "names, ID numbers, phone numbers, addresses or e-mails are dropped when a file is imported, and",
        "the rejected rows kept in `quarantine` have ID- and phone-shaped values masked. User names of",
        "officials appear where they recorded an action (`compliance_events.actor`).",
        "",
        "## Left out",
        "",
        "The recompute's internal tables, numbers that mean nothing outside the program: "
        + ", ".join(f"`{t}`" for t in INTERNAL_TABLES) + "; and the columns of the same bookkeeping kept "
        "in the dossiers' rows: " + ", ".join(f"`{c}`" for cols in INTERNAL_COLUMNS.values() for c in cols)
        + ". `dossier_sla` gives each dossier's results "
        "in readable columns, and the `agency_month_*` tables give what the counts are counted into.",
        "",
        "## Tables",
    ]
    # the described relations first, in the order above (the dossiers and their results lead)
    order = {name: i for i, name in enumerate(DESCRIPTIONS)}
    for rel in sorted(rels, key=lambda r: (order.get(r.name, len(order)), r.name)):
        described, columns = DESCRIPTIONS.get(rel.name, ("", {}))
        lines += ["", f"### {rel.name}", "",
                  f"`{data_export.file_name(rel.name, fmt)}`, {rows[rel.name]:,} rows." + (f" {described}" if described else ""),
                  "", "| column | type | description |", "|---|---|---|"]
        lines += [f"| `{c.name}` | {_md(c.type)} | {_md(columns.get(c.name, ''))} |" for c in rel.columns]
    return "\n".join(lines) + "\n"


def _check_destination(out_dir: Path) -> None:
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise ExportRefused(f"{out_dir}: exists and is not a folder; the export needs a new or empty folder")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        raise ExportRefused(f"{out_dir}: the folder is not empty; the export writes only into a new or empty "
                            "folder, never over files already there")


def export_data(cursor: duckdb.DuckDBPyConnection, out_dir: Path, fmt: str, now: dt.datetime) -> dict[str, Any]:
    """Export every relation of the store (store/data_export.relations) into `out_dir`, a folder
    that must not exist or be empty: `<relation>.<fmt>` each, `schema.sql`, `README.md`,
    `manifest.json`. `cursor` is a cursor of the store the caller owns and closes; everything is read
    inside one transaction on it. `now` is the export's time (local, naive). Returns a summary:
    out_dir, format, relations {name: rows}, files, bytes, seconds."""
    t0 = time.perf_counter()
    if fmt not in FORMATS:
        raise ExportRefused(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    out_dir = Path(out_dir).absolute()
    _check_destination(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # beside the destination, so the final rename stays on one file system
    partial = out_dir.with_name(f"{out_dir.name}.partial-{secrets.token_hex(6)}")
    partial.mkdir()
    try:
        rows: dict[str, int] = {}
        with data_export.snapshot(cursor):
            rels = data_export.relations(cursor)
            for rel in rels:
                rows[rel.name] = data_export.copy_relation(cursor, rel, partial / data_export.file_name(rel.name, fmt),
                                                           fmt)
            schema = data_export.schema_sql(cursor, rels, fmt)
            store_version = data_export.store_schema_version(cursor)
        (partial / "schema.sql").write_text(schema, encoding="utf-8")
        (partial / "README.md").write_text(_readme(rels, rows, fmt, now, store_version), encoding="utf-8")
        files = []
        for rel in rels:
            name = data_export.file_name(rel.name, fmt)
            files.append({"name": name, "relation": rel.name, "rows": rows[rel.name]})
        files += [{"name": "schema.sql"}, {"name": "README.md"}]
        for f in files:
            path = partial / f["name"]
            fsync(path)  # the data is on disk before the folder gets its final name
            f["bytes"] = path.stat().st_size
            f["sha256"] = sha256_of(path)
        manifest = {
            "format": fmt,
            "created_at": now.isoformat(timespec="seconds"),
            "timezone": timezone_name(),
            "schema_version": store_version,
            "program_schema_version": SCHEMA_VERSION,
            "excluded": list(INTERNAL_TABLES),
            "files": files,
        }
        (partial / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                               encoding="utf-8")
        fsync(partial / "manifest.json")
        fsync(partial)
        _check_destination(out_dir)  # nothing landed there meanwhile
        if out_dir.is_dir():
            out_dir.rmdir()  # empty: fails rather than remove anything that arrived since
        partial.rename(out_dir)
        fsync(out_dir.parent)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    total = sum(f["bytes"] for f in files) + (out_dir / "manifest.json").stat().st_size
    return {
        "out_dir": str(out_dir),
        "format": fmt,
        "relations": rows,
        "files": [f["name"] for f in files] + ["manifest.json"],
        "bytes": total,
        "seconds": round(time.perf_counter() - t0, 3),
    }
