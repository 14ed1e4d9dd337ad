"""Load tests across machines: a master (`run_loadtest` with remote workers, or `app.py loadtest
--remote-workers`) and workers started as `app.py loadtest-worker` processes, each in a working
folder of its own with an empty configuration, connecting from a loopback address of its own
(127.0.0.2, 127.0.0.3, ...). Real Locust processes, real HTTP to the testbed; nothing here imports
locust (a rogue node speaks Locust's wire format with pyzmq and msgpack)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import msgpack
import psutil
import pytest
import zmq

from config.loadtest import Allowlist
from config.probes import DEFAULT_PROBES
from loadtests import remote
from loadtests.runner import LoadRequest, run_loadtest
from testbed.portal.server import running

ROOT = Path(__file__).resolve().parents[2]
TESTBED_SECRETS = ROOT / "config" / "probes.testbed-secrets.yaml"
TOKEN = "the-shared-token-of-this-test-0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def token_file(tmp_path) -> Path:
    f = tmp_path / "loadtest.token"
    f.write_text(TOKEN + "\n", encoding="utf-8")
    f.chmod(0o600)
    return f


class Worker:
    """`app.py loadtest-worker` in a folder of its own, with an empty configuration of its own."""

    def __init__(self, tmp: Path, name: str, source: str, port: int, token_file: Path, *extra: str) -> None:
        self.name = name
        self.dir = tmp / f"machine-{name}"
        (self.dir / "config").mkdir(parents=True)
        (self.dir / "config" / "motcua.yaml").write_text("", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
        env["MOTCUA_CONFIG"] = str(self.dir / "config" / "motcua.yaml")
        self.log = open(self.dir / "out.txt", "w+", encoding="utf-8")
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "loadtest-worker", "--master", f"127.0.0.1:{port}",
             "--source", source, "--name", name, "--token-file", str(token_file), "--once",
             "--secrets-file", str(TESTBED_SECRETS), "--connect-wait", "60", *extra],
            cwd=self.dir, env=env, stdout=self.log, stderr=subprocess.STDOUT, text=True)

    def wait(self, timeout: float = 90) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"worker {self.name} did not end: {self.output()}")

    def output(self) -> str:
        self.log.flush()
        return (self.dir / "out.txt").read_text(encoding="utf-8")

    def tally(self, run_id: str) -> dict:
        """What the worker counted itself, in its own folder (the default runs folder of its config)."""
        return json.loads((self.dir / "data" / "loadtests" / run_id / f"worker-{self.name}.json").read_text())

    def kill(self) -> None:
        try:
            tree = [psutil.Process(self.proc.pid), *psutil.Process(self.proc.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            tree = []
        for p in tree:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        self.proc.wait(timeout=10)


def requests_of(tally: dict) -> int:
    return sum(v for k, v in tally["requests"].items() if not k.startswith("JOURNEY "))


class Master:
    """`run_loadtest` with remote workers, in a thread; its lines kept as they come."""

    def __init__(self, app, tmp: Path, req: LoadRequest, file: Path | None = None) -> None:
        self.lines: list[str] = []
        self.box: dict = {}

        def go() -> None:
            self.box["res"] = run_loadtest(app, req, loadtests_file=file, runs_dir=tmp / "runs", out=self.lines.append,
                                           progress_every=0, report=False, token=TOKEN)
        self.thread = threading.Thread(target=go)
        self.thread.start()

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in x for x in self.lines):
            if time.monotonic() > deadline or not self.thread.is_alive():
                pytest.fail(f"the master never said {text!r}: {self.text}")
            time.sleep(0.1)

    def wait_started(self, runs: Path, timeout: float = 60) -> None:
        """Until the users run (Locust clears its statistics when a run starts)."""
        deadline = time.monotonic() + timeout
        while not any('"type":"start"' in p.read_text() for p in runs.glob("*/series.jsonl")):
            if time.monotonic() > deadline or not self.thread.is_alive():
                pytest.fail(f"the run never started: {self.text}")
            time.sleep(0.1)

    def result(self, timeout: float = 120):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), self.text
        return self.box["res"]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class Rogue:
    """A node that knows Locust's protocol but not the token: it says it is ready, tries the handshake
    with a made-up proof, then sends stats of 999 requests of its own, as a worker would report them."""

    def __init__(self, port: int, source: str = "127.0.0.4") -> None:
        self.id = "rogue_" + os.urandom(4).hex()
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.IDENTITY, self.id.encode())
        self.sock.connect(f"tcp://{source}:0;127.0.0.1:{port}")
        self.received: list[tuple] = []

    def send(self, kind: str, data) -> None:
        self.sock.send(msgpack.dumps((kind, data, self.id)))

    def recv(self, timeout: float = 10) -> tuple | None:
        if self.sock.poll(int(timeout * 1000)):
            msg = msgpack.loads(self.sock.recv(), raw=False, strict_map_key=False)
            self.received.append(msg)
            return msg
        return None

    def try_to_join(self) -> None:
        self.send("client_ready", "2.47.0")
        assert self.recv() and self.received[-1][0] == "ack"
        self.send("motcua_hello", {"protocol": 1, "name": "rogue", "host": "elsewhere", "nonce": "0" * 32})
        while (m := self.recv()) is not None and m[0] != "motcua_challenge":
            pass
        assert m is not None, self.received
        self.send("motcua_auth", {"proof": "f" * 64})
        while (m := self.recv()) is not None and m[0] != "motcua_refused":
            pass
        assert m is not None and "token" in m[1]["reason"], self.received

    def report(self) -> None:
        now = time.time()
        entry = {"name": "rogue-endpoint", "method": "GET", "last_request_timestamp": now, "start_time": now,
                 "num_requests": 999, "num_none_requests": 0, "num_failures": 0, "total_response_time": 999,
                 "max_response_time": 1, "min_response_time": 1, "total_content_length": 0,
                 "response_times": {1: 999}, "num_reqs_per_sec": {int(now): 999}, "num_fail_per_sec": {}}
        total = dict(entry, name="Aggregated", method="")
        self.send("stats", {"stats": [entry], "stats_total": total, "errors": {}, "user_classes_count": {},
                            "user_count": 0, "motcua_tally": {"name": "rogue", "requests": {"GET rogue-endpoint": 999},
                                                              "failures": 0, "final": True}})

    def close(self) -> None:
        self.sock.close(0)
        self.ctx.term()


def _loadtests_file(tmp: Path, allowlist: str, users: int = 4, duration: float = 4) -> Path:
    f = tmp / "lt.yaml"
    f.write_text(textwrap.dedent(f"""
        allowlist: {allowlist}
        generator: {{interval: 0.5}}
        shapes: {{s: {{kind: steady, duration: {duration}, warmup: 0}}}}
        scenarios:
          home:
            portal: {DEFAULT_PROBES}
            shape: s
            users: {users}
            user_classes:
              - name: citizen
                wait: {{constant: 0.2}}
                tasks: [{{name: home, check: home}}]
        """), encoding="utf-8")
    return f


pytestmark = pytest.mark.slow


def test_remote_workers_counts_merge_to_their_own_tallies_and_a_node_without_the_token_is_not_counted(
        app, tmp_path, token_file):
    port = _free_port()
    with running("v1.0") as base:
        master = Master(app, tmp_path, LoadRequest("smoke", base, "v1.0", users=10, duration=6, remote_workers=2,
                                                   master_bind=f"127.0.0.1:{port}", worker_wait=60))
        # a worker whose token differs: it and the master each find the other's proof wrong
        wrong = tmp_path / "wrong.token"
        wrong.write_text("not-the-shared-token-at-all-000\n", encoding="utf-8")
        intruder = Worker(tmp_path, "w9", "127.0.0.9", port, wrong)
        assert intruder.wait() == 2, intruder.output()
        assert "token" in intruder.output()
        w1 = Worker(tmp_path, "w1", "127.0.0.2", port, token_file)
        w2 = Worker(tmp_path, "w2", "127.0.0.3", port, token_file)
        master.wait_for("joined: 2 of 2")
        master.wait_started(tmp_path / "runs")
        # a node that knows Locust's protocol but not the token, during the run
        rogue = Rogue(port)
        try:
            rogue.try_to_join()
            for _ in range(3):
                rogue.report()
                time.sleep(0.3)
        finally:
            rogue.close()
        res = master.result()
        assert w1.wait() == 0 and w2.wait() == 0, w1.output() + w2.output()
    text = master.text
    assert res.status == "completed", text
    assert "worker w9" in text and "not counted" in text and "token" in text.split("worker w9", 1)[1].split("\n")[0]
    assert "worker rogue (elsewhere) not counted: wrong token" in text
    joined = [x for x in master.lines if "joined:" in x]
    assert {"127.0.0.2", "127.0.0.3"} <= set(joined[-1].split("connected from ")[1].split(", ")), joined

    run = app.query("loadtest_run", run_id=res.run_id).one()
    own = {w.name: w.tally(res.run_id) for w in (w1, w2)}
    assert all(requests_of(t) > 0 for t in own.values())
    # the stored run equals what the workers counted themselves, in their own folders
    assert run["workers"] == 2 and run["requests"] == sum(requests_of(t) for t in own.values()) > 0
    nodes = {n["node"]: n for n in app.query("loadtest_nodes", run_id=res.run_id)}
    assert set(nodes) == {"w1", "w2"}
    for name, t in own.items():
        assert nodes[name]["requests"] == requests_of(t) and nodes[name]["failures"] == t["failures"]
    ends = app.query("loadtest_endpoints", run_id=res.run_id).to_dicts()
    assert "rogue-endpoint" not in {e["name"] for e in ends}
    assert sum(e["requests"] for e in ends if e["kind"] == "request") == run["requests"]
    gen = {g["node"] for g in app.query("loadtest_generator", run_id=res.run_id)}
    assert {"master", "w1", "w2"} <= gen
    # stored as a local run is: same tables, the resolved configuration, the exit code of its verdict
    cfg = json.loads(run["config_json"])
    assert cfg["workers"] == 2 and cfg["remote_workers"] == 2 and cfg["master_bind"] == f"127.0.0.1:{port}"
    assert run["exit_code"] == res.exit_code in (0, 1) and run["verdict"] in ("pass", "fail")
    log = next((tmp_path / "runs").glob("*/locust-master.log")).read_text(encoding="utf-8")
    assert "Traceback" not in log and "Uncaught exception" not in log, log[-2000:]
    # credentials came from each worker's own secrets file: the journeys that log in succeeded
    assert any(e["name"].endswith("/login") and e["requests"] > e["failures"] for e in ends), ends


def test_a_worker_refuses_a_target_off_its_own_allowlist_though_the_master_allows_it(app_env, tmp_path, token_file):
    """The master's file allows all of 127.0.0.0/8; a worker's own allowlist (the shipped one:
    127.0.0.1 only) does not hold 127.0.0.5, so it refuses and nothing reaches the portal there. The
    run needs two workers: the other one (--allow 127.0.0.5) joins, and the stored run names both."""
    port = _free_port()
    f = _loadtests_file(tmp_path, "{hosts: [127.0.0.1], networks: [127.0.0.0/8]}")
    with running("v1.0", host="127.0.0.5") as base:
        before = httpx.get(f"{base}/__testbed/stats").json()
        env = dict(app_env)
        master = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "loadtest", "--scenario", "home", "--target", base, "--release",
             "x", "--file", str(f), "--remote-workers", "2", "--master-bind", f"127.0.0.1:{port}",
             "--worker-wait", "15s", "--token-file", str(token_file), "--no-report"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        careful = Worker(tmp_path, "w1", "127.0.0.2", port, token_file)
        willing = Worker(tmp_path, "w2", "127.0.0.3", port, token_file, "--allow", "127.0.0.5")
        out, err = master.communicate(timeout=120)
        assert careful.wait() == 2, careful.output()
        assert willing.wait() == 1, willing.output()  # admitted, then the master ended before any load
        after = httpx.get(f"{base}/__testbed/stats").json()
    assert "127.0.0.5 is not on this worker's allowlist" in careful.output(), careful.output()
    assert master.returncode == 2, out + err
    assert "only 1 of 2 remote workers joined within 15 s (joined: w2" in out, out
    assert "not counted: w1" in out and "127.0.0.5 is not on this worker's allowlist" in out
    assert "nothing was sent to the target" in out
    assert after["requests"] == before["requests"] and after["served_total"] == before["served_total"]
    q = subprocess.run([sys.executable, str(ROOT / "app.py"), "query", "loadtest_runs", "--param", "limit=1",
                        "--json"], cwd=tmp_path, env=env, capture_output=True, text=True)
    row = dict(zip(json.loads(q.stdout)["columns"], json.loads(q.stdout)["rows"][0]))
    assert row["status"] == "failed" and row["requests"] == 0 and row["workers"] == 2
    assert "not on this worker's allowlist" in row["message"] and "joined: w2" in row["message"]


def test_a_worker_lost_mid_run_marks_the_run(app, tmp_path, token_file):
    port = _free_port()
    f = _loadtests_file(tmp_path, "{hosts: [127.0.0.1]}", users=4, duration=9)
    with running("v1.0") as base:
        master = Master(app, tmp_path, LoadRequest("home", base, "x", remote_workers=2,
                                                   master_bind=f"127.0.0.1:{port}", worker_wait=60), file=f)
        w1 = Worker(tmp_path, "w1", "127.0.0.2", port, token_file)
        w2 = Worker(tmp_path, "w2", "127.0.0.3", port, token_file)
        master.wait_for("joined: 2 of 2")
        deadline = time.monotonic() + 30
        while not any(json.loads(p.read_text() or "{}").get("requests")
                      for p in (tmp_path / "runs").glob("*/worker-w2.json")):
            assert time.monotonic() < deadline, master.text
            time.sleep(0.1)
        w2.kill()  # after its first report, the machine drops off: no goodbye, no heartbeat
        res = master.result()
        assert w1.wait() == 0, w1.output()
    run = app.query("loadtest_run", run_id=res.run_id).one()
    assert run["status"] == "completed" and res.exit_code == 3 == run["exit_code"], master.text
    assert "worker w2" in run["message"] and "was lost" in run["message"] and "no heartbeat" in run["message"]
    assert "WARNING: worker w2" in master.text
    nodes = {n["node"]: n["requests"] for n in app.query("loadtest_nodes", run_id=res.run_id)}
    assert nodes["w1"] == requests_of(w1.tally(res.run_id)) and 0 < nodes["w2"]
    assert run["requests"] == nodes["w1"] + nodes["w2"]  # what w2 reported before it went


def test_the_worker_holds_the_allowlists_it_received_and_its_own():
    spec = {"run_id": "20261201-101500-ab12", "target": "http://127.0.0.1:8088", "users": 2, "duration": 5,
            "allow_hosts": ["127.0.0.1"], "allow_networks": [],
            "user_classes": [{"name": "c", "wait": {"constant": 1},
                              "tasks": [{"name": "t", "kind": "check",
                                         "steps": [{"name": "s", "url": "${base_url}/vi"}]}]}]}
    loopback = Allowlist()
    assert remote.check_remote_spec(spec, loopback, "x")["target"] == "http://127.0.0.1:8088"
    wide = Allowlist(networks=["127.0.0.0/8", "10.0.0.0/8"])
    with pytest.raises(remote.RemoteRefused, match="10.1.2.3 is not on the allowlist the master sent"):
        remote.check_remote_spec({**spec, "target": "http://10.1.2.3"}, wide, "x")
    with pytest.raises(remote.RemoteRefused, match="10.1.2.3 is not on this worker's allowlist"):
        remote.check_remote_spec({**spec, "target": "http://10.1.2.3", "allow_networks": ["10.0.0.0/8"]},
                                 loopback, "x")
    away = json.loads(json.dumps(spec))
    away["user_classes"][0]["tasks"][0]["steps"][0]["url"] = "http://192.168.1.10/x"
    with pytest.raises(remote.RemoteRefused, match="step s: http://192.168.1.10/x: host 192.168.1.10"):
        remote.check_remote_spec({**away, "allow_networks": ["192.168.0.0/16"]}, loopback, "x")
    for bad in ({**spec, "run_id": "../../etc"}, {**spec, "user_classes": []}, "not a spec"):
        with pytest.raises(remote.RemoteRefused, match="not valid|no run specification"):
            remote.check_remote_spec(bad, loopback, "x")
    # the token's proofs bind the nonce and the node, and the scenario as sent
    assert remote.master_proof(TOKEN, "n" * 32, "a") != remote.master_proof(TOKEN, "n" * 32, "b")
    assert remote.spec_mac(TOKEN, "n", spec) != remote.spec_mac(TOKEN, "n", {**spec, "target": "http://127.0.0.1:9"})
    assert remote.spec_mac(TOKEN, "n", spec) != remote.spec_mac("another-token-of-length", "n", spec)


def test_a_workers_own_allowlist_comes_from_allow_or_its_file(tmp_path):
    mine, where = remote.local_allowlist(["staging.example.vn", "10.20.0.0/24"], None)
    assert mine.allows("staging.example.vn") and mine.allows("10.20.0.7") and not mine.allows("127.0.0.1")
    assert where == "--allow"
    f = tmp_path / "worker.yaml"
    f.write_text("allowlist: {hosts: [staging.example.vn]}\n", encoding="utf-8")  # nothing but the allowlist
    mine, where = remote.local_allowlist(None, f)
    assert mine.hosts == ["staging.example.vn"] and str(f) in where
    shipped, _ = remote.local_allowlist(None, None)
    assert shipped.allows("127.0.0.1") and not shipped.allows("127.0.0.2")


def test_the_commands_say_what_they_need(run_app, tmp_path, token_file):
    r = run_app("loadtest", "--scenario", "smoke", "--target", "http://127.0.0.1:9", "--release", "x",
                "--remote-workers", "2", "--token-file", str(token_file))
    assert r.returncode == 2 and "--master-bind HOST:PORT" in r.stderr
    r = run_app("loadtest", "--scenario", "smoke", "--target", "http://127.0.0.1:9", "--release", "x",
                "--remote-workers", "2", "--master-bind", "127.0.0.1:5557")
    assert r.returncode == 2 and "--token-file" in r.stderr
    short = tmp_path / "short.token"
    short.write_text("abc\n", encoding="utf-8")
    r = run_app("loadtest", "--scenario", "smoke", "--target", "http://127.0.0.1:9", "--release", "x",
                "--remote-workers", "2", "--master-bind", "127.0.0.1:5557", "--token-file", str(short))
    assert r.returncode == 2 and "too short" in r.stderr
    r = run_app("loadtest", "--scenario", "smoke", "--target", "http://127.0.0.1:9", "--release", "x",
                "--master-bind", "127.0.0.1:5557")
    assert r.returncode == 2 and "go with --remote-workers" in r.stderr
    r = run_app("loadtest-worker", "--master", "127.0.0.1:not-a-port", "--token-file", str(token_file))
    assert r.returncode == 2 and "expected HOST:PORT" in r.stderr
    r = run_app("loadtest-worker", "--master", "127.0.0.1", "--token-file", str(token_file), "--allow", "10.0.0.0/33")
    assert r.returncode == 2 and "--allow" in r.stderr
    assert "Traceback" not in r.stdout + r.stderr


@pytest.mark.parametrize("text,host,port", [("10.0.0.5:6000", "10.0.0.5", 6000), ("10.0.0.5", "10.0.0.5", 5557),
                                            ("[fd00::5]:5557", "fd00::5", 5557), ("lt-master", "lt-master", 5557)])
def test_addresses(text, host, port):
    assert remote.parse_address(text) == (host, port)


def test_a_workers_stop_signal_ends_its_locust_child(tmp_path, token_file):
    """Stopped while it waits for a master (systemd's SIGTERM): the command forwards it, its Locust
    child ends too, and the exit code says it was stopped."""
    port = _free_port()
    w = Worker(tmp_path, "w1", "127.0.0.2", port, token_file)
    deadline = time.monotonic() + 30
    while "connecting to the master" not in w.output() and time.monotonic() < deadline:
        time.sleep(0.1)
    children = psutil.Process(w.proc.pid).children()
    assert len(children) == 1 and "loadtests.remote_worker" in " ".join(children[0].cmdline())
    w.proc.send_signal(signal.SIGTERM)
    assert w.wait(30) == 130, w.output()
    children[0].wait(10)
    assert not children[0].is_running()
    assert "Traceback" not in w.output()
