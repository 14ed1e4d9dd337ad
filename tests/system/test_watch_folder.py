"""The whole system (`app.py run`) takes a file dropped into its watch folder within seconds, with
no poll due for an hour: the file-system event brings it in, and the owner's API counts it. An
events file dropped after it is imported alone, through the owner's own import, and the figures
are recomputed after it."""
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
        # settled (0.5 s) and imported, with no wait for an events file; far from the hour of the poll
        assert took < cfg.inbox.settle_seconds + 2.5, took

        # its events file, late: applied to the stored dossier, the unknown dossier's event quarantined
        before = ops.status()
        landed = time.monotonic()
        (Path(env["MOTCUA_INBOX__PATH"]) / "drop.events.csv").write_text(
            "dossier_code,event,at,detail\nEV000000001,supplement_requested,2024-06-01 09:00,\n"
            "NOBODY-1,supplement_requested,2024-06-01 09:00,\n", encoding="utf-8")
        while time.monotonic() - landed < 15 and Path(ops.status()["last_import_file"]).name != "drop.events.csv":
            time.sleep(0.1)
        took = time.monotonic() - landed
        after = ops.status()
        assert Path(after["last_import_file"]).name == "drop.events.csv"
        assert cfg.inbox.events_wait_seconds <= took < cfg.inbox.events_wait_seconds + 3, took
        assert (after["dossier_events"], after["quarantined_rows"], after["dossiers"]) == \
            (before["dossier_events"] + 1, before["quarantined_rows"] + 1, before["dossiers"])
        # on_imported after it: the figures are recomputed
        while time.monotonic() - landed < 30 and (ops.status()["last_recompute_at"] or after["last_import_at"]) \
                < after["last_import_at"]:
            time.sleep(0.1)
        assert ops.status()["last_recompute_at"] >= after["last_import_at"]
    finally:
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=60)[0]
    assert proc.returncode == 0, rest
    assert "Traceback" not in rest and "cannot watch" not in rest
