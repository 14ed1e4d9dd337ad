"""Backups and restores on real store files: the drill (back up while the system runs and writes,
lose the store, restore, compare), damaged and interrupted backups, the rotation, the schedule's
alerts and gauge."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from backup import manifest as mf
from backup.job import BackupCollector, BackupJob
from backup.restore import RestoreRefused, restore
from backup.snapshot import BackupInfo, list_backups, prune, take_backup, to_keep
from store import db
from store.db import Store
from store.ops import find_owner
from tests.system.running import start_system

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 12, 6, 2, 45)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _small_store(path: Path, n: int = 500) -> None:
    with Store(path, memory_limit="512MB") as s, s.transaction() as cur:
        cur.execute(f"""INSERT INTO dossiers (dossier_code, agency_code, channel, received_at, time_limit, time_unit, state)
            SELECT 'HS-' || i, 'AG' || (i % 3), 'online', TIMESTAMP '2026-10-01 08:00' + i * INTERVAL 1 HOUR,
                   5, 'working_days', 'processing' FROM range({n}) t(i)""")


def test_drill_backup_while_the_system_runs_and_writes_then_restore_gives_the_same_store(app_env, tmp_path, run_app):
    """A store with dossiers (recomputed), probe results, a load-test run and compliance events with
    an evidence file, backed up through the running owner while probes and compliance writes go on;
    the store and its evidence lost; the restore equal to the snapshot: every table's rows, Biểu 06
    of a month, and the compliance history's chain intact."""
    from tests.loadtests.test_loadtest_store import _payload

    data = tmp_path / "data"
    probes = tmp_path / "probes.yaml"  # one check a second against the testbed: results keep coming
    probes.write_text('variables: {base_url: "http://127.0.0.1:8088"}\ndefaults: {interval: 1, timeout: 5}\n'
                      'checks:\n  - {name: home, url: "${base_url}/vi", expect: {status: 200}}\n', encoding="utf-8")
    # the status page's services name the shipped probes file's checks: not served with this one
    app_env = {**app_env, "MOTCUA_MONITOR__PROBES": str(probes), "MOTCUA_STATUS_PAGE__ENABLED": "false"}
    proc = start_system(app_env, tmp_path)
    try:
        ops = find_owner(data / "motcua.duckdb")
        assert ops is not None
        deadline = time.time() + 30
        while not len(ops.query("probe_results", probe="home")) and time.time() < deadline:
            time.sleep(0.2)
        rid = ops.compliance("add_request", actor="lan", via="cli", agency="Sở Tư pháp", requested_on="2026-11-05",
                             description="Khôi phục tra cứu QR")["request_id"]
        ops.compliance("attach_file", actor="lan", via="cli", request_id=rid, note="biên bản",
                       file_name="bien-ban.txt", content_b64=base64.b64encode(b"bien ban hop 05/11").decode())
        ops.store_loadtest_run(_payload("drill-1", "v2.0", {"home": (20, 0.0)}, 1))
        month = ops.query("province_month_series", end_month="2026-12", months=1).to_dicts()
        assert month
        writes, stop = [], threading.Event()

        def write() -> None:  # the register keeps growing while the snapshot is taken
            while not stop.is_set():
                writes.append(ops.compliance("add_request", actor="lan", via="cli", agency="Sở Nội vụ",
                                             requested_on="2026-11-06", description=f"yêu cầu {len(writes)}"))

        t = threading.Thread(target=write)
        t.start()
        try:
            done = run_app("backup", "--json", timeout=300, env=app_env)
        finally:
            stop.set()
            t.join()
        assert done.returncode == 0, done.stderr
        res = json.loads(done.stdout)
        assert len(writes) > 0
        path = Path(res["path"])
        assert path.parent == data / "backups" and path.name.startswith("motcua-")
        exported = run_app("export-data", "--out", "analysis", env=app_env)  # through the owner too
        assert exported.returncode == 0, exported.stderr
        assert json.loads((tmp_path / "analysis" / "manifest.json").read_text(encoding="utf-8"))["files"]
        months = [m for m in ops.query("bieu06", month="2026-11", by="agency").to_dicts()]
        stable = {t: ops.query("store_stats").one()[k] for t, k in (("dossiers", "dossiers"),)}
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    m = mf.verify(path)
    assert m.tables["dossiers"] == stable["dossiers"] > 0
    assert m.tables["probe_results"] > 0 and m.tables["loadtest_runs"] == 1 and m.tables["compliance_files"] == 1
    assert m.compliance_head is not None and m.tables["compliance_events"] == m.compliance_head.event_id
    assert any(f.name.startswith("evidence/") for f in m.files)

    # the disaster: the store and the evidence gone
    for p in data.glob("motcua.duckdb*"):
        p.unlink()
    shutil.rmtree(data / "compliance-files")
    done = run_app("restore", str(path), timeout=300, env=app_env)
    assert done.returncode == 0, done.stderr
    assert "restored" in done.stdout and "1 evidence file(s) put back" in done.stdout
    with Store(data / "motcua.duckdb", read_only=True) as s:
        counts = {t: s.cursor().execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in m.tables}
        assert counts == m.tables
        assert s.query("bieu06", month="2026-11", by="agency").to_dicts() == months
        chain = s.query("compliance_history_verify").one()
        assert chain["intact"] and chain["events"] == m.compliance_head.event_id
    evidence = list((data / "compliance-files").rglob("*"))
    assert [p for p in evidence if p.is_file()][0].read_bytes() == b"bien ban hop 05/11"


@pytest.fixture
def backed_up(tmp_path) -> tuple[Path, Path]:
    """(a live store file, a backup of it)."""
    live = tmp_path / "live" / "motcua.duckdb"
    _small_store(live)
    with Store(live) as s:
        cur = s.cursor()
        res = take_backup(cur, tmp_path / "backups", None, NOW)
        cur.close()
    return live, Path(res["path"])


@pytest.mark.parametrize("damage, message", [
    ("flip", "store.duckdb is corrupted: its SHA-256 differs"),
    ("truncate", "store.duckdb has .* bytes where the manifest says"),
    ("missing", "store.duckdb is missing"),
    ("no_manifest", "not a finished backup: it has no manifest.json"),
    ("bad_manifest", "the manifest cannot be read"),
    ("newer", "newer than this program knows"),
])
def test_a_damaged_backup_is_refused_naming_what_is_wrong_and_the_store_stays(backed_up, damage, message):
    live, path = backed_up
    before = _digest(live)
    f = path / mf.STORE_FILE
    if damage == "flip":
        data = bytearray(f.read_bytes())
        data[len(data) // 2] ^= 0x01
        f.write_bytes(bytes(data))
    elif damage == "truncate":
        with open(f, "r+b") as h:
            h.truncate(f.stat().st_size - 4096)
    elif damage == "missing":
        f.unlink()
    elif damage == "no_manifest":
        (path / mf.MANIFEST).unlink()
    elif damage == "bad_manifest":
        (path / mf.MANIFEST).write_text("{not json", encoding="utf-8")
    elif damage == "newer":
        doc = json.loads((path / mf.MANIFEST).read_text(encoding="utf-8"))
        doc["schema_version"] = db.SCHEMA_VERSION + 1
        (path / mf.MANIFEST).write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(mf.BackupInvalid, match=message):
        restore(path, live, force=True, now=NOW)
    assert _digest(live) == before
    assert not list(live.parent.glob("*.restoring*")) and not list(live.parent.glob("*.before-restore-*"))


def test_restore_never_replaces_a_store_without_force_and_keeps_the_replaced_one(backed_up):
    live, path = backed_up
    with Store(live) as s, s.transaction() as cur:  # written after the backup: lost by a restore
        cur.execute("DELETE FROM dossiers WHERE dossier_code = 'HS-1'")
    before = _digest(live)
    with pytest.raises(RestoreRefused, match="exists: restoring would replace it. Add --force"):
        restore(path, live, now=NOW)
    assert _digest(live) == before
    res = restore(path, live, force=True, now=NOW)
    aside = Path(res["kept_aside"])
    assert aside.name.startswith("motcua.duckdb.before-restore-") and _digest(aside) == before
    with Store(live, read_only=True) as s:
        assert s.cursor().execute("SELECT count(*) FROM dossiers").fetchone()[0] == 500


def test_restore_refuses_a_store_another_process_holds(backed_up):
    live, path = backed_up
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb, sys, time; c = duckdb.connect({str(live)!r}); "
                               "print('held', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = _digest(live)
        with pytest.raises(db.StoreLockedError, match="in use by a running motcua-watch"):
            restore(path, live, force=True, now=NOW)
        assert _digest(live) == before
    finally:
        holder.kill()
        holder.wait()


def test_an_older_backup_is_migrated_forward(tmp_path, monkeypatch):
    old = db.SCHEMA_VERSION - 1
    monkeypatch.setattr(db, "MIGRATIONS", [m for m in db.MIGRATIONS if m[0] <= old])
    monkeypatch.setattr(db, "SCHEMA_VERSION", old)
    live = tmp_path / "old.duckdb"
    _small_store(live, 50)
    with Store(live) as s:
        cur = s.cursor()
        path = Path(take_backup(cur, tmp_path / "backups", None, NOW)["path"])
        cur.close()
    monkeypatch.undo()
    assert mf.read(path).schema_version == old
    res = restore(path, tmp_path / "new.duckdb", now=NOW)
    assert res["backup_schema_version"] == old and res["schema_version"] == db.SCHEMA_VERSION
    assert res["tables"]["dossiers"] == 50 and not list(tmp_path.glob("new.duckdb*.bak"))


_KILLED_CHILD = """
import sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from backup import manifest as mf, snapshot
from store.db import Store

def stalled(folder, manifest):
    print("files written", flush=True)
    time.sleep(60)

mf.write = stalled
with Store(Path({store!r})) as s:
    snapshot.take_backup(s.cursor(), Path({folder!r}), None, __import__("datetime").datetime(2026, 12, 6, 2, 45))
"""


def test_a_backup_killed_half_way_leaves_nothing_that_looks_complete(tmp_path):
    live, folder = tmp_path / "motcua.duckdb", tmp_path / "backups"
    _small_store(live)
    child = subprocess.Popen([sys.executable, "-c", _KILLED_CHILD.format(root=str(ROOT), store=str(live),
                                                                          folder=str(folder))],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "files written"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    partial = [p for p in folder.iterdir()]
    assert len(partial) == 1 and partial[0].name.startswith(".partial-motcua-")
    assert (partial[0] / mf.STORE_FILE).is_file() and not (partial[0] / mf.MANIFEST).exists()
    assert list_backups(folder) == []
    with pytest.raises(mf.BackupInvalid, match="not a finished backup"):
        mf.verify(partial[0])
    with Store(live) as s:  # the next backup clears it away
        cur = s.cursor()
        res = take_backup(cur, folder, None, NOW)
        cur.close()
    assert [p.name for p in folder.iterdir()] == [Path(res["path"]).name]
    assert mf.verify(Path(res["path"])).tables["dossiers"] == 500


def _info(t: dt.datetime) -> BackupInfo:
    return BackupInfo(Path(f"/b/motcua-{t:%Y%m%d-%H%M%S}"), t, 1)


def test_the_rotation_keeps_the_newest_of_each_recent_day_and_month():
    days = [dt.datetime(2026, 12, 6, 2, 45) - dt.timedelta(days=d) for d in range(0, 120)]
    extra = [dt.datetime(2026, 12, 6, 14, 0), dt.datetime(2026, 12, 5, 1, 0)]  # a manual one beside the daily
    kept = {p.name for p in to_keep([_info(t) for t in days + extra], keep_daily=7, keep_monthly=3)}
    expect = {f"motcua-{t:%Y%m%d-%H%M%S}" for t in
              [dt.datetime(2026, 12, 6, 14, 0)] + days[1:7]  # the newest of each of the last 7 days
              + [dt.datetime(2026, 11, 30, 2, 45), dt.datetime(2026, 10, 31, 2, 45)]}  # and of 3 months
    assert kept == expect


def test_prune_removes_only_what_the_rotation_drops(tmp_path):
    live = tmp_path / "motcua.duckdb"
    _small_store(live, 10)
    folder = tmp_path / "backups"
    (folder / "notes").mkdir(parents=True)  # something of the operator's: never touched
    with Store(live) as s:
        for d in range(4):
            cur = s.cursor()
            take_backup(cur, folder, None, NOW - dt.timedelta(days=d))
            cur.close()
    gone = prune(folder, keep_daily=2, keep_monthly=0)
    assert len(gone) == 2 and sorted(p.name for p in folder.iterdir()) == sorted(
        ["notes", f"motcua-{NOW:%Y%m%d-%H%M%S}", f"motcua-{NOW - dt.timedelta(days=1):%Y%m%d-%H%M%S}"])


def test_the_job_alerts_on_a_failure_and_on_an_old_backup_and_exposes_the_age(tmp_path):
    live = tmp_path / "motcua.duckdb"
    _small_store(live, 10)
    clock = [NOW]
    fail = [True]
    with Store(live) as s:
        def take():
            if fail[0]:
                raise OSError(28, "No space left on device")
            cur = s.cursor()
            try:
                return take_backup(cur, tmp_path / "backups", None, clock[0])
            finally:
                cur.close()

        job = BackupJob(take, tmp_path / "backups", 7, 12, 26, lambda: clock[0])
        assert job.due() and job.conditions() == []  # nothing tried yet
        assert job() is None
        keys = {c.key: c for c in job.conditions()}
        assert set(keys) == {"backup:failed", "backup:stale"}
        assert "No space left on device" in keys["backup:failed"].detail
        assert "Sao lưu" in keys["backup:failed"].title
        fail[0] = False
        assert job()["path"] and job.conditions() == [] and not job.due()
        metrics = {m.name: m.samples[0].value for m in BackupCollector(job).collect()}
        assert metrics["motcua_backup_last_attempt_ok"] == 1.0 and metrics["motcua_backup_age_seconds"] == 0.0
        clock[0] = NOW + dt.timedelta(hours=30)
        stale = job.conditions()
        assert [c.key for c in stale] == ["backup:stale"] and "30 giờ (ngưỡng 26 giờ)" in stale[0].detail
        metrics = {m.name: m.samples[0].value for m in BackupCollector(job).collect()}
        assert metrics["motcua_backup_age_seconds"] == 30 * 3600


def test_a_failed_backup_reaches_the_alert_channels_and_its_end_is_said(tmp_path, app_env, webhook):
    import yaml

    from config.app import load_config
    from system import Motcua

    hooks, port = webhook
    alerts = tmp_path / "alerts.yaml"
    alerts.write_text(yaml.safe_dump({"channels": [{"name": "it", "url": f"json://127.0.0.1:{port}/it"}]}),
                      encoding="utf-8")
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the backups folder should be", encoding="utf-8")
    cfg = load_config(environ=dict(app_env, MOTCUA_MONITOR__ALERTS=str(alerts), MOTCUA_BACKUP__FOLDER=str(blocked)))
    app = Motcua(cfg)
    try:
        assert app.backup_job() is None and app.backup_job.last_error
        app.evaluate_alerts()
        titles = [h["title"] for h in hooks]
        assert any("Sao lưu kho dữ liệu thất bại" in t for t in titles), titles
        assert any("Chưa có bản sao lưu nào" in t for t in titles), titles
        blocked.unlink()
        assert app.backup_job()["path"]
        app.evaluate_alerts()
        assert len(hooks) == 4 and all("Sao lưu" in h["title"] or "sao lưu" in h["title"] for h in hooks[2:])
    finally:
        app.close()


def test_a_disk_too_small_is_said_before_anything_is_written(backed_up, tmp_path, monkeypatch):
    live, path = backed_up
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=1000))
    with Store(live) as s:
        cur = s.cursor()
        with pytest.raises(mf.NoRoom, match="not enough free disk space for a backup: 0 MB free"):
            take_backup(cur, tmp_path / "backups", None, NOW + dt.timedelta(hours=1))
        cur.close()
    assert [p.name for p in (tmp_path / "backups").iterdir()] == [path.name]
    with pytest.raises(mf.NoRoom, match="not enough free disk space for the restore"):
        restore(path, tmp_path / "elsewhere.duckdb", now=NOW)
    assert not list(tmp_path.glob("elsewhere*"))
