"""`python app.py compliance ...`: the register on the command line (parser and commands).

    compliance [--from DATE --to DATE] [--json | --xlsx FILE] [--lang vi|en]   the register
    compliance add --agency A --date D --description TEXT [--id ID] [--criterion C] [--check NAME]
    compliance import FILE                                  requests from a CSV/XLSX spreadsheet
    compliance update ID [--status S] [--description ...] / answer ID TEXT
    compliance attach ID (--check NAME | --criterion C) --since DATE | --file FILE --note TEXT
    compliance resolve ID [--note TEXT]                     refused without evidence that holds
    compliance judge CRITERION --status met|not_met [--note TEXT] [--file FILE]   person-judged criteria
    compliance requests [--status S] [--json] / history [ITEM] [--json]
Every change records who (--by, default: the login name) and goes through the
store's owner when `app.py run` is up.
"""
from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import sys
from pathlib import Path
from typing import Any, Callable

from compliance.period import Period, PeriodError


def add_parser(sub) -> argparse.ArgumentParser:
    s = sub.add_parser("compliance", help="the compliance register: TT 22/2019 criteria and agencies' requests")
    s.add_argument("--from", dest="from_", metavar="DATE", help="period start (default: 30 days before --to)")
    s.add_argument("--to", metavar="DATE", help="period end, included (default: today)")
    s.add_argument("--json", action="store_true", help="print the register as JSON")
    s.add_argument("--xlsx", metavar="FILE", help="write the register to an XLSX workbook")
    s.add_argument("--lang", choices=("vi", "en"), default="vi")
    cs = s.add_subparsers(dest="compliance_cmd", metavar="SUBCOMMAND")

    def by(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--by", help="who makes the change (default: the login name)")
        p.add_argument("--json", action="store_true", help="print the result as JSON")
        return p

    p = by(cs.add_parser("add", help="register an agency's request"))
    p.add_argument("--agency", required=True)
    p.add_argument("--date", required=True, help="date of the request (DD/MM/YYYY or YYYY-MM-DD)")
    p.add_argument("--description", required=True)
    p.add_argument("--id", dest="request_id", help="the request's number (default: derived from its content)")
    p.add_argument("--criterion", help="linked criterion id (see `compliance`)")
    p.add_argument("--check", help="linked probe check (config/probes.yaml)")
    p.add_argument("--status", choices=("open", "in_progress", "answered", "withdrawn"))
    p.add_argument("--note")
    p = by(cs.add_parser("import", help="import requests from a CSV/XLSX spreadsheet (re-import adds no duplicate)"))
    p.add_argument("file")
    p = by(cs.add_parser("update", help="change a request's fields or status"))
    p.add_argument("request_id", metavar="ID")
    p.add_argument("--agency")
    p.add_argument("--date", dest="requested_on")
    p.add_argument("--description")
    p.add_argument("--criterion", help="link a criterion ('' unlinks)")
    p.add_argument("--check", help="link a probe check")
    p.add_argument("--status", choices=("open", "in_progress", "answered", "resolved", "withdrawn"))
    p.add_argument("--note")
    p = by(cs.add_parser("answer", help="record the vendor's answer to a request"))
    p.add_argument("request_id", metavar="ID")
    p.add_argument("answer")
    p.add_argument("--note")
    p = by(cs.add_parser("attach", help="attach evidence: a check passed since a date, or a file with a note"))
    p.add_argument("request_id", metavar="ID")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--check", help="a probe check that must have passed since --since")
    g.add_argument("--criterion", help="an automatic criterion that must have been met since --since")
    g.add_argument("--file", help="a document (minutes, screenshot, the vendor's report)")
    p.add_argument("--since", help="date the check has passed since (with --check / --criterion)")
    p.add_argument("--note", help="what the evidence shows (required with --file)")
    p = by(cs.add_parser("resolve", help="mark a request resolved (refused without evidence that holds)"))
    p.add_argument("request_id", metavar="ID")
    p.add_argument("--note")
    p = by(cs.add_parser("judge", help="record a person's judgement of a criterion judged by a person"))
    p.add_argument("criterion")
    p.add_argument("--status", required=True, choices=("met", "not_met"))
    p.add_argument("--note")
    p.add_argument("--file")
    p = cs.add_parser("requests", help="list the requests with their evidence")
    p.add_argument("--status", choices=("open", "in_progress", "answered", "resolved", "withdrawn"))
    p.add_argument("--json", action="store_true")
    p = cs.add_parser("history", help="the append-only history (of one request or criterion)")
    p.add_argument("item", nargs="?", help="a request id or a criterion id (default: everything)")
    p.add_argument("--json", action="store_true")
    return s


def check_config(cfg) -> None:
    """For `app.py check-config`: the criteria file is valid and names only checks of the probes file."""
    from config.compliance import load_criteria, unknown_checks
    from config.errors import ConfigError
    from config.probes import load_probes

    problems = unknown_checks(load_criteria(cfg.compliance.criteria), load_probes(cfg.monitor.probes))
    if problems:
        raise ConfigError(f"{cfg.compliance.criteria}: criteria name checks the probes file lacks\n  - "
                          + "\n  - ".join(problems))


def actor(args: argparse.Namespace) -> str:
    if getattr(args, "by", None):
        return args.by
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _dump(obj: Any) -> str:
    def default(v: Any) -> Any:
        if isinstance(v, (dt.datetime, dt.date)):
            return v.isoformat()
        return str(v)
    return json.dumps(obj, ensure_ascii=False, default=default)


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, dt.datetime):
        return v.strftime("%d/%m/%Y %H:%M")
    if isinstance(v, dt.date):
        return v.strftime("%d/%m/%Y")
    return str(v)


def _table(headers: list[str], rows: list[list[Any]], wrap: int = 90) -> str:
    cells = [[_fmt(c) for c in r] for r in rows]
    widths = [min(max([len(h)] + [len(r[i]) for r in cells]), wrap) for i, h in enumerate(headers)]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths))]
    for r in cells:
        out.append("  ".join(c.ljust(w) if i < len(r) - 1 else c for i, (c, w) in enumerate(zip(r, widths))))
    return "\n".join(out)


def render_register(reg: dict[str, Any], lang: str = "vi") -> str:
    en = lang == "en"
    lines = [reg["title"], (f"Period {reg['period']['from']} – {reg['period']['to']}" if en else
                            f"Kỳ đánh giá {reg['period']['from']} – {reg['period']['to']}"), ""]
    lines.append(_table(["ID", "Annex" if en else "Phụ lục", "Status" if en else "Trạng thái",
                         "Since" if en else "Từ", "Criterion" if en else "Tiêu chí"],
                        [[r["id"], r["annex_label"], r["status_label"], r["since"], r["title"]] for r in reg["criteria"]]))
    lines.append("")
    for r in reg["criteria"]:
        lines.append(f"{r['id']}: {r['evidence']}")
    s = reg["summary"]["criteria"]
    lines += ["", (f"Met {s['met']}, not met {s['not_met']}, not measured {s['not_measured']}." if en else
                   f"Đạt {s['met']}, không đạt {s['not_met']}, chưa đo được {s['not_measured']}.")]
    if reg["requests"]:
        lines += ["", "Requests" if en else "Yêu cầu của các cơ quan", _table(
            ["ID", "Agency" if en else "Cơ quan", "Date" if en else "Ngày", "Status" if en else "Trạng thái",
             "Evidence" if en else "Minh chứng"],
            [[r["request_id"], r["agency"], r["requested_on"], r["status_label"] + (" ⚠" if r["regression"] else ""),
              "; ".join(("✓ " if e["holds"] else "✗ ") + e["detail"] for e in r["evidence"])] for r in reg["requests"]])]
    h = reg["history"]
    if h:
        lines += ["", (f"History: {h['events']} events, hash chain intact." if h["intact"] else
                       f"History ALTERED at event {h['first_bad_event_id']}: {h['problem']}.") if en else
                  (f"Lịch sử: {h['events']} thay đổi, chuỗi băm nguyên vẹn." if h["intact"] else
                   f"Lịch sử BỊ SỬA tại thay đổi {h['first_bad_event_id']}: {h['problem']}.")]
    return "\n".join(lines)


def render_history(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no history"
    out = []
    for r in rows:
        data = json.loads(r["data"]) if r["data"] else {}
        what = ", ".join(f"{k}={v}" for k, v in data.items())
        note = f" — {r['note']}" if r["note"] else ""
        out.append(f"#{r['event_id']} {r['at']:%Y-%m-%d %H:%M:%S} {r['actor']} ({r['via']}) {r['action']} "
                   f"{r['item_kind']} {r['item_id']}: {what}{note}")
    return "\n".join(out)


def run(cfg, args: argparse.Namespace, open_ops: Callable[[Any], Any]) -> int:
    from compliance.register import register, request_rows
    from config.compliance import load_criteria

    try:
        period = Period.parse(args.from_, args.to)
    except PeriodError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    crit = load_criteria(cfg.compliance.criteria)
    ops = open_ops(cfg)
    try:
        cmd = args.compliance_cmd
        if cmd is None:
            if args.xlsx:
                from compliance.export import write_xlsx

                try:
                    path = write_xlsx(ops, period, args.xlsx, lang=args.lang, criteria=crit)
                except OSError as e:
                    print(f"error: {args.xlsx}: cannot write the workbook ({e.strerror or e})", file=sys.stderr)
                    return 2
                print(f"{path}")
                return 0
            reg = register(ops, period, lang=args.lang, criteria=crit)
            print(_dump(reg) if args.json else render_register(reg, args.lang))
            return 0
        if cmd == "requests":
            rows = request_rows(ops, args.lang, crit, status=args.status)
            if args.json:
                print(_dump(rows))
            else:
                heads = (["ID", "Agency", "Date", "Status", "Criterion", "Evidence"] if args.lang == "en" else
                         ["ID", "Cơ quan", "Ngày", "Trạng thái", "Tiêu chí", "Minh chứng"])
                print(_table(heads,
                             [[r["request_id"], r["agency"], r["requested_on"], r["status_label"], r["criterion"],
                               "; ".join(("✓ " if e["holds"] else "✗ ") + e["detail"] for e in r["evidence"])]
                              for r in rows]) if rows else "no requests")
            return 0
        if cmd == "history":
            kind = None
            if args.item:
                kind = "criterion" if crit.get(args.item) else "request"
            rows = ops.query("compliance_history", item_kind=kind, item_id=args.item, limit=100_000).to_dicts()
            print(_dump(rows) if args.json else render_history(rows))
            return 0
        params = _params(cmd, args)
        action = _ACTION.get(cmd) or ("attach_file" if args.file else "attach_check")
        res = ops.compliance(action, actor=actor(args), via="cli", **params)
        if args.json:
            print(_dump(res))
        else:
            print(_result_text(cmd, res))
        return 0 if not (cmd == "import" and res.get("rejected")) else 1
    finally:
        if hasattr(ops, "close"):
            ops.close()


_ACTION = {"add": "add_request", "import": "import_requests", "update": "update_request", "answer": "answer_request",
           "resolve": "resolve_request", "judge": "judge_criterion"}


def _params(cmd: str, a: argparse.Namespace) -> dict[str, Any]:
    def path(p: str) -> str:
        if not Path(p).is_file():
            from compliance.actions import ComplianceRefused
            raise ComplianceRefused(f"{p}: file not found")
        return str(Path(p).resolve())

    if cmd == "add":
        return {k: v for k, v in dict(agency=a.agency, requested_on=a.date, description=a.description,
                                      request_id=a.request_id, criterion=a.criterion, check=a.check, status=a.status,
                                      note=a.note).items() if v is not None}
    if cmd == "import":
        return {"path": path(a.file)}
    if cmd == "update":
        return {k: v for k, v in dict(request_id=a.request_id, agency=a.agency, requested_on=a.requested_on,
                                      description=a.description, criterion=a.criterion, check=a.check,
                                      status=a.status, note=a.note).items() if v is not None}
    if cmd == "answer":
        return {"request_id": a.request_id, "answer": a.answer, **({"note": a.note} if a.note else {})}
    if cmd == "resolve":
        return {"request_id": a.request_id, **({"note": a.note} if a.note else {})}
    if cmd == "judge":
        out = {"criterion": a.criterion, "status": a.status}
        if a.note:
            out["note"] = a.note
        if a.file:
            out["path"] = path(a.file)
        return out
    if cmd == "attach":
        from compliance.actions import ComplianceRefused

        if a.file:
            if not a.note:
                raise ComplianceRefused("--note: say what the file shows (required with --file)")
            return {"request_id": a.request_id, "path": path(a.file), "note": a.note}
        if not a.since:
            raise ComplianceRefused("--since: give the date the check has passed since")
        out = {"request_id": a.request_id, "since": a.since, **({"note": a.note} if a.note else {})}
        out["check" if a.check else "criterion"] = a.check or a.criterion
        return out
    raise ValueError(cmd)


def _result_text(cmd: str, res: dict[str, Any]) -> str:
    if cmd == "import":
        lines = [f"{res['file']}: {res['rows']} rows: {res['created']} new, {res['updated']} updated, "
                 f"{res['unchanged']} unchanged, {res['rejected']} not imported"]
        lines += [f"  {e}" for e in res["errors"][:50]]
        if len(res["errors"]) > 50:
            lines.append(f"  … and {len(res['errors']) - 50} more (app.py query compliance_import_rejects)")
        return "\n".join(lines)
    if cmd == "add":
        return f"{res['request_id']}: registered (event #{res['event_id']})"
    if cmd == "attach" and "holds" in res:
        return (f"{res['request_id']}: evidence attached (event #{res['event_id']}); "
                f"{'it holds now' if res['holds'] else 'it does not hold yet'}: {res['detail']}")
    if cmd == "attach":
        return f"{res['request_id']}: file {res['file_name']} ({res['sha256'][:12]}…) attached (event #{res['event_id']})"
    if cmd in ("update", "resolve") and not res.get("changed", True):
        return f"{res['request_id']}: nothing changed"
    if cmd == "resolve":
        return f"{res['request_id']}: resolved (event #{res['event_id']})"
    if cmd == "judge":
        return f"{res['criterion']}: judged {res['status']} (event #{res['event_id']})"
    return f"{res.get('request_id')}: recorded (event #{res.get('event_id')})"
