"""Starting the dashboard as a child process of `app.py run` (Streamlit runs its own server).

`python -m streamlit run dashboard/app.py` with the address and port from the config, headless,
no usage statistics, the viewer toolbar (no "Deploy" button), error details hidden from the
page (the dashboard shows plain messages itself), and no built-in export of tables: Streamlit's
CSV download and copy of a table write its cells as they are, so a name from an imported file
such as "=cmd|..." would run as a formula in a spreadsheet (the pages offer their own downloads,
made safe by config/cells.py). Its output goes to data/logs/dashboard.log (mode 0600, ID- and phone-shaped values masked).
When OIDC is configured, st.login's [auth] settings are written to a private secrets file
(mode 0600, removed when the dashboard stops); the secrets themselves come from the environment.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from config.app import AppConfig
from config.errors import MotcuaError
from config.redact import mask_text

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "dashboard" / "app.py"


class DashboardStartError(MotcuaError):
    """The dashboard did not start; the message says why and what to change."""


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host if host != "localhost" else "127.0.0.1", 0))
        return s.getsockname()[1]


def _toml_str(v: str) -> str:
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _secrets_file(cfg: AppConfig, environ: dict[str, str]) -> Path | None:
    o = cfg.dashboard.oidc
    if not o.enabled:
        return None
    missing = [n for n in (o.client_secret_env, o.cookie_secret_env) if not environ.get(n)]
    if missing:
        raise DashboardStartError(f"OIDC is enabled but {', '.join(missing)} is not set in the environment")
    fd, name = tempfile.mkstemp(prefix="motcua-dashboard-", suffix=".toml")
    with os.fdopen(fd, "w", encoding="utf-8") as f:  # mkstemp: mode 0600
        f.write("[auth]\n")
        for k, v in (("redirect_uri", o.redirect_uri), ("cookie_secret", environ[o.cookie_secret_env]),
                     ("client_id", o.client_id), ("client_secret", environ[o.client_secret_env]),
                     ("server_metadata_url", o.server_metadata_url)):
            f.write(f"{k} = {_toml_str(v)}\n")
    return Path(name)


def _copy_masked(out, path: Path) -> None:  # noqa: ANN001 - the child's stdout pipe
    """Streamlit's own output into its log file (mode 0600), ID- and phone-shaped values masked as
    in every log of the system, until the child ends."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with open(fd, "a", encoding="utf-8", errors="replace") as log:
        for raw in iter(out.readline, b""):
            try:
                log.write(mask_text(raw.decode("utf-8", errors="replace")))
                log.flush()
            except OSError:  # a full disk: the dashboard goes on without its log
                pass
    out.close()


class Dashboard:
    """The Streamlit child process: start() waits until it answers; stop() ends it cleanly."""

    def __init__(self, cfg: AppConfig, config_path: str | None = None, environ: dict[str, str] | None = None) -> None:
        self.cfg = cfg
        self.config_path = config_path
        self.environ = dict(os.environ if environ is None else environ)
        self.host = cfg.dashboard.host
        self.port = cfg.dashboard.port or _free_port(cfg.dashboard.host)
        self.proc: subprocess.Popen | None = None
        self._secrets: Path | None = None
        self.log_path = cfg.store.path.parent / "logs" / "dashboard.log"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "streamlit", "run", str(SCRIPT),
               "--server.address", self.host, "--server.port", str(self.port),
               "--server.headless", "true", "--browser.gatherUsageStats", "false",
               "--client.toolbarMode", "viewer", "--client.showErrorDetails", "none",
               "--client.disableDataExport", "true",
               "--server.fileWatcherType", "none", "--server.runOnSave", "false",
               "--theme.base", "light", "--theme.primaryColor", "#1f5fa8"]
        if self._secrets is not None:
            cmd += ["--secrets.files", str(self._secrets)]
        return cmd

    def start(self, timeout: float = 60.0) -> str:
        self._secrets = _secrets_file(self.cfg, self.environ)
        env = dict(self.environ)
        if self.config_path:
            env["MOTCUA_CONFIG"] = str(Path(self.config_path).resolve())
        env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        self._copier = threading.Thread(target=_copy_masked, args=(self.proc.stdout, self.log_path),
                                        name="dashboard-log", daemon=True)
        self._copier.start()
        deadline = time.monotonic() + timeout
        health = f"http://{'127.0.0.1' if self.host == 'localhost' else self.host}:{self.port}/_stcore/health"
        while True:
            if self.proc.poll() is not None:
                self._copier.join(2)
                tail = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-5:]
                self.stop()
                raise DashboardStartError(f"the dashboard stopped at start on {self.host}:{self.port}: "
                                          f"{' / '.join(tail) or 'no output'}; set dashboard.port or "
                                          "MOTCUA_DASHBOARD__PORT (see " + str(self.log_path) + ")")
            try:
                if httpx.get(health, timeout=1.0).status_code == 200:
                    return self.url
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise DashboardStartError(f"the dashboard did not answer within {timeout:.0f} s (see {self.log_path})")
            time.sleep(0.2)

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._secrets is not None:
            self._secrets.unlink(missing_ok=True)
            self._secrets = None
