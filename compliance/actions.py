"""Changes to the register, performed by the store's owner: `perform(app, action, **params)`.

Every change appends one event to the history (store/compliance_writes.py): who (`actor`), when
(the owner's clock), what (the fields set). The set of actions is closed:

  add_request(agency, requested_on, description, request_id=None, criterion=None, check=None, note=None)
  update_request(request_id, agency=, requested_on=, description=, criterion=, check=, status=, note=)
  answer_request(request_id, answer, note=None)               the vendor's answer (status → answered)
  attach_check(request_id, since, check=None | criterion=None, note=None)
  attach_file(request_id, file_name, note, content_b64=None | path=None)
  resolve_request(request_id, note=None)                      refused without evidence that holds now
  judge_criterion(criterion, status, note=None, file_name=, content_b64= | path=)   person-judged only
  import_requests(path)                                       CSV/XLSX (compliance/spreadsheet.py)

Each also takes `actor` (required) and `via` (cli | import | api | dashboard | library). No
action edits or deletes an event; none accepts an event id or a time.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import inspect
import re
from pathlib import Path
from typing import Any

from compliance.common import ComplianceRefused, fold  # noqa: F401  (ComplianceRefused: part of this API)
from compliance.evidence import MET, NOT_MET
from compliance.period import PeriodError, parse_date
from compliance.register import REQUEST_STATUSES, criteria_for, evidence_holds
from config.clock import local_today
from config.compliance import CriteriaFile
from store.catalog import run_query
from store.compliance_writes import MAX_FILE_BYTES, append_event_con, record_rejects, store_file
from store.registry import Table

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$")
MAX_TEXT = 4000
FIELDS = ("agency", "requested_on", "description", "criterion", "check", "status")
STATUS_RANK = {"open": 0, "in_progress": 1, "answered": 2, "resolved": 3, "withdrawn": 4}


class ConOps:
    """Named queries on an open transaction's cursor (reads inside a write see its own state)."""

    def __init__(self, con, cfg: Any = None) -> None:
        self.con = con
        self.cfg = cfg

    def query(self, name: str, **params: Any) -> Table:
        return run_query(self.con, name, **params)


def content_key(agency: str, requested_on: dt.date, description: str) -> str:
    """The id of a request given without one: the same agency, date and text give the same id."""
    h = hashlib.sha256(f"{fold(agency)}|{requested_on.isoformat()}|{fold(description)}".encode()).hexdigest()
    return f"YC-{h[:8].upper()}"


def files_dir(app) -> Path:
    return app.cfg.compliance.files_folder(app.cfg.store.path)


# -- validation ---------------------------------------------------------------------------------------

def _text(value: Any, field: str, *, required: bool = True, limit: int = MAX_TEXT) -> str | None:
    text = "" if value is None else str(value).strip()
    if not text:
        if required:
            raise ComplianceRefused(f"{field}: required")
        return None
    if len(text) > limit:
        raise ComplianceRefused(f"{field}: at most {limit} characters (got {len(text)})")
    return text


def _date(value: Any, field: str) -> dt.date:
    try:
        d = parse_date(value, field)
    except PeriodError as e:
        raise ComplianceRefused(str(e)) from None
    if d > local_today():
        raise ComplianceRefused(f"{field}: {d:%d/%m/%Y} is in the future")
    return d


def _since(value: Any, field: str = "since") -> dt.datetime:
    """A date (from its start) or a local time 'YYYY-MM-DD HH:MM[:SS]', not in the future."""
    if isinstance(value, dt.datetime):
        t = value
    else:
        text = str(value or "").strip()
        try:
            t = dt.datetime.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?", text) \
                else dt.datetime.combine(_date(text, field), dt.time())
        except ValueError:
            raise ComplianceRefused(f"{field}: {text!r} is not a real time") from None
    if t.date() > local_today():
        raise ComplianceRefused(f"{field}: {t:%d/%m/%Y} is in the future")
    return t.replace(tzinfo=None)


def _criterion(value: Any, criteria: CriteriaFile, field: str = "criterion") -> str | None:
    cid = _text(value, field, required=False, limit=60)
    if cid and criteria.get(cid) is None:
        raise ComplianceRefused(f"{field}: no criterion {cid!r} in the criteria file (known: "
                                f"{', '.join(c.id for c in criteria.criteria)})")
    return cid


def _check_names(app) -> set[str] | None:
    try:
        from config.probes import load_probes

        p = load_probes(app.cfg.monitor.probes)
    except Exception:  # no usable probes file: names are not checked against it
        return None
    return ({c.name for c in p.checks} | {j.name for j in p.journeys}
            | {f"{j.name}/{s.name}" for j in p.journeys for s in j.steps})


def _check(app, value: Any, field: str = "check") -> str | None:
    name = _text(value, field, required=False, limit=200)
    known = _check_names(app)
    if name and known is not None and name not in known:
        raise ComplianceRefused(f"{field}: no check {name!r} in the probes file {app.cfg.monitor.probes}")
    return name


def _status(value: Any) -> str:
    s = _text(value, "status", limit=40)
    if s not in REQUEST_STATUSES:
        raise ComplianceRefused(f"status: must be one of {', '.join(REQUEST_STATUSES)}; got {s!r}")
    return s


def _current(ops: ConOps, request_id: str) -> dict[str, Any]:
    rid = _text(request_id, "request_id", limit=40)
    row = ops.query("compliance_requests", request_id=rid).one()
    if row is None:
        raise ComplianceRefused(f"{rid}: no such request")
    return row


def _content(app, file_name: Any, content_b64: Any, path: Any) -> tuple[str, bytes]:
    if (content_b64 is None) == (path is None):
        raise ComplianceRefused("file: give the file (a path, or its content)")
    if path is not None:
        p = Path(str(path))
        if not p.is_file():
            raise ComplianceRefused(f"{p}: file not found")
        if p.stat().st_size > MAX_FILE_BYTES:
            raise ComplianceRefused(f"{p}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
        return str(file_name or p.name), p.read_bytes()
    try:
        data = base64.b64decode(str(content_b64), validate=True)
    except ValueError:
        raise ComplianceRefused("file: the content is not valid base64") from None
    return _text(file_name, "file_name", limit=255) or "evidence", data


# -- actions ------------------------------------------------------------------------------------------

def add_request(app, ops, con, crit, actor, via, agency, requested_on, description, request_id=None,
                criterion=None, check=None, status=None, vendor_answer=None, note=None, action="created"):
    fields = {"agency": _text(agency, "agency", limit=200), "requested_on": _date(requested_on, "requested_on").isoformat(),
              "description": _text(description, "description"), "criterion": _criterion(criterion, crit),
              "check_name": _check(app, check), "status": _status(status or "open"),
              "vendor_answer": _text(vendor_answer, "vendor_answer", required=False)}
    rid = _text(request_id, "request_id", required=False, limit=40)
    if fields["status"] == "resolved":
        raise ComplianceRefused(f"status: a new request cannot be marked resolved without evidence; register it, "
                                f"attach evidence (compliance attach ID --check NAME --since DATE, or --file FILE "
                                f"--note TEXT), then resolve it")
    if rid and not ID_RE.match(rid):
        raise ComplianceRefused(f"request_id: {rid!r} may hold letters, digits and . _ / - (at most 40)")
    key = rid or content_key(fields["agency"], dt.date.fromisoformat(fields["requested_on"]), fields["description"])
    if ops.query("compliance_requests", request_id=key).one() is not None:
        raise ComplianceRefused(f"{key}: this request is already in the register"
                                + ("" if rid else " (same agency, date and description)"))
    ev = append_event_con(con, item_kind="request", item_id=key, action=action, actor=actor, via=via,
                          data={k: v for k, v in fields.items() if v is not None}, note=_text(note, "note", required=False))
    return {"request_id": key, "event_id": ev["event_id"], "created": True}


def _resolution_evidence(app, ops, crit, request_id: str) -> tuple[list[int], list[str]]:
    held, failed = [], []
    now = dt.datetime.combine(local_today() + dt.timedelta(days=1), dt.time())
    stats = {r["event_id"]: r for r in ops.query("compliance_evidence_checks", until=now, request_id=request_id)}
    for e in ops.query("compliance_evidence", request_id=request_id).to_dicts():
        ok, detail = evidence_holds(ops, e, crit, "en", now, stats)
        (held if ok else failed).append(e["event_id"] if ok else detail)
    return held, failed


def _refuse_unresolved(request_id: str, failed: list[str]) -> None:
    if not failed:
        raise ComplianceRefused(
            f"{request_id}: cannot be marked resolved without evidence. Attach a check that has passed since "
            f"a date (compliance attach {request_id} --check NAME --since YYYY-MM-DD) or a file with a note "
            f"(compliance attach {request_id} --file FILE --note TEXT), then resolve it.")
    raise ComplianceRefused(f"{request_id}: cannot be marked resolved: its evidence does not hold: "
                            + "; ".join(failed))


def update_request(app, ops, con, crit, actor, via, request_id, note=None, action="updated", **changes):
    cur = _current(ops, request_id)
    unknown = sorted(set(changes) - set(FIELDS) - {"vendor_answer"})
    if unknown:
        raise ComplianceRefused(f"update_request: no field {', '.join(unknown)}; fields: {', '.join(FIELDS)}")
    new: dict[str, Any] = {}
    for k, v in changes.items():
        if v is None:
            continue
        if k == "agency":
            new["agency"] = _text(v, "agency", limit=200)
        elif k == "requested_on":
            new["requested_on"] = _date(v, "requested_on").isoformat()
        elif k == "description":
            new["description"] = _text(v, "description")
        elif k == "criterion":
            new["criterion"] = _criterion(v, crit)  # "" clears the link
        elif k == "check":
            new["check_name"] = _check(app, v)
        elif k == "status":
            new["status"] = _status(v)
        elif k == "vendor_answer":
            new["vendor_answer"] = _text(v, "vendor_answer")
    curr = {k: (cur[k].isoformat() if isinstance(cur[k], dt.date) else cur[k]) for k in cur}
    new = {k: v for k, v in new.items() if curr.get(k) != v}
    if new.get("status") == "resolved":
        held, failed = _resolution_evidence(app, ops, crit, cur["request_id"])
        if not held:
            _refuse_unresolved(cur["request_id"], failed)
        new["evidence_event_ids"] = held
        action = "resolved"
    if not new:
        return {"request_id": cur["request_id"], "changed": False}
    ev = append_event_con(con, item_kind="request", item_id=cur["request_id"], action=action, actor=actor, via=via,
                          data=new, note=_text(note, "note", required=False))
    return {"request_id": cur["request_id"], "event_id": ev["event_id"], "changed": True,
            "fields": sorted(k for k in new if k != "evidence_event_ids")}


def answer_request(app, ops, con, crit, actor, via, request_id, answer, note=None):
    cur = _current(ops, request_id)
    data: dict[str, Any] = {"vendor_answer": _text(answer, "answer")}
    if cur["status"] in ("open", "in_progress"):
        data["status"] = "answered"
    ev = append_event_con(con, item_kind="request", item_id=cur["request_id"], action="answered", actor=actor,
                          via=via, data=data, note=_text(note, "note", required=False))
    return {"request_id": cur["request_id"], "event_id": ev["event_id"], "status": data.get("status", cur["status"])}


def attach_check(app, ops, con, crit, actor, via, request_id, since, check=None, criterion=None, note=None):
    cur = _current(ops, request_id)
    if (check is None) == (criterion is None):
        raise ComplianceRefused("attach_check: give either a check or a criterion")
    d = _since(since)
    data: dict[str, Any] = {"kind": "check" if check else "criterion", "since": d.isoformat(sep=" ")}
    if check:
        data["check"] = _check(app, check)
    else:
        cid = _criterion(criterion, crit)
        if crit.get(cid).judged_by != "automatic":
            raise ComplianceRefused(f"criterion: {cid} is judged by a person, not by an automatic check")
        data["criterion"] = cid
    if note:
        data["note"] = _text(note, "note")
    ev = append_event_con(con, item_kind="request", item_id=cur["request_id"], action="evidence_added", actor=actor,
                          via=via, data=data)
    item = {"kind": data["kind"], "check_name": data.get("check"), "criterion": data.get("criterion"), "since": d,
            "file_name": None, "sha256": None, "note": data.get("note")}
    holds, detail = evidence_holds(ops, item, crit, "en")
    return {"request_id": cur["request_id"], "event_id": ev["event_id"], "holds": holds, "detail": detail}


def attach_file(app, ops, con, crit, actor, via, request_id, note, file_name=None, content_b64=None, path=None):
    cur = _current(ops, request_id)
    note = _text(note, "note")
    name, data = _content(app, file_name, content_b64, path)
    meta = store_file(con, files_dir(app), name, data, actor)
    ev = append_event_con(con, item_kind="request", item_id=cur["request_id"], action="evidence_added", actor=actor,
                          via=via, data={"kind": "file", "sha256": meta["sha256"], "file_name": meta["file_name"],
                                         "size": meta["size"], "note": note})
    return {"request_id": cur["request_id"], "event_id": ev["event_id"], **meta}


def resolve_request(app, ops, con, crit, actor, via, request_id, note=None):
    return update_request(app, ops, con, crit, actor, via, request_id, note=note, status="resolved")


def judge_criterion(app, ops, con, crit, actor, via, criterion, status, note=None, file_name=None,
                    content_b64=None, path=None):
    cid = _criterion(criterion, crit)
    if not cid:
        raise ComplianceRefused("criterion: required")
    c = crit.get(cid)
    if c.judged_by != "person":
        raise ComplianceRefused(f"{cid}: judged automatically from its evidence; a person cannot set its status")
    if status not in (MET, NOT_MET):
        raise ComplianceRefused(f"status: must be {MET} or {NOT_MET}; got {status!r}")
    note = _text(note, "note", required=False)
    data: dict[str, Any] = {"status": status}
    if content_b64 is not None or path is not None:
        name, content = _content(app, file_name, content_b64, path)
        meta = store_file(con, files_dir(app), name, content, actor)
        data.update(sha256=meta["sha256"], file_name=meta["file_name"])
    if status == MET and not note and "sha256" not in data:
        raise ComplianceRefused(f"{cid}: a 'met' judgement needs its evidence: a note (--note) or a file (--file)")
    if note:
        data["note"] = note
    ev = append_event_con(con, item_kind="criterion", item_id=cid, action="judged", actor=actor, via=via, data=data)
    return {"criterion": cid, "event_id": ev["event_id"], "status": status}


def _reject_field(msg: str, headers: dict[str, str]) -> str:
    head = {"check_name": "check", "answer": "vendor_answer"}.get(msg.split(":", 1)[0].strip(), msg.split(":", 1)[0].strip())
    if head in headers:
        return headers[head]
    if "resolved" in msg:
        return headers.get("status", "status")
    return "row"


def import_requests(app, ops, con, crit, actor, via, path):
    """Apply a requests spreadsheet: new rows are added, known rows (same id, or same agency, date
    and description) get an event with the fields that changed, unchanged rows add nothing. A row
    with any error is not applied; it is kept in compliance_import_rejects with its reason."""
    from compliance.spreadsheet import read_requests
    from imports.workbook import ReaderLimits

    # the configured reader memory limit, as the dossier import's
    imports = getattr(getattr(app, "cfg", None), "imports", None)
    sheet = read_requests(path, ReaderLimits(memory_mb=imports.reader_memory_mb) if imports else None)
    created = updated = unchanged = 0
    rejects = list(sheet.rejects)
    for row in sheet.rows:
        try:
            rid = row["request_id"] or content_key(_text(row["agency"], "agency", limit=200),
                                                   _date(row["requested_on"], "requested_on"),
                                                   _text(row["description"], "description"))
            cur = ops.query("compliance_requests", request_id=rid).one()
            if cur is not None:
                changes = {k: row[k] for k in FIELDS + ("vendor_answer",) if row.get(k) is not None}
                # a sheet never moves a request back (e.g. an old file after the vendor answered)
                if "status" in changes and STATUS_RANK.get(_status(changes["status"]), 0) <= STATUS_RANK.get(cur["status"], 0):
                    changes.pop("status")
                res = update_request(app, ops, con, crit, actor, "import", rid, action="imported", **changes)
                updated += bool(res["changed"])
                unchanged += not res["changed"]
            else:
                add_request(app, ops, con, crit, actor, "import", row["agency"], row["requested_on"],
                            row["description"], request_id=rid, criterion=row.get("criterion"),
                            check=row.get("check"), status=row.get("status"), vendor_answer=row.get("vendor_answer"),
                            action="imported")
                created += 1
        except ComplianceRefused as e:
            header = _reject_field(str(e), sheet.headers)
            rejects.append({"row_no": row["_row"], "field": header, "value": None, "reason": str(e), "raw": row["_raw"]})
            sheet.errors.append(f"{sheet.name}, row {row['_row']}, {header}: {e}")
    record_rejects(con, sheet.name, sheet.sha256, rejects)
    return {"file": sheet.name, "rows": sheet.total, "created": created, "updated": updated, "unchanged": unchanged,
            "rejected": len({r["row_no"] for r in rejects}), "errors": sheet.errors,
            "personal_columns_dropped": sheet.dropped}


ACTIONS = {f.__name__: f for f in (add_request, update_request, answer_request, attach_check, attach_file,
                                   resolve_request, judge_criterion, import_requests)}
VIA_DEFAULT = "library"


def perform(app, action: str, **params: Any) -> dict[str, Any]:
    """Run one action of the closed set in one write transaction of the owner's store."""
    fn = ACTIONS.get(action)
    if fn is None:
        raise ComplianceRefused(f"unknown compliance action {action!r}; the register offers: "
                                f"{', '.join(ACTIONS)} (its history is append-only: nothing edits or deletes it)")
    actor = _text(params.pop("actor", None), "actor (who makes the change)", limit=120)
    via = params.pop("via", VIA_DEFAULT)
    sig = inspect.signature(fn)
    names = [n for n in sig.parameters if n not in ("app", "ops", "con", "crit", "actor", "via", "action")]
    has_kw = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    unknown = sorted(set(params) - set(names)) if not has_kw else sorted(set(params) - set(names) - set(FIELDS)
                                                                         - {"vendor_answer"})
    if unknown:
        extra = (" (an event's time and id are set by the store: history cannot be back-dated or rewritten)"
                 if set(unknown) & {"at", "recorded_at", "event_id", "hash", "prev_hash"} else "")
        raise ComplianceRefused(f"{action}: unexpected parameter {', '.join(unknown)}{extra}")
    missing = [n for n, p in sig.parameters.items() if n in names and p.default is p.empty
               and p.kind is not p.VAR_KEYWORD and n not in params]
    if missing:
        raise ComplianceRefused(f"{action}: missing {', '.join(missing)}")
    crit = criteria_for(app)
    with app.store.transaction() as con:
        ops = ConOps(con, app.cfg)
        return fn(app, ops, con, crit, actor, via, **params)
