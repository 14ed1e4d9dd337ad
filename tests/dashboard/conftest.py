"""The dashboard tests' shared fixtures: the demo province in a store, with probe results from the
testbed and an account of every role (AppTest); and `app.py run` with an account of every role
(the browser tests)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from config.app import load_config
from system import Motcua
from tests.dashboard.apptest import END, add_users, env_for
from tests.dashboard.browser import PASSWORD, ROOT, dashboard_env, running_system


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A store with two months of the demo province, recomputed, and probe results from the testbed."""
    from probes.runner import run_once
    from testbed.portal.server import running

    tmp = tmp_path_factory.mktemp("dash")
    store = tmp / "data" / "motcua.duckdb"
    env = env_for(tmp, store)
    cfg = load_config(environ=env)
    app = Motcua(cfg)
    app.demo_data(months=2, per_month=600, end=END)
    with running("v2.0", port=0) as base:
        run_once(cfg.monitor.probes, store=app.store, base_url=base)
    app.close()
    add_users(tmp / "users.json")
    return {"tmp": tmp, "env": env, "cfg": cfg}


@pytest.fixture
def store_env(world, monkeypatch):
    for k in [k for k in os.environ if k.startswith("MOTCUA_")]:
        monkeypatch.delenv(k)
    for k, v in world["env"].items():
        monkeypatch.setenv(k, v)
    return world


@pytest.fixture
def system(app_env, tmp_path, run_app):
    """`app.py run` on a small demo, with an account of every role; stopped with Ctrl-C."""
    env = dashboard_env(app_env)
    for name, role, extra in (("lanhdao", "leadership", []), ("quantri", "admin", []),
                              ("cqstp", "agency", ["--agency", "QNG.SNNMT"]), ("cntt", "ict", []),
                              ("nhacc", "vendor", [])):
        r = subprocess.run([sys.executable, str(ROOT / "app.py"), "user", "add", name, "--role", role,
                            "--password-stdin", *extra], input=PASSWORD + "\n", capture_output=True, text=True,
                           env=env, cwd=tmp_path, timeout=60)
        assert r.returncode == 0, r.stderr
        assert PASSWORD not in r.stdout + r.stderr, "a password is never printed"
    yield from running_system(env, tmp_path)
