"""`app.py loadtest ...`: run a scenario, list runs, compare two runs, rebuild a report.

    app.py loadtest --scenario NAME --target URL --release LABEL [--users N] [--duration D] [--workers K]
    app.py loadtest ... --remote-workers N --master-bind HOST:PORT [--worker-wait 2m] [--token-file FILE]
    app.py loadtest-worker --master HOST:PORT [--name NAME] [--source ADDRESS] [--allow HOST|CIDR]... [--once]
    app.py loadtest list [--scenario NAME] [--release LABEL]
    app.py loadtest compare RUN_A RUN_B
    app.py loadtest report RUN [--out FILE] [--lang en]   (English: report.en.html beside report.html)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from config.errors import MotcuaError
from config.loadtest import parse_duration


class CliError(MotcuaError):
    """A usage problem; app.py prints it as one line."""


def _runs_dir(cfg) -> Path:
    return cfg.loadtest.runs_dir or (cfg.store.path.parent / "loadtests")


def _resolve(ops, ref: str) -> str:
    """A run id, a unique prefix of one, or 'last'."""
    runs = ops.query("loadtest_runs", limit=10_000).column("run_id")
    if ref == "last":
        if not runs:
            raise CliError("no load-test run is stored yet")
        return runs[0]
    if ref in runs:
        return ref
    hits = [r for r in runs if r.startswith(ref)]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise CliError(f"no load-test run {ref!r} (see: app.py loadtest list)")
    raise CliError(f"{ref!r} matches several runs: {', '.join(hits[:5])}")


def _fmt(metric: str, v: Any) -> str:
    if v is None:
        return "–"
    if metric == "error_rate":
        return f"{100 * v:.2f}%"
    if metric == "rps":
        return f"{v:.1f}/s"
    return f"{v:.0f} ms"


def _print(rows: list[list[str]], out) -> None:
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        out("  ".join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip())


def compare_text(ops, a: str, b: str) -> tuple[str, list[str]]:
    t = ops.query("loadtest_compare", run_a=a, run_b=b)
    ra, rb = ops.query("loadtest_run", run_id=a).one(), ops.query("loadtest_run", run_id=b).one()
    lines: list[str] = []
    out = lines.append
    out(f"A = {a}: {ra['scenario']} on release {ra['release']} ({ra['users_peak']} users, {ra['status']})")
    out(f"B = {b}: {rb['scenario']} on release {rb['release']} ({rb['users_peak']} users, {rb['status']})")
    if ra["scenario"] != rb["scenario"]:
        out("warning: the runs are of different scenarios; the comparison may not mean much")
    by_ep: dict[tuple[str, str], dict[str, dict]] = {}
    for r in t:
        by_ep.setdefault((r["method"], r["name"]), {})[r["metric"]] = r
    rows = [["endpoint", "p50 A→B", "p95 A→B", "p99 A→B", "rps A→B", "errors A→B", "beyond noise"]]
    regressed: list[str] = []
    for (m, n), metrics in by_ep.items():
        cells = ["(all requests)" if n == "*" else n + (" (journey)" if m == "JOURNEY" else "")]
        flags = []
        for metric in ("p50_ms", "p95_ms", "p99_ms", "rps", "error_rate"):
            r = metrics[metric]
            pct = "" if r["change_pct"] is None else f" ({r['change_pct']:+.0f}%)"
            mark = "!" if r["worse"] else ("+" if r["verdict"] == "improved" else "")
            cells.append(f"{_fmt(metric, r['a'])} → {_fmt(metric, r['b'])}{pct}{mark}")
            if r["beyond_noise"]:
                flags.append(f"{metric.replace('_ms', '')} {'worse' if r['worse'] else 'better'}")
        if any(metrics[x]["worse"] for x in metrics):
            regressed.append("(all requests)" if n == "*" else n)
        few = all(metrics[x]["verdict"] == "too_few_samples" for x in ("p50_ms", "p95_ms", "p99_ms"))
        cells.append(", ".join(flags) or ("too few samples" if few else "no"))
        rows.append(cells)
    _print(rows, out)
    out("! = worse beyond run-to-run noise, + = better beyond noise")
    out(f"Regressed: {', '.join(regressed)}" if regressed else "No endpoint regressed beyond run-to-run noise.")
    return "\n".join(lines), regressed


def main(cfg, args, open_ops) -> int:
    from loadtests.runner import LoadRequest, run_loadtest

    action = list(args.action or [])
    ops = open_ops(cfg)
    try:
        if not action:
            missing = [o for o, v in (("--scenario", args.scenario), ("--target", args.target),
                                      ("--release", args.release)) if not v]
            if missing:
                raise CliError(f"loadtest needs {', '.join(missing)} (or: loadtest list | compare A B | report RUN)")
            duration = None
            if args.duration:
                try:
                    duration = parse_duration(args.duration)
                except ValueError as e:
                    raise CliError(f"--duration: {e}") from None
            if args.users is not None and args.users < 1:
                raise CliError("--users must be at least 1")
            if args.workers < 0 or args.workers > 64:
                raise CliError("--workers must be between 0 and 64")
            token, wait = None, 120.0
            if args.remote_workers is not None:
                if not 1 <= args.remote_workers <= 256:
                    raise CliError("--remote-workers must be between 1 and 256")
                if args.workers > 1:
                    raise CliError("give either --workers (this machine) or --remote-workers (other machines)")
                if not args.master_bind:
                    raise CliError("--remote-workers needs --master-bind HOST:PORT (a private address of this "
                                   "machine the workers reach; Locust's port is 5557)")
                if args.worker_wait:
                    try:
                        wait = parse_duration(args.worker_wait)
                    except ValueError as e:
                        raise CliError(f"--worker-wait: {e}") from None
                from loadtests.remote import parse_address, read_token

                parse_address(args.master_bind, "--master-bind")
                token = read_token(args.token_file)
            elif args.master_bind or args.worker_wait or args.token_file:
                raise CliError("--master-bind, --worker-wait and --token-file go with --remote-workers N")
            req = LoadRequest(args.scenario, args.target, args.release, users=args.users, duration=duration,
                              workers=args.workers, criteria=args.criteria, portal=args.portal,
                              remote_workers=args.remote_workers or 0, master_bind=args.master_bind,
                              worker_wait=wait)
            # with --json, stdout carries only the JSON line; the progress and the table go to stderr
            say = (lambda s: print(s, file=sys.stderr)) if args.json else print
            res = run_loadtest(ops, req, loadtests_file=args.file or cfg.loadtest.file, runs_dir=_runs_dir(cfg),
                               report=not args.no_report, out=say, token=token)
            if args.json:
                print(json.dumps({"run_id": res.run_id, "status": res.status, "exit_code": res.exit_code,
                                  "verdicts": res.verdicts}, ensure_ascii=False, default=str))
            return res.exit_code
        verb, rest = action[0], action[1:]
        if verb == "list":
            t = ops.query("loadtest_runs", limit=args.limit, scenario=args.scenario, release=args.release)
            rows = [["run", "scenario", "release", "status", "users", "requests", "errors", "p95", "verdict", "knee"]]
            for r in t:
                rows.append([r["run_id"], r["scenario"], r["release"], r["status"], str(r["users_peak"] or 0),
                             str(r["requests"] or 0), _fmt("error_rate", r["error_rate"]), _fmt("p95", r["p95_ms"]),
                             r["verdict"] or "", str(r["knee_users"] or "")])
            if len(rows) == 1:
                print("No load-test run stored yet.")
            else:
                _print(rows, print)
            return 0
        if verb == "compare":
            if len(rest) != 2:
                raise CliError("usage: app.py loadtest compare RUN_A RUN_B")
            a, b = _resolve(ops, rest[0]), _resolve(ops, rest[1])
            text, regressed = compare_text(ops, a, b)
            if args.json:
                print(json.dumps({"run_a": a, "run_b": b, "regressed": regressed,
                                  "rows": ops.query("loadtest_compare", run_a=a, run_b=b).to_dicts()},
                                 ensure_ascii=False, default=str))
            else:
                print(text)
            return 1 if regressed else 0
        if verb == "report":
            if len(rest) != 1:
                raise CliError("usage: app.py loadtest report RUN [--out FILE] [--lang en]")
            from loadtests.report import LANGUAGES, report_name, write_report

            rid = _resolve(ops, rest[0])
            # each language its own file: the English one never replaces the run's Vietnamese report
            path = Path(args.out) if args.out else _runs_dir(cfg) / rid / report_name(args.lang)
            write_report(ops, rid, path, lang=args.lang)
            print(f"Report ({LANGUAGES[args.lang]}): {path.resolve()}")
            return 0
        raise CliError(f"unknown loadtest action {verb!r}: expected list, compare or report")
    finally:
        ops.close()


def worker_main(cfg, args) -> int:
    """`app.py loadtest-worker`: serve load-test runs of a master on another machine (loadtests/remote.py)."""
    from loadtests.remote import (check_node_name, default_node_name, local_allowlist, parse_address, read_token,
                                  run_worker)

    host, port = parse_address(args.master, "--master")
    name = check_node_name(args.name or default_node_name())
    token = read_token(args.token_file)
    allow, allow_source = local_allowlist(args.allow, args.file or cfg.loadtest.file)
    try:
        wait = parse_duration(args.connect_wait)
    except ValueError as e:
        raise CliError(f"--connect-wait: {e}") from None
    for opt, f in (("--ca-file", args.ca_file), ("--secrets-file", args.secrets_file)):
        if f and not Path(f).is_file():
            raise CliError(f"{opt} {f}: no such file")
    workdir = Path(args.workdir) if args.workdir else _runs_dir(cfg)
    print(f"Load-test worker {name}: master {host}:{port}; this machine's allowlist: "
          f"{', '.join(allow.hosts + allow.networks) or '(empty)'} ({allow_source.split(' or ')[0]}); "
          f"tallies under {workdir.resolve()}", flush=True)
    opts = {"master_host": host, "master_port": port, "name": name, "source": args.source,
            "allow_hosts": allow.hosts, "allow_networks": allow.networks, "allow_source": allow_source,
            "workdir": str(workdir.resolve()), "connect_wait": wait,
            "ca_file": str(Path(args.ca_file).resolve()) if args.ca_file else None,
            "secrets_file": str(Path(args.secrets_file).resolve()) if args.secrets_file else None}
    return run_worker(opts, token, once=args.once)
