"""Real processes for the agents' tests: the central (`app.py run`) with its receiver on 127.0.0.2,
agents (`app.py agent`) each in a working folder of its own, a probe target on 127.0.0.3, and a
proxy on 127.0.0.4 that can lose an answer."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from config.agents import token_digest
from store.db import Store

ROOT = Path(__file__).resolve().parents[2]
CENTRAL_HOST, TARGET_HOST, PROXY_HOST = "127.0.0.2", "127.0.0.3", "127.0.0.4"


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def probes_file(path: Path, base_url: str, interval: float = 1, secrets: str | None = None) -> Path:
    """A probes file of one check; `secrets`: the name of a secrets file beside it (written), as the
    shipped probes file names one on the central."""
    head = ""
    if secrets:
        (path.parent / secrets).write_text("portal_password: not-a-real-one\n", encoding="utf-8")
        head = f"secrets_file: {secrets}\n"
    path.write_text(head + f'variables: {{base_url: "{base_url}"}}\ndefaults: {{interval: {interval}, timeout: 2}}\n'
                    'checks:\n  - {name: home, url: "${base_url}/", expect: {status: 200}}\n', encoding="utf-8")
    return path


def token_file(path: Path, token: str) -> Path:
    path.write_text(token + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


class Target:
    """A tiny portal on 127.0.0.3: every GET answers 200."""

    def __init__(self) -> None:
        class H(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                body = b"ok"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer((TARGET_HOST, 0), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://{TARGET_HOST}:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Central:
    """`app.py run` with the agents' receiver on 127.0.0.2:port, stopped and started at will."""

    def __init__(self, folder: Path, target_url: str, tokens: dict[str, str], revoked: set[str] = frozenset()) -> None:
        self.folder = folder
        self.store_path = folder / "data" / "motcua.duckdb"
        self.port = free_port(CENTRAL_HOST)
        self.url = f"http://{CENTRAL_HOST}:{self.port}"
        self.store_path.parent.mkdir(parents=True)
        with Store(self.store_path, memory_limit="512MB") as s, s.transaction() as cur:
            # a store with dossiers: no demo province generated at the first start
            cur.execute("""INSERT INTO dossiers (dossier_code, agency_code, channel, received_at, time_limit, time_unit,
                           state) SELECT 'HS-' || i, 'AG1', 'online', TIMESTAMP '2026-10-01 08:00' + i * INTERVAL 1 HOUR,
                           5, 'working_days', 'processing' FROM range(3) t(i)""")
        # it names a secrets file on the central, which an agent fetching it must not look for
        probes = probes_file(folder / "central-probes.yaml", target_url, interval=30, secrets="central-secrets.yaml")
        env = clean_env()
        d = folder / "data"
        env.update({
            "MOTCUA_STORE__PATH": str(self.store_path), "MOTCUA_SERVICE__PORT": "0", "MOTCUA_METRICS__PORT": "0",
            "MOTCUA_INBOX__PATH": str(d / "inbox"), "MOTCUA_INBOX__ARCHIVE": str(d / "archive"),
            "MOTCUA_INBOX__REJECTED": str(d / "rejected"), "MOTCUA_TESTBED__ENABLED": "false",
            "MOTCUA_DASHBOARD__ENABLED": "false", "MOTCUA_STATUS_PAGE__ENABLED": "false",
            "MOTCUA_BACKUP__ENABLED": "false", "MOTCUA_REPORTS__SCHEDULE__ENABLED": "false",
            "MOTCUA_MONITOR__PROBES": str(probes),
            "MOTCUA_AGENTS__ENABLED": "true", "MOTCUA_AGENTS__HOST": CENTRAL_HOST, "MOTCUA_AGENTS__PORT": str(self.port),
            "MOTCUA_AGENTS__MAX_BATCH_RESULTS": "1000",
        })
        for loc, tok in tokens.items():
            env[f"MOTCUA_AGENTS__LOCATIONS__{loc.upper()}__TOKEN_SHA256"] = token_digest(tok)
            if loc in revoked:
                env[f"MOTCUA_AGENTS__LOCATIONS__{loc.upper()}__REVOKED"] = "true"
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.banner = ""

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "run"], env=self.env, cwd=self.folder,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out = []
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            out.append(line)
            if "Press Ctrl-C" in line:
                self.banner = "".join(out)
                threading.Thread(target=self.proc.stdout.read, daemon=True).start()  # keep the pipe drained
                return
        self.proc.kill()
        raise AssertionError("app.py run did not start:\n" + "".join(out))

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            assert self.proc.wait(timeout=60) == 0
            self.proc = None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def rows(self, sql: str, params: list | None = None) -> list[tuple]:
        """A query of the store (stopped: the owner holds the file while it runs)."""
        assert self.proc is None, "stop the central first"
        with Store(self.store_path, read_only=True) as s:
            return s.cursor().execute(sql, params or []).fetchall()


class Agent:
    """`app.py agent` in a working folder of its own; stdout and stderr kept."""

    def __init__(self, folder: Path, central_url: str, location: str, token: str, probes: Path | None,
                 extra_env: dict[str, str] | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.location = location
        self.spool = folder / "data" / "agent-spool"
        tf = token_file(folder / "agent.token", token)
        args = [sys.executable, str(ROOT / "app.py"), "agent", "--central", central_url, "--location", location,
                "--token-file", str(tf)]
        if probes is not None:
            args += ["--probes", str(probes)]
        env = clean_env()
        env.update({"MOTCUA_AGENTS__AGENT__MAX_BACKOFF_SECONDS": "1", "MOTCUA_AGENTS__AGENT__REFUSED_BACKOFF_SECONDS": "1",
                    "MOTCUA_AGENTS__AGENT__STOP_GRACE_SECONDS": "10", "MOTCUA_AGENTS__AGENT__TIMEOUT_SECONDS": "5"})
        env.update(extra_env or {})
        self.out: list[str] = []
        self.proc = subprocess.Popen(args, env=env, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.out.append(line)

    @property
    def output(self) -> str:
        return "".join(self.out)

    def waiting_files(self) -> int:
        return len(list(self.spool.glob("*.json"))) if self.spool.exists() else 0

    def wait_for(self, cond, timeout: float = 30, what: str = "") -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if cond():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"agent {self.location} ended: {self.output}")
            time.sleep(0.1)
        raise AssertionError(f"agent {self.location}: not {what} within {timeout} s:\n{self.output}")

    def stop(self) -> str:
        """SIGTERM, as a service manager stops it; its summary line."""
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=40) == 0, self.output
        time.sleep(0.1)
        lines = [ln for ln in self.out if ln.startswith(f"agent {self.location}: ") and "measured" in ln]
        assert lines, self.output
        return lines[-1].strip()


def summary_numbers(line: str) -> tuple[int, int, int]:
    import re

    m = re.search(r"(\d+) results measured, (\d+) sent, (\d+) waiting", line)
    assert m, line
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


class LosingProxy:
    """A TCP proxy on 127.0.0.4 to the central: the first request's answer is lost (the request
    reaches the central and is answered, then the connection is dropped before the answer reaches
    the agent); every later connection is passed through."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.sock = socket.socket()
        self.sock.bind((PROXY_HOST, 0))
        self.sock.listen(16)
        self.url = f"http://{PROXY_HOST}:{self.sock.getsockname()[1]}"
        self.lost = 0
        self.answered_upstream = threading.Event()
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        up = socket.create_connection(self.upstream, timeout=10)
        if self.lost == 0:
            self.lost = 1
            request = self._read_request(client)
            up.sendall(request)
            answer = up.recv(65536)   # the central has stored the batch and answered
            if answer:
                self.answered_upstream.set()
            up.close()
            client.close()            # ... and the agent never hears it
            return
        for a, b in ((client, up), (up, client)):
            threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _read_request(client: socket.socket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            data += client.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
        while len(body) < length:
            body += client.recv(65536)
        return head + b"\r\n\r\n" + body

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop = True
        self.sock.close()
