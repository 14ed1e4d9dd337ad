"""The central system's door for remote probe agents (started by `app.py run` when `agents.enabled`).

    POST /api/agents/v1/results   Authorization: Bearer TOKEN
         {"location": "hanoi", "agent_version": "…", "results": [{"id": "<uuid>", "name": …}, …]}
         → 200 {"stored": N, "duplicates": D, "refused": R}
    GET  /api/agents/v1/probes    Authorization: Bearer TOKEN  → the central's probes file (YAML text)

Everything is bounded before anything is allocated: the token is checked first (its SHA-256
against the config's, `AgentsConfig.location_of`), then Content-Length must be given and within
`max_body_kb`, then the body is parsed into `Batch`, whose strings are bounded and whose results are
at most `max_batch_results`. An unknown or revoked token is 401 with a short JSON error and nothing
more; a location other than the token's is 403. A result timed more than FUTURE_SLACK ahead of the
central's clock, or more than MAX_AGE ago, is refused alone (counted in `refused`) and the rest of
the batch stored: a wrong clock on one agent must neither be stored nor block that agent's queue.

Writes go through store.probe_writes.write_results with the agent's result ids, one location at a
time (a batch sent again while its first copy is still being written would otherwise pass the
"already stored?" check twice). Requests are served by a thread each, at most MAX_IN_FLIGHT at a
time (more get 503 at once), with a socket timeout: a burst of bad tokens or a slow sender holds
no more than that. Nothing is logged per request (no addresses); refusals are counted.
"""
from __future__ import annotations

import datetime as dt
import errno
import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from config.agents import LOCATION_PATTERN, AgentsConfig
from config.clock import local_now, to_local
from config.errors import MotcuaError
from probes.runner import ProbeResult

log = logging.getLogger("motcua.agents")

RESULTS_PATH = "/api/agents/v1/results"
PROBES_PATH = "/api/agents/v1/probes"
MAX_IN_FLIGHT = 16
READ_TIMEOUT = 15                      # seconds a client may take to send its request
FUTURE_SLACK = dt.timedelta(minutes=10)
MAX_AGE = dt.timedelta(days=30)
MAX_PROBES_FILE = 1 << 20
REASON_KEPT = 500                      # store.probe_writes.MAX_REASON: longer reasons are cut to it

Text = Annotated[str, StringConstraints(max_length=200)]
Ms = Annotated[float, Field(ge=0, le=1e7)]


class ResultIn(BaseModel):
    """One result as an agent sends it: probes.runner.ProbeResult's fields and the agent's id."""

    model_config = ConfigDict(extra="ignore")  # a newer agent's extra fields are not an error

    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{8,64}$")]
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    kind: Literal["check", "journey"]
    step: Text = ""
    started_at: dt.datetime
    ok: bool
    reason: Annotated[str, StringConstraints(max_length=10_000)] = ""
    status_code: int | None = Field(default=None, ge=0, le=999)
    total_ms: Ms | None = None
    dns_ms: Ms | None = None
    connect_ms: Ms | None = None
    tls_ms: Ms | None = None
    ttfb_ms: Ms | None = None
    transfer_ms: Ms | None = None
    bytes: int | None = Field(default=None, ge=0, le=1 << 40)
    cert_days_left: float | None = Field(default=None, ge=-1e5, le=1e5)
    server_ms: Ms | None = None
    url: Annotated[str, StringConstraints(max_length=2048)] = ""
    group: Text | None = None
    title: Text | None = None

    @field_validator("reason")
    @classmethod
    def _cut(cls, v: str) -> str:
        return v[:REASON_KEPT]

    def result(self) -> ProbeResult:
        d = self.model_dump(exclude={"id"})
        d["started_at"] = to_local(self.started_at)
        return ProbeResult(**d)


class Batch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    location: Annotated[str, StringConstraints(pattern=LOCATION_PATTERN)]
    agent_version: Annotated[str, StringConstraints(max_length=40)] = ""
    results: list[ResultIn]


class ReceiverStartError(MotcuaError):
    """The receiver could not listen (port taken, bad address)."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that hangs up or times out is no error of ours (and never logs its address)
        log.debug("agents receiver: a request ended early")


# (results, location, result_ids, agent_version) -> write_results' answer
WriteFn = Callable[[list[ProbeResult], str, list[str], str], dict[str, int]]
ObserveFn = Callable[[list[ProbeResult], str], None]


class AgentReceiver:
    """The HTTP endpoint in a thread of the owner; `start()` returns its URL, `stop()` ends it."""

    def __init__(self, cfg: AgentsConfig, write: WriteFn, *, observe: ObserveFn | None = None,
                 probes_file: Path | str | None = None, now: Callable[[], dt.datetime] = local_now) -> None:
        self.cfg = cfg
        self.write = write
        self.observe = observe
        self.probes_file = Path(probes_file) if probes_file else None
        self.now = now
        self.refused: dict[str, int] = {}   # why → count (unauthorized, too_large, bad_body, …)
        self._slots = threading.BoundedSemaphore(MAX_IN_FLIGHT)
        self._location_locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        try:
            self.server = _Server((cfg.host, cfg.port), self._handler())
        except OSError as e:
            why = "the port is already in use" if e.errno == errno.EADDRINUSE else (e.strerror or str(e))
            raise ReceiverStartError(f"agents: cannot listen on {cfg.host}:{cfg.port}: {why}") from None
        self._thread: threading.Thread | None = None
        self._stopped = False

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    def start(self) -> str:
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="agents-receiver", daemon=True)
        self._thread.start()
        return self.url

    def stop(self, grace: float = 30.0) -> None:
        """Stop listening, then wait (up to `grace` seconds) for the requests under way: the owner
        closes the store next, and a batch still being written would make that close fail. The
        slots are kept: a request that was already accepted gets 503 and its agent sends again."""
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        if self._stopped:
            return
        self._stopped = True
        deadline = time.monotonic() + grace
        for _ in range(MAX_IN_FLIGHT):
            if not self._slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
                log.warning("agents receiver: a request still under way after %g s at shutdown", grace)
                break
        self.server.server_close()

    # -- the work of one request ---------------------------------------------------------------
    def _refuse(self, why: str) -> None:
        self.refused[why] = self.refused.get(why, 0) + 1

    def _lock_for(self, location: str) -> threading.Lock:
        with self._locks_lock:
            return self._location_locks.setdefault(location, threading.Lock())

    def accept(self, location: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """A POSTed batch from `location` (its token already checked): (status, answer)."""
        try:
            raw = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            self._refuse("bad_body")
            return 400, {"error": "the body is not JSON"}
        # counted before validating each result: 100k results must not be parsed into models first
        if not isinstance(raw, dict) or not isinstance(raw.get("results"), list):
            self._refuse("bad_body")
            return 400, {"error": "expected {location, agent_version, results: [...]}"}
        if len(raw["results"]) > self.cfg.max_batch_results:
            self._refuse("too_many")
            return 413, {"error": f"at most {self.cfg.max_batch_results} results per batch"}
        try:
            batch = Batch.model_validate(raw)
        except ValidationError as e:
            self._refuse("bad_body")
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"][:3])
            return 422, {"error": f"{where}: {first['msg']}"[:200]}
        if batch.location != location:
            self._refuse("wrong_location")
            return 403, {"error": "the batch's location is not the token's"}
        now = self.now()
        keep, ids, refused = [], [], 0
        for r in batch.results:
            res = r.result()
            if not (now - MAX_AGE <= res.started_at <= now + FUTURE_SLACK):
                refused += 1
                continue
            keep.append(res)
            ids.append(r.id)
        if refused:
            log.warning("agents: %d result(s) from %s refused: timed more than %d min ahead of this clock or "
                        "older than %d days (is that machine's clock right?)", refused, location,
                        FUTURE_SLACK.seconds // 60, MAX_AGE.days)
        stored = duplicates = 0
        if keep:
            with self._lock_for(location):
                out = self.write(keep, location, ids, batch.agent_version)
            stored, duplicates = int(out.get("results", 0)), int(out.get("duplicates", 0))
            if self.observe is not None and stored:
                # a result received again was observed when it first came: only the new ones now
                fresh = set(out.get("fresh_ids") or ())
                try:
                    self.observe([r for r, i in zip(keep, ids) if i in fresh], location)
                except Exception as e:  # noqa: BLE001 - the results are stored; metrics must not refuse them
                    log.error("agents: results of %s not observed in the metrics: %s", location, type(e).__name__)
        return 200, {"stored": stored, "duplicates": duplicates, "refused": refused}

    def probes_text(self) -> tuple[int, bytes, str]:
        if self.probes_file is None:
            return 404, b'{"error": "no probes file is shared"}', "application/json"
        try:
            with open(self.probes_file, "rb") as f:
                data = f.read(MAX_PROBES_FILE + 1)
        except OSError:
            return 503, b'{"error": "the probes file cannot be read"}', "application/json"
        if len(data) > MAX_PROBES_FILE:
            return 503, b'{"error": "the probes file is too large to share"}', "application/json"
        return 200, data, "application/yaml; charset=utf-8"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            timeout = READ_TIMEOUT
            server_version = "motcua-agents"
            sys_version = ""
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # no access log: no addresses, no tokens
                pass

            def _send(self, status: int, data: bytes, media: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", media)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                if status == 401:
                    self.send_header("WWW-Authenticate", 'Bearer realm="motcua-agents"')
                self.end_headers()
                self.wfile.write(data)

            def _reply(self, status: int, body: dict[str, Any], close: bool = False) -> None:
                if close:
                    self.close_connection = True
                self._send(status, json.dumps(body).encode("utf-8"))

            def _location(self) -> str | None:
                auth = self.headers.get("Authorization", "")
                scheme, _, token = auth.partition(" ")
                if scheme.lower() != "bearer" or not token.strip() or len(token) > 512:
                    return None
                return receiver.cfg.location_of(token.strip())

            def _guarded(self, fn: Callable[[], None]) -> None:
                if not receiver._slots.acquire(blocking=False):
                    receiver._refuse("busy")
                    self.close_connection = True
                    self.send_response(503)
                    self.send_header("Retry-After", "5")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                try:
                    fn()
                finally:
                    receiver._slots.release()

            def do_GET(self) -> None:  # noqa: N802
                self._guarded(self._get)

            def do_POST(self) -> None:  # noqa: N802
                self._guarded(self._post)

            def _get(self) -> None:
                if self.path.split("?")[0] != PROBES_PATH:
                    self._reply(404, {"error": "not found"})
                    return
                if self._location() is None:
                    receiver._refuse("unauthorized")
                    self._reply(401, {"error": "unauthorized"})
                    return
                status, data, media = receiver.probes_text()
                self._send(status, data, media)

            def _post(self) -> None:
                # every refusal before the body is read closes the connection: the unread body
                # must not be taken for the next request
                if self.path.split("?")[0] != RESULTS_PATH:
                    self._reply(404, {"error": "not found"}, close=True)
                    return
                location = self._location()
                if location is None:
                    receiver._refuse("unauthorized")
                    self._reply(401, {"error": "unauthorized"}, close=True)
                    return
                raw_len = self.headers.get("Content-Length")
                if raw_len is None or self.headers.get("Transfer-Encoding"):
                    receiver._refuse("no_length")
                    self._reply(411, {"error": "Content-Length required"}, close=True)
                    return
                try:
                    length = int(raw_len)
                except ValueError:
                    length = -1
                if not 0 < length <= receiver.cfg.max_body_kb * 1024:
                    receiver._refuse("too_large")
                    self._reply(413, {"error": f"the body must be 1 byte to {receiver.cfg.max_body_kb} KB"},
                                close=True)
                    return
                body = self.rfile.read(length)
                if len(body) != length:
                    self.close_connection = True
                    return  # the sender went away
                try:
                    status, answer = receiver.accept(location, body)
                except Exception as e:  # noqa: BLE001 - the store failed: the agent keeps the batch and retries
                    log.error("agents: a batch from %s was not stored: %s", location, type(e).__name__)
                    status, answer = 503, {"error": "not stored now; send it again later"}
                self._reply(status, answer)

        return Handler
