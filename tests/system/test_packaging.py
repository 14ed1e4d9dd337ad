"""pyproject.toml: the build that `pip install -e .` runs (setuptools) says nothing about data in
folders it was not told are packages, and a built distribution carries every module and every
data file (YAML defaults, SQL migrations, the dashboard's icon) the code reads at run time."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# what is not part of the distribution, or made by running things
NOT_SOURCE = (".git", ".venv", "data", "build", "dist", "tests", "benchmarks", "__pycache__", ".pytest_cache",
              ".hypothesis", "*.egg-info", "*.pyc")


def test_build_declares_every_package_and_carries_every_data_file(tmp_path):
    pytest.importorskip("setuptools", reason="setuptools, the build backend, is not installed in this environment")
    src, out = tmp_path / "src", tmp_path / "lib"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    # setuptools reads [project] and [tool.setuptools] of pyproject.toml; build_py lays out what a
    # wheel would hold (and is where setuptools warns about undeclared data folders)
    r = subprocess.run([sys.executable, "-W", "always", "-c", "import setuptools; setuptools.setup()",
                        "build_py", "--build-lib", str(out)], cwd=src, capture_output=True, text=True, timeout=300)
    said = r.stdout + r.stderr
    assert r.returncode == 0, said
    assert "would be ignored" not in said and "absent from the `packages`" not in said, said
    packages = [d for d in src.iterdir() if (d / "__init__.py").is_file()]
    expected = {p.relative_to(src).as_posix() for d in packages for p in d.rglob("*") if p.is_file()}
    expected |= {p.name for p in src.glob("*.py") if p.name != "setup.py"}  # app.py, system.py
    got = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert {"app.py", "system.py", "dashboard/static/favicon.png", "config/rules/vn-default.yaml",
            "store/migrations/001_initial.sql", "testbed/reference/quang_ngai.yaml"} <= expected
    assert not expected - got, f"left out of the distribution: {sorted(expected - got)}"
