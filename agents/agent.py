"""A remote probe agent: the probes run on another machine, their results sent to the central system.

    app.py agent --central https://watch.example.vn:8091 --location hanoi --token-file /etc/motcua/agent.token

Three threads besides the caller's: the probe schedule (probes.scheduler.ProbeScheduler without a
store), the spool writer, and the sender.

- Each run's results get one UUID each as they are measured and go, through a queue, into the
  disk buffer (agents/spool.py): one batch file per moment of writing, fsynced. Nothing is sent
  from memory, so a crash or a restart loses at most the results of the last half second.
- The sender sends the oldest batches first (POST {central}/api/agents/v1/results, Bearer token,
  at most `batch_results` results per request) and deletes a batch only after a 2xx answer. A
  batch whose answer was lost is sent again; the central stores each id once. While the central
  is down (no connection, time-out, 5xx) it waits twice as long each time, up to
  `max_backoff_seconds`, with jitter. A refused token (401/403) is said plainly in the log; the
  results stay spooled and it retries every `refused_backoff_seconds` (a token fixed on the
  central's side lets them through). A batch the central calls malformed (400/422) is narrowed
  down to its file and that file set aside in the spool's bad/ folder.
- Stopping (SIGTERM, Ctrl-C): the probes stop, what they measured is spooled, the sender has
  `stop_grace_seconds` to send what waits, and one summary line says
  `agent hanoi: 120 results measured, 120 sent, 0 waiting`.

The probes file is the agent's own (`--probes`) or the central's (GET /api/agents/v1/probes),
validated by config/probes before use and cached in the spool folder, so that an agent restarted
while the central is down keeps probing with the last one it had. Credentials for the probes come
from this machine's secrets file, never from the central.
"""
from __future__ import annotations

import logging
import os
import queue
import random
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from agents.receiver import PROBES_PATH, RESULTS_PATH
from agents.spool import Batch, Spool
from config.agents import AgentSideConfig
from config.clock import aware
from config.errors import ConfigError, MotcuaError
from config.probes import PROBE_KINDS, ProbesFile, load_probes, secret_names
from probes.runner import ProbeResult, tls_context
from probes.scheduler import ProbeScheduler
from steps.secrets import load_secrets, read_token_file as _read_token

log = logging.getLogger("motcua.agents")

AGENT_VERSION = "1"
MIN_TOKEN = 20
MAX_PROBES_FILE = 1 << 20
PROBES_CACHE = "central-probes.yaml"


class AgentError(MotcuaError):
    """The agent cannot start: the message says why and what to do."""


def read_token_file(path: str | Path) -> str:
    """The location's token: the first line of a small file readable by its owner only."""
    return _read_token(path, min_length=MIN_TOKEN, private=True, error=AgentError,
                       hint="make one with `app.py agent-token LOCATION --out FILE` on the central system")


def result_payload(r: ProbeResult, result_id: str) -> dict[str, Any]:
    """A result as the receiver takes it: its fields, its id, its time with the UTC offset."""
    d = r.to_dict()
    d["started_at"] = aware(r.started_at).isoformat(timespec="milliseconds")
    d["id"] = result_id
    return d


class Agent:
    def __init__(self, *, central: str, location: str, token: str, spool_dir: Path | str,
                 settings: AgentSideConfig | None = None, ca_file: Path | str | None = None,
                 out: Callable[[str], None] = print) -> None:
        if not central.startswith(("http://", "https://")):
            raise AgentError(f"--central {central!r}: expected http://HOST:PORT or https://HOST:PORT")
        self.central = central.rstrip("/")
        self.location = location
        self.settings = settings or AgentSideConfig()
        self.spool = Spool(spool_dir, max_bytes=self.settings.spool_mb << 20)
        self.out = out
        verify: Any = True
        if self.central.startswith("https://"):
            verify = tls_context(Path(ca_file) if ca_file else None)
        self.client = httpx.Client(verify=verify, timeout=self.settings.timeout_seconds, trust_env=False,
                                   headers={"Authorization": f"Bearer {token}",
                                            "User-Agent": f"motcua-agent/{AGENT_VERSION}"})
        self.measured = self.sent = self.refused_by_central = 0
        self.scheduler: ProbeScheduler | None = None
        self._queue: queue.Queue[list[dict[str, Any]]] = queue.Queue()
        self._stop = threading.Event()          # the sender ends (after draining, when a deadline is set)
        self._writer_stop = threading.Event()
        self._draining_until: float | None = None
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._limit = self.settings.batch_results
        self.last_status: int | None = None     # the central's last answer (None: not reached)

    # -- the probes file -----------------------------------------------------------------------
    def probes_from_central(self, stop: threading.Event | None = None) -> tuple[ProbesFile, str]:
        """The central's probes file, validated and cached; the cached one when the central cannot
        be reached. Without a cache, tries again (backing off) until it answers or `stop` is set."""
        cache = self.spool.folder / PROBES_CACHE
        delay = 1.0
        said = False
        while True:
            why = self._fetch_probes(cache)
            if why is None:
                return _here(load_probes(cache)), f"the central's probes file ({self.central}{PROBES_PATH})"
            if cache.exists():
                self.out(f"agent {self.location}: {why}; using the probes file cached at {cache}")
                return _here(load_probes(cache)), f"the central's probes file as cached at {cache}"
            if not said:
                self.out(f"agent {self.location}: {why}, and no probes file is cached yet: trying again until it "
                         "answers (or give --probes FILE)")
                said = True
            if stop is not None and stop.wait(delay * random.uniform(0.8, 1.2)):
                raise AgentError("stopped before the central's probes file could be fetched")
            delay = min(delay * 2, self.settings.max_backoff_seconds)

    def _fetch_probes(self, cache: Path) -> str | None:
        """Fetch, validate and cache; None when done, else why not (a refused token or an invalid
        file raises: waiting would not help)."""
        try:
            with self.client.stream("GET", self.central + PROBES_PATH) as r:
                if r.status_code in (401, 403):
                    raise AgentError(f"the central {self.central} refused this agent's token (HTTP {r.status_code}): "
                                     f"check the token file and the central's agents.locations.{self.location}")
                if r.status_code != 200:
                    return f"the central answered HTTP {r.status_code} for its probes file"
                data = bytearray()
                for chunk in r.iter_bytes():
                    data += chunk
                    if len(data) > MAX_PROBES_FILE:
                        raise AgentError(f"the central's probes file is larger than {MAX_PROBES_FILE >> 10} KB")
        except httpx.HTTPError as e:
            return f"cannot reach the central {self.central} ({type(e).__name__})"
        tmp = cache.with_name(cache.name + ".new")
        tmp.write_bytes(bytes(data))
        try:
            load_probes(tmp)
        except ConfigError as e:
            tmp.unlink(missing_ok=True)
            raise AgentError(f"the central's probes file is not valid here: {e}") from None
        os.replace(tmp, cache)
        return None

    # -- measuring -----------------------------------------------------------------------------
    def _on_results(self, results: list[ProbeResult]) -> None:
        # called on the probes' event loop: no disk work here (an fsync would sit inside other
        # probes' timed phases); the writer thread spools
        payload = [result_payload(r, str(uuid.uuid4())) for r in results]
        self.measured += len(payload)
        self._queue.put(payload)

    def _writer(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=0.5)
            except queue.Empty:
                if self._writer_stop.is_set():
                    return
                continue
            batch = list(first)
            while len(batch) < self.settings.batch_results:
                try:
                    batch += self._queue.get_nowait()
                except queue.Empty:
                    break
            try:
                self.spool.put(batch)
            except OSError as e:  # disk full or gone: said, and the results kept for the next try
                log.error("agent %s: %d result(s) not spooled: %s", self.location, len(batch), e.strerror or e)
                self._queue.put(batch)
                time.sleep(1)
                continue
            self._wake.set()

    def flush(self) -> None:
        """Spool what the probes gave and the writer has not taken yet (at stop)."""
        batch: list[dict[str, Any]] = []
        while True:
            try:
                batch += self._queue.get_nowait()
            except queue.Empty:
                break
        if batch:
            self.spool.put(batch)

    # -- sending -------------------------------------------------------------------------------
    def _choose(self) -> list[Batch]:
        chosen, n = [], 0
        for b in self.spool.batches():
            if chosen and n + b.count > self._limit:
                break
            chosen.append(b)
            n += b.count
        return chosen

    def send_once(self) -> str:
        """Send the oldest waiting batches once: 'empty', 'sent', 'down', 'refused' or 'retry'."""
        chosen = self._choose()
        if not chosen:
            return "empty"
        results, good = [], []
        for b in chosen:
            rs = self.spool.read(b)
            if rs is not None:
                results += rs
                good.append(b)
        if not results:
            return "retry"  # every file chosen was set aside: choose again
        body = {"location": self.location, "agent_version": AGENT_VERSION, "results": results}
        try:
            r = self.client.post(self.central + RESULTS_PATH, json=body)
        except httpx.HTTPError as e:
            self.last_status = None
            log.warning("agent %s: the central %s is not answering (%s); %d result(s) wait in %s",
                        self.location, self.central, type(e).__name__, self.spool.waiting(), self.spool.folder)
            return "down"
        self.last_status = r.status_code
        if 200 <= r.status_code < 300:
            for b in good:
                self.spool.remove(b)
            self.sent += len(results)
            self._limit = self.settings.batch_results
            try:
                refused = int(r.json().get("refused", 0))
            except (ValueError, AttributeError, TypeError):
                refused = 0
            if refused:
                self.refused_by_central += refused
                log.warning("agent %s: the central refused %d result(s) as timed too far from its clock: is this "
                            "machine's clock right?", self.location, refused)
            return "sent"
        if r.status_code in (401, 403):
            log.error("agent %s: the central %s refused this agent's token (HTTP %d); the results stay in %s "
                      "(%d waiting) and are sent once the central accepts the token (agents.locations.%s)",
                      self.location, self.central, r.status_code, self.spool.folder, self.spool.waiting(),
                      self.location)
            return "refused"
        if r.status_code in (400, 413, 422):
            if len(good) > 1:  # narrow it down: fewer files at once, until one file alone is refused
                self._limit = max(1, min(self._limit, len(results)) // 2)
                log.warning("agent %s: the central refused a request of %d results (HTTP %d): sending fewer at once",
                            self.location, len(results), r.status_code)
                return "retry"
            self.spool.set_aside(good[0], f"the central refused it: HTTP {r.status_code} {r.text[:200]}")
            return "retry"
        log.warning("agent %s: the central answered HTTP %d; %d result(s) wait in %s", self.location, r.status_code,
                    self.spool.waiting(), self.spool.folder)
        return "down"

    def _sender(self) -> None:
        delay = 1.0
        while True:
            if self._draining_until is not None and time.monotonic() >= self._draining_until:
                return
            if self._stop.is_set() and self._draining_until is None:
                return
            outcome = self.send_once()
            if outcome in ("sent", "retry"):
                delay = 1.0
                continue
            if outcome == "empty":
                if self._draining_until is not None:
                    return
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            if outcome == "refused":
                if self._draining_until is not None:
                    return  # refused now, refused in a second: the results stay for the next start
                wait = self.settings.refused_backoff_seconds
            else:
                wait = delay
                delay = min(delay * 2, self.settings.max_backoff_seconds)
            wait *= random.uniform(0.8, 1.2)  # agents cut off together must not all come back at once
            if self._draining_until is not None:
                wait = min(wait, max(0.0, self._draining_until - time.monotonic()))
                if wait <= 0:
                    return
                time.sleep(min(wait, 0.5))
            elif self._stop.wait(wait):
                continue

    # -- life ----------------------------------------------------------------------------------
    def start(self, probes: ProbesFile, base_url: str | None = None) -> None:
        self.scheduler = ProbeScheduler(probes, None, base_url=base_url, on_results=self._on_results)
        for name, fn in (("agent-spool-writer", self._writer), ("agent-sender", self._sender)):
            t = threading.Thread(target=fn, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        self.scheduler.start()

    def stop(self) -> str:
        """Stop the probes, spool what they gave, send what waits for a few seconds; the summary."""
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
        writer, sender = self._threads if self._threads else (None, None)
        # everything measured is on disk before the sender is told to finish: an empty spool
        # then means nothing waits
        self._writer_stop.set()
        if writer is not None:
            writer.join(timeout=10)
        self.flush()
        self._draining_until = time.monotonic() + self.settings.stop_grace_seconds
        self._stop.set()
        self._wake.set()
        if sender is not None:
            sender.join(timeout=self.settings.stop_grace_seconds + self.settings.timeout_seconds + 1)
        self.client.close()
        return self.summary()

    def summary(self) -> str:
        line = (f"agent {self.location}: {self.measured} results measured, {self.sent} sent, "
                f"{self.spool.waiting()} waiting")
        extra = []
        if self.spool.dropped_results:
            extra.append(f"{self.spool.dropped_results} dropped (spool full)")
        if self.spool.bad_files:
            extra.append(f"{self.spool.bad_files} file(s) set aside in {self.spool.folder / 'bad'}")
        if self.refused_by_central:
            extra.append(f"{self.refused_by_central} refused by the central (clock)")
        return line + (f" ({'; '.join(extra)})" if extra else "")


def _here(probes: ProbesFile) -> ProbesFile:
    """The central's probes file as this machine runs it: its `secrets_file` names a file on the
    central, so the journeys' credentials come from this machine's (MOTCUA_SECRETS_FILE) or its
    environment; a journey without them fails with the secret's name, the other probes run."""
    return probes.model_copy(update={"secrets_file": None})


def runnable_here(probes: ProbesFile, location: str, out: Callable[[str], None] = print) -> ProbesFile:
    """The probes this machine can run: a journey whose credentials are not here (environment,
    secrets file) would fail every run for a reason of this machine's and count as the portal
    failing from this location; it is left out, said once at the start."""
    secrets = load_secrets(probes.secrets_file)
    lacking: dict[str, list[str]] = {}
    for p in probes.probes():
        missing = sorted(n for n in secret_names(p) if not secrets.has(n))
        if missing:
            lacking[p.name] = missing
    if not lacking:
        return probes
    out(f"agent {location}: not run here, their credentials are not on this machine (set them as "
        f"MOTCUA_SECRET_<NAME> or in MOTCUA_SECRETS_FILE): "
        + "; ".join(f"{name} ({', '.join(names)})" for name, names in lacking.items()))
    return probes.model_copy(update={kind: [p for p in getattr(probes, kind) if p.name not in lacking]
                                     for kind in PROBE_KINDS})


def run_agent(*, central: str, location: str, token: str, spool_dir: Path | str, probes_file: Path | str | None,
              base_url: str | None, settings: AgentSideConfig, ca_file: str | None, stop: threading.Event,
              out: Callable[[str], None] = print) -> int:
    """The `app.py agent` command's work, until `stop` is set; prints the summary line at the end."""
    agent = Agent(central=central, location=location, token=token, spool_dir=spool_dir, settings=settings,
                  ca_file=ca_file, out=out)
    try:
        if probes_file:
            probes, source = load_probes(probes_file), str(probes_file)
        else:
            probes, source = agent.probes_from_central(stop)
    except BaseException:
        agent.client.close()
        raise
    probes = runnable_here(probes, location, out)
    waiting = agent.spool.waiting()
    agent.start(probes, base_url)
    out(f"agent {location}: running {len(agent.scheduler.job_ids)} checks and journeys from {source}; "
        f"sending to {agent.central} (spool {agent.spool.folder}, {waiting} results waiting from before)")
    out("  Press Ctrl-C to stop.")
    stop.wait()
    out(f"agent {location}: stopping (sending what waits, {settings.stop_grace_seconds:g} s at most)…")
    out(agent.stop())
    return 0
