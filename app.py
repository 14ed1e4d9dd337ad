#!/usr/bin/env python3
"""motcua-watch: the one entry point.

`Motcua` (system.py) is the composition root (in the manner of Locust's Environment): built
from one AppConfig, it composes the store, the SLA engine, the importer and the scheduled jobs.
Every subcommand goes through it, or through the running owner when `app.py run` is up (see
docs/ARCHITECTURE.md, "One writer").
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from config.app import AppConfig, load_config
from config.errors import ConfigError, MotcuaError
from config.vocabulary import DUE_SOON_DAYS
from config.redact import install as install_log, log_exception, uninstall as uninstall_log
from store.db import StoreError
from store.ops import OperationError, Ops, find_owner
from store.registry import Table
from store.service import resource_error

from system import ROOT, Motcua, UserError, open_ops, parse_as_of, run_system


# -- command line ------------------------------------------------------------------------------

def _print_table(t: Table) -> None:
    widths = [max(len(str(c)), *(len(str(r[i])) for r in t.rows)) if t.rows else len(str(c))
              for i, c in enumerate(t.columns)]
    print("  ".join(str(c).ljust(w) for c, w in zip(t.columns, widths)))
    for r in t.rows:
        print("  ".join(("" if v is None else str(v)).ljust(w) for v, w in zip(r, widths)))


def _check_month(text: str) -> None:
    """A --month as the reports take it, or a plain error."""
    try:
        dt.datetime.strptime(text, "%Y-%m")
    except ValueError:
        raise UserError(f"--month {text!r}: expected YYYY-MM, e.g. 2026-10") from None


def cmd_run(cfg: AppConfig, args: argparse.Namespace) -> int:
    # the owner's warnings, and the Python stacks of a fatal signal, go to the log a client whose
    # owner died is pointed at
    import faulthandler
    import logging

    path = _log_path(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        handlers = [logging.StreamHandler(f), logging.StreamHandler(sys.stderr)]  # the console too, as before
        for h in handlers:
            h.setLevel(logging.WARNING)
            h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            logging.getLogger("motcua").addHandler(h)
        faulthandler.enable(file=f)
        try:
            return run_system(cfg, config_path=args.config)
        finally:
            faulthandler.disable()
            for h in handlers:
                logging.getLogger("motcua").removeHandler(h)


def cmd_import(cfg: AppConfig, args: argparse.Namespace) -> int:
    for p in [args.file] + ([args.events] if args.events else []):
        if not Path(p).is_file():
            raise UserError(f"{p}: file not found")
    ops = open_ops(cfg)
    if not ops.remote:  # a progress bar where the import runs
        res = ops.import_file(args.file, args.events, progress=sys.stderr.isatty())
        res["sla"] = ops.recompute(full=False)
        ops.close()
    else:
        res = ops.import_file(args.file, args.events)
        res["sla"] = ops.recompute(full=False)
    print(json.dumps({k: v for k, v in res.items() if k != "text"}, ensure_ascii=False, default=str)
          if args.json else res["text"] + "\n" + refresh_line(res["sla"]))
    return 0


def refresh_line(sla: dict) -> str:
    """What the refresh after an import did, in a line."""
    if sla.get("kind") == "incremental":
        return (f"Figures refreshed: {sla['judged']:,} of {sla['dossiers']:,} dossiers judged again "
                f"({sla['sla_duration_s']:.2f} s).")
    return (f"Figures recomputed in full: {sla['dossiers']:,} dossiers ({sla['sla_duration_s']:.2f} s; "
            f"{sla.get('full_reason', 'asked for')}).")


def cmd_sla_explain(cfg: AppConfig, args: argparse.Namespace) -> int:
    import duckdb

    from imports.dossiers import load_staging
    from sla_rules.explain import explain_rows, format_lines

    for p in [args.file] + ([args.events] if args.events else []):
        if not Path(p).is_file():
            raise UserError(f"{p}: file not found")
    app = Motcua(cfg)  # explain never opens the store
    con = duckdb.connect()
    staged = [load_staging(con, args.file, mapping=app.mapping)]
    if args.events:  # the supplement cycles, as `import --events` takes them
        staged.append(load_staging(con, args.events, mapping=app.mapping, kind="events"))
    for s in staged:
        for e in s.errors[:20]:
            print(f"warning: {e}", file=sys.stderr)
        if s.error_count > 20:
            print(f"warning: … and {s.error_count - 20} more errors (rows left out)", file=sys.stderr)
    rows = explain_rows(con, app.engine, staged[0].relation, parse_as_of(args.as_of),
                        events=staged[1].relation if args.events else None, lang=args.lang)
    if args.json:
        for r in rows:
            print(json.dumps({k: r[k] for k in ("dossier_code", "due", "status", "findings", "reason")},
                             ensure_ascii=False))
    else:
        print(format_lines(rows))
    return 0


def cmd_sla_recompute(cfg: AppConfig, args: argparse.Namespace) -> int:
    ops = open_ops(cfg)
    res = ops.recompute(args.as_of)
    print(json.dumps(res, ensure_ascii=False, default=str))
    return 0


def cmd_calendar(cfg: AppConfig, args: argparse.Namespace) -> int:
    from sla_rules.calendar_listing import list_year

    # The engine's own calendar (rule set horizon + configured override files), never a rebuilt one,
    # so that what officials check is what deadlines are counted with. The store is not opened.
    engine = Motcua(cfg).engine
    listing = list_year(engine.calendar, args.year, rule_set=engine.name, lang=args.lang)
    if args.json:
        print(json.dumps(listing.to_json(args.lang, ROOT), ensure_ascii=False))
    else:
        print(listing.render(args.lang, ROOT))
    return 0


def _report_figures(ops: Ops, args: argparse.Namespace, denominator: str) -> tuple[Table, Table, Table]:
    """The rows, the provenance of the figures and the rule versions, all of one recompute: one
    may finish between two reads (the owner's nightly job, the watch folder), so read again then."""
    def run_of(t: Table) -> tuple:
        p = t.one() or {}
        return p.get("as_of"), p.get("run_id")

    for _ in range(3):
        provenance = ops.query("figures_provenance")
        t = ops.query("bieu06", month=args.month, by=args.by, agency=args.agency, score_denominator=denominator)
        versions = ops.query("sla_rule_versions")
        if run_of(ops.query("figures_provenance")) == run_of(provenance):
            return t, provenance, versions
    raise UserError("the store was recomputed while the report was being read, three times; run it again")


def cmd_report(cfg: AppConfig, args: argparse.Namespace) -> int:
    from reports.bieu06 import render_text, report_document

    _check_month(args.month)
    as_of = parse_as_of(args.as_of) if args.as_of else None
    score = cfg.reports.score_766
    ops = open_ops(cfg)
    try:
        previous = (ops.query("figures_provenance").one() or {}).get("as_of")
        recomputed = as_of is not None and previous != as_of
        if recomputed:
            # The store holds one set of figures, at one as_of: figures at another instant are
            # computed by a recompute there that is rolled back once read (through the owner when
            # it runs), so the stored figures and the dashboard stay as they are.
            t, provenance, versions = ops.figures_at(args.as_of, [
                {"name": "bieu06", "params": {"month": args.month, "by": args.by, "agency": args.agency,
                                              "score_denominator": score.denominator}},
                {"name": "figures_provenance"}, {"name": "sla_rule_versions"}])
            print(f"figures computed at {as_of:%Y-%m-%d %H:%M:%S} for this report only; the store stays at "
                  f"{previous or 'no recompute yet'}", file=sys.stderr)
        else:
            t, provenance, versions = _report_figures(ops, args, score.denominator)
    finally:
        ops.close()
    got = (provenance.one() or {}).get("as_of")
    if as_of is not None and got != as_of:
        raise UserError(f"another process recomputed the store at {got} meanwhile; run the report again")
    if args.json:
        doc = report_document(t, args.month, by=args.by, agency=args.agency, provenance=provenance,
                              rule_versions=versions, score_denominator=score.denominator,
                              score_source=score.source, timezone=cfg.timezone, recomputed=recomputed,
                              previous_as_of=previous)
        print(json.dumps(doc, ensure_ascii=False, default=str))
    else:
        print(render_text(t, args.month, lang=args.lang, provenance=provenance.one(),
                          rule_versions=versions.to_dicts(), recomputed=recomputed,
                          score_denominator=score.denominator))
    return 0


def cmd_due_soon(cfg: AppConfig, args: argparse.Namespace) -> int:
    from reports.due_soon import render_text

    as_of = parse_as_of(args.as_of)
    params: dict[str, Any] = {"days": args.days, "limit": args.limit, "as_of": as_of.isoformat(sep=" ")}
    if args.agency:
        params["agency"] = args.agency
    ops = open_ops(cfg)
    try:
        t = ops.query("due_soon", **params)
    finally:
        ops.close()
    if args.json:
        print(json.dumps({"as_of": as_of, "days": args.days, "agency": args.agency, "rows": t.to_dicts()},
                         ensure_ascii=False, default=str))
    else:
        print(render_text(t, args.days, as_of, lang=args.lang, limit=args.limit))
    return 0


def cmd_forecast(cfg: AppConfig, args: argparse.Namespace) -> int:
    from reports.forecast import forecast_document, render_text

    _check_month(args.month)
    score = cfg.reports.score_766
    ops = open_ops(cfg)
    try:
        t = ops.query("month_forecast", month=args.month, agency=args.agency, score_denominator=score.denominator)
    finally:
        ops.close()
    if args.json:
        print(json.dumps(forecast_document(t, args.month, args.agency, score.denominator, score.source),
                         ensure_ascii=False, default=str))
    else:
        print(render_text(t, args.month, args.lang), end="")
    return 0


def cmd_index766(cfg: AppConfig, args: argparse.Namespace) -> int:
    from config.index766 import load_index766
    from reports.index766 import render_text, report_document

    _check_month(args.month)
    rules = load_index766(cfg.reports.index766)
    score = cfg.reports.score_766
    ops = open_ops(cfg)
    try:
        t = ops.query("index766", month=args.month, agency=args.agency, score_denominator=score.denominator,
                      rules=rules.model_dump(mode="json"))
        as_of = (ops.query("figures_provenance").one() or {}).get("as_of")
    finally:
        ops.close()
    if args.json:
        doc = report_document(t, args.month, rules, agency=args.agency, score_denominator=score.denominator,
                              score_source=score.source, as_of=as_of)
        print(json.dumps(doc, ensure_ascii=False, default=str))
    else:
        print(render_text(t, args.month, rules, lang=args.lang, as_of=as_of))
    return 0


def cmd_export(cfg: AppConfig, args: argparse.Namespace) -> int:
    from reports.briefing.model import FORMATS
    from reports.monthly import write_briefing

    _check_month(args.month)
    formats = args.format or list(FORMATS)
    out_dir = Path(args.out) if args.out else cfg.reports.folder(cfg.store.path)
    ops = open_ops(cfg)
    try:
        paths = write_briefing(ops, args.month, out_dir, formats, agency=args.agency, cfg=cfg)
    except OSError as e:
        raise UserError(f"cannot write the briefing: {e}") from None
    finally:
        ops.close()
    for p in paths:
        print(p)
    return 0


def cmd_demo_data(cfg: AppConfig, args: argparse.Namespace) -> int:
    ops = open_ops(cfg)
    if ops.remote:
        ops.close()
        raise UserError("motcua-watch is running: stop it (Ctrl-C) before generating demo data, "
                        "or drop the generated files into the watch folder.")
    try:
        res = ops.demo_data(months=args.months, per_month=args.per_month, seed=args.seed)
    finally:
        ops.close()
    print(res["import"]["text"])
    print(f"SLA recomputed: {json.dumps(res['sla'], ensure_ascii=False, default=str)}")
    return 0


def cmd_status(cfg: AppConfig, args: argparse.Namespace) -> int:
    ops = open_ops(cfg)
    st = ops.status()
    print(json.dumps(st, ensure_ascii=False, default=str, indent=None if args.json else 2))
    return 0


def _size(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"


def cmd_backup(cfg: AppConfig, args: argparse.Namespace) -> int:
    from backup.snapshot import list_backups

    folder = Path(args.out) if args.out else cfg.backup.dir(cfg.store.path)
    if args.list:
        backups = list_backups(folder)
        if args.json:
            print(json.dumps([{"path": str(b.path), "created_at": b.created_at.isoformat(sep=" "), "bytes": b.bytes}
                              for b in backups], ensure_ascii=False))
        else:
            for b in backups:
                print(f"{b.path}  {b.created_at:%Y-%m-%d %H:%M:%S}  {_size(b.bytes)}")
            if not backups:
                print(f"no finished backup in {folder}")
        return 0
    ops = open_ops(cfg)
    try:
        res = ops.backup(str(folder))
    finally:
        ops.close()
    if args.json:
        print(json.dumps(res, ensure_ascii=False, default=str))
        return 0
    rows = sum(res["tables"].values())
    print(f"backup written: {res['path']}")
    print(f"  {len(res['tables'])} tables, {rows:,} rows, {res['files']} file{'s' if res['files'] != 1 else ''}, {_size(res['bytes'])}, "
          f"schema version {res['schema_version']}, in {res['seconds']:.1f} s")
    head = res.get("compliance_head")
    print(f"  compliance history: {'event ' + str(head['event_id']) + ', hash ' + head['hash'][:16] + '…' if head else 'empty'}")
    for key, what in (("evidence_missing", "missing"), ("evidence_altered", "altered on disk")):
        if res.get(key):
            print(f"  warning: {len(res[key])} evidence file(s) of the register {what}, not in the backup")
    return 0


def cmd_restore(cfg: AppConfig, args: argparse.Namespace) -> int:
    from backup.manifest import verify
    from backup.restore import restore
    from config.clock import local_now

    backup = Path(args.backup)
    if args.check:
        m = verify(backup)
        print(f"{backup}: a complete backup of {m.created_at:%Y-%m-%d %H:%M:%S}, schema version {m.schema_version}, "
              f"{len(m.files)} file{'s' if len(m.files) != 1 else ''}, every checksum right")
        return 0
    to = Path(args.to) if args.to else cfg.store.path
    if find_owner(to) is not None:
        raise UserError(f"motcua-watch is running on {to}: stop it (Ctrl-C) before restoring over its store, "
                        "or restore with --to another path")
    res = restore(backup, to, force=args.force, evidence_dir=cfg.compliance.files_folder(to), now=local_now(),
                  memory_limit=cfg.store.memory_limit)
    if args.json:
        print(json.dumps(res, ensure_ascii=False, default=str))
        return 0
    print(f"restored {res['restored_from']} (taken {res['backup_created_at']}) to {res['to']}")
    if res["schema_version"] != res["backup_schema_version"]:
        print(f"  migrated from schema version {res['backup_schema_version']} to {res['schema_version']}")
    print(f"  {len(res['tables'])} tables, {sum(res['tables'].values()):,} rows; "
          f"{res['evidence_restored']} evidence file(s) put back; in {res['seconds']:.1f} s")
    if res["kept_aside"]:
        print(f"  the store it replaced is kept as {res['kept_aside']}")
    return 0


def cmd_export_data(cfg: AppConfig, args: argparse.Namespace) -> int:
    ops = open_ops(cfg)
    try:
        res = ops.export_data(args.format, str(Path(args.out).resolve()))
    finally:
        ops.close()
    if args.json:
        print(json.dumps(res, ensure_ascii=False, default=str))
        return 0
    rel = res["relations"]
    print(f"exported {len(rel)} tables ({sum(rel.values()):,} rows) as {args.format} to {res['out_dir']} "
          f"in {res['seconds']:.1f} s; the columns are described in README.md there")
    return 0


def _param_value(text: str) -> Any:
    """A --param value: JSON when it parses as a number, boolean, null, list or object, else the text."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if not isinstance(value, str) else text


def cmd_query(cfg: AppConfig, args: argparse.Namespace) -> int:
    params: dict[str, Any] = {}
    for kv in args.param or []:
        if "=" not in kv:
            raise UserError(f"--param {kv!r}: expected NAME=VALUE")
        k, v = kv.split("=", 1)
        params[k] = _param_value(v)
    t = open_ops(cfg).query(args.name, **params)
    if args.json:
        print(json.dumps(Table.to_json(t), ensure_ascii=False))
    else:
        _print_table(t)
    return 0


def cmd_reference(cfg: AppConfig, args: argparse.Namespace) -> int:
    app = Motcua(cfg)
    if find_owner(cfg.store.path) is not None:
        raise UserError("motcua-watch is running: stop it before loading reference data.")
    try:
        print(json.dumps(app.load_reference(args.file), ensure_ascii=False, default=str))
    finally:
        app.close()
    return 0


def _free_port_after(port: int, host: str = "127.0.0.1") -> int | None:
    """The first port above `port` nobody listens on (a suggestion for --port)."""
    import socket

    for p in range(port + 1, min(port + 50, 65536)):
        with socket.socket() as s:
            try:
                s.bind((host, p))
            except OSError:
                continue
            return p
    return None


def cmd_testbed(cfg: AppConfig, args: argparse.Namespace) -> int:
    from testbed.portal.server import PortalStartError, listen_socket, serve

    host = "127.0.0.1"
    try:
        # bound before the address is printed: a port in use is said first, not after "serving"
        sock = listen_socket(host, args.port)
    except PortalStartError as e:
        msg = str(e)
        if cfg.testbed.enabled and cfg.testbed.port == args.port and find_owner(cfg.store.path) is not None:
            msg += (f"; `app.py run` (`make run`) already serves the simulated portal there, release "
                    f"{cfg.testbed.release}: use http://{host}:{args.port}/ as it is")
        free = _free_port_after(args.port, host)
        raise UserError(f"{msg}. For another portal, choose a free port with --port"
                        + (f", e.g. --port {free}" if free else "")) from None
    print(f"Simulated portal, release {args.release}: http://{host}:{sock.getsockname()[1]}/  (Ctrl-C stops it)",
          flush=True)
    serve(args.release, host=host, sock=sock)
    return 0


def cmd_probe(cfg: AppConfig, args: argparse.Namespace) -> int:
    from probes.runner import format_results, run_once

    if not args.once:
        raise UserError("probes run on their schedule inside `app.py run`; use --once to run every check now")
    path = args.probes or cfg.monitor.probes
    ops = open_ops(cfg)
    store = None if args.no_store else ops.local_store
    try:
        results = run_once(path, store=store, base_url=args.base_url)
    finally:
        ops.close()
    if args.json:
        for r in results:
            print(json.dumps(r.to_dict(), ensure_ascii=False, default=str))
    else:
        print(format_results(results))
    return 0 if all(r.ok for r in results) else 1


def cmd_compliance(cfg: AppConfig, args: argparse.Namespace) -> int:
    from compliance.cli import run

    return run(cfg, args, open_ops)


def cmd_loadtest(cfg: AppConfig, args: argparse.Namespace) -> int:
    from loadtests.cli import main as loadtest_main

    return loadtest_main(cfg, args, open_ops)


def cmd_loadtest_worker(cfg: AppConfig, args: argparse.Namespace) -> int:
    from loadtests.cli import worker_main

    return worker_main(cfg, args)


def cmd_agent(cfg: AppConfig, args: argparse.Namespace) -> int:
    import re
    import signal
    import threading

    from agents.agent import read_token_file, run_agent
    from config.agents import LOCAL_LOCATION, LOCATION_PATTERN

    if not re.match(LOCATION_PATTERN, args.location) or args.location == LOCAL_LOCATION:
        raise UserError(f"--location {args.location!r}: lower-case letters, digits and '-', at most 40 "
                        f"(e.g. hanoi), and not {LOCAL_LOCATION!r}: the name the central knows this agent by")
    token = read_token_file(args.token_file)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return run_agent(central=args.central, location=args.location, token=token, spool_dir=Path(args.spool),
                     probes_file=args.probes, base_url=args.base_url, settings=cfg.agents.agent,
                     ca_file=args.ca_file, stop=stop)


def cmd_agent_token(cfg: AppConfig, args: argparse.Namespace) -> int:
    import os
    import re
    import secrets

    from config.agents import LOCAL_LOCATION, LOCATION_PATTERN, token_digest

    if not re.match(LOCATION_PATTERN, args.location) or args.location == LOCAL_LOCATION:
        raise UserError(f"{args.location!r}: a location is lower-case letters, digits and '-' (at most 40), "
                        f"e.g. hanoi, and not {LOCAL_LOCATION!r}")
    token = secrets.token_urlsafe(32)
    if args.out:
        path = Path(args.out)
        try:  # created with 0600 from the start: never readable by others, not even for a moment
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise UserError(f"{path} exists: not overwritten (a token in use would be lost); remove it first") from None
        except OSError as e:
            raise UserError(f"{path}: {e.strerror or e}") from None
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(token + "\n")
        print(f"Token for {args.location} written to {path} (mode 600): copy it to the agent's machine.")
    else:
        print(token)
    print(f"Add under agents.locations in the central's config (then restart `app.py run`):\n"
          f"    {args.location}:\n"
          f"      title: \"{args.location}\"\n"
          f"      token_sha256: {token_digest(token)}", file=sys.stderr if not args.out else sys.stdout)
    return 0


def _read_password(args: argparse.Namespace) -> str:
    """From stdin (--password-stdin, for scripts) or typed twice at a prompt; never echoed or logged."""
    import getpass

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise UserError("no terminal to type the password: use --password-stdin")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat the password: "):
        raise UserError("the two passwords differ; nothing changed")
    return first


def _known_agencies(cfg: AppConfig) -> dict[str, str] | None:
    """Every agency code the store knows (closed ones too) with its name, through the running
    owner or the store file; None when there is no store or it has no agency yet."""
    owner = find_owner(cfg.store.path)
    if owner is None and not cfg.store.path.exists():
        return None  # never create a store just to look
    ops = owner if owner is not None else Motcua(cfg)
    try:
        rows = ops.query("agency_history").to_dicts()
    finally:
        ops.close()
    return {r["code"]: r["name"] or "" for r in rows} or None


def _check_agency_code(cfg: AppConfig, code: str) -> None:
    """An agency account for a code the store does not know would see nothing: refused, naming
    the closest codes (or the codes of the closest names). Before the store has any agency
    (a first start not yet made) the code cannot be checked: a warning says so."""
    import difflib

    try:
        known = _known_agencies(cfg)
    except (StoreError, OperationError) as e:
        print(f"warning: agency code {code} not checked: {e}", file=sys.stderr)
        return
    if known is None:
        print(f"warning: agency code {code} not checked: the store {cfg.store.path} holds no agencies yet "
              "(they come with the first `app.py run` or an import)", file=sys.stderr)
        return
    if code in known:
        return
    # compared without case: "qng.stp" is close to "QNG.STP"
    by_code = {c.casefold(): c for c in known}
    by_name = {n.casefold(): c for c, n in known.items() if n}
    close = [by_code[k] for k in difflib.get_close_matches(code.casefold(), by_code, n=5, cutoff=0.6)]
    close += [by_name[k] for k in difflib.get_close_matches(code.casefold(), by_name, n=3, cutoff=0.6)
              if by_name[k] not in close]
    hint = ("; close matches: " + ", ".join(f"{c} ({known[c]})" for c in close) if close
            else "; `app.py query agencies_current` lists the agencies")
    raise UserError(f"--agency {code}: no agency with that code in the store{hint}")


def cmd_user(cfg: AppConfig, args: argparse.Namespace) -> int:
    from dashboard.users import UserFile

    users = UserFile(cfg.users_file)
    if args.user_cmd == "add":
        if args.role == "agency" and args.agency:
            _check_agency_code(cfg, args.agency)
        password = None if args.sso_only else _read_password(args)
        u = users.add(args.name, args.role, password, agency=args.agency, display_name=args.display_name or "",
                      email=args.email)
        print(f"user {u.username} added (role {u.role}{', agency ' + u.agency if u.agency else ''}) "
              f"in {users.path}")
    elif args.user_cmd == "remove":
        users.remove(args.name)
        print(f"user {args.name} removed from {users.path}")
    elif args.user_cmd == "passwd":
        removed = users.passwd(args.name, _read_password(args))
        print(f"password of {args.name} changed"
              + (f"; the initial password's file {removed} is deleted" if removed else ""))
    else:
        rows = [u.public() for u in users.load().values()]
        if args.json:
            print(json.dumps(rows, ensure_ascii=False))
        else:
            for r in rows:
                print(f"{r['username']:<20} {r['role']:<11} {r['agency'] or '':<12} {r['email'] or '':<28} "
                      f"password: {r['password']}")
            if not rows:
                print(f"no accounts yet in {users.path}: add one with `app.py user add NAME --role admin`")
    return 0


def _dashboard_problems(cfg: AppConfig) -> list[str]:
    """The dashboard's settings: the accounts file and, with OIDC, its secrets in the environment."""
    import os

    from dashboard.users import UserError as AccountError, UserFile

    out = []
    if not cfg.dashboard.enabled:
        return out
    try:
        UserFile(cfg.users_file).load()
    except AccountError as e:
        out.append(f"dashboard.users_file: {e}")
    o = cfg.dashboard.oidc
    if o.enabled:
        out += [f"dashboard.oidc: {name} is not set in the environment (the OIDC secret is read from it)"
                for name in (o.client_secret_env, o.cookie_secret_env) if not os.environ.get(name)]
    return out


def _check_status_page(cfg: AppConfig) -> None:
    """The status page's file, every probe it names declared in the probes file (ConfigError)."""
    from config.probes import load_probes
    from config.status_page import load_status_page

    load_status_page(cfg.status_page.file, load_probes(cfg.monitor.probes))


def cmd_check_config(cfg: AppConfig, args: argparse.Namespace) -> int:
    from compliance.cli import check_config as check_compliance
    from config.alerts import load_alerts
    from config.index766 import load_index766
    from config.loadtest import load_loadtests
    from config.probes import load_probes
    from config.slo import load_slos

    problems = []
    # Files only: the store is never opened, so the check works while `app.py run` owns it.
    app = Motcua(cfg)
    for what, fn in (("SLA rule set and calendar", lambda: app.engine), ("column mapping", lambda: app.mapping),
                     ("SLOs", lambda: load_slos(cfg.monitor.slos)), ("alerts", lambda: load_alerts(cfg.monitor.alerts)),
                     ("probes", lambda: load_probes(cfg.monitor.probes)),
                     ("compliance criteria", lambda: check_compliance(cfg)),
                     ("load tests", lambda: load_loadtests(cfg.loadtest.file)),
                     ("766 scorecard", lambda: load_index766(cfg.reports.index766)),
                     ("status page", lambda: _check_status_page(cfg))):
        try:
            fn()
        except ConfigError as e:
            problems.append(str(e))
    problems += _dashboard_problems(cfg)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    print(f"Configuration is valid. Store: {cfg.store.path}; rules: {cfg.sla.rule_set}")
    if cfg.dashboard.enabled:
        from dashboard.users import UserFile

        n = len(UserFile(cfg.users_file).load())
        where = (f"http://{cfg.dashboard.host}:{cfg.dashboard.port}/" if cfg.dashboard.port
                 else f"{cfg.dashboard.host}, a free port chosen at start")
        print(f"Dashboard: {where}, {n} account(s) in {cfg.users_file}"
              + ("" if n else " (add one: app.py user add NAME --role admin)"))
    ag = cfg.agents
    if ag.enabled:
        active = [n for n, loc in ag.locations.items() if not loc.revoked]
        print(f"Agents: results accepted on {ag.host}:{ag.port} from {len(active)} location(s)"
              + (f" ({', '.join(active)})" if active else " (none yet: app.py agent-token LOCATION)")
              + (f", {len(ag.locations) - len(active)} revoked" if len(active) < len(ag.locations) else "")
              + f"; an outage needs failures from {ag.quorum} location(s)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="app.py",
        description="motcua-watch: independent numbers on a provincial one-stop portal "
                    "(deadlines recomputed, on-time ratios, the vendor's figures audited).")
    p.add_argument("--config", help="configuration file (default config/motcua.yaml; env MOTCUA_CONFIG)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    s = sub.add_parser("run", help="run the whole system (demo data if the store is empty); Ctrl-C stops it")
    s.set_defaults(fn=cmd_run)

    s = sub.add_parser("import", help="import a dossier export (CSV or XLSX) into the store")
    s.add_argument("file", help="dossier file: canonical columns or an official's export")
    s.add_argument("--events", help="optional events file (dossier_code, event, at, detail)")
    s.add_argument("--json", action="store_true", help="print the summary as JSON")
    s.set_defaults(fn=cmd_import)

    sla = sub.add_parser("sla", help="the deadline engine").add_subparsers(dest="sla_cmd", metavar="SUBCOMMAND",
                                                                           required=True)
    s = sla.add_parser("explain", help="compute deadlines for a file without storing anything")
    s.add_argument("file")
    s.add_argument("--events", help="a file of dossier events (supplement requests and receipts), as for import")
    s.add_argument("--as-of", help="judge pending dossiers at this time (default: now)")
    s.add_argument("--json", action="store_true", help="one JSON object per line")
    s.add_argument("--lang", choices=("vi", "en"), default="vi")
    s.set_defaults(fn=cmd_sla_explain)
    s = sla.add_parser("recompute", help="recompute every stored dossier's deadline and status")
    s.add_argument("--as-of")
    s.set_defaults(fn=cmd_sla_recompute)

    s = sub.add_parser("calendar", help="the weekdays off and weekend days worked of a year, as the deadline "
                                        "engine counts them, each with its source (holidays package or decision)")
    s.add_argument("year", type=int, help="YYYY, e.g. 2026")
    s.add_argument("--json", action="store_true", help="print one JSON document")
    s.add_argument("--lang", choices=("vi", "en"), default="vi")
    s.set_defaults(fn=cmd_calendar)

    s = sub.add_parser(
        "report", help="print the Biểu số 06/VPCP/KSTT table for a month",
        description="Biểu số 06/VPCP/KSTT for a month, as of the store's last recompute, or as of --as-of: "
                    "then, when the store's results are at another instant, the store is recomputed at that "
                    "instant first (the stored statuses and figures, which the dashboard shows, are replaced "
                    "until the next recompute), and the output says so. --json: an object with the month, "
                    "as_of, rule set and versions, the definitions of the ratios and the rows.")
    s.add_argument("--month", required=True, help="YYYY-MM")
    s.add_argument("--as-of", help="figures as of this instant: YYYY-MM-DD (end of that day) or 'YYYY-MM-DD HH:MM' "
                                   "(default: the store's last recompute); recomputes the store when it differs")
    s.add_argument("--agency", help="one agency code (its sub-units included)")
    s.add_argument("--by", choices=("agency", "field", "procedure", "channel"), default="agency")
    s.add_argument("--json", action="store_true", help="one JSON object: what the figures are, then the rows")
    s.add_argument("--lang", choices=("vi", "en"), default="vi")
    s.set_defaults(fn=cmd_report)

    s = sub.add_parser(
        "due-soon", help="pending dossiers due within N working days, most urgent first",
        description="Dossiers the last refresh found pending and in time whose deadline is at most --days "
                    "working days away, counted in office hours on working days (weekends, holidays and the "
                    "lunch break do not count), most urgent first, with agency, procedure, deadline and the "
                    "working time left.")
    s.add_argument("--agency", help="one agency code (its sub-units included)")
    s.add_argument("--days", type=float, default=float(DUE_SOON_DAYS),
                   help=f"working days ahead (default {DUE_SOON_DAYS}; fractions allowed)")
    s.add_argument("--as-of", help="as of this instant, 'YYYY-MM-DD HH:MM' (default: now)")
    s.add_argument("--limit", type=int, default=200, help="at most this many dossiers (default 200)")
    s.add_argument("--json", action="store_true", help="one JSON object with the rows")
    s.add_argument("--lang", choices=("vi", "en"), default="vi")
    s.set_defaults(fn=cmd_due_soon)

    s = sub.add_parser(
        "forecast", help="the month-end forecast: on-time ratio and 766 score as they stand, at best and at worst",
        description="For a month (the current one: still under way at the store's last recompute), per agency "
                    "and for the province: the on-time ratio and the 766 progress score as they stand (as in "
                    "`report`), at best (every pending dossier still in time resolved on time) and at worst "
                    "(every pending dossier due before the month's end resolved late). A month that is over: "
                    "best = worst = as it stands. --json: the month, as_of, the definitions and the rows.")
    s.add_argument("--month", required=True, help="YYYY-MM")
    s.add_argument("--agency", help="one agency code (its sub-units included)")
    s.add_argument("--json", action="store_true", help="one JSON object: what the figures are, then the rows")
    s.add_argument("--lang", choices=("vi", "en"), default="vi")
    s.set_defaults(fn=cmd_forecast)

    s = sub.add_parser(
        "index766", help="the 766 scorecard (Quyết định 766/QĐ-TTg) for a month, estimated from the store",
        description="Each group of Quyết định 766/QĐ-TTg per agency (rolled up) and in total: its points, or "
                    "'not measured' with the input the data lacks; the total of the measured groups against their "
                    "maximum. Weights, formulas and sources: reports.index766 (config/index766.yaml). An estimate.")
    s.add_argument("--month", required=True, help="YYYY-MM")
    s.add_argument("--agency", help="one agency code (its sub-units included)")
    s.add_argument("--json", action="store_true", help="one JSON object: the definitions and sources, then the rows")
    s.add_argument("--lang", choices=("vi", "en"), default="vi")
    s.set_defaults(fn=cmd_index766)

    s = sub.add_parser("export", help="write the monthly briefing (DOCX, XLSX, PDF) for a month")
    s.add_argument("--month", required=True, help="YYYY-MM")
    s.add_argument("--format", action="append", choices=("docx", "xlsx", "pdf"),
                   help="one format (repeat for several; default: all three)")
    s.add_argument("--agency", help="one agency code: that agency and its sub-units (default: the province)")
    s.add_argument("--out", help="folder for the files (default: reports.out_dir, else reports/ beside the "
                                 "store file: data/reports)")
    s.set_defaults(fn=cmd_export)

    s = sub.add_parser("demo-data", help="generate and load a realistic demo province (deterministic)")
    s.add_argument("--months", type=int)
    s.add_argument("--per-month", type=int, help="dossiers per month")
    s.add_argument("--seed", type=int)
    s.set_defaults(fn=cmd_demo_data)

    s = sub.add_parser("status", help="what the store holds")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_status)

    s = sub.add_parser("query", help="run a named query of the store and print the result")
    s.add_argument("name")
    s.add_argument("--param", action="append", metavar="NAME=VALUE")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_query)

    s = sub.add_parser("reference", help="load agencies and procedures from a reference YAML file")
    s.add_argument("file")
    s.set_defaults(fn=cmd_reference)

    s = sub.add_parser("probe", help="run every synthetic check and journey once and print the results")
    s.add_argument("--once", action="store_true", help="run once now (the schedule runs inside `app.py run`)")
    s.add_argument("--probes", help="probes file (default: monitor.probes, config/probes.yaml)")
    s.add_argument("--base-url", help="portal to probe instead of the file's base_url")
    s.add_argument("--json", action="store_true", help="one JSON object per result")
    s.add_argument("--no-store", action="store_true", help="do not keep the results in the store")
    s.set_defaults(fn=cmd_probe)

    s = sub.add_parser("testbed", help="serve the simulated portal (a test target for probes and load tests)")
    s.add_argument("--release", choices=("v1.0", "v2.0"), default="v2.0",
                   help="release profile: v2.0 reproduces the 2022 failures (default)")
    s.add_argument("--port", type=int, default=8088)
    s.set_defaults(fn=cmd_testbed)

    from compliance.cli import add_parser as add_compliance_parser

    add_compliance_parser(sub).set_defaults(fn=cmd_compliance)
    s = sub.add_parser("loadtest", help="run a Locust load scenario against a portal (allowlisted hosts only); "
                                        "or: loadtest list | compare RUN_A RUN_B | report RUN")
    s.add_argument("action", nargs="*", metavar="ACTION", help="list | compare RUN_A RUN_B | report RUN "
                                                              "(none: run a scenario)")
    s.add_argument("--scenario", help="scenario name in the load-test file (config/loadtests.yaml)")
    s.add_argument("--target", help="base URL of the portal under test, e.g. http://127.0.0.1:8088")
    s.add_argument("--release", help="label of the release under test, e.g. v2.1-rc1")
    s.add_argument("--users", type=int, help="target users (default: the scenario's)")
    s.add_argument("--duration", help="run length, e.g. 90s, 10m (default: the shape's)")
    s.add_argument("--workers", type=int, default=0, help="Locust worker processes (K>1: master and K workers)")
    s.add_argument("--remote-workers", type=int, metavar="N",
                   help="wait for N workers on other machines (app.py loadtest-worker) instead of local ones")
    s.add_argument("--master-bind", metavar="HOST:PORT",
                   help="with --remote-workers: the private address the workers connect to (Locust's port: 5557)")
    s.add_argument("--worker-wait", metavar="DURATION",
                   help="with --remote-workers: how long to wait for them (default 2m)")
    s.add_argument("--token-file", help="with --remote-workers: the file holding the token shared with the workers")
    s.add_argument("--criteria", help="judge against this criteria set instead of the scenario's")
    s.add_argument("--file", help="load-test file (default: loadtest.file of the config)")
    s.add_argument("--portal", help="portal description (a probes file) instead of the scenario's, e.g. a "
                                    "vendor's staging portal")
    s.add_argument("--no-report", action="store_true", help="do not write the HTML report")
    s.add_argument("--limit", type=int, default=50, help="list: how many runs")
    s.add_argument("--out", help="report: where to write the HTML file")
    s.add_argument("--lang", choices=("vi", "en"), default="vi", help="report language")
    s.add_argument("--json", action="store_true", help="print the result as JSON")
    s.set_defaults(fn=cmd_loadtest)
    s = sub.add_parser(
        "loadtest-worker", help="serve load tests of a master on another machine (Locust worker)",
        description="Connect to a load-test master (app.py loadtest --remote-workers N --master-bind HOST:PORT) "
                    "and run its scenario's users from this machine. Nothing but the master's address is needed: "
                    "the scenario arrives from the master, and is refused unless its target and every URL are on "
                    "the allowlist the master sent AND on this machine's own (--allow, or the allowlist of the "
                    "load-test file; loopback only as shipped). The shared token (--token-file) is proved both "
                    "ways. Credentials come from this machine (--secrets-file), never from the master. Serves "
                    "run after run "
                    "until stopped (--once: one run; exit 0 served, 1 no load, 2 refused, 3 master unreachable).")
    s.add_argument("--master", required=True, metavar="HOST:PORT", help="the master's address (port default 5557)")
    s.add_argument("--name", help="this worker's name in the run (default: the host name)")
    s.add_argument("--source", metavar="ADDRESS", help="connect to the master from this local address")
    s.add_argument("--allow", action="append", metavar="HOST|CIDR",
                   help="a host or network this worker may load (repeat; default: the load-test file's allowlist)")
    s.add_argument("--file", help="load-test file whose allowlist applies (default: loadtest.file of the config)")
    s.add_argument("--token-file", required=True, help="the file holding the token shared with the master")
    s.add_argument("--secrets-file", help="this machine's secrets file for ${secret:NAME} in the scenario's steps "
                                          "(credentials never come from the master)")
    s.add_argument("--ca-file", help="extra CA certificates for an HTTPS target (this machine's file)")
    s.add_argument("--workdir", help="where tallies go, one folder per run (default: the load-test runs folder)")
    s.add_argument("--connect-wait", default="5m", metavar="DURATION",
                   help="how long to try reaching the master (default 5m)")
    s.add_argument("--once", action="store_true", help="serve one run, then exit with its code")
    s.set_defaults(fn=cmd_loadtest_worker)

    s = sub.add_parser(
        "agent", help="run the probes on this machine and send their results to the central system",
        description="A remote probe agent: runs the probes (its own --probes file, or the central's) from this "
                    "machine, keeps every result on disk (--spool) until the central (`app.py run` with "
                    "agents.enabled) has stored it, and sends them with this location's token. Ctrl-C or SIGTERM "
                    "stops it after a few seconds of sending what waits, with a one-line summary. "
                    "See docs/guide-agents.md.")
    s.add_argument("--central", required=True, metavar="URL",
                   help="the central's agents address, e.g. https://watch.example.vn:8091 (agents.host/port there)")
    s.add_argument("--location", required=True, metavar="NAME", help="this agent's location, as in the central's "
                                                                       "agents.locations (e.g. hanoi)")
    s.add_argument("--token-file", required=True, help="the file holding this location's token (mode 600)")
    s.add_argument("--probes", metavar="FILE", help="this machine's probes file (default: fetch the central's, "
                                                    "cached in the spool folder)")
    s.add_argument("--base-url", help="portal to probe instead of the probes file's base_url")
    s.add_argument("--spool", default="data/agent-spool", metavar="DIR",
                   help="where results wait until the central has them (default data/agent-spool)")
    s.add_argument("--ca-file", help="extra CA certificates to verify an https central with")
    s.set_defaults(fn=cmd_agent)
    s = sub.add_parser("agent-token", help="make a token for a remote agent's location and print its config lines")
    s.add_argument("location", metavar="LOCATION", help="the location's name, e.g. hanoi")
    s.add_argument("--out", metavar="FILE", help="write the token to FILE (mode 600) instead of printing it")
    s.set_defaults(fn=cmd_agent_token)

    user = sub.add_parser("user", help="the dashboard's accounts (bcrypt-hashed passwords in the users file)")
    usub = user.add_subparsers(dest="user_cmd", metavar="SUBCOMMAND", required=True)
    s = usub.add_parser("add", help="add an account (asks for the password)")
    s.add_argument("name")
    s.add_argument("--role", required=True, choices=("leadership", "ict", "vendor", "agency", "admin"))
    s.add_argument("--agency", help="agency code (agency role: the only agency whose dossiers it sees)")
    s.add_argument("--display-name", help="name shown on the dashboard")
    s.add_argument("--email", help="e-mail for single sign-on (OIDC)")
    s.add_argument("--sso-only", action="store_true", help="no password: sign in through OIDC only")
    s.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    s.set_defaults(fn=cmd_user)
    s = usub.add_parser("remove", help="remove an account")
    s.add_argument("name")
    s.set_defaults(fn=cmd_user)
    s = usub.add_parser("passwd", help="change an account's password (asks for it)")
    s.add_argument("name")
    s.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    s.set_defaults(fn=cmd_user)
    s = usub.add_parser("list", help="list the accounts (never the passwords)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_user)

    s = sub.add_parser("backup", help="a consistent snapshot of the store with a manifest (while the system runs)")
    s.add_argument("--out", metavar="DIR", help="the backups folder (default: backup.folder, data/backups)")
    s.add_argument("--list", action="store_true", help="list the finished backups in the folder instead")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_backup)
    s = sub.add_parser("restore", help="restore a backup, checked first (the system must be stopped)")
    s.add_argument("backup", metavar="BACKUP", help="a backup folder (data/backups/motcua-YYYYMMDD-HHMMSS)")
    s.add_argument("--to", metavar="PATH", help="the store file to restore to (default: store.path)")
    s.add_argument("--force", action="store_true",
                   help="replace an existing store (it is kept beside as <file>.before-restore-<time>)")
    s.add_argument("--check", action="store_true", help="only check the backup's files and checksums")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_restore)
    s = sub.add_parser("export-data", help="every table as open files (Parquet or CSV) with a README of the columns")
    s.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    s.add_argument("--out", metavar="DIR", required=True, help="a new (or empty) folder")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_export_data)

    s = sub.add_parser("check-config", help="validate the configuration and say what is wrong")
    s.set_defaults(fn=cmd_check_config)
    return p


def _log_path(cfg: AppConfig | None) -> Path:
    base = cfg.store.path.parent if cfg else Path("data")
    return base / "logs" / "motcua.log"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cfg = None
    try:
        cfg = load_config(args.config)
        install_log(_log_path(cfg))  # warnings into the log file, ID and phone shapes masked
        return args.fn(cfg, args)
    except MotcuaError as e:  # every part's plain message: the one place errors become exit codes
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing was left half-done", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as e:  # the user gets one line; the details go to the log file
        plain = resource_error(e)
        if plain is not None:  # out of memory or disk: what to do, not DuckDB's tuning text
            print(f"error: {plain}", file=sys.stderr)
            return 2
        path = _log_path(cfg)
        try:
            log_exception(path, " ".join(sys.argv))
            where = f"; details in {path}"
        except OSError:
            where = ""
        print(f"error: unexpected {type(e).__name__}: {e}{where}", file=sys.stderr)
        return 1
    finally:
        uninstall_log()


if __name__ == "__main__":
    sys.exit(main())
