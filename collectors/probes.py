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
"""
from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
import datetime as dt
import html
import ipaddress
import json
import logging
import re
import ssl
import time
import weakref
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from collectors.probe_transport import RESOLVED, StaleConnection, probe_transport, timed_getaddrinfo
from collectors.secrets import SecretMissing, Secrets, load_secrets
from config.clock import local_now
from config.probes import VAR_RE, Assertions, HttpCheck, Journey, JsonAssert, ProbesFile, Step, load_probes

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


# -- small helpers (unit-tested) ----------------------------------------------------------------
_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(-?\d+)\]")


class _Missing:
    pass


MISSING = _Missing()


def json_path(data: Any, path: str) -> Any:
    """`data.items[0].code` → the value, or MISSING. Keys are dotted, list indexes in brackets."""
    cur = data
    pos = 0
    path = path.strip()
    while pos < len(path):
        if path[pos] == ".":
            pos += 1
            continue
        m = _PATH_TOKEN.match(path, pos)
        if not m:
            return MISSING
        pos = m.end()
        if m.group(1) is not None:
            key = m.group(1)
            if isinstance(cur, dict) and key in cur:
                cur = cur[key]
            elif isinstance(cur, list) and key.lstrip("-").isdigit():
                i = int(key)
                if -len(cur) <= i < len(cur):
                    cur = cur[i]
                else:
                    return MISSING
            else:
                return MISSING
        else:
            i = int(m.group(2))
            if isinstance(cur, list) and -len(cur) <= i < len(cur):
                cur = cur[i]
            else:
                return MISSING
    return cur



def extract_value(ex, text: str, cookie: Callable[[str], str | None]) -> str | None:
    """What a journey step's `extract` takes from a response (regex group, JSON path, or a cookie
    through `cookie(name)`), as text; None when it is not there. The probes and the load tests'
    Locust side share it, so a step extracts the same value in both."""
    if ex.regex is not None:
        m = re.search(ex.regex, text)
        return m.group(ex.group) if m else None
    if ex.json_ is not None:
        try:
            v = json_path(json.loads(text), ex.json_)
        except ValueError:
            return None
        if v is MISSING or v is None:
            return None
        return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
    return cookie(ex.cookie)

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


def _short(v: Any, n: int = 60) -> str:
    s = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
    return s if len(s) <= n else s[: n - 1] + "…"


def _plain(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


def _secs(x: float) -> str:
    return f"{x:g} s"


def _file_bytes(f) -> bytes:
    if f.size is None:
        return f.content.encode("utf-8")
    return (f.content.encode("utf-8") + b"0" * f.size)[: f.size]


class RedirectRefused(Exception):
    """A redirect would lead the probe to a host it was not configured for; nothing is sent there."""

    def __init__(self, host: str) -> None:
        super().__init__(f"chuyển hướng tới máy không được phép: {host}")
        self.host = host


def configured_hosts(cfg: ProbesFile, variables: dict[str, str]) -> frozenset[str]:
    """The hosts the probes file sends requests to (every step URL with the variables known before
    a run), and the extra ones `defaults.redirect_hosts` names: where a redirect may lead."""
    hosts = {h.strip("[]").lower() for h in cfg.defaults.redirect_hosts}
    steps = [*cfg.checks, *(s for j in cfg.journeys for s in j.steps)]
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


class _Unresolved(Exception):
    pass


def substitute(text: str, variables: dict[str, str], secrets: Secrets) -> str:
    def rep(m: re.Match) -> str:
        ref = m.group(1)
        if ref.startswith("secret:"):
            return secrets.get(ref[7:])
        if ref in variables:
            return variables[ref]
        raise _Unresolved(f"variable ${{{ref}}} has no value")
    return VAR_RE.sub(rep, text)


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


# -- assertions ---------------------------------------------------------------------------------
def _count_where(items: Any, where: dict[str, Any]) -> int | None:
    if not isinstance(items, list):
        return None

    def match(it: Any) -> bool:
        if not isinstance(it, dict):
            return False
        for k, want in where.items():
            have = it.get(k, MISSING)
            if isinstance(want, list):
                if have not in want:
                    return False
            elif have != want:
                return False
        return True
    return sum(1 for it in items if match(it))


def _check_json(data: Any, a: JsonAssert, sub) -> str | None:
    v = json_path(data, a.path)
    label = a.path
    if a.where is not None:
        n = _count_where(v, a.where)
        if n is None:
            return f"{a.path}: expected a list, found {'nothing' if v is MISSING else type(v).__name__}"
        cond = ", ".join(f"{k} in [{', '.join(_plain(x) for x in w)}]" if isinstance(w, list) else f"{k}={_plain(w)}"
                         for k, w in a.where.items())
        label, v = f"{a.path} where {cond}", n
    if a.exists is not None:
        if a.exists and v is MISSING:
            return f"{label}: not found in the JSON response"
        if not a.exists and v is not MISSING:
            return f"{label}: present, expected absent"
    if v is MISSING:
        if a.model_fields_set & {"equals", "not_equals", "min", "max"}:
            return f"{label}: not found in the JSON response"
        return None
    if "equals" in a.model_fields_set:
        want = sub(a.equals) if isinstance(a.equals, str) else a.equals
        if v != want:
            return f"{label}: expected {_short(want)}, got {_short(v)}"
    if "not_equals" in a.model_fields_set:
        bad = sub(a.not_equals) if isinstance(a.not_equals, str) else a.not_equals
        if v == bad:
            return f"{label}: must not be {_short(bad)}"
    if a.min is not None or a.max is not None:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return f"{label}: expected a number, got {_short(v)}"
        if a.min is not None and v < a.min:
            return f"{label}: {v:g}, expected at least {a.min:g}"
        if a.max is not None and v > a.max:
            return f"{label}: {v:g}, expected at most {a.max:g}"
    return None


def evaluate(expect: Assertions, status: int, text: str, elapsed_ms: float, cert_days: float | None,
             sub) -> list[str]:
    """Plain-word failures of a response against its assertions (empty list: all good)."""
    fails: list[str] = []
    if status not in expect.status:
        want = " or ".join(str(s) for s in expect.status)
        fails.append(f"expected status {want}, got {status}")
        return fails  # the body of an error page says nothing useful about the rest
    if expect.max_ms is not None and elapsed_ms > expect.max_ms:
        fails.append(f"too slow: {elapsed_ms:.0f} ms, limit {expect.max_ms:g} ms")
    for t in expect.body_not_contains:
        t = sub(t)
        if t in text:
            fails.append(f"text '{_short(t)}' found")
    for t in expect.body_contains:
        t = sub(t)
        if t not in text:
            fails.append(f"text '{_short(t)}' not found")
    if expect.body_regex is not None and not re.search(expect.body_regex, text):
        fails.append(f"pattern '{_short(expect.body_regex)}' not found")
    if expect.json_:
        try:
            data = json.loads(text)
        except ValueError:
            fails.append("response is not JSON")
        else:
            for a in expect.json_:
                f = _check_json(data, a, sub)
                if f:
                    fails.append(f)
    if expect.cert_days_min is not None and cert_days is not None and cert_days < expect.cert_days_min:
        fails.append(f"TLS certificate expires in {cert_days:.1f} days (minimum {expect.cert_days_min:g})")
    return fails


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
            return f"TLS error: {_short(str(next(c for c in causes if isinstance(c, ssl.SSLError))), 120)}"
        low = " ".join(str(c) for c in causes).lower()
        if "refused" in low or "errno 111" in low or "10061" in low:
            return "connection refused"
        if "certificate" in low or "ssl" in low or "tls" in low:
            return f"TLS error: {_short(text, 120)}"
        if "name or service" in low or "nodename" in low or "getaddrinfo" in low:
            return "cannot resolve the host name"
        return f"cannot connect: {_short(text, 120) or exc.__class__.__name__}"
    if isinstance(exc, StaleConnection):
        return text
    if isinstance(exc, httpx.RemoteProtocolError):
        if "without sending" in low or "disconnected" in low:
            return "server closed the connection without answering"
        return f"not a valid HTTP response ({_short(text, 80)})"
    if isinstance(exc, httpx.ReadError):
        return "connection reset while reading the response"
    if isinstance(exc, httpx.WriteError):
        return "connection reset while sending the request"
    if isinstance(exc, httpx.DecodingError):
        return "response body cannot be decoded"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return f"unsupported URL: {_short(text, 80)}"
    if isinstance(exc, httpx.InvalidURL):
        return f"invalid URL: {_short(text, 80)}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {_short(text, 120)}"
    return f"unexpected error: {exc.__class__.__name__}: {_short(text, 120)}"


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
                kw["files"] = {k: (f.filename, _file_bytes(f), f.content_type) for k, f in step.files.items()}
        except SecretMissing as e:
            res.reason = str(e)
            return res, None, ""
        except _Unresolved as e:
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
                                  self.secrets.redact(f"unexpected error: {e.__class__.__name__}: {_short(str(e), 120)}"),
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
        return f"regex {_short(ex.regex, 40)}" if ex.regex else f"JSON path {ex.json_}" if ex.json_ else f"cookie {ex.cookie}"

    @staticmethod
    def _extract(ex, response: httpx.Response, text: str, client: httpx.AsyncClient) -> str | None:
        return extract_value(ex, text, client.cookies.get)

    async def run_all(self, names: set[str] | None = None) -> list[ProbeResult]:
        tasks = [self.run_check(c) for c in self.cfg.checks if names is None or c.name in names]
        tasks += [self.run_journey(j) for j in self.cfg.journeys if names is None or j.name in names]
        out: list[ProbeResult] = []
        for r in await asyncio.gather(*tasks):
            out.extend(r)
        return out


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


# -- schedule -----------------------------------------------------------------------------------
class ProbeScheduler:
    """Each check and journey as an APScheduler job at its interval; results written to the store.

    All jobs are coroutines on one event loop, in a thread of its own (APScheduler's
    AsyncIOScheduler): no thread or event loop per run. The runner's semaphore bounds the checks
    in flight. A job never raises (the runner turns failures into results; a failed write is
    logged). Results are gathered and written every `defaults.write_every` seconds, one write at
    a time, in a worker thread: a slow write never delays a probe, and writes never pile up.
    Shutdown writes what is still pending.
    """

    def __init__(self, cfg: ProbesFile | Path | str, store=None, *, secrets: Secrets | None = None,
                 base_url: str | None = None,
                 on_results: Callable[[list[ProbeResult]], None] | None = None) -> None:
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        self.cfg = cfg if isinstance(cfg, ProbesFile) else load_probes(cfg)
        self.store = store
        self.on_results = on_results  # e.g. the Prometheus probe metrics
        self.runner = Runner(self.cfg, secrets, base_url)
        self._loop = asyncio.new_event_loop()
        self._loop_thread: threading.Thread | None = None
        self.scheduler = AsyncIOScheduler(
            event_loop=self._loop,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30})
        self.runs = 0
        self.last_results: dict[tuple[str, str], ProbeResult] = {}
        self._pending: list[tuple[dt.datetime, list[ProbeResult]]] = []
        self._writing: asyncio.Task | None = None
        self.writes = 0
        d = self.cfg.defaults
        items = [("check", c.name, c.interval or d.interval) for c in self.cfg.checks] + \
                [("journey", j.name, j.interval or d.interval) for j in self.cfg.journeys]
        now = dt.datetime.now()
        for i, (kind, name, every) in enumerate(items):
            # spread the first runs over the interval: no thundering herd at start-up
            first = now + dt.timedelta(seconds=every * i / len(items))
            self.scheduler.add_job(self._job, "interval", seconds=every, args=[name],
                                   id=f"{kind}:{name}", next_run_time=first)
        if self.store is not None:
            self.scheduler.add_job(self._flush, "interval", seconds=d.write_every, id="write")

    async def _job(self, name: str) -> None:
        started = local_now()
        try:
            results = await self.runner.run_all({name})
        except asyncio.CancelledError:  # stopped without waiting: no result, and no traceback
            log.info("probe %s: cancelled at shutdown", name)
            return
        except Exception as e:  # noqa: BLE001
            log.error("probe %s: %s", name, e.__class__.__name__)
            return
        self.runs += 1
        for r in results:
            self.last_results[(r.name, r.step)] = r
        if self.on_results is not None:
            try:
                self.on_results(results)
            except Exception as e:  # noqa: BLE001
                log.error("probe %s: results not observed: %s", name, e.__class__.__name__)
        if self.store is not None:
            self._pending.append((started, results))

    async def _flush(self) -> None:
        """Write what was gathered since the last write (a scheduled job, and at shutdown)."""
        if self._writing is not None and not self._writing.done():
            return  # the last write is still running: its successor takes both batches
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        self._writing = asyncio.ensure_future(asyncio.to_thread(self._write, batch))
        await asyncio.shield(self._writing)

    def _write(self, batch: list[tuple[dt.datetime, list[ProbeResult]]]) -> None:
        results = [r for _, rs in batch for r in rs]
        try:
            from store.probe_writes import write_results
            write_results(self.store, results, started_at=min(s for s, _ in batch),
                          target=self.runner.variables.get("base_url", ""),
                          raw_retention_days=self.cfg.defaults.raw_retention_days,
                          rollup_retention_days=self.cfg.defaults.rollup_retention_days)
            self.writes += 1
        except Exception as e:  # noqa: BLE001
            log.error("probes: %d results not written: %s", len(results), self.runner.secrets.redact(str(e)))

    @property
    def job_ids(self) -> list[str]:
        return [j.id for j in self.scheduler.get_jobs() if j.id != "write"]

    def start(self) -> None:
        """Start the loop's thread and the schedule on it; returns once the schedule runs."""
        started = threading.Event()

        def main() -> None:
            asyncio.set_event_loop(self._loop)
            self.scheduler.start()
            started.set()
            self._loop.run_forever()

        self._loop_thread = threading.Thread(target=main, name="probe-loop", daemon=True)
        self._loop_thread.start()
        started.wait(timeout=10)

    def shutdown(self, wait: bool = True) -> None:
        """Stop the schedule (letting running probes finish when `wait`) and the loop."""
        if self._loop_thread is None:
            return

        async def stop() -> None:
            # the scheduler's shutdown cancels running jobs: let them finish first when asked
            self.scheduler.pause()
            if wait:
                pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                if pending:
                    await asyncio.wait(pending, timeout=30)
                if self._writing is not None:
                    await asyncio.wait([self._writing], timeout=30)
                await self._flush()  # what the last runs gathered
            self.scheduler.shutdown(wait=False)  # AsyncIOScheduler: done in a callback on this loop
            await asyncio.sleep(0)               # let it run before the loop stops
            self._loop.stop()

        asyncio.run_coroutine_threadsafe(stop(), self._loop)
        self._loop_thread.join(timeout=40)
        self._loop_thread = None
        if not self._loop.is_running():
            self._loop.close()
