"""The Locust side of a load test: run ONLY by Locust in a process of its own.

    MOTCUA_LOADTEST_SPEC=/path/spec.json python -m locust -f loadtests/locustfile.py --headless ...

`import locust` patches the whole process with gevent, so nothing of motcua-watch imports this
module; loadtests/runner.py starts Locust (locally, or a master and K workers) with a JSON run
specification written by the parent and reads back what this file writes:

  series.jsonl   on the master (or the single local process), one line per `interval` seconds:
                 the users running, every endpoint's requests, failures and response-time
                 histogram FOR THAT INTERVAL (diffs of Locust's cumulative buckets), new error
                 messages, and each generator process's CPU; a last line {"type": "final"}.
  worker-<pid>.json  on each worker: the requests it made itself (cumulative), so a distributed
                 run can be checked against the sum of its workers.
  worker-<name>.json on a master of remote workers: each one's tally, as its reports bring it.

With remote workers (loadtests/remote.py) the master counts a node only once it has proved the
shared token and accepted the scenario (RemoteMaster), and series.jsonl also gets lines of type
"worker": joined, not counted (and why), lost. A remote worker imports this module without a
specification and takes its master's later (configure, build_user_classes; loadtests/remote_worker.py).

User classes, tasks, think times and the shape come from the spec (config/loadtests.yaml,
resolved by the parent). Steps are the probes' steps (config/probes.py): same URLs, forms,
uploads, extractions and assertions (steps/checks.py, evaluate), so a failure carries the same
plain message as a probe's.
"""
from __future__ import annotations

import html
import json
import os
import re
import time
from urllib.parse import urljoin, urlsplit

import gevent
import locust.runners as locust_runners
import locust.stats as locust_stats
from locust import FastHttpUser, LoadTestShape, between, constant, constant_pacing, events
from locust.runners import STATE_RUNNING, STATE_SPAWNING, MasterRunner, WorkerRunner

from config.loadtest import Allowlist
from config.probes import Step
from loadtests import remote
from loadtests.shapes import Plan
from steps.checks import evaluate, extract_value, refused_redirect, substitute, upload_bytes
from steps.secrets import load_secrets

SPEC: dict = {}
INTERVAL = 1.0
OUT_DIR = ""
SECRETS = load_secrets(None, env={})  # configure() reads the real ones
VARIABLES: dict[str, str] = {}
BASE_URL = ""
ALLOWED = Allowlist(hosts=[])
ALSO_ALLOWED: Allowlist | None = None   # a remote worker's own allowlist, held as well
MAX_REDIRECTS = 10
CHARSET_RE = re.compile(r"charset=([\w.-]+)", re.I)
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
ABSOLUTE_RE = re.compile(r"^https?://", re.I)


def configure(spec: dict, also_allowed: Allowlist | None = None) -> None:
    """Take a run specification: at import for a master or a local process (MOTCUA_LOADTEST_SPEC), or
    when a remote worker accepts the one its master sent (loadtests/remote_worker.py)."""
    global SPEC, INTERVAL, OUT_DIR, SECRETS, VARIABLES, BASE_URL, ALLOWED, ALSO_ALLOWED, MAX_REDIRECTS
    SPEC = spec
    INTERVAL = float(spec.get("interval", 1.0))
    OUT_DIR = spec.get("out_dir") or ""
    locust_runners.WORKER_REPORT_INTERVAL = INTERVAL  # workers report as often as the master samples
    SECRETS = load_secrets(spec.get("secrets_file"))
    VARIABLES = dict(spec.get("variables") or {})
    VARIABLES["base_url"] = spec["target"].rstrip("/")
    BASE_URL = VARIABLES["base_url"] + "/"
    ALLOWED = Allowlist(hosts=list(spec.get("allow_hosts") or []), networks=list(spec.get("allow_networks") or []))
    ALSO_ALLOWED = also_allowed
    MAX_REDIRECTS = int(spec.get("max_redirects", 10))


def host_allowed(url: str) -> bool:
    """The allowlist again, for URLs known only at run time (a value extracted from a response)."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return False
    return bool(host) and ALLOWED.allows(host) and (ALSO_ALLOWED is None or ALSO_ALLOWED.allows(host))


def _origin(url: str) -> tuple[str, str, int | None]:
    u = urlsplit(url)
    return u.scheme.lower(), (u.hostname or "").lower(), u.port


def _sub(text: str, variables: dict[str, str]) -> str:
    return text if "${" not in text else substitute(text, variables, SECRETS)


class _CompiledStep:
    """A probe step prepared once: what varies per request is only the ${...} substitution."""

    def __init__(self, raw: dict, request_name: str, timeout: float) -> None:
        self.step = Step.model_validate(raw)
        s = self.step
        self.name = request_name
        self.method = s.method
        self.url = s.url
        self.headers = dict(s.headers)
        self.form = dict(s.form) if s.form is not None else None
        self.body = s.body
        self.files = None
        if s.files:
            self.files = {}
            for k, f in s.files.items():
                self.files[k] = (f.filename, upload_bytes(f), f.content_type)
        self.redirects = s.follow_redirects
        e = s.expect
        self.status_only = not (e.body_contains or e.body_not_contains or e.body_regex or e.json_ or s.extract)
        self.statuses = frozenset(e.status)
        self.max_ms = e.max_ms

    def run(self, user: "PortalUser", variables: dict[str, str]) -> tuple[bool, float, int]:
        """One request; returns (ok, elapsed ms, bytes). Extracted values land in `variables`."""
        sub = lambda t: _sub(t, variables)  # noqa: E731
        try:
            url = sub(self.url)
            kw: dict = {}
            if self.headers:
                kw["headers"] = {k: sub(v) for k, v in self.headers.items()}
            if self.form is not None:
                kw["data"] = {k: sub(v) for k, v in self.form.items()}
            elif self.body is not None:
                kw["data"] = sub(self.body).encode("utf-8")
            if self.files is not None:
                kw["files"] = self.files
        except Exception as e:  # noqa: BLE001 — an unresolved variable or a missing secret
            events.request.fire(request_type=self.method, name=self.name, response_time=0, response_length=0,
                                exception=Exception(SECRETS.redact(str(e))), context={})
            return False, 0.0, 0
        if not url.startswith(BASE_URL) and url.startswith(("http://", "https://")) and not host_allowed(url):
            events.request.fire(request_type=self.method, name=self.name, response_time=0, response_length=0,
                                exception=Exception(f"refused: {urlsplit(url).hostname} is not on the load-test "
                                                    "allowlist"), context={})
            return False, 0.0, 0
        t0 = time.perf_counter()
        r, refused = self._send(user, url, kw)
        elapsed = (time.perf_counter() - t0) * 1000
        r.request_meta["response_time"] = elapsed  # every hop of the step, as when the client followed them
        with r:
            if refused:
                r.failure(refused)
                return False, elapsed, len(r.content or b"")
            status = r.status_code or 0
            if status == 0:
                err = getattr(r, "error", None)
                r.failure(SECRETS.redact(f"{type(err).__name__}: {err}" if err else "no response"))
                return False, elapsed, 0
            if self.status_only:
                if status in self.statuses and (self.max_ms is None or elapsed <= self.max_ms):
                    r.success()
                    return True, elapsed, len(r.content or b"")
                fails = evaluate(self.step.expect, status, "", elapsed, None, sub)
                r.failure(SECRETS.redact("; ".join(fails)))
                return False, elapsed, len(r.content or b"")
            content = r.content or b""
            m = CHARSET_RE.search(r.headers.get("content-type", "") or "")
            try:
                text = content.decode(m.group(1) if m else "utf-8", "replace")
            except LookupError:
                text = content.decode("utf-8", "replace")
            fails = evaluate(self.step.expect, status, text, elapsed, None, sub)
            if not fails:
                for ex in self.step.extract:
                    value = self._extract(ex, text, user)
                    if value is None:
                        how = f"regex {ex.regex[:40]}" if ex.regex else f"JSON path {ex.json_}" if ex.json_ \
                            else f"cookie {ex.cookie}"
                        fails.append(f"could not extract {ex.name!r} ({how})")
                        break
                    variables[ex.name] = html.unescape(value) if ex.unescape_html else value
            if fails:
                r.failure(SECRETS.redact("; ".join(fails)))
                return False, elapsed, len(content)
            r.success()
            return True, elapsed, len(content)

    def _send(self, user: "PortalUser", url: str, kw: dict) -> tuple:
        """The step's request, its redirects followed here rather than by the HTTP client, so that
        each hop is held to the allowlist before anything is sent to it: (last response, None) or
        (the redirecting response, why the step stops). Only the last response is reported to
        Locust (entered by the caller): a step is one request in its statistics, whatever its hops."""
        method = self.method
        url = url if ABSOLUTE_RE.match(url) else VARIABLES["base_url"] + url
        hops = 0
        while True:
            r = user.client.request(method, url, name=self.name, catch_response=True, allow_redirects=False, **kw)
            location = r.headers.get("location") if self.redirects and r.status_code in REDIRECT_CODES else None
            if not location:
                return r, None
            target = urljoin(url, location)
            try:
                host = urlsplit(target).hostname or ""
            except ValueError:
                host = ""
            if not ABSOLUTE_RE.match(target) or not (target.startswith(BASE_URL) or host_allowed(target)):
                return r, refused_redirect(host or target[:80])
            if hops == MAX_REDIRECTS:
                return r, f"too many redirects (> {MAX_REDIRECTS})"
            hops += 1
            if (r.status_code == 303 and method != "HEAD") or (r.status_code in (301, 302) and method == "POST"):
                # as browsers and the probes' client do: the redirected request is a GET without the body
                method = "GET"
                kw = {k: v for k, v in kw.items() if k not in ("data", "files")}
            if _origin(target) != _origin(url) and "headers" in kw:
                # credentials in headers stay with the origin they were written for
                kw = {**kw, "headers": {k: v for k, v in kw["headers"].items() if k.lower() != "authorization"}}
            url = target

    @staticmethod
    def _extract(ex, text: str, user: "PortalUser") -> str | None:
        return extract_value(ex, text, lambda name: next(
            (c.value for c in user.client.cookiejar if c.name == name), None))


def _make_task(spec: dict, timeout: float):
    name, kind, think = spec["name"], spec["kind"], float(spec.get("think") or 0)
    if kind == "check":
        step = _CompiledStep(spec["steps"][0], name, timeout)

        def check(user: "PortalUser") -> None:
            step.run(user, user.variables)
        check.__name__ = name
        return check
    steps = [_CompiledStep(s, f"{name}/{s['name']}", timeout) for s in spec["steps"]]

    def journey(user: "PortalUser") -> None:
        variables = dict(user.variables)
        t0, paused, size = time.perf_counter(), 0.0, 0
        failed_at = None
        for i, st in enumerate(steps):
            if i and think:
                gevent.sleep(think)
                paused += think
            ok, _, n = st.run(user, variables)
            size += n
            if not ok:
                failed_at = st.name.split("/", 1)[1]
                break
        ms = (time.perf_counter() - t0 - paused) * 1000
        events.request.fire(request_type="JOURNEY", name=name, response_time=ms, response_length=size,
                            exception=Exception(f"failed at step {failed_at}") if failed_at else None, context={})
    journey.__name__ = name
    return journey


def _wait(w: dict):
    if w.get("constant") is not None:
        return constant(float(w["constant"]))
    if w.get("pacing") is not None:
        return constant_pacing(float(w["pacing"]))
    lo, hi = w["between"]
    return between(float(lo), float(hi))


def _ssl_factory():
    """TLS as the probes do it (config/probes.py defaults): verified, plus an extra CA file if given."""
    import gevent.ssl

    ctx = gevent.ssl.create_default_context()
    if SPEC.get("ca_file"):
        ctx.load_verify_locations(cafile=SPEC["ca_file"])
    if not SPEC.get("verify_tls", True):
        ctx.check_hostname = False
        ctx.verify_mode = gevent.ssl.CERT_NONE
    return ctx


class PortalUser(FastHttpUser):
    abstract = True

    def on_start(self) -> None:
        self.variables = dict(VARIABLES)


def build_user_classes() -> list[type]:
    """The scenario's user classes, from the specification `configure` took."""
    timeout = float(SPEC.get("timeout", 30))
    # every request goes to an absolute URL built from the spec's target, whatever `host` a master sets
    PortalUser.host = VARIABLES["base_url"]
    PortalUser.network_timeout = PortalUser.connection_timeout = timeout
    PortalUser.insecure = not SPEC.get("verify_tls", True)
    PortalUser.ssl_context_factory = staticmethod(_ssl_factory)
    classes = []
    for uc in SPEC["user_classes"]:
        attrs = {"abstract": False, "weight": int(uc.get("weight", 1)), "wait_time": _wait(uc["wait"]),
                 "tasks": {_make_task(t, timeout): int(t.get("weight", 1)) for t in uc["tasks"]},
                 "__module__": __name__}
        if uc.get("fixed_count") is not None:
            attrs["fixed_count"] = int(uc["fixed_count"])
        classes.append(type(uc["name"], (PortalUser,), attrs))
    return classes


if os.environ.get("MOTCUA_LOADTEST_SPEC"):
    # a master or a local process: the parent wrote the specification (a remote worker has none
    # yet when it starts: it takes its master's, loadtests/remote_worker.py)
    with open(os.environ["MOTCUA_LOADTEST_SPEC"], encoding="utf-8") as _f:
        configure(json.load(_f))
    for _cls in build_user_classes():
        globals()[_cls.__name__] = _cls  # Locust finds them among the module's names
    del _cls  # else Locust would find the last one twice
    PLAN = Plan.from_shape(SPEC["shape"], SPEC["users"], SPEC["duration"])

    class MotcuaShape(LoadTestShape):
        def tick(self):
            return PLAN.tick(self.get_run_time())


# -- what the parent reads ------------------------------------------------------------------------
class Sampler:
    """On the master (or the single local process): one JSON line per interval, diffs only."""

    def __init__(self, environment) -> None:
        self.env = environment
        self.file = open(os.path.join(OUT_DIR, "series.jsonl"), "a", encoding="utf-8", buffering=1)
        self.t0: float | None = None
        self.prev: dict = {}
        self.prev_errors: dict = {}
        self.last_wall = time.time()
        self.last_cpu = time.process_time()
        self.nodes: dict[str, list[float]] = {}   # worker id → [cpu seconds, wall] as last reported
        self.nodes_prev: dict[str, list[float]] = {}
        self.node_names: dict[str, str] = {}
        self.node_requests: dict[str, int] = {}
        self.peak_users = 0
        self.greenlet = None
        self.remote: RemoteMaster | None = None  # set on a master of remote workers

    def write(self, obj: dict) -> None:
        self.file.write(json.dumps(obj, separators=(",", ":")) + "\n")

    def start(self) -> None:
        if self.greenlet is None:
            self.t0 = time.time()
            self.write({"type": "start", "at": self.t0, "pid": os.getpid(),
                        "distributed": isinstance(self.env.runner, MasterRunner)})
            self.greenlet = gevent.spawn(self._loop)

    def _loop(self) -> None:
        while True:
            gevent.sleep(INTERVAL)
            self.sample()

    def on_worker_report(self, client_id: str, data: dict) -> None:
        if self.remote is not None:
            if client_id not in self.remote.admitted:
                return  # not a counted worker (the gate drops its messages; this is a second guard)
            self.remote.on_tally(client_id, data.get("motcua_tally"))
        cpu = data.get("motcua_cpu")
        if cpu is not None:
            self.nodes[client_id] = [float(cpu), float(data.get("motcua_wall", time.time()))]
            self.node_names.setdefault(client_id, f"worker-{len(self.node_names) + 1}")
        self.node_requests[client_id] = self.node_requests.get(client_id, 0) + sum(
            int(s.get("num_requests", 0)) for s in data.get("stats", []) if s.get("method") != "JOURNEY")

    def sample(self, final: bool = False) -> None:
        now, cpu = time.time(), time.process_time()
        runner = self.env.runner
        stats = self.env.stats
        entries = []
        for (name, method), e in list(stats.entries.items()):
            key = (name, method)
            p = self.prev.get(key)
            n, f = e.num_requests, e.num_failures
            if p is None:
                p = (0, 0, {}, 0)
            if n == p[0] and f == p[1]:
                continue
            rt = dict(e.response_times)
            prev_rt = p[2]
            hist = {k: v - prev_rt.get(k, 0) for k, v in rt.items() if v != prev_rt.get(k, 0)}
            entries.append({"m": method, "n": name, "r": n - p[0], "f": f - p[1], "h": hist,
                            "s": e.total_response_time - p[3], "b": 0})
            self.prev[key] = (n, f, rt, e.total_response_time)
        errors = []
        for key, err in list(stats.errors.items()):
            before = self.prev_errors.get(key, 0)
            if err.occurrences != before:
                errors.append({"m": err.method, "n": err.name, "e": str(err.to_dict()["error"])[:500],
                               "o": err.occurrences - before})
                self.prev_errors[key] = err.occurrences
        wall = max(now - self.last_wall, 1e-6)
        own = 100.0 * (cpu - self.last_cpu) / wall
        cpus = {"master" if isinstance(runner, MasterRunner) else "local": round(own, 1)}
        for cid, (c, w) in self.nodes.items():
            pc, pw = self.nodes_prev.get(cid, (None, None))
            if pc is not None and w > pw:
                cpus[self.node_names[cid]] = round(100.0 * (c - pc) / (w - pw), 1)
                self.nodes_prev[cid] = [c, w]
            elif pc is None:
                self.nodes_prev[cid] = [c, w]
        self.last_wall, self.last_cpu = now, cpu
        users = runner.user_count if runner is not None else 0
        self.peak_users = max(self.peak_users, users)
        if self.remote is not None:
            self.remote.check_lost()
        self.write({"type": "sample", "t": round(now - (self.t0 or now), 3), "at": now, "users": users,
                    "target": runner.target_user_count if runner is not None else None,
                    "cpu": cpus, "entries": entries, "errors": errors, "final": final})

    def finish(self) -> None:
        if self.greenlet is not None:
            self.greenlet.kill(block=False)
        self.sample(final=True)
        self.write({"type": "final", "at": time.time(), "peak_users": self.peak_users,
                    "nodes": {self.node_names.get(k, k): v for k, v in self.node_requests.items()},
                    "cpu_seconds": time.process_time(),
                    "locust": __import__("locust").__version__,
                    **({"remote": self.remote.summary()} if self.remote is not None else {})})
        self.file.close()
        runner = self.env.runner
        options = self.env.parsed_options
        if getattr(options, "csv_prefix", None) and runner is not None and \
                runner.state not in (STATE_RUNNING, STATE_SPAWNING):
            # Locust rewrites its --csv files every CSV_STATS_INTERVAL_SEC and closes them at exit
            # without a last write: one more period, with the users stopped, so that its files
            # hold the same final figures as series.jsonl (a Ctrl-C quits with users still running:
            # no wait then, they would only add requests)
            gevent.sleep(locust_stats.CSV_STATS_INTERVAL_SEC + 0.1)


class WorkerTally:
    """On a worker: its own cumulative request counts, rewritten after every report to the master.

    A local worker writes them into the shared run folder (the parent reads them); a remote worker
    keeps them in its own folder and also sends them in the same stats report whose counts they sum
    (`motcua_tally`), and the master writes them into the run folder as a local worker would."""

    def __init__(self, path: str | None = None, send_as: str | None = None) -> None:
        self.requests: dict[str, int] = {}
        self.failures = 0
        self.path = path or os.path.join(OUT_DIR, f"worker-{os.getpid()}.json")
        self.send_as = send_as
        self.final = False  # set when the master said quit: the next report is the last

    def on_report(self, client_id: str, data: dict) -> None:
        for s in data.get("stats", []):
            key = f"{s['method']} {s['name']}"
            self.requests[key] = self.requests.get(key, 0) + int(s.get("num_requests", 0))
            self.failures += int(s.get("num_failures", 0)) if s.get("method") != "JOURNEY" else 0
        data["motcua_cpu"] = time.process_time()
        data["motcua_wall"] = time.time()
        tally = {"client_id": client_id, "pid": os.getpid(), "requests": self.requests, "failures": self.failures}
        if self.send_as is not None:
            tally["name"] = self.send_as
            tally["final"] = self.final
            data["motcua_tally"] = tally
        _write_json(self.path, tally)


def _write_json(path: str, obj: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False)
    os.replace(tmp, path)


FINAL_REPORT_WAIT = 5.0


class RemoteMaster:
    """On a master of remote workers (`--remote-workers N`): who is counted, and what they are sent.

    Locust counts a worker as soon as it says `client_ready`. Here that message is held (the node is
    acknowledged so that it can talk) until the node has proved the shared token and accepted the
    scenario; every other message of an uncounted node is dropped, so a node without the token
    neither joins, nor receives the scenario, nor adds to the counts. The protocol: loadtests/remote.py."""

    def __init__(self, environment, sampler: Sampler, token: str, expected: int) -> None:
        from locust.rpc import Message

        self.Message = Message
        self.env = environment
        self.runner = environment.runner
        self.sampler = sampler
        self.token = token
        self.expected = expected
        self.spec = remote.spec_for_workers(SPEC, SPEC["remote"]["run_id"])
        self.pending: dict[str, object] = {}       # client id → its held client_ready
        self.hellos: dict[str, dict] = {}          # client id → name, host, nonces, stage
        self.admitted: dict[str, str] = {}         # client id → the name it runs under
        self.info: dict[str, dict] = {}            # name → host, source, joined at, lost
        self.started = False
        self.final: set[str] = set()               # client ids whose final report came
        self.quit_at: float | None = None
        self._handle = self.runner.handle_message
        self.runner.handle_message = self.handle   # Locust's listener calls it per message
        self._quit = self.runner.quit
        self.runner.quit = self.quit
        for cid in list(self.runner.clients):  # counted by Locust before this gate existed: not yet
            del self.runner.clients[cid]
            self.pending[cid] = None
        for kind in ("hello", "auth", "ready", "decline"):
            self.runner.register_message(remote.MSG[kind], getattr(self, f"on_{kind}"))
        self.mine = {remote.MSG[k] for k in ("hello", "auth", "ready", "decline")}
        environment.events.test_start.add_listener(self._on_start)

    def _on_start(self, **_kw) -> None:
        self.started = True

    def quit(self) -> None:
        """Locust's quit, after each counted worker's final report: a worker sends it when told to
        quit, and Locust itself waits only half a second for it, too little across a network."""
        if self.quit_at is None:
            self.quit_at = time.time()
            live = [c for c, n in self.admitted.items() if not self.info[n].get("lost")]
            for cid in live:
                self.runner.server.send_to_client(self.Message("quit", None, cid))
            deadline = time.monotonic() + FINAL_REPORT_WAIT
            while self.started and time.monotonic() < deadline and not set(live) <= self.final:
                gevent.sleep(0.05)
            for cid in live:
                if self.started and cid not in self.final:
                    self.mark_lost(cid, f"no final report within {FINAL_REPORT_WAIT:g} s of the end", force=True)
        self._quit()

    def handle(self, client_id: str, msg) -> None:
        if msg.node_id != client_id:
            return  # a message claiming another node's name
        if client_id in self.admitted:
            if msg.type == "quit" and self.runner.state in (STATE_RUNNING, STATE_SPAWNING):
                self.mark_lost(client_id, "it left the run")
            return self._handle(client_id, msg)
        if msg.type == "client_ready":
            self.pending[client_id] = msg
            self.runner.server.send_to_client(self.Message("ack", {"index": -1}, client_id))
            return
        if msg.type in self.mine:
            return self._handle(client_id, msg)
        # anything else from a node that is not counted (yet) is dropped

    def event(self, what: str, name: str, **kw) -> None:
        self.sampler.write({"type": "worker", "event": what, "name": name, "at": time.time(),
                            "joined": len(self.admitted), "expected": self.expected, **kw})

    def refuse(self, cid: str, name: str, reason: str) -> None:
        self.runner.server.send_to_client(self.Message(remote.MSG["refused"], {"reason": reason}, cid))
        h = self.hellos.pop(cid, None) or {}
        self.pending.pop(cid, None)
        self.event("refused", name, reason=reason, host=h.get("host"))

    def on_hello(self, environment, msg, **_kw) -> None:
        cid, d = msg.node_id, msg.data if isinstance(msg.data, dict) else {}
        name = str(d.get("name") or "")
        if cid in self.admitted:
            return
        if not remote.NODE_NAME_RE.match(name) or not re.fullmatch(r"[0-9a-f]{32}", str(d.get("nonce") or "")):
            self.refuse(cid, name[:64] or "?", "a malformed greeting")
            return
        nonce_m = remote.new_nonce()
        self.hellos[cid] = {"name": name, "host": str(d.get("host") or "")[:120],
                            "source": str(d.get("source") or "")[:120], "nonce_w": d["nonce"], "nonce_m": nonce_m}
        self.runner.send_message(remote.MSG["challenge"], {
            "protocol": remote.PROTOCOL, "nonce": nonce_m,
            "proof": remote.master_proof(self.token, d["nonce"], cid)}, client_id=cid)

    def on_auth(self, environment, msg, **_kw) -> None:
        cid, d = msg.node_id, msg.data if isinstance(msg.data, dict) else {}
        h = self.hellos.get(cid)
        if h is None:
            return
        if not self.token or not remote.same(d.get("proof"), remote.worker_proof(self.token, h["nonce_m"], cid)):
            self.refuse(cid, h["name"], "wrong token")
            return
        if self.started:
            self.refuse(cid, h["name"], "the run has already started")
            return
        if len(self.admitted) >= self.expected:
            self.refuse(cid, h["name"], f"the run already has its {self.expected} workers")
            return
        h["stage"] = "spec"
        self.runner.send_message(remote.MSG["spec"], {
            "spec": self.spec, "mac": remote.spec_mac(self.token, h["nonce_w"], self.spec)}, client_id=cid)

    def on_ready(self, environment, msg, **_kw) -> None:
        cid = msg.node_id
        h = self.hellos.get(cid)
        if h is None or h.get("stage") != "spec":
            return
        if self.started or len(self.admitted) >= self.expected:
            self.refuse(cid, h["name"], f"the run already has its {self.expected} workers")
            return
        name, k = h["name"], 2
        while name in self.info:  # two workers on one machine under the same name
            name, k = f"{h['name']}-{k}", k + 1
        self.hellos.pop(cid)
        self.admitted[cid] = name
        self.sampler.node_names[cid] = name
        self.info[name] = {"host": h["host"], "source": h["source"], "joined_at": time.time()}
        self.event("joined", name, host=h["host"], source=h["source"], peers=self.peers())
        self.on_tally(cid, {"requests": {}, "failures": 0})  # listed in the run even if it never reports
        ready = self.pending.pop(cid, None) or self.Message("client_ready", __import__("locust").__version__, cid)
        self._handle(cid, ready)  # now Locust counts it

    def on_decline(self, environment, msg, **_kw) -> None:
        cid, d = msg.node_id, msg.data if isinstance(msg.data, dict) else {}
        h = self.hellos.pop(cid, None)
        self.pending.pop(cid, None)
        if h is not None:
            self.event("refused", h["name"], reason=f"the worker refused: {str(d.get('reason') or '')[:400]}",
                       host=h["host"])

    def peers(self) -> list[str]:
        """The addresses workers are connected from, as the system sees them (not as they say)."""
        try:
            import psutil

            port = self.runner.master_bind_port
            return sorted({c.raddr.ip for c in psutil.Process().net_connections(kind="tcp")
                           if c.laddr and c.laddr.port == port and c.raddr and c.status == psutil.CONN_ESTABLISHED})
        except Exception:  # noqa: BLE001 — only a detail of the record
            return []

    def on_tally(self, cid: str, tally) -> None:
        if not isinstance(tally, dict):
            return
        if tally.get("final"):
            self.final.add(cid)
        name = self.admitted[cid]
        reqs = tally.get("requests")
        out = {"name": name, "client_id": cid, "host": self.info[name]["host"],
               "requests": {str(k): int(v) for k, v in reqs.items()} if isinstance(reqs, dict) else {},
               "failures": int(tally.get("failures") or 0)}
        if self.info[name].get("lost"):
            out["lost"] = self.info[name]["lost"]
        self.info[name]["tally"] = out
        _write_json(os.path.join(OUT_DIR, f"worker-{name}.json"), out)

    def check_lost(self) -> None:
        if self.runner.state not in (STATE_RUNNING, STATE_SPAWNING):
            return
        for cid in list(self.admitted):
            node = self.runner.clients.get(cid)
            if node is None:
                self.mark_lost(cid, "it left the run")
            elif node.state == locust_runners.STATE_MISSING:
                self.mark_lost(cid, "no heartbeat")

    def mark_lost(self, cid: str, how: str, force: bool = False) -> None:
        name = self.admitted[cid]
        if self.info[name].get("lost") or not (force or self.started):
            return
        t = round(time.time() - (self.sampler.t0 or time.time()), 1)
        self.info[name]["lost"] = {"t": t, "how": how}
        self.event("lost", name, t=t, how=how, host=self.info[name]["host"])
        if "tally" in self.info[name]:  # its last report stands, marked
            self.on_tally(cid, self.info[name]["tally"])

    def summary(self) -> dict:
        return {"expected": self.expected, "workers": {n: {k: v for k, v in i.items() if k != "tally"}
                                                       for n, i in self.info.items()}}


@events.init.add_listener
def _on_init(environment, runner=None, **_kw) -> None:
    if isinstance(runner, WorkerRunner):
        tally = WorkerTally()
        environment.events.report_to_master.add_listener(tally.on_report)  # after Locust's own
        return
    sampler = Sampler(environment)
    if isinstance(runner, MasterRunner) and SPEC.get("remote"):
        sampler.remote = RemoteMaster(environment, sampler, os.environ.get(remote.TOKEN_ENV, ""),
                                      int(SPEC["remote"]["workers"]))
    environment.events.test_start.add_listener(lambda **_: sampler.start())
    environment.events.worker_report.add_listener(sampler.on_worker_report)
    environment.events.quitting.add_listener(lambda **_: sampler.finish())
