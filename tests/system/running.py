"""`app.py run` as a user starts it, for the tests of the whole system."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def start_system(app_env: dict, cwd: Path, timeout: float = 180) -> subprocess.Popen:
    """The running system, once its banner is printed (its output stays readable on proc.stdout)."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "run"], env=app_env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        out.append(line)
        if "Press Ctrl-C" in line:
            return proc
    proc.kill()
    raise AssertionError("app.py run did not start:\n" + "".join(out))
