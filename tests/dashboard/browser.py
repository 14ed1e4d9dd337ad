"""`app.py run` as a user starts it, for the tests that drive the dashboard in Debian's chromium
(Playwright): its environment on free ports, the running system, its store's owner, and signing in."""
from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
PASSWORD = "browser-test-pw1"
# the browser tests' mark: skipped, saying why, where Debian's chromium is missing
NEEDS_CHROMIUM = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed "
                                    "(`make test` installs it when run as root: apt-get install chromium)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dashboard_env(app_env) -> dict[str, str]:
    return dict(app_env, MOTCUA_DASHBOARD__PORT=str(free_port()), MOTCUA_DASHBOARD__HOST="127.0.0.1")


def running_system(env: dict[str, str], tmp_path: Path, where: str = r"dashboard\s+(http://\S+)"):
    """`app.py run` as a user starts it; yields what it said and the address its banner gives on
    the line `where` matches (the dashboard's by default), then stops it with Ctrl-C."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "run"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path)
    lines: list[str] = []
    deadline = time.time() + 240
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if "Press Ctrl-C" in line:
            break
    out = "\n".join(lines)
    m = re.search(where, out)
    if not m:
        proc.kill()
        proc.wait(30)
    assert m, f"the run command did not say where it listens ({where}):\n{out}"
    info = {"proc": proc, "url": m.group(1), "out": out, "env": env, "tmp": tmp_path}
    try:
        yield info
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()


def owner_of(env):
    from store.ops import find_owner

    ops = find_owner(env["MOTCUA_STORE__PATH"])
    assert ops is not None, "the running system owns the store"
    return ops


def login_as(page, url: str, user: str) -> None:
    page.goto(url)
    page.get_by_label("Tên đăng nhập").fill(user)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.get_by_role("button", name="Đăng xuất").wait_for(timeout=60_000)
