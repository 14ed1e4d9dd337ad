"""config/app.py: embedded defaults, the file, environment overrides and plain messages."""
from __future__ import annotations

from pathlib import Path

import pytest

from config.app import AppConfig, load_config
from config.errors import ConfigError


def test_defaults_without_any_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no config/motcua.yaml here: embedded defaults
    cfg = load_config(environ={})
    assert cfg == AppConfig()
    assert cfg.store.path == Path("data/motcua.duckdb")
    assert cfg.timezone == "Asia/Ho_Chi_Minh"
    assert cfg.sla.rule_set.exists(), "the default rule set ships with the package"


def test_shipped_file_equals_the_embedded_defaults():
    shipped = load_config(Path(__file__).parents[2] / "config" / "motcua.yaml", environ={})
    assert shipped == AppConfig()


def test_environment_overrides_nested_values(tmp_path):
    cfg = load_config(environ={"MOTCUA_STORE__PATH": str(tmp_path / "x.duckdb"), "MOTCUA_SERVICE__PORT": "9001",
                               "MOTCUA_INBOX__POLL_SECONDS": "0.5"})
    assert cfg.store.path == tmp_path / "x.duckdb"
    assert cfg.service.port == 9001
    assert cfg.inbox.poll_seconds == 0.5


def test_explicit_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml", environ={})


@pytest.mark.parametrize("text, needle", [
    ("store:\n  memory_limit: [1, 2]\n", "store.memory_limit"),
    ("service:\n  host: 0.0.0.0\n", "loopback only"),
    ("timezone: Mars/Olympus\n", "unknown time zone"),
    ("stor:\n  path: x\n", "stor"),
    ("store: {path: [\n", "not valid YAML (line"),
    ("- just\n- a list\n", "mapping of settings"),
])
def test_bad_values_name_the_file_and_the_field(tmp_path, text, needle):
    p = tmp_path / "motcua.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(p, environ={})
    assert str(p) in str(err.value) and needle in str(err.value)


def test_bad_environment_value_is_named(tmp_path):
    p = tmp_path / "a.yaml"
    p.write_text("{}", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(p, environ={"MOTCUA_SERVICE__PORT": "not-a-port"})
    assert "environment" in str(err.value) and "service.port" in str(err.value)


def test_secrets_in_the_environment_are_not_taken_for_settings(tmp_path, run_app, app_env):
    """The probes' secrets (MOTCUA_SECRET_<NAME>, MOTCUA_SECRETS_FILE) and single sign-on's share the
    prefix: every command still runs; a top-level value and a section's typo are still read."""
    secrets = {"MOTCUA_SECRET_PORTAL_PASSWORD": "s3cret-value", "MOTCUA_SECRETS_FILE": str(tmp_path / "s.yaml"),
               "MOTCUA_OIDC_CLIENT_SECRET": "x", "MOTCUA_OIDC_COOKIE_SECRET": "y"}
    cfg = load_config(environ={**secrets, "MOTCUA_TIMEZONE": "Asia/Bangkok"})
    assert cfg.timezone == "Asia/Bangkok"
    r = run_app("check-config", env={**app_env, **secrets})
    assert r.returncode == 0, r.stdout + r.stderr
    with pytest.raises(ConfigError, match="stor"):
        load_config(environ={**secrets, "MOTCUA_STOR__PATH": "x.duckdb"})
