"""A remote load-test worker: run ONLY as the child of `app.py loadtest-worker` (Locust patches the
process with gevent).

    MOTCUA_LOADTEST_WORKER='{"master_host": ..., ...}' MOTCUA_LOADTEST_TOKEN=... python -m loadtests.remote_worker

Locust as a library: a WorkerRunner connects to the master (from `source`, a local address, when
given), then the handshake of loadtests/remote.py: the token proved both ways, the scenario received
as data, checked (loadtests.remote.check_remote_spec: the target and every URL on the allowlist the
master sent AND on this worker's own), and only then built into user classes
(loadtests/locustfile.py: configure, build_user_classes). Until the scenario is accepted every
message of the master but the handshake's is dropped; afterwards `update_user_class` (a web-UI
feature that sets any attribute of a user class) still is, and a spawn's `host` is ignored.

Guards against a master that goes away or never stops: Locust's heartbeat timeout is shortened, and
the users stop on their own at the planned duration plus a margin. The tally (requests per
endpoint, failures) is written at every report to <workdir>/<run id>/worker-<name>.json and rides
on the same report to the master.

Exit codes: 0 a run was served, 1 the master ended before any load, 2 refused (token, allowlist,
specification, run full), 3 the master could not be reached, 130 stopped by a signal.
"""
from __future__ import annotations

import ipaddress
import json
import os
import signal
import socket
import sys
from pathlib import Path
from uuid import uuid4

import gevent
import locust
import locust.log
import locust.runners as locust_runners
from gevent.event import Event
from locust.env import Environment
from locust.exception import RPCError
from locust.rpc import zmqrpc
from locust.runners import WorkerRunner

from config.loadtest import Allowlist
from loadtests import locustfile as lf
from loadtests import remote

OPTS_ENV = "MOTCUA_LOADTEST_WORKER"
HANDSHAKE_TIMEOUT = 30.0
MASTER_SILENCE = 15.0   # seconds without the master's heartbeat before the users stop
FLUSH_SECONDS = 3.0
RUNNER: "_Worker | None" = None
EXIT_SERVED, EXIT_NO_RUN, EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_STOPPED = 0, 1, 2, 3, 130


def say(text: str) -> None:
    print(text, flush=True)


def _endpoint(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _ipv4_literal(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 4
    except ValueError:
        return False


class _BoundClient(zmqrpc.Client):
    """Locust's client socket, connecting from a chosen local address (ZeroMQ's 'source;destination').
    Made without a name lookup: under gevent a lookup yields, and Locust's receiving greenlet would
    then run on the socket this one replaces."""

    def __init__(self, host: str, port: int, identity: str, source: str) -> None:
        zmqrpc.BaseSocket.__init__(self, zmqrpc.zmq.DEALER, _ipv4_literal(host))
        self.socket.setsockopt(zmqrpc.zmq.IDENTITY, identity.encode())
        self.socket.connect(f"tcp://{_endpoint(source)}:0;{_endpoint(host)}:{port}")


class _Worker(WorkerRunner):
    source: str | None = None

    def _bound(self) -> _BoundClient:
        return _BoundClient(self.master_host, self.master_port, self.client_id, self.source or "")

    def connect_to_master(self):
        if self.source and not isinstance(self.client, _BoundClient):
            # WorkerRunner connected a plain client just before (nothing sent on it yet). The bound one
            # takes a new node id: a ZeroMQ ROUTER ignores a second connection under an identity it
            # already knows, and the plain one may have been known to the master first.
            self.client_id = f"{socket.gethostname()}_{uuid4().hex}"
            plain, self.client = self.client, self._bound()
            plain.close(linger=0)
        return super().connect_to_master()

    def reset_connection(self) -> None:
        if not self.source:
            return super().reset_connection()
        try:
            old, self.client = self.client, self._bound()
            old.close()
        except RPCError as e:
            say(f"could not reconnect to the master ({e}); trying again")


class Session:
    """One run served: the handshake, the checks, the users, the tally."""

    def __init__(self, env: Environment, runner: _Worker, opts: dict, token: str, local: Allowlist) -> None:
        self.env, self.runner, self.opts, self.token, self.local = env, runner, opts, token, local
        self.name = opts["name"]
        self.nonce = remote.new_nonce()
        self.decided = Event()
        self.refusal: str | None = None
        self.accepted = False
        self.spec: dict | None = None
        self.tally: lf.WorkerTally | None = None
        self.tally_path: Path | None = None
        self.ran = False
        self.stopped_by: str | None = None
        self._handle = runner.handle_message
        runner.handle_message = self.gate
        for kind in ("challenge", "spec", "refused"):
            runner.register_message(remote.MSG[kind], getattr(self, f"on_{kind}"))
        self.mine = {remote.MSG[k] for k in ("challenge", "spec", "refused")}

    # -- what reaches Locust ---------------------------------------------------------------------
    def gate(self, msg) -> None:
        t = msg.type
        if t in ("ack", "heartbeat", "reconnect") or t in self.mine:
            return self._handle(msg)
        if t == "quit" and self.tally is not None:
            self.tally.final = True  # Locust answers it with a last report: the master waits for that one
        if not self.accepted:
            return self._handle(msg) if t == "quit" else None  # nothing else before a scenario is accepted
        if t == "update_user_class":
            return  # the web UI's: it would let a master set any attribute of the user classes
        if t == "spawn" and isinstance(msg.data, dict):
            counts = msg.data.get("user_classes_count") or {}
            if not set(counts) <= {c.__name__ for c in self.env.user_classes}:
                return
            msg.data["host"] = self.spec["target"] if self.spec else None
        return self._handle(msg)

    def send(self, kind: str, data: dict) -> None:
        self.runner.send_message(remote.MSG[kind], data)

    def hello(self) -> None:
        self.send("hello", {"protocol": remote.PROTOCOL, "name": self.name, "host": socket.gethostname(),
                            "source": self.opts.get("source") or "", "nonce": self.nonce})

    def decline(self, reason: str) -> None:
        self.refusal = reason
        try:
            self.send("decline", {"reason": reason})
        except RPCError:
            pass
        self.decided.set()

    # -- the handshake ---------------------------------------------------------------------------
    def on_challenge(self, environment, msg, **_kw) -> None:
        d = msg.data if isinstance(msg.data, dict) else {}
        if not remote.same(d.get("proof"), remote.master_proof(self.token, self.nonce, self.runner.client_id)):
            self.decline("token mismatch: the master does not hold this worker's token")
            return
        self.send("auth", {"proof": remote.worker_proof(self.token, str(d.get("nonce") or ""), self.runner.client_id)})

    def on_refused(self, environment, msg, **_kw) -> None:
        d = msg.data if isinstance(msg.data, dict) else {}
        self.refusal = f"the master refused this worker: {str(d.get('reason') or 'no reason given')[:300]}"
        self.decided.set()

    def on_spec(self, environment, msg, **_kw) -> None:
        if self.accepted:
            return
        d = msg.data if isinstance(msg.data, dict) else {}
        spec = d.get("spec")
        if not isinstance(spec, dict) or not remote.same(d.get("mac"), remote.spec_mac(self.token, self.nonce, spec)):
            self.decline("the scenario failed its check against the token (altered on the way?)")
            return
        try:
            spec = remote.check_remote_spec(spec, self.local, self.opts["allow_source"])
            spec["ca_file"] = self.opts.get("ca_file")   # this machine's, never a path of the master's
            spec["secrets_file"] = self.opts.get("secrets_file")  # this machine's own, never sent
            lf.configure(spec, also_allowed=self.local)
            classes = lf.build_user_classes()
        except remote.RemoteRefused as e:
            self.decline(str(e))
            return
        except Exception as e:  # noqa: BLE001 — anything the scenario cannot be built from
            self.decline(f"the scenario could not be prepared here: {type(e).__name__}: {e}"[:400])
            return
        self.spec = spec
        self.env.user_classes[:] = classes
        folder = Path(self.opts["workdir"]).resolve() / spec["run_id"]
        folder.mkdir(parents=True, exist_ok=True)
        self.tally_path = folder / f"worker-{self.name}.json"
        self.tally = lf.WorkerTally(str(self.tally_path), send_as=self.name)
        self.env.events.report_to_master.add_listener(self.tally.on_report)  # after Locust's own
        self.env.events.test_start.add_listener(self.on_start)
        self.accepted = True
        self.send("ready", {})
        say(f"run {spec['run_id']}: accepted; target {spec['target']}, {spec['users']} users in all over "
            f"{spec['duration']:g} s; tally in {self.tally_path}")
        self.decided.set()

    def on_start(self, **_kw) -> None:
        if self.ran:
            return
        self.ran = True
        limit = self.spec["duration"] * 1.2 + 60
        gevent.spawn_later(limit, self.stop, f"the run went on past its planned length ({limit:.0f} s)")

    def stop(self, why: str) -> None:
        if self.stopped_by is None:
            self.stopped_by = why
            say(f"stopping: {why}")
            self.env.events.quitting.fire(environment=self.env, reverse=True)  # tells the master
            self.decided.set()
            self.runner.quit()


def main() -> int:
    opts = json.loads(os.environ[OPTS_ENV])
    token = os.environ.get(remote.TOKEN_ENV, "")
    local = Allowlist(hosts=opts["allow_hosts"], networks=opts["allow_networks"])
    locust.log.setup_logging("WARNING", None)
    locust_runners.MASTER_HEARTBEAT_TIMEOUT = MASTER_SILENCE
    # the stats loop starts before the scenario (and its interval) arrives: not Locust's 3 s at first
    locust_runners.WORKER_REPORT_INTERVAL = 1.0
    wait = float(opts.get("connect_wait", 300))
    locust_runners.CONNECT_RETRY_COUNT = max(1, int(wait / locust_runners.CONNECT_TIMEOUT))
    master = f"{opts['master_host']}:{opts['master_port']}"
    env = Environment(user_classes=[], events=locust.events)
    _Worker.source = opts.get("source") or None
    sessions: list[Session] = []

    def on_signal() -> None:
        if not sessions:
            os._exit(EXIT_STOPPED)  # not connected yet: there is no one to tell
        sessions[0].stop("stopped on this machine")
    gevent.signal_handler(signal.SIGTERM, on_signal)
    gevent.signal_handler(signal.SIGINT, on_signal)
    say(f"worker {opts['name']}: connecting to the master at {master}"
        + (f" from {opts['source']}" if opts.get("source") else ""))
    try:
        runner = _Worker(env, opts["master_host"], int(opts["master_port"]))
    except ConnectionError:
        say(f"the master at {master} did not answer within {wait:g} s")
        return EXIT_UNREACHABLE
    global RUNNER
    env.runner = RUNNER = runner
    session = Session(env, runner, opts, token, local)
    sessions.append(session)
    session.hello()
    if not session.decided.wait(HANDSHAKE_TIMEOUT):
        say(f"the master at {master} did not complete the handshake within {HANDSHAKE_TIMEOUT:.0f} s")
        runner.quit()
        return EXIT_UNREACHABLE
    if session.stopped_by:
        return EXIT_STOPPED
    if session.refusal:
        say(f"refused: {session.refusal}")
        runner.quit()
        return EXIT_REFUSED
    runner.greenlet.join()
    tally = session.tally
    counted = sum(v for k, v in (tally.requests if tally else {}).items() if not k.startswith("JOURNEY "))
    if session.stopped_by:
        say(f"run {session.spec['run_id']} stopped: {counted} requests, tally in {session.tally_path}")
        return EXIT_STOPPED
    if not session.ran:
        say(f"run {session.spec['run_id']}: the master ended it before any load (it waited for other workers?)")
        return EXIT_NO_RUN
    say(f"run {session.spec['run_id']} finished: {counted} requests, {tally.failures if tally else 0} failed; "
        f"tally in {session.tally_path}")
    return EXIT_SERVED


def _flush(runner: _Worker | None) -> None:
    """Let the last messages (the final stats report, with the tally) leave before the process ends."""
    if runner is None:
        return
    try:
        sock = runner.client.socket
        sock.close(linger=int(FLUSH_SECONDS * 1000))
        sock.context.term()  # returns once they are sent, or the linger is over
    except Exception:  # noqa: BLE001 — ending anyway
        pass


if __name__ == "__main__":
    code = main()
    _flush(RUNNER)
    sys.stdout.flush()
    os._exit(code)  # gevent's threads need not be waited for
