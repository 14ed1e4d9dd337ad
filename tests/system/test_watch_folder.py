"""The whole system (`app.py run`) takes a file dropped into its watch folder within seconds, with
no poll due for an hour: the file-system event brings it in, and the owner's API counts it."""
from __future__ import annotations

import signal
import time
from pathlib import Path

from config.app import load_config
from config.mapping import DOSSIER_COLUMNS
from imports.sample import dossier_rows
from store.ops import find_owner
from tests.system.running import start_system


def test_a_file_dropped_into_the_running_systems_folder_is_counted_within_seconds(app_env, tmp_path):
    env = app_env | {"MOTCUA_INBOX__POLL_SECONDS": "3600", "MOTCUA_DASHBOARD__ENABLED": "false"}
    cfg = load_config(environ=env)
    proc = start_system(env, tmp_path)
    try:
        ops = find_owner(cfg.store.path)
        before = ops.status()["dossiers"]
        assert before > 0
        time.sleep(0.5)  # its first look at the folder (at start) is over
        csv = "\n".join([",".join(DOSSIER_COLUMNS)] + [",".join(r) for r in dossier_rows(25, prefix="EV")])
        landed = time.monotonic()
        (Path(env["MOTCUA_INBOX__PATH"]) / "drop.csv").write_text(csv + "\n", encoding="utf-8")
        while time.monotonic() - landed < 15 and ops.status()["dossiers"] == before:
            time.sleep(0.1)
        took = time.monotonic() - landed
        assert ops.status()["dossiers"] == before + 25
        # settled and waited for an events file (2.5 s), imported; far from the hour of the poll
        assert took < cfg.inbox.events_wait_seconds + 3, took
    finally:
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=60)[0]
    assert proc.returncode == 0, rest
    assert "Traceback" not in rest and "cannot watch" not in rest
