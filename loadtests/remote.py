"""Load generators on other machines: what the master and a remote worker agree on (no gevent here).

    app.py loadtest --scenario S --target URL --release R --remote-workers 2 --master-bind 10.0.0.5:5557 \
        --token-file FILE
    app.py loadtest-worker --master 10.0.0.5:5557 --token-file FILE      (on each load machine)

Locust's master/worker protocol has no authentication and carries no scenario: a worker normally
imports the same locustfile. Here a worker needs nothing from the master's machine but its address
and the shared token; everything else travels as data in Locust's own custom messages
(`runner.register_message` / `send_message`), never as code (Locust's `-f -`, which ships the
locustfile to run, is not used: a master could then run anything on the worker):

  worker → master  motcua_hello   {name, host, nonce_w}           after Locust's own client_ready
  master → worker  motcua_challenge {nonce_m, proof}              proof = HMAC(token, master|nonce_w|id)
  worker → master  motcua_auth    {proof}                         proof = HMAC(token, worker|nonce_m|id)
  master → worker  motcua_spec    {spec, mac}                     mac = HMAC(token, spec|nonce_w|json)
  worker → master  motcua_ready {} | motcua_decline {reason}
  master → worker  motcua_refused {reason}                        wrong token, run full, started

A node is counted by the master (Locust's `client_ready` handed to Locust) only once it has proved
the token AND accepted the scenario; until then every other message of it is dropped. Both sides
prove the token, so a master without it cannot steer a worker, and the scenario is MAC'd, so it
cannot be altered on the way. The worker holds the target and every URL to the allowlist it
received AND to its own (its load-test file's, or `--allow`): a master, even one holding the
token, can never send a worker's load to a host its operator did not allow. Each worker's tally
rides on its Locust stats reports (the same message as the counts it sums) and is kept in the
worker's own folder too.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import socket
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from config.errors import ConfigError, MotcuaError
from config.loadtest import Allowlist, TaskName, WaitTime
from config.probes import Step
from steps.secrets import read_token_file

TOKEN_ENV = "MOTCUA_LOADTEST_TOKEN"  # to Locust's own processes only (app.py reads --token-file)
MIN_TOKEN = 16
DEFAULT_MASTER_PORT = 5557          # Locust's own default
PROTOCOL = 1
NODE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
RUN_ID_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]{0,63}$")
# What of the master's run specification never travels: paths of the master's machine (a worker
# uses its own secrets and CA files) and the master's own settings.
MASTER_ONLY = ("out_dir", "secrets_file", "ca_file", "remote")
MSG = {"hello": "motcua_hello", "challenge": "motcua_challenge", "auth": "motcua_auth", "spec": "motcua_spec",
       "ready": "motcua_ready", "decline": "motcua_decline", "refused": "motcua_refused"}


class RemoteRefused(MotcuaError):
    """A worker will not run what it was sent (or the master will not count a worker); plain words."""


# -- the shared token ------------------------------------------------------------------------------
def read_token(token_file: str | Path | None) -> str:
    """The shared token: the first line of `token_file` (readable by the service's user only), never a
    command-line argument (other users of the machine see those). ConfigError when missing or short.
    It reaches Locust's processes through their environment (TOKEN_ENV), never their command line."""
    if not token_file:
        raise ConfigError("load tests across machines need a shared token: give --token-file FILE, a file holding "
                          "the same value on the master and every worker (e.g. python -c "
                          "'import secrets; print(secrets.token_urlsafe(32))' > FILE; chmod 600 FILE)")
    return read_token_file(token_file, min_length=MIN_TOKEN, private=False)


def new_nonce() -> str:
    return secrets.token_hex(16)


def _mac(token: str, *parts: str) -> str:
    return hmac.new(token.encode("utf-8"), "|".join(parts).encode("utf-8"), hashlib.sha256).hexdigest()


def master_proof(token: str, nonce_w: str, client_id: str) -> str:
    return _mac(token, "master", nonce_w, client_id)


def worker_proof(token: str, nonce_m: str, client_id: str) -> str:
    return _mac(token, "worker", nonce_m, client_id)


def canonical(spec: dict[str, Any]) -> str:
    return json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def spec_mac(token: str, nonce_w: str, spec: dict[str, Any]) -> str:
    return _mac(token, "spec", nonce_w, canonical(spec))


def same(a: Any, b: str) -> bool:
    return isinstance(a, str) and hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


# -- addresses -------------------------------------------------------------------------------------
def parse_address(text: str, what: str = "--master-bind") -> tuple[str, int]:
    """'10.0.0.5:5557', '10.0.0.5' (Locust's port 5557), '[fd00::5]:5557' → (host, port)."""
    t = (text or "").strip()
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::(\d+))?", t) or re.fullmatch(r"([^:\s\[\]]+)(?::(\d+))?", t)
    if not m:
        raise ConfigError(f"{what} {text!r}: expected HOST:PORT, e.g. 10.0.0.5:{DEFAULT_MASTER_PORT}")
    port = int(m.group(2)) if m.group(2) else DEFAULT_MASTER_PORT
    if not 0 < port < 65536:
        raise ConfigError(f"{what} {text!r}: port {port} is not between 1 and 65535")
    return m.group(1), port


def default_node_name() -> str:
    name = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:64].strip("-.") or "worker"
    return name


def check_node_name(name: str) -> str:
    if not NODE_NAME_RE.match(name or ""):
        raise ConfigError(f"worker name {name!r}: letters, digits, '.', '_' and '-' only, at most 64")
    return name


# -- what travels, and what a worker accepts ---------------------------------------------------------
def spec_for_workers(spec: dict[str, Any], run_id: str) -> dict[str, Any]:
    out = {k: v for k, v in spec.items() if k not in MASTER_ONLY}
    out["run_id"] = run_id
    return out


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Task(_Strict):
    name: TaskName
    weight: int = Field(default=1, ge=1, le=10_000)
    think: float = Field(default=0, ge=0, le=600)
    kind: Literal["check", "journey"]
    steps: list[Step] = Field(min_length=1)


class _UserClass(_Strict):
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
    weight: int = Field(default=1, ge=1, le=10_000)
    fixed_count: int | None = Field(default=None, ge=0)
    wait: WaitTime
    tasks: list[_Task] = Field(min_length=1)


class RemoteSpec(BaseModel):
    """The run specification as a worker receives it: data only, checked before anything runs."""

    model_config = ConfigDict(extra="ignore")

    run_id: str = Field(pattern=RUN_ID_RE.pattern)
    target: str
    variables: dict[str, str] = Field(default_factory=dict)
    users: int = Field(ge=1)
    duration: float = Field(gt=0, le=7 * 86400)
    timeout: float = Field(default=30, gt=0, le=600)
    verify_tls: bool = True
    max_redirects: int = Field(default=10, ge=0, le=50)
    interval: float = Field(default=1.0, ge=0.2, le=600)
    allow_hosts: list[str] = Field(default_factory=list)
    allow_networks: list[str] = Field(default_factory=list)
    user_classes: list[_UserClass] = Field(min_length=1)


def check_remote_spec(raw: Any, local: Allowlist, local_source: str) -> dict[str, Any]:
    """The spec a worker received, validated and held to both allowlists, or RemoteRefused saying
    why. Returns the spec the worker runs: the received one, `allow_*` replaced by nothing wider
    than both lists allow (the locustfile checks every run-time URL against both again)."""
    if not isinstance(raw, dict):
        raise RemoteRefused("the master sent no run specification")
    try:
        spec = RemoteSpec.model_validate(raw)
        received = Allowlist(hosts=spec.allow_hosts, networks=spec.allow_networks)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ()))
        raise RemoteRefused(f"the run specification is not valid ({where}: {first.get('msg')})") from None

    def allowed(url: str, what: str) -> None:
        try:
            u = urlsplit(url)
            host = u.hostname or ""
        except ValueError:
            raise RemoteRefused(f"{what} {url[:120]!r} is not a URL") from None
        if u.scheme not in ("http", "https") or not host:
            raise RemoteRefused(f"{what} {url[:120]!r} is not an http(s) URL")
        if not received.allows(host):
            raise RemoteRefused(f"{what} {url[:120]}: host {host} is not on the allowlist the master sent")
        if not local.allows(host):
            mine = ", ".join(local.hosts + local.networks) or "(empty)"
            raise RemoteRefused(f"{what} {url[:120]}: host {host} is not on this worker's allowlist ({mine}; "
                                f"{local_source})")

    allowed(spec.target, "target")
    variables = dict(spec.variables)
    variables["base_url"] = spec.target.rstrip("/")
    var = re.compile(r"\$\{([^}]*)\}")
    for uc in spec.user_classes:
        for t in uc.tasks:
            for s in t.steps:
                url = var.sub(lambda m: variables.get(m.group(1), "\x00"), s.url)
                if url.startswith(("http://", "https://")) and "\x00" not in (urlsplit(url).hostname or "\x00"):
                    allowed(url, f"task {t.name}, step {s.name}:")
    return dict(raw)


def local_allowlist(allow: list[str] | None, loadtests_file: str | Path | None) -> tuple[Allowlist, str]:
    """A worker's own allowlist: `--allow` entries (hosts or networks) if given, else the allowlist of
    its load-test file (loopback only as shipped). Returns it with words saying where it came from."""
    from config.loadtest import load_allowlist

    if allow:
        hosts, nets = [], []
        for a in allow:
            (nets if "/" in a else hosts).append(a.strip())
        try:
            return Allowlist(hosts=hosts, networks=nets), "--allow"
        except ValidationError as e:
            raise ConfigError(f"--allow: {e.errors()[0]['msg']}") from None
    src = str(loadtests_file) if loadtests_file else "config/loadtests.yaml"
    return load_allowlist(loadtests_file), f"allowlist in {src} or --allow"


# -- the worker command's parent side (`app.py loadtest-worker`) -----------------------------------
WORKER_OPTS_ENV = "MOTCUA_LOADTEST_WORKER"
ROOT = Path(__file__).resolve().parents[1]


def run_worker(opts: dict[str, Any], token: str, *, once: bool = False, out=print) -> int:
    """Serve runs: a Locust child (loadtests/remote_worker.py, gevent stays out of this process) per
    run, connected to the master; with `once`, one and its exit code, else again after each run
    until stopped. A Ctrl-C or SIGTERM is forwarded once to the child, which stops its users and
    tells the master (the run then marks this worker as lost)."""
    import signal
    import subprocess
    import sys
    import time

    env = dict(os.environ)
    env[WORKER_OPTS_ENV] = json.dumps(opts)
    env[TOKEN_ENV] = token
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYTHONUNBUFFERED"] = "1"
    state: dict[str, Any] = {"stop": False, "child": None}

    def on_signal(signum, _frame) -> None:
        state["stop"] = True
        child = state["child"]
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            # a session of its own: a terminal's Ctrl-C reaches this process only, which forwards it once
            child = subprocess.Popen([sys.executable, "-m", "loadtests.remote_worker"], env=env,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
            state["child"] = child
            code = child.wait()
            if state["stop"]:
                return 130
            if once:
                return code
            pause = 10 if code in (2, 3) else 2
            out(f"connecting to the master again in {pause} s (Ctrl-C to stop)")
            deadline = time.monotonic() + pause
            while time.monotonic() < deadline and not state["stop"]:
                time.sleep(0.2)
            if state["stop"]:
                return 130
    finally:
        child = state["child"]
        if child is not None and child.poll() is None:
            child.kill()
            child.wait()
        for s, h in previous.items():
            signal.signal(s, h)
