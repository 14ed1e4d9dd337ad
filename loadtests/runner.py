"""Running a load test: the parent side (no gevent here; Locust runs in processes of its own).

    result = run_loadtest(ops, LoadRequest(scenario="citizens", target="http://127.0.0.1:8088",
                                           release="v2.1"), loadtests_file=..., runs_dir=...)

1. The scenario, its shape and criteria come from config/loadtests.yaml; the checks and journeys
   from the portal description it names (the probes file). A target (or any step URL) whose host is
   not on the allowlist is refused before any request, and the refusal is stored as a run.
2. The run is stored as `running`, then Locust starts: one local process, or a master and K
   workers (Locust's own distributed mode) on loopback, or a master waiting for N workers on
   other machines (`remote_workers`, loadtests/remote.py), each in a session of its own so that a
   Ctrl-C reaches this process only; it is forwarded once to the master (Locust stops its users
   and writes its last interval), a second Ctrl-C ends the processes at once.
3. Whatever happened (completed, target gone, interrupted, Locust crashed), what the Locust side
   wrote (series.jsonl, worker-*.json; see loadtests/locustfile.py) becomes the stored run:
   per-endpoint totals and series, failures with messages, the generator's CPU with an
   "overloaded generator" flag, verdicts against the acceptance criteria, the capacity of a step
   run, and an HTML report (loadtests/report.py).

Exit codes (for a vendor's CI): 0 every criterion passed (or none), 1 a criterion failed,
2 refused or not run, 3 inconclusive (the load generator was overloaded, or a remote worker was
lost), 130 interrupted.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from config.cells import csv_cell, formula_like
from config.clock import from_timestamp
from config.errors import ConfigError, MotcuaError
from config.loadtest import GeneratorLimits, LoadtestsFile, load_loadtests, resolve_tasks, selector_matches
from loadtests import analysis, remote
from loadtests.analysis import AGGREGATE, JOURNEY
from loadtests.report import report_name
from loadtests.shapes import Plan
from steps.secrets import ENV_FILE

ROOT = Path(__file__).resolve().parents[1]
LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
EXIT_PASS, EXIT_FAIL, EXIT_REFUSED, EXIT_INCONCLUSIVE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
MAX_FAILURE_ROWS = 500
MAX_POINTS = 1200
STEP_FIELDS = set(__import__("config.probes", fromlist=["Step"]).Step.model_fields)  # a check's own fields left out


class Refused(MotcuaError):
    """The run may not start (target not on the allowlist); the message is for the operator."""


@dataclass
class LoadRequest:
    scenario: str
    target: str
    release: str
    users: int | None = None
    duration: float | None = None
    workers: int = 0            # 0 or 1: one local Locust process; K > 1: a master and K workers
    criteria: str | None = None  # override the scenario's criteria set
    portal: str | None = None    # override the scenario's portal description (a probes file)
    remote_workers: int = 0      # N > 0: a master waiting for N workers on other machines (loadtests/remote.py)
    master_bind: str | None = None  # HOST:PORT the master listens on for them (a private address)
    worker_wait: float = 120.0   # seconds the master waits for them before giving up


@dataclass
class RunResult:
    run_id: str
    exit_code: int
    status: str
    run: dict[str, Any]
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    report_path: Path | None = None


def _local(ts: float) -> dt.datetime:
    return from_timestamp(ts).replace(microsecond=0)


def new_run_id(now: float | None = None) -> str:
    return f"{_local(now or time.time()):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def check_target(url: str, cfg: LoadtestsFile, source: str) -> str:
    """The normalised base URL, or Refused naming the host and the allowlist."""
    try:
        u = urlsplit(url.strip())
        host = u.hostname
        port = u.port
    except ValueError:
        raise Refused(f"target {url!r} is not a URL (example: http://127.0.0.1:8088)") from None
    if u.scheme not in ("http", "https") or not host:
        raise Refused(f"target {url!r} is not an http(s) URL (example: http://127.0.0.1:8088)")
    if not cfg.allowlist.allows(host):
        allowed = ", ".join(cfg.allowlist.hosts + cfg.allowlist.networks)
        raise Refused(f"target {url} refused: host {host} is not on the load-test allowlist ({allowed}); "
                      f"load may only go to hosts listed under allowlist in {source}")
    netloc = f"[{host}]" if ":" in host else host
    return f"{u.scheme}://{netloc}{f':{port}' if port else ''}{u.path.rstrip('/')}"


_VAR = re.compile(r"\$\{([^}]*)\}")


def _check_step_hosts(steps_by_task: dict, variables: dict[str, str], cfg: LoadtestsFile, source: str) -> None:
    for task, (_kind, steps) in steps_by_task.items():
        for s in steps:
            url = _VAR.sub(lambda m: variables.get(m.group(1), "\x00"), s.url)
            if not url.startswith(("http://", "https://")):
                continue  # the URL comes from an extracted value: the Locust side checks it at run time
            try:
                host = urlsplit(url).hostname or ""
            except ValueError:
                continue
            if "\x00" in host:
                continue
            if not cfg.allowlist.allows(host):
                raise Refused(f"task {task}, step {s.name}: {host} is not on the load-test allowlist "
                              f"({source}); the scenario would send load there")


@dataclass
class Prepared:
    cfg: LoadtestsFile
    source: str
    scenario: Any
    shape: Any
    plan: Plan
    criteria_name: str | None
    criteria: Any
    spec: dict[str, Any]
    config_json: dict[str, Any]


def prepare(req: LoadRequest, loadtests_file: Path | str | None = None) -> Prepared:
    """Everything a run needs, validated, or ConfigError / Refused with a plain message."""
    from config.probes import load_probes

    cfg = load_loadtests(loadtests_file)
    source = str(loadtests_file or "config/loadtests.yaml")
    sc = cfg.scenarios.get(req.scenario)
    if sc is None:
        raise ConfigError(f"{source}: no scenario {req.scenario!r}; known: {', '.join(sorted(cfg.scenarios))}")
    target = check_target(req.target, cfg, source)
    if req.portal:
        sc = sc.model_copy(update={"portal": Path(req.portal)})
    portal = load_probes(sc.portal)
    tasks = resolve_tasks(sc, portal, req.scenario)
    variables = dict(portal.variables)
    variables["base_url"] = target
    _check_step_hosts(tasks, variables, cfg, source)
    shape = cfg.shape_of(sc)
    users = req.users or sc.users
    duration = req.duration or sc.duration or shape.duration
    if users < 1:
        raise ConfigError("--users must be at least 1")
    plan = Plan.from_shape(shape.model_dump(), users, duration)
    crit_name = req.criteria or sc.criteria
    if crit_name is not None and crit_name not in cfg.criteria:
        raise ConfigError(f"{source}: no criteria {crit_name!r}; known: {', '.join(sorted(cfg.criteria))}")
    crit = cfg.criteria.get(crit_name) if crit_name else None
    user_classes = []
    for uc in sc.user_classes:
        user_classes.append({
            "name": uc.name, "weight": uc.weight, "fixed_count": uc.fixed_count,
            "wait": uc.wait.model_dump(),
            "tasks": [{"name": t.name, "weight": t.weight, "think": t.think, "kind": tasks[t.name][0],
                       "steps": [s.model_dump(mode="json", by_alias=True, exclude_unset=True,
                                              include=STEP_FIELDS) for s in tasks[t.name][1]]}
                      for t in uc.tasks]})
    spec = {"target": target, "variables": variables, "users": users, "duration": duration,
            "shape": shape.model_dump(mode="json"), "timeout": sc.timeout, "user_classes": user_classes,
            # absolute: Locust reads them from the run folder
            "secrets_file": str(Path(portal.secrets_file).resolve()) if portal.secrets_file else None,
            "verify_tls": portal.defaults.verify_tls,
            # the Locust side follows redirects itself, each hop held to the allowlist
            "max_redirects": portal.defaults.max_redirects,
            "ca_file": str(Path(portal.defaults.ca_file).resolve()) if portal.defaults.ca_file else None,
            # at most MAX_POINTS intervals per series: a long soak run gets coarser points
            "interval": max(cfg.generator.interval, round(duration / MAX_POINTS, 1)),
            "allow_hosts": cfg.allowlist.hosts, "allow_networks": cfg.allowlist.networks}
    config_json = {"scenario": req.scenario, "title": sc.title, "portal": str(sc.portal), "target": target,
                   "users": users, "duration_s": duration, "workers": req.workers,
                   "shape": shape.model_dump(mode="json"), "criteria_name": crit_name,
                   "criteria": crit.model_dump(mode="json") if crit else None,
                   "generator": cfg.generator.model_dump(mode="json"), "user_classes": user_classes}
    return Prepared(cfg, source, sc, shape, plan, crit_name, crit, spec, config_json)


# -- Locust processes ---------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _locust_cmd(*extra: str) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary",
            "--loglevel", "WARNING", "--exit-code-on-error", "0", *extra]


CSV_PREFIX = "locust"  # Locust's own statistics beside ours: locust_stats.csv, locust_failures.csv, ...


class _Processes:
    """Locust's processes. They start in the run folder, so every path handed to them is absolute."""

    def __init__(self, run_dir: Path, spec_path: Path, workers: int, remote_master: tuple | None = None,
                 token: str | None = None) -> None:
        self.run_dir = run_dir = run_dir.resolve()
        env = dict(os.environ)
        env["MOTCUA_LOADTEST_SPEC"] = str(spec_path.resolve())
        env.pop(remote.TOKEN_ENV, None)
        if token:
            env[remote.TOKEN_ENV] = token  # the environment, never the command line or the spec file
        if env.get(ENV_FILE):
            env[ENV_FILE] = str(Path(env[ENV_FILE]).resolve())
        csv = ("--csv", str(run_dir / CSV_PREFIX))
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        env["PYTHONUNBUFFERED"] = "1"
        self.env = env
        self.logs: list[Any] = []
        self.workers: list[subprocess.Popen] = []
        if remote_master is not None:
            host, port, n, wait = remote_master
            self.master = self._start("master", _locust_cmd(
                "--master", "--master-bind-host", host, "--master-bind-port", str(port),
                "--expect-workers", str(n), "--expect-workers-max-wait", str(max(1, round(wait))), *csv))
        elif workers > 1:
            port = _free_port()
            self.master = self._start("master", _locust_cmd(
                "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
                "--expect-workers", str(workers), "--expect-workers-max-wait", "60", *csv))
            for i in range(workers):
                self.workers.append(self._start(f"worker-{i + 1}", _locust_cmd(
                    "--worker", "--master-host", "127.0.0.1", "--master-port", str(port))))
        else:
            self.master = self._start("local", _locust_cmd(*csv))

    def _start(self, name: str, cmd: list[str]) -> subprocess.Popen:
        log = open(self.run_dir / f"locust-{name}.log", "wb")
        self.logs.append(log)
        return subprocess.Popen(cmd, cwd=self.run_dir, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)

    @property
    def all(self) -> list[subprocess.Popen]:
        return [self.master, *self.workers]

    def interrupt(self) -> None:
        if self.master.poll() is None:
            self.master.send_signal(signal.SIGINT)

    def kill(self) -> None:
        for p in self.all:
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + 5
        for p in self.all:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def wait_workers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for p in self.workers:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        for f in self.logs:
            f.close()


def neutralise_csv_files(run_dir: Path) -> None:
    """Rewrite Locust's CSV statistics with formula-like text cells quoted: they carry task names
    and error texts, which a spreadsheet must never run as formulas."""
    for path in sorted(run_dir.glob(f"{CSV_PREFIX}*.csv")):
        try:
            with path.open(encoding="utf-8", newline="") as f:
                rows = list(csv.reader(f))
            if not any(formula_like(c) for r in rows for c in r):
                continue
            tmp = path.with_suffix(".csv.tmp")
            with tmp.open("w", encoding="utf-8", newline="") as f:
                csv.writer(f).writerows([[csv_cell(c) for c in r] for r in rows])
            tmp.replace(path)
        except (OSError, csv.Error, UnicodeDecodeError):
            path.unlink(missing_ok=True)  # unreadable: not kept rather than kept unsafe


class _Tail:
    """The lines appended to a JSON-lines file since the last read: a run's series grows for as long
    as the run lasts, and is looked at several times a second (never read whole again)."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.rest = path, 0, b""

    def read(self) -> list[dict]:
        try:
            with self.path.open("rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return []
        self.offset += len(data)
        *whole, self.rest = (self.rest + data).split(b"\n")  # the last piece: a line still being written
        out = []
        for line in whole:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass  # a line torn by a killed process
        return out


def _read_lines(path: Path) -> list[dict]:
    out = []
    try:
        with path.open(encoding="utf-8") as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass  # a line torn by a killed process
    except OSError:
        pass
    return out


# -- from Locust's output to the stored run -----------------------------------------------------
_WRAPPED = re.compile(r"^(?:CatchResponseError|Exception)\((['\"])(.*)\1\)$", re.S)


def clean_error(text: str) -> str:
    m = _WRAPPED.match(text.strip())
    return m.group(2).replace("\\'", "'") if m else text.strip()


def _row_of(st: analysis.Stat, seconds: float, hist: bool = False) -> dict[str, Any]:
    row = {"requests": st.requests, "failures": st.failures, "error_rate": st.error_rate,
           "rps": st.requests / seconds if seconds > 0 else None, "avg_ms": st.avg, "min_ms": st.min,
           "max_ms": st.max, "p50_ms": st.p(50), "p90_ms": st.p(90), "p95_ms": st.p(95), "p99_ms": st.p(99)}
    if hist:
        row["hist_json"] = json.dumps({str(k): v for k, v in sorted(st.hist.items())})
    return row


def build_payload(run: dict[str, Any], lines: list[dict], worker_files: list[dict], prep: Prepared | None
                  ) -> dict[str, Any]:
    samples = analysis.samples_from_lines(lines)
    elapsed = samples[-1].t if samples else 0.0
    seconds = sum(s.seconds for s in samples)
    endpoints = []
    for (m, n), st in sorted(analysis.totals(samples).items(), key=lambda kv: (kv[0][1], kv[0][0])):
        endpoints.append({"method": m, "name": n, "kind": "journey" if m == JOURNEY else "request",
                          **_row_of(st, seconds, hist=True)})
    agg = analysis.aggregate(samples)
    if samples:
        endpoints.append({"method": "", "name": AGGREGATE, "kind": "aggregate", **_row_of(agg, seconds, hist=True)})
    series, generator = [], []
    failures: dict[tuple[str, str, str], list] = {}
    for ln in lines:
        if ln.get("type") != "sample":
            continue
        for e in ln.get("errors", []):
            key = (e["m"], e["n"], clean_error(e["e"]))
            f = failures.setdefault(key, [0, float(ln["t"])])
            f[0] += int(e["o"])
    for s in samples:
        at = _local(s.at)
        rows = [("", AGGREGATE, s.aggregate())] + [(m, n, st) for (m, n), st in s.entries.items()]
        for m, n, st in rows:
            series.append({"t_s": s.t, "at_time": at.isoformat(), "method": m, "name": n, "users": s.users,
                           "requests": st.requests, "failures": st.failures, "rps": st.requests / s.seconds,
                           "avg_ms": st.avg, "p50_ms": st.p(50), "p90_ms": st.p(90), "p95_ms": st.p(95),
                           "p99_ms": st.p(99), "max_ms": st.max})
        for node, pct in s.cpu.items():
            generator.append({"t_s": s.t, "node": node, "cpu_pct": pct, "users": s.users})
    fail_rows = sorted(({"method": k[0], "name": k[1], "error": k[2], "occurrences": v[0], "first_t_s": v[1]}
                        for k, v in failures.items()), key=lambda r: -r["occurrences"])[:MAX_FAILURE_ROWS]
    nodes = [{"node": w.get("name") or f"worker-{w.get('pid')}",  # a remote worker's name, a local one's pid
              "requests": sum(v for k, v in w.get("requests", {}).items() if not k.startswith(JOURNEY + " ")),
              "failures": int(w.get("failures", 0))} for w in worker_files]
    # the generator's own CPU: the busiest process in each interval
    limits = prep.cfg.generator if prep else GeneratorLimits()
    per_interval = [max(s.cpu.values()) for s in samples if s.cpu]
    busy = per_interval[1:] if len(per_interval) > 2 else per_interval  # the first interval includes start-up
    overloaded = False
    if limits and busy:
        over = sum(1 for x in busy if x >= limits.cpu_limit)
        overloaded = over >= 2 and over / len(busy) >= limits.overload_share
    run.update({"elapsed_s": elapsed, "users_peak": max((s.users for s in samples), default=0),
                "requests": agg.requests, "failures": agg.failures,
                "rps": agg.requests / seconds if seconds else None, "error_rate": agg.error_rate,
                "p50_ms": agg.p(50), "p95_ms": agg.p(95), "p99_ms": agg.p(99),
                "generator_cpu_max": max(busy) if busy else None,
                "generator_cpu_avg": sum(busy) / len(busy) if busy else None,
                "generator_overloaded": overloaded})
    verdicts: list[dict[str, Any]] = []
    if prep and prep.criteria is not None:
        verdicts = analysis.judge(prep.criteria.model_dump(), prep.criteria.parsed(), samples, selector_matches,
                                  prep.criteria_name)
        run["verdict"] = "pass" if verdicts and all(v["passed"] for v in verdicts) else "fail"
    else:
        run["verdict"] = "none"
    capacity_rows: list[dict[str, Any]] = []
    if prep and prep.shape.kind == "step" and samples:
        capacity_rows, knee = analysis.capacity(samples, prep.plan.phases())
        if knee:
            run.update({"knee_users": knee["knee_users"], "knee_rps": knee["knee_rps"],
                        "capacity_users": knee["capacity_users"], "capacity_rps": knee["capacity_rps"],
                        "max_rps": knee["max_rps"]})
    lost = _target_lost_at(samples)
    if run.get("status") == "completed" and not run.get("message"):
        if lost is not None:
            run["message"] = f"the target stopped answering {lost:.0f} s into the run (every request failed from then on)"
        elif agg.requests and agg.failures == agg.requests:
            first = fail_rows[0]["error"] if fail_rows else "no message"
            run["message"] = f"every request failed (most often: {first[:200]})"
    return {"run": run, "endpoints": endpoints, "series": series, "generator": generator, "nodes": nodes,
            "failures": fail_rows, "verdicts": verdicts, "capacity": capacity_rows}


def _target_lost_at(samples: list[analysis.Sample]) -> float | None:
    """When every request failed from some interval to the end, after some had succeeded."""
    aggs = [(s.t - s.seconds, s.aggregate()) for s in samples]
    aggs = [(t, a) for t, a in aggs if a.requests]
    if len(aggs) < 2:
        return None
    i = len(aggs)
    while i > 0 and aggs[i - 1][1].failures == aggs[i - 1][1].requests:
        i -= 1
    if i == len(aggs) or i == 0:
        return None
    return aggs[i][0]


# -- the run ------------------------------------------------------------------------------------
def _fmt_ms(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v / 1000:.2f} s" if v >= 1000 else f"{v:.0f} ms"


def format_observed(metric: str, v: float | None) -> str:
    if v is None:
        return "–"
    if metric == "error_rate":
        return f"{100 * v:.2f} %"
    if metric == "rps":
        return f"{v:.1f}/s"
    return _fmt_ms(v)


def verdict_table(verdicts: list[dict[str, Any]]) -> str:
    if not verdicts:
        return "No acceptance criteria for this scenario."
    verdicts = sorted(verdicts, key=lambda v: v["passed"])  # failures first
    head = ("", "criterion", "endpoint", "expression", "observed", "users held")
    rows = [("PASS" if v["passed"] else "FAIL", v["criterion"], v["name"] if v["selector"] != "total" else "total",
             v["expression"], format_observed(v["metric"], v["observed"]),
             str(v["at_users"]) + ("" if not v.get("note") else f"  ({v['note']})")) for v in verdicts]
    w = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(str(c).ljust(w[i]) for i, c in enumerate(head)).rstrip()]
    lines += ["  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)).rstrip() for r in rows]
    return "\n".join(lines)


class Progress:
    """The live progress line: the intervals written since the last line, timed from where the
    last line's intervals ended (not from the start of the run, which would divide a few seconds'
    requests by the whole run so far)."""

    MIN_SECONDS = 0.5  # a tail shorter than this (Locust's last flush) waits for the next line

    def __init__(self, series: Path) -> None:
        self.tail = _Tail(series)
        self.fresh: list[dict] = []  # lines of series.jsonl not shown yet
        self.shown_t = 0.0     # run time at which the shown intervals end

    def line(self) -> str | None:
        self.fresh += self.tail.read()
        fresh = self.fresh
        samples = analysis.samples_from_lines(fresh, start=self.shown_t) if fresh else []
        secs = sum(s.seconds for s in samples)
        if not samples or secs < self.MIN_SECONDS:
            return None
        self.fresh, self.shown_t = [], samples[-1].t
        a = analysis.aggregate(samples)
        cpu = max((max(s.cpu.values()) for s in samples if s.cpu), default=0)
        return (f"  {samples[-1].t:5.0f} s  {samples[-1].users:5d} users  {a.requests / secs:7.1f} req/s  "
                f"p95 {_fmt_ms(a.p(95)):>8}  errors {100 * (a.error_rate or 0):5.1f} %  "
                f"generator CPU {cpu:.0f} %")


def _from(e: dict) -> str:
    return f" ({e['host']})" if e.get("host") else ""


def _gave_up(run_dir: Path) -> bool:
    """Whether the master ended because its workers did not all come (Locust's own words in its log)."""
    try:
        return "Gave up waiting for workers" in (run_dir / "locust-master.log").read_text(encoding="utf-8",
                                                                                           errors="replace")
    except OSError:
        return False


class WorkerEvents:
    """What the master wrote about remote workers (series.jsonl, type "worker"), told as it comes."""

    def __init__(self, series: Path, out: Callable[[str], None]) -> None:
        self.tail, self.out = _Tail(series), out
        self.seen: list[dict] = []

    def poll(self) -> None:
        for e in (x for x in self.tail.read() if x.get("type") == "worker"):
            self.seen.append(e)
            name = f"{e.get('name')}{_from(e)}"
            if e.get("event") == "joined":
                via = f", connected from {', '.join(e['peers'])}" if e.get("peers") else ""
                self.out(f"  worker {name} joined: {e.get('joined')} of {e.get('expected')}{via}")
            elif e.get("event") == "refused":
                self.out(f"  worker {name} not counted: {e.get('reason')}")
            elif e.get("event") == "lost":
                self.out(f"  WARNING: worker {name} lost {e.get('t', 0):.0f} s into the run ({e.get('how')})")

    def shortfall(self, expected: int, wait: float) -> str:
        joined = [f"{e['name']}{_from(e)}" for e in self.seen if e.get("event") == "joined"]
        refused = [f"{e['name']}{_from(e)}: {e.get('reason')}" for e in self.seen if e.get("event") == "refused"]
        text = (f"only {len(joined)} of {expected} remote workers joined within {wait:g} s "
                f"(joined: {', '.join(joined) or 'none'}")
        if refused:
            text += f"; not counted: {'; '.join(refused)}"
        return text + "); nothing was sent to the target"


def run_loadtest(ops, req: LoadRequest, *, loadtests_file: Path | str | None = None,
                 runs_dir: Path | str = "data/loadtests", out: Callable[[str], None] = print,
                 stop: threading.Event | None = None, progress_every: float = 5.0,
                 report: bool = True, token: str | None = None) -> RunResult:
    """Run one load test and store it through `ops` (Motcua or RemoteOps). Never raises for the
    target's behaviour; ConfigError for a bad configuration (nothing stored: there is no scenario).
    With `req.remote_workers`, `token` is the shared token (loadtests.remote.read_token)."""
    bind = None
    if req.remote_workers:
        # usage errors: nothing is stored, as for a bad configuration
        if req.workers > 1:
            raise ConfigError("give either --workers (on this machine) or --remote-workers (on others), not both")
        if not req.master_bind:
            raise ConfigError("--remote-workers needs --master-bind HOST:PORT: the private address the workers "
                              f"reach this machine on (Locust's port is {remote.DEFAULT_MASTER_PORT})")
        bind = remote.parse_address(req.master_bind, "--master-bind")
        if not token or len(token) < remote.MIN_TOKEN:
            raise ConfigError(f"--remote-workers needs the shared token (--token-file; at least {remote.MIN_TOKEN} "
                              "characters)")
    run_id = new_run_id()
    started = time.time()
    run: dict[str, Any] = {"run_id": run_id, "scenario": req.scenario, "release": req.release,
                           "target": req.target, "status": "running", "started_at": _local(started).isoformat(),
                           "workers": req.remote_workers or (req.workers if req.workers > 1 else 0)}
    try:
        prep = prepare(req, loadtests_file)
    except Refused as e:
        run.update({"status": "refused", "message": str(e), "finished_at": _local(time.time()).isoformat(),
                    "exit_code": EXIT_REFUSED, "verdict": "none", "requests": 0, "failures": 0})
        ops.store_loadtest_run({"run": run})
        out(f"refused: {e}")
        return RunResult(run_id, EXIT_REFUSED, "refused", run)
    if bind is not None:
        prep.spec["remote"] = {"workers": req.remote_workers, "run_id": run_id}
        prep.config_json.update({"workers": req.remote_workers, "remote_workers": req.remote_workers,
                                 "master_bind": f"{bind[0]}:{bind[1]}"})
    run.update({"target": prep.spec["target"], "shape": prep.shape.kind, "users_target": prep.plan.users,
                "duration_s": prep.plan.duration, "criteria": prep.criteria_name,
                "config_json": json.dumps(prep.config_json, ensure_ascii=False)})
    run_dir = Path(runs_dir).resolve() / run_id  # absolute: Locust's processes start inside it
    run_dir.mkdir(parents=True, exist_ok=True)
    report_path = run_dir / report_name("vi")
    prep.spec["out_dir"] = str(run_dir.resolve())
    spec_path = run_dir / "spec.json"
    fd = os.open(spec_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(prep.spec, f, ensure_ascii=False)
    ops.store_loadtest_run({"run": dict(run)})

    stop = stop or threading.Event()
    presses = [0]
    previous = None
    if threading.current_thread() is threading.main_thread():
        def on_sigint(*_a) -> None:
            presses[0] += 1
            stop.set()
        previous = signal.signal(signal.SIGINT, on_sigint)
    status, message = "completed", None
    if bind is not None:
        mode = f"a master on {bind[0]}:{bind[1]} and {req.remote_workers} remote workers"
    else:
        mode = f"a master and {req.workers} workers" if req.workers > 1 else "one process"
    out(f"Load test {run_id}: scenario {req.scenario}, release {req.release}, {prep.plan.users} users, "
        f"{prep.shape.kind} shape over {prep.plan.duration:g} s, on {prep.spec['target']} ({mode})")
    if bind is not None:
        out(f"Waiting up to {req.worker_wait:g} s for {req.remote_workers} workers: on each load machine, "
            f"app.py loadtest-worker --master {bind[0]}:{bind[1]} --token-file FILE")
    procs = None
    events = WorkerEvents(run_dir / "series.jsonl", out)
    try:
        procs = _Processes(run_dir, spec_path, req.workers,
                           (bind[0], bind[1], req.remote_workers, req.worker_wait) if bind else None, token)
        grace = 30 + 10 * max(req.workers, req.remote_workers, 1) + (60 if req.workers > 1 or bind else 0)
        grace += req.worker_wait if bind else 0
        deadline = time.monotonic() + prep.plan.duration + grace
        forwarded_at: float | None = None
        last_progress, progress = time.monotonic(), Progress(run_dir / "series.jsonl")
        while procs.master.poll() is None:
            now = time.monotonic()
            if bind is not None:
                events.poll()
            if stop.is_set() and forwarded_at is None:
                status, message = "interrupted", "interrupted by the operator (Ctrl-C)"
                out("Interrupted: stopping the users and keeping what was measured (Ctrl-C again to stop at once)…")
                procs.interrupt()
                forwarded_at = now
            if forwarded_at is not None and (presses[0] > 1 or now - forwarded_at > 20):
                procs.kill()
                break
            if now > deadline:
                status, message = "failed", f"Locust did not finish within {prep.plan.duration + grace:.0f} s"
                procs.kill()
                break
            if progress_every and now - last_progress >= progress_every:
                last_progress = now
                line = progress.line()
                if line:
                    out(line)
            time.sleep(0.1)
        procs.wait_workers(10)
    except OSError as e:
        status, message = "failed", f"could not start Locust: {e}"
    finally:
        if procs is not None:
            procs.kill()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)

    neutralise_csv_files(run_dir)
    lines = _read_lines(run_dir / "series.jsonl")
    final = next((x for x in reversed(lines) if x.get("type") == "final"), None)
    lost: list[dict] = []
    if bind is not None:
        events.poll()
        lost = [e for e in events.seen if e.get("event") == "lost"]
        joined = [e for e in events.seen if e.get("event") == "joined"]
        if final is None and status == "completed" and len(joined) < req.remote_workers and _gave_up(run_dir):
            status, message = "failed", events.shortfall(req.remote_workers, req.worker_wait)
        elif lost and not message:
            message = "; ".join(f"worker {e['name']}{_from(e)} was lost {e.get('t', 0):.0f} s into the run "
                                f"({e.get('how')})" for e in lost) + \
                ": the load fell short of the plan, and its requests after its last report are not counted"
    if status == "completed" and final is None:
        status = "failed"
        tail = ""
        log = run_dir / ("locust-master.log" if req.workers > 1 or bind else "locust-local.log")
        try:
            text = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
            tail = next((t for t in reversed(text) if t.strip()), "")
        except OSError:
            pass
        message = f"Locust stopped before the end of the run{': ' + tail[:300] if tail else ''} (log: {log})"
    workers = []
    for p in sorted(run_dir.glob("worker-*.json")):
        try:
            workers.append(json.loads(p.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            pass
    run.update({"status": status, "message": message, "finished_at": _local(time.time()).isoformat(),
                "locust_version": final.get("locust") if final else None,
                "report_path": str(report_path.resolve()) if report else None})
    payload = build_payload(run, lines, workers, prep)
    code = exit_code(payload["run"], workers_lost=bool(lost))
    payload["run"]["exit_code"] = code
    ops.store_loadtest_run(payload)
    if report:
        try:
            from loadtests.report import write_report

            write_report(ops, run_id, report_path)
        except Exception as e:  # noqa: BLE001 — the run is stored; the report can be rebuilt
            out(f"warning: the HTML report could not be written ({type(e).__name__}: {e}); "
                f"rebuild it with: app.py loadtest report {run_id}")
    r = payload["run"]
    out(f"Run {run_id} {status}: {r['requests'] or 0} requests, {100 * (r['error_rate'] or 0):.2f} % errors, "
        f"p95 {_fmt_ms(r['p95_ms'])}, peak {r['users_peak']} users" + (f" — {r['message']}" if r.get("message") else ""))
    if r.get("generator_overloaded"):
        out(f"WARNING: the load generator was overloaded (CPU up to {r['generator_cpu_max']:.0f} % of a core): "
            "latency figures are not the portal's alone; run with more --workers (or --remote-workers)")
    if r.get("knee_users") is not None:
        out(f"Capacity: latency left its plateau at {r['knee_users']} users; the portal held "
            f"{r['capacity_users']} users at {r['capacity_rps']:.1f} req/s")
    out(verdict_table(payload["verdicts"]))
    if report:
        out(f"Report: {report_path}")
    return RunResult(run_id, code, status, r, payload["verdicts"], report_path if report else None)


def exit_code(run: dict[str, Any], workers_lost: bool = False) -> int:
    if run["status"] == "interrupted":
        return EXIT_INTERRUPTED
    if run["status"] in ("refused", "failed") and not run.get("requests"):
        return EXIT_REFUSED
    if run.get("generator_overloaded") or workers_lost:
        return EXIT_INCONCLUSIVE  # the generator, not the portal, fell short
    if run.get("verdict") == "fail" or run["status"] == "failed":
        return EXIT_FAIL
    return EXIT_PASS
