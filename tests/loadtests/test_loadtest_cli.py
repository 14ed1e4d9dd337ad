"""`app.py loadtest` as the README tells an operator to run it: from a working folder with the
default configuration's relative paths (the store under ./data), against the testbed on loopback,
then the English report beside the Vietnamese one."""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from testbed.portal.server import running

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def readme_loadtest_command() -> list[str]:
    """The first `app.py loadtest --scenario ...` command of the README's load-test section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### Load-testing a release"):]
    section = section[:section.index("\n### ", 1)]
    m = re.search(r"^\S*python app\.py (loadtest --scenario [^#\n\\]+)", section, re.M)
    assert m, "the README's load-test section shows no `app.py loadtest --scenario` command"
    return shlex.split(m.group(1))


def test_the_readmes_loadtest_command_runs_with_the_default_relative_paths(app_env, tmp_path):
    args = readme_loadtest_command()
    assert args[:3] == ["loadtest", "--scenario", "smoke"] and "--target" in args
    # the default configuration: the store at the relative data/motcua.duckdb, from a fresh folder
    env = {k: v for k, v in app_env.items() if not k.startswith(("MOTCUA_STORE__", "MOTCUA_INBOX__"))}
    work = tmp_path / "site"
    work.mkdir()

    def app(*a: str, timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(ROOT / "app.py"), *a], cwd=work, env=env, capture_output=True,
                              text=True, timeout=timeout)

    with running("v2.0") as base:
        args[args.index("--target") + 1] = base
        r = app(*args, "--users", "10", "--duration", "5s")
    out = r.stdout + r.stderr
    assert "Traceback" not in out and "FileNotFoundError" not in out, out
    assert r.returncode in (0, 1), out                       # 1: release 2.0 fails the smoke criteria
    runs = sorted((work / "data" / "loadtests").iterdir())
    assert len(runs) == 1, out
    run_dir = runs[0]
    assert (run_dir / "spec.json").is_file() and (run_dir / "locust_stats.csv").is_file()
    assert re.search(rf"Run {run_dir.name} completed: [1-9]\d* requests", r.stdout), out
    vi = run_dir / "report.html"
    assert f"Report: {vi.resolve()}" in r.stdout
    vi_text = vi.read_text(encoding="utf-8")
    assert "Báo cáo kiểm thử tải" in vi_text

    # the English report is a second file: the run's Vietnamese report stays as it was
    r = app("loadtest", "report", "last", "--lang", "en", timeout=120)
    en = run_dir / "report.en.html"
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == f"Report (English): {en.resolve()}"
    assert "Load-test report" in en.read_text(encoding="utf-8") and "Báo cáo kiểm thử tải" not in en.read_text(
        encoding="utf-8")
    assert vi.read_text(encoding="utf-8") == vi_text
    r = app("loadtest", "report", run_dir.name, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == f"Report (Vietnamese): {vi.resolve()}"
