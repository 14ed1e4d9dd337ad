"""Shared fixtures: a config pointing at a fresh store file, a fresh store, the system over it (alone
or serving the store as its owner), the SLA engine on the shipped rules, a subprocess runner for
app.py, and a webhook receiver."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.app import AppConfig, load_config
from sla_rules.engine import SlaEngine
from store.db import Store
from store.service import StoreService
from system import Motcua

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def app_env(tmp_path) -> dict[str, str]:
    """Environment that points app.py at a private store, inbox and a small demo province."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    env.update({
        "MOTCUA_STORE__PATH": str(tmp_path / "data" / "motcua.duckdb"),
        "MOTCUA_INBOX__PATH": str(tmp_path / "data" / "inbox"),
        "MOTCUA_INBOX__ARCHIVE": str(tmp_path / "data" / "archive"),
        "MOTCUA_INBOX__REJECTED": str(tmp_path / "data" / "rejected"),
        "MOTCUA_INBOX__POLL_SECONDS": "0.2",
        "MOTCUA_SERVICE__PORT": "0",
        "MOTCUA_METRICS__PORT": "0",
        "MOTCUA_TESTBED__PORT": "0",
        "MOTCUA_DASHBOARD__PORT": "0",     # the dashboard picks a free port
        "MOTCUA_STATUS_PAGE__PORT": "0",
        "MOTCUA_DEMO__MONTHS": "2",
        "MOTCUA_DEMO__DOSSIERS_PER_MONTH": "400",
        "PYTHONUNBUFFERED": "1",
    })
    return env


@pytest.fixture
def app_cfg(app_env) -> AppConfig:
    return load_config(environ=app_env)


@pytest.fixture
def app(app_cfg):
    """The system over the private store, as `app.py` builds it."""
    a = Motcua(app_cfg)
    yield a
    a.close()


@pytest.fixture
def owner(app_cfg):
    """The system serving its store on loopback, as `app.py run` does: (system, service)."""
    a = Motcua(app_cfg)
    service = StoreService(a, app_cfg.store.path, "127.0.0.1", 0)
    service.start()
    yield a, service
    service.stop()
    a.close()


@pytest.fixture
def store(tmp_path):
    """A fresh, migrated store file of its own (512 MB is plenty for the rows any test writes here)."""
    with Store(tmp_path / "store.duckdb", memory_limit="512MB") as s:
        yield s


@pytest.fixture(scope="module")
def engine() -> SlaEngine:
    """The SLA engine on the shipped rule set and calendar overrides (a module's tests share it)."""
    cfg = AppConfig()
    return SlaEngine.from_files(cfg.sla.rule_set, cfg.sla.calendar_overrides)


@pytest.fixture
def run_app(app_env, tmp_path):
    """Run `python app.py ARGS` as a user would; returns the CompletedProcess."""

    def run(*args: str, timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(ROOT / "app.py"), *args], capture_output=True, text=True,
                              env=env or app_env, cwd=tmp_path, timeout=timeout)

    return run


@pytest.fixture
def webhook():
    """A real webhook receiver on loopback: (list of received JSON bodies, port)."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[dict] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield received, srv.server_address[1]
    srv.shutdown()
    srv.server_close()
