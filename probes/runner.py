"""The probe runner: HTTP checks and journeys of config/probes.yaml, with timings per phase.

    results = run_once("config/probes.yaml", store=store, base_url="http://127.0.0.1:8088")
    print(format_results(results))

Every failure is a result with a plain reason ("connection refused", "timed out after 5 s",
"expected status 200, got 502", "text 'Đăng xuất' not found"), never an exception out of the
runner. Results keep the check/journey name, the step name and the outcome; request bodies and
credentials are never kept, and every message is passed through Secrets.redact.

A result's latency is the portal's: DNS + connect + TLS + time to first byte + transfer, each
from httpcore's trace events, summed over redirect hops; our own client work between the phases
is not counted (docs/ARCHITECTURE.md, "What a probe reports").

What a step sends and how its response is judged (substitution, extraction, assertions) is
steps/checks.py, shared with the load tests; the schedule of `app.py run` is probes/scheduler.py.
"""
from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import html
import ipaddress
import json
import logging
import re
import ssl
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from config.probes import VAR_RE, HttpCheck, Journey, ProbesFile, Step, load_probes
from probes.transport import RESOLVED, StaleConnection, probe_transport, timed_getaddrinfo
from steps.checks import Unresolved, evaluate, extract_value, refused_redirect, short, substitute, upload_bytes
from steps.secrets import SecretMissing, Secrets, load_secrets
from config.clock import local_now

log = logging.getLogger("motcua.probes")

JOURNEY_STEP = "*"  # step name of a journey's summary result


@dataclass
class ProbeResult:
    name: str
    kind: str                 # check | journey
    step: str                 # '' for a check; the step name, or '*' for a journey's summary
    started_at: dt.datetime   # local time
    ok: bool
    reason: str = ""
    status_code: int | None = None
    total_ms: float | None = None   # the sum of the phases below (wall time up to a failure)
    dns_ms: float | None = None
    connect_ms: float | None = None
    tls_ms: float | None = None
    ttfb_ms: float | None = None
    transfer_ms: float | None = None
    bytes: int | None = None
    cert_days_left: float | None = None
    server_ms: float | None = None  # the server's own handling time, when it sends Server-Timing
    url: str = ""             # scheme://host[:port]/path (no query: it may carry values)
    group: str | None = None
    title: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["started_at"] = self.started_at.isoformat(sep=" ", timespec="milliseconds")
        return d


def server_timing_ms(header: str | None) -> float | None:
    """Total `dur` of a Server-Timing header ('app;dur=12.5, db;dur=3' → 15.5), None without one."""
    if not header:
        return None
    durs = [float(m) for m in re.findall(r"dur=([0-9]+(?:\.[0-9]+)?)", header)]
    return sum(durs) if durs else None


def cert_days_left(not_after: str, now: dt.datetime | None = None) -> float:
    """Days until a certificate's notAfter (as in ssl.getpeercert(), e.g. 'Jun  1 12:00:00 2027 GMT')."""
    expires = dt.datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), dt.timezone.utc)
    now = now or dt.datetime.now(dt.timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.timezone.utc)
    return (expires - now).total_seconds() / 86400.0


def _secs(x: float) -> str:
    return f"{x:g} s"


class RedirectRefused(Exception):
    """A redirect would lead the probe to a host it was not configured for; nothing is sent there."""

    def __init__(self, host: str) -> None:
        super().__init__(refused_redirect(host))
        self.host = host


def configured_hosts(cfg: ProbesFile, variables: dict[str, str]) -> frozenset[str]:
    """The hosts the probes file sends requests to (every step URL with the variables known before
    a run), and the extra ones `defaults.redirect_hosts` names: where a redirect may lead."""
    hosts = {h.strip("[]").lower() for h in cfg.defaults.redirect_hosts}
    steps = [s for p in cfg.probes() for s in p.http_steps()]
    for step in steps:
        url = VAR_RE.sub(lambda m: variables.get(m.group(1), "\x00"), step.url)
        try:
            host = urlsplit(url).hostname
        except ValueError:
            continue
        if host and "\x00" not in host:   # a host known only at run time (extracted) is no allowance
            hosts.add(host.lower())
    return frozenset(hosts)


# the request a probe step builds itself: every other request of its send is a redirect hop
_FIRST_REQUEST: contextvars.ContextVar[httpx.Request | None] = contextvars.ContextVar("probe_first_request",
                                                                                       default=None)


def _public_url(url: str) -> str:
    try:
        u = urlsplit(url)
        return f"{u.scheme}://{u.hostname or ''}{f':{u.port}' if u.port else ''}{u.path}"
    except ValueError:
        return ""


# -- timings ------------------------------------------------------------------------------------
class _Trace:
    """Collects httpcore trace events; durations are summed over redirect hops."""

    PHASES = {
        "connection.connect_tcp": "connect",
        "connection.start_tls": "tls",
        "http11.receive_response_headers": "ttfb",
        "http2.receive_response_headers": "ttfb",
        "http11.receive_response_body": "transfer",
        "http2.receive_response_body": "transfer",
    }

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.ms: dict[str, float] = {}
        self.send_started: float | None = None

    async def __call__(self, event: str, info: dict) -> None:
        now = time.perf_counter()
        base, _, what = event.rpartition(".")
        if event.endswith("send_request_headers.started"):
            self.send_started = now
        phase = self.PHASES.get(base)
        if phase is None:
            return
        if what == "started":
            # time to first byte counts from the start of sending the request
            self.started[phase] = self.send_started if phase == "ttfb" and self.send_started else now
        elif what in ("complete", "failed") and phase in self.started:
            self.ms[phase] = self.ms.get(phase, 0.0) + (now - self.started.pop(phase)) * 1000

    def latency_ms(self, dns_ms: float | None, wall_ms: float) -> float:
        """What the portal took: DNS + connect + TLS + time to first byte + transfer, over every
        hop. The time our own client spends between those phases (building the request, cookies,
        redirects, the connection pool) is not the portal's latency, so it is not counted. Without
        trace events (a transport that does not emit them) the wall time is all there is."""
        if "ttfb" not in self.ms or "transfer" not in self.ms:
            return wall_ms
        return (dns_ms or 0.0) + sum(self.ms.values())


# -- errors → plain words -----------------------------------------------------------------------
def _causes(exc: BaseException) -> list[BaseException]:
    out, seen = [], set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        out.append(cur)
        if isinstance(cur, BaseExceptionGroup):
            for sub in cur.exceptions:
                out.extend(_causes(sub))
        cur = cur.__cause__ or cur.__context__
    return out


def describe_error(exc: BaseException, timeout: float, max_redirects: int) -> str:
    text = str(exc)
    low = text.lower()
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return f"timed out after {_secs(timeout)}"
    if isinstance(exc, RedirectRefused):
        return str(exc)
    if isinstance(exc, httpx.TooManyRedirects):
        return f"too many redirects (> {max_redirects})"
    if isinstance(exc, httpx.ConnectTimeout):
        return f"connect timed out after {_secs(timeout)}"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out after {_secs(timeout)}"
    if isinstance(exc, httpx.ConnectError):
        causes = _causes(exc)
        if any(isinstance(c, ConnectionRefusedError) for c in causes):
            return "connection refused"
        if any(isinstance(c, ssl.SSLError) for c in causes):
            return f"TLS error: {short(str(next(c for c in causes if isinstance(c, ssl.SSLError))), 120)}"
        low = " ".join(str(c) for c in causes).lower()
        if "refused" in low or "errno 111" in low or "10061" in low:
            return "connection refused"
        if "certificate" in low or "ssl" in low or "tls" in low:
            return f"TLS error: {short(text, 120)}"
        if "name or service" in low or "nodename" in low or "getaddrinfo" in low:
            return "cannot resolve the host name"
        return f"cannot connect: {short(text, 120) or exc.__class__.__name__}"
    if isinstance(exc, StaleConnection):
        return text
    if isinstance(exc, httpx.RemoteProtocolError):
        if "without sending" in low or "disconnected" in low:
            return "server closed the connection without answering"
        return f"not a valid HTTP response ({short(text, 80)})"
    if isinstance(exc, httpx.ReadError):
        return "connection reset while reading the response"
    if isinstance(exc, httpx.WriteError):
        return "connection reset while sending the request"
    if isinstance(exc, httpx.DecodingError):
        return "response body cannot be decoded"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return f"unsupported URL: {short(text, 80)}"
    if isinstance(exc, httpx.InvalidURL):
        return f"invalid URL: {short(text, 80)}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {short(text, 120)}"
    return f"unexpected error: {exc.__class__.__name__}: {short(text, 120)}"


# -- one request --------------------------------------------------------------------------------
async def _resolve_ms(url: str) -> tuple[float | None, str | None]:
    """Time the DNS look-up ourselves (httpcore does not trace it). (ms, error reason).

    The addresses found are handed to the connect (probe_transport.RESOLVED), so the host is looked
    up once per request, as a browser would, and the connect phase holds no second look-up."""
    try:
        u = urlsplit(url)
        host = u.hostname
        if not host:
            return None, None
        port = u.port or (443 if u.scheme == "https" else 80)
    except ValueError:
        return None, None
    try:
        ipaddress.ip_address(host)
        return 0.0, None  # an address literal needs no look-up
    except ValueError:
        pass
    # the resolver's own time (timed in its thread), not the executor's start-up or hand-over
    infos, ms, err = await timed_getaddrinfo(host, port, timeout=10)
    if err is not None:
        return ms, f"cannot resolve host {host}"
    try:
        key = (host.encode("idna").decode("ascii"), port)  # as httpx passes it to the connect
    except UnicodeError:
        return ms, None
    found = RESOLVED.get()
    if found is not None:
        found[key] = [info[4][0] for info in infos]
    return ms, None


def _peer_cert_days(response: httpx.Response) -> float | None:
    try:
        stream = response.extensions.get("network_stream")
        sslobj = stream.get_extra_info("ssl_object") if stream is not None else None
        if sslobj is None:
            return None
        cert = sslobj.getpeercert()
        if cert and cert.get("notAfter"):
            return cert_days_left(cert["notAfter"])
    except Exception:  # noqa: BLE001 — a missing cert figure is not a failed check
        return None
    return None


class _RedactFilter(logging.Filter):
    """Masks secret values in the records of httpx/httpcore (httpx logs every URL at INFO)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: "weakref.WeakSet[Secrets]" = weakref.WeakSet()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001
            return True
        red = msg
        for s in list(self.secrets):
            red = s.redact(red)
        if red != msg:
            record.msg, record.args = red, None
        return True


_REDACT = _RedactFilter()
for _name in ("httpx", "httpcore", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy"):
    logging.getLogger(_name).addFilter(_REDACT)


_TLS_CONTEXTS: dict[tuple, ssl.SSLContext] = {}
_TLS_LOCK = threading.Lock()


def tls_context(ca_file: Path | None = None, verify: bool = True) -> ssl.SSLContext:
    """One TLS context per (CA file as it is on disk, verify) for the whole process. Loading the CA
    bundle costs ≈ 20 ms of CPU, and freeing a context with its ≈ 150 certificates costs a few ms
    more, at whatever moment the garbage collector picks: inside another probe's timed phases."""
    try:
        stamp = Path(ca_file).stat().st_mtime_ns if ca_file is not None else None
    except OSError:
        stamp = None
    key = (str(ca_file) if ca_file is not None else None, stamp, verify)
    with _TLS_LOCK:
        ctx = _TLS_CONTEXTS.get(key)
        if ctx is None:
            try:
                import certifi  # httpx's own CA bundle
                ctx = ssl.create_default_context(cafile=certifi.where())
            except (ImportError, OSError):
                ctx = ssl.create_default_context()
            if ca_file is not None:
                try:
                    ctx.load_verify_locations(cafile=str(ca_file))
                except (OSError, ssl.SSLError) as e:
                    log.error("probes: cannot load ca_file %s: %s", ca_file, e.__class__.__name__)
            if not verify:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            _TLS_CONTEXTS[key] = ctx
        return ctx


class Runner:
    """Runs checks and journeys of one probes file; bounded in flight by a semaphore."""

    def __init__(self, cfg: ProbesFile, secrets: Secrets | None = None, base_url: str | None = None, *,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.cfg = cfg
        self.secrets = secrets if secrets is not None else load_secrets(cfg.secrets_file)
        _REDACT.secrets.add(self.secrets)
        self.variables = dict(cfg.variables)
        if base_url:
            self.variables["base_url"] = base_url.rstrip("/")
        self._sem: asyncio.Semaphore | None = None
        self._ssl: ssl.SSLContext | None = ssl_context
        self.redirect_hosts = configured_hosts(cfg, self.variables)

    @property
    def sem(self) -> asyncio.Semaphore:
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.cfg.defaults.max_in_flight)
        return self._sem

    def _client(self) -> httpx.AsyncClient:
        d = self.cfg.defaults
        return httpx.AsyncClient(max_redirects=d.max_redirects, transport=probe_transport(self.ssl_context()),
                                 headers={"User-Agent": d.user_agent}, trust_env=False,
                                 timeout=d.timeout, event_hooks={"request": [self._check_hop]})

    async def _check_hop(self, request: httpx.Request) -> None:
        """httpx calls this before every request it sends, redirect hops included: a hop may only
        go to a configured host or stay on the host the step asked (a portal on a URL extracted at
        run time); otherwise the step fails before anything is sent there."""
        first = _FIRST_REQUEST.get()
        if first is None or request is first:
            return
        host = (request.url.host or "").lower()
        if host not in self.redirect_hosts and host != (first.url.host or "").lower():
            raise RedirectRefused(host)

    def ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            d = self.cfg.defaults
            self._ssl = tls_context(d.ca_file, d.verify_tls)
        return self._ssl

    async def _request(self, client: httpx.AsyncClient, step: Step, variables: dict[str, str], *,
                       name: str, kind: str, step_name: str, timeout: float, group: str | None = None
                       ) -> tuple[ProbeResult, httpx.Response | None, str]:
        started = local_now()
        res = ProbeResult(name=name, kind=kind, step=step_name, started_at=started, ok=False,
                          group=group, title=step.title)
        sub = lambda s: substitute(s, variables, self.secrets)  # noqa: E731
        try:
            url = sub(step.url)
            headers = {k: sub(v) for k, v in step.headers.items()}
            kw: dict[str, Any] = {}
            if step.body is not None:
                kw["content"] = sub(step.body).encode("utf-8")
            if step.form is not None:
                kw["data"] = {k: sub(v) for k, v in step.form.items()}
            if step.files:
                kw["files"] = {k: (f.filename, upload_bytes(f), f.content_type) for k, f in step.files.items()}
        except SecretMissing as e:
            res.reason = str(e)
            return res, None, ""
        except Unresolved as e:
            res.reason = str(e)
            return res, None, ""
        res.url = self.secrets.redact(_public_url(url))
        trace = _Trace()
        text = ""
        response: httpx.Response | None = None
        t0 = time.perf_counter()
        resolved = RESOLVED.set({})
        try:
            async with asyncio.timeout(timeout):
                dns_ms, dns_err = await _resolve_ms(url)
                res.dns_ms = dns_ms
                if dns_err:
                    res.reason = dns_err
                    return res, None, ""
                request = client.build_request(step.method, url, headers=headers,
                                               extensions={"trace": trace}, timeout=timeout, **kw)
                first = _FIRST_REQUEST.set(request)
                try:
                    response = await client.send(request, follow_redirects=step.follow_redirects)
                finally:
                    _FIRST_REQUEST.reset(first)
                content = response.content
                t_end = time.perf_counter()  # the response is complete: our own parsing is not its latency
                res.bytes = len(content)
                res.status_code = response.status_code
                res.cert_days_left = _peer_cert_days(response) if url.startswith("https") else None
                res.server_ms = server_timing_ms(response.headers.get("server-timing"))
                try:
                    text = response.text
                except Exception:  # noqa: BLE001
                    text = content.decode("utf-8", "replace")
        except BaseException as e:  # noqa: BLE001 — every failure becomes a reason
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            if isinstance(e, asyncio.CancelledError):  # external cancel (asyncio.timeout gives TimeoutError)
                raise
            res.total_ms = (time.perf_counter() - t0) * 1000
            res.reason = self.secrets.redact(describe_error(
                e, timeout, self.cfg.defaults.max_redirects))
            self._phases(res, trace)
            return res, None, ""
        finally:
            RESOLVED.reset(resolved)
        self._phases(res, trace)
        res.total_ms = trace.latency_ms(res.dns_ms, (t_end - t0) * 1000)
        fails = evaluate(step.expect, response.status_code, text, res.total_ms, res.cert_days_left, sub)
        res.ok = not fails
        res.reason = self.secrets.redact("; ".join(fails))
        return res, response, text

    @staticmethod
    def _phases(res: ProbeResult, trace: _Trace) -> None:
        res.connect_ms = trace.ms.get("connect")
        res.tls_ms = trace.ms.get("tls")
        res.ttfb_ms = trace.ms.get("ttfb")
        res.transfer_ms = trace.ms.get("transfer")

    # -- checks and journeys ------------------------------------------------------------------
    async def run_check(self, check: HttpCheck) -> list[ProbeResult]:
        async with self.sem:
            try:
                async with self._client() as client:
                    res, _, _ = await self._request(client, check, dict(self.variables), name=check.name,
                                                    kind="check", step_name="", group=check.group,
                                                    timeout=check.timeout or self.cfg.defaults.timeout)
            except Exception as e:  # noqa: BLE001 — never out of the runner
                res = ProbeResult(check.name, "check", "", local_now(), False,
                                  self.secrets.redact(f"unexpected error: {e.__class__.__name__}: {short(str(e), 120)}"),
                                  group=check.group, title=check.title)
            return [res]

    async def run_journey(self, journey: Journey) -> list[ProbeResult]:
        async with self.sem:
            started = local_now()
            out: list[ProbeResult] = []
            variables = dict(self.variables)
            failed: ProbeResult | None = None
            t0 = time.perf_counter()
            try:
                async with self._client() as client:  # one client per run: cookies shared by the steps
                    for step in journey.steps:
                        timeout = step.timeout or journey.timeout or self.cfg.defaults.timeout
                        res, response, text = await self._request(client, step, variables, name=journey.name,
                                                                  kind="journey", step_name=step.name,
                                                                  timeout=timeout)
                        if res.ok and response is not None:
                            for ex in step.extract:
                                value = self._extract(ex, response, text, client)
                                if value is None:
                                    res.ok = False
                                    res.reason = f"could not extract {ex.name!r} ({self._how(ex)})"
                                    break
                                variables[ex.name] = html.unescape(value) if ex.unescape_html else value
                        out.append(res)
                        if not res.ok:
                            failed = res
                            break
            except Exception as e:  # noqa: BLE001
                failed = ProbeResult(journey.name, "journey", "?", local_now(), False,
                                     self.secrets.redact(f"unexpected error: {e.__class__.__name__}"))
            # the portal's time over the steps; our own work between them (extraction) is not its
            steps_ms = [r.total_ms for r in out if r.total_ms is not None]
            total = sum(steps_ms) if steps_ms else (time.perf_counter() - t0) * 1000
            summary = ProbeResult(journey.name, "journey", JOURNEY_STEP, started, failed is None,
                                  total_ms=total, title=journey.title,
                                  bytes=sum(r.bytes or 0 for r in out))
            if failed is not None:
                summary.reason = f"failed at step '{failed.step}': {failed.reason}"
                summary.status_code = failed.status_code
            out.append(summary)
            return out

    @staticmethod
    def _how(ex) -> str:
        return f"regex {short(ex.regex, 40)}" if ex.regex else f"JSON path {ex.json_}" if ex.json_ else f"cookie {ex.cookie}"

    @staticmethod
    def _extract(ex, response: httpx.Response, text: str, client: httpx.AsyncClient) -> str | None:
        return extract_value(ex, text, client.cookies.get)

    async def run_all(self, names: set[str] | None = None) -> list[ProbeResult]:
        tasks = [RUNS[p.kind](self, p) for p in self.cfg.probes() if names is None or p.name in names]
        out: list[ProbeResult] = []
        for r in await asyncio.gather(*tasks):
            out.extend(r)
        return out


# How each kind of probe (config/probes.py, PROBE_KINDS) is run, by its `kind`: a new kind's run
# function goes here, taking the runner and the probe and returning its results.
RUNS: dict[str, Callable[[Runner, Any], Awaitable[list[ProbeResult]]]] = {
    HttpCheck.kind: Runner.run_check,
    Journey.kind: Runner.run_journey,
}


# -- public entry points --------------------------------------------------------------------------
def run_once(cfg_path: Path | str | ProbesFile | None = None, *, store=None, base_url: str | None = None,
             secrets: Secrets | None = None) -> list[ProbeResult]:
    """Run every check and journey once; write the results to `store` when given.

    Raises ConfigError for a bad probes or secrets file (before any request); target failures
    are results, never exceptions."""
    cfg = cfg_path if isinstance(cfg_path, ProbesFile) else load_probes(cfg_path)
    runner = Runner(cfg, secrets, base_url)
    started = local_now()
    results = asyncio.run(runner.run_all())
    if store is not None:
        from store.probe_writes import write_results
        write_results(store, results, started_at=started, target=runner.variables.get("base_url", ""),
                      raw_retention_days=cfg.defaults.raw_retention_days,
                      rollup_retention_days=cfg.defaults.rollup_retention_days)
    return results


def format_results(results: list[ProbeResult]) -> str:
    """A plain text table: one line per result, failures with their reason."""
    if not results:
        return "no probe results"
    rows = []
    for r in results:
        label = r.name if not r.step else f"{r.name} / {r.step}"
        ms = f"{r.total_ms:.0f} ms" if r.total_ms is not None else "-"
        st = str(r.status_code) if r.status_code is not None else "-"
        rows.append(("OK" if r.ok else "FAIL", label, st, ms, r.reason))
    w = max(len(x[1]) for x in rows)
    lines = [f"{ok:<4}  {label:<{w}}  {st:>3}  {ms:>8}  {reason}".rstrip() for ok, label, st, ms, reason in rows]
    n_fail = sum(1 for r in results if not r.ok)
    lines.append(f"{len(results)} results, {n_fail} failed")
    return "\n".join(lines)


def results_json(results: list[ProbeResult]) -> str:
    """The results as a JSON array (for `app.py probe --once --json`)."""
    return json.dumps([r.to_dict() for r in results], ensure_ascii=False, indent=2)
