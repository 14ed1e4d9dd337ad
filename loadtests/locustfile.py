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

User classes, tasks, think times and the shape come from the spec (config/loadtests.yaml,
resolved by the parent). Steps are the probes' steps (config/probes.py): same URLs, forms,
uploads, extractions and assertions (steps/checks.py, evaluate), so a failure carries the same
plain message as a probe's.
"""
from __future__ import annotations

import html
import ipaddress
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

from config.probes import Step
from loadtests.shapes import Plan
from steps.checks import evaluate, extract_value, refused_redirect, substitute, upload_bytes
from steps.secrets import load_secrets

SPEC = json.loads(open(os.environ["MOTCUA_LOADTEST_SPEC"], encoding="utf-8").read())
INTERVAL = float(SPEC.get("interval", 1.0))
OUT_DIR = SPEC["out_dir"]
locust_runners.WORKER_REPORT_INTERVAL = INTERVAL  # workers report as often as the master samples
SECRETS = load_secrets(SPEC.get("secrets_file"))
VARIABLES = dict(SPEC.get("variables") or {})
VARIABLES["base_url"] = SPEC["target"].rstrip("/")
BASE_URL = VARIABLES["base_url"] + "/"
PLAN = Plan.from_shape(SPEC["shape"], SPEC["users"], SPEC["duration"])
CHARSET_RE = re.compile(r"charset=([\w.-]+)", re.I)
ALLOWED_HOSTS = {h.strip("[]").lower() for h in SPEC.get("allow_hosts") or []}
ALLOWED_NETWORKS = [ipaddress.ip_network(n, strict=False) for n in SPEC.get("allow_networks") or []]
MAX_REDIRECTS = int(SPEC.get("max_redirects", 10))
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
ABSOLUTE_RE = re.compile(r"^https?://", re.I)


def host_allowed(url: str) -> bool:
    """The allowlist again, for URLs known only at run time (a value extracted from a response)."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return False
    if host in ALLOWED_HOSTS:
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(ip in n for n in ALLOWED_NETWORKS)


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
    host = VARIABLES["base_url"]
    network_timeout = float(SPEC.get("timeout", 30))
    connection_timeout = float(SPEC.get("timeout", 30))
    insecure = not SPEC.get("verify_tls", True)
    ssl_context_factory = staticmethod(_ssl_factory)

    def on_start(self) -> None:
        self.variables = dict(VARIABLES)


for _uc in SPEC["user_classes"]:
    _attrs = {"abstract": False, "weight": int(_uc.get("weight", 1)), "wait_time": _wait(_uc["wait"]),
              "tasks": {_make_task(t, float(SPEC.get("timeout", 30))): int(t.get("weight", 1)) for t in _uc["tasks"]},
              "__module__": __name__}
    if _uc.get("fixed_count") is not None:
        _attrs["fixed_count"] = int(_uc["fixed_count"])
    globals()[_uc["name"]] = type(_uc["name"], (PortalUser,), _attrs)
del _uc, _attrs


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
                    "locust": __import__("locust").__version__})
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
    """On a worker: its own cumulative request counts, rewritten after every report to the master."""

    def __init__(self) -> None:
        self.requests: dict[str, int] = {}
        self.failures = 0
        self.path = os.path.join(OUT_DIR, f"worker-{os.getpid()}.json")

    def on_report(self, client_id: str, data: dict) -> None:
        for s in data.get("stats", []):
            key = f"{s['method']} {s['name']}"
            self.requests[key] = self.requests.get(key, 0) + int(s.get("num_requests", 0))
            self.failures += int(s.get("num_failures", 0)) if s.get("method") != "JOURNEY" else 0
        data["motcua_cpu"] = time.process_time()
        data["motcua_wall"] = time.time()
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"client_id": client_id, "pid": os.getpid(), "requests": self.requests,
                       "failures": self.failures}, f)
        os.replace(tmp, self.path)


@events.init.add_listener
def _on_init(environment, runner=None, **_kw) -> None:
    if isinstance(runner, WorkerRunner):
        tally = WorkerTally()
        environment.events.report_to_master.add_listener(tally.on_report)  # after Locust's own
        return
    sampler = Sampler(environment)
    environment.events.test_start.add_listener(lambda **_: sampler.start())
    environment.events.worker_report.add_listener(sampler.on_worker_report)
    environment.events.quitting.add_listener(lambda **_: sampler.finish())
