"""`make test` on a fresh machine: the Debian tools some tests use are installed by
.ci/system-tools when it can (root with apt-get), and otherwise named with what that skips; it
never fails. The Makefile's test target runs it before pytest, and .ci/run runs `make test`."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / ".ci" / "system-tools"


def _run(tmp_path, tools: dict[str, str], chromium: Path) -> subprocess.CompletedProcess:
    """The script with a PATH holding only `tools` (name → program): no apt-get, so nothing is
    installed whoever runs it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, target in {"id": shutil.which("id"), **tools}.items():
        (bin_dir / name).symlink_to(target)
    env = {"PATH": str(bin_dir), "PYTHON": sys.executable, "CHROMIUM": str(chromium)}
    return subprocess.run([shutil.which("bash"), str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)


def test_missing_tools_are_named_with_what_they_skip_and_never_fail(tmp_path):
    r = _run(tmp_path, {}, tmp_path / "no-chromium")
    assert r.returncode == 0, r.stderr
    assert "no promtool (Debian package prometheus): the tests of deploy/ are skipped" in r.stdout
    assert f"no {tmp_path / 'no-chromium'} (Debian package chromium): the browser tests are skipped" in r.stdout
    assert "install them as root (apt-get install prometheus chromium)" in r.stdout
    assert "installing" not in r.stdout


def test_nothing_is_said_when_the_tools_are_there(tmp_path):
    true = shutil.which("true")
    r = _run(tmp_path, {"promtool": true}, Path(true))
    assert r.returncode == 0 and r.stdout == "" and r.stderr == ""


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_test_runs_the_tools_script_before_the_tests():
    r = subprocess.run(["make", "-n", "-C", str(ROOT), "test"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    tools = next(i for i, line in enumerate(lines) if "bash .ci/system-tools" in line)
    tests = next(i for i, line in enumerate(lines) if "-m pytest" in line)
    assert tools < tests
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
