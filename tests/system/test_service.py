"""The one-writer design: the owner serves the store on loopback; other processes use it."""
from __future__ import annotations

import json
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from dashboard.users import UserFile
from store.ops import OperationError, find_owner, owner_file
from store.service import StoreService
from system import Motcua, open_ops, run_system
from tests.system.running import start_system

ROOT = Path(__file__).resolve().parents[2]

CSV = (
    "dossier_code,agency_code,agency_name,procedure_code,procedure_name,field,channel,received_at,time_limit,"
    "time_unit,state,finished_at\n"
    "T-1,AG1,Sở Tư pháp,P1,Cấp phiếu lý lịch tư pháp,Tư pháp,online,2026-03-02 08:00,5,working_days,finished,"
    "2026-03-05 09:00\n"
    "T-2,AG1,Sở Tư pháp,P1,Cấp phiếu lý lịch tư pháp,Tư pháp,direct,2026-03-02 08:00,5,working_days,processing,\n"
)


def test_client_finds_the_owner_and_gets_the_same_answers(owner, app_cfg, tmp_path):
    app, service = owner
    ops = open_ops(app_cfg)
    assert ops.remote and ops.local_store is None  # the owner's store, over its API
    f = tmp_path / "d.csv"
    f.write_text(CSV, encoding="utf-8")
    res = ops.import_file(str(f))
    assert res["inserted"] == 2
    ops.recompute("2026-03-20")
    remote = ops.query("dossier_detail", code="T-1")
    local = app.query("dossier_detail", code="T-1")
    assert remote.columns == local.columns and remote.rows == local.rows
    assert ops.status()["dossiers"] == 2


def test_owner_refuses_requests_without_its_token(owner):
    _, service = owner
    host, port = service.address
    r = httpx.get(f"http://{host}:{port}/health")
    assert r.status_code == 403
    r = httpx.post(f"http://{host}:{port}/query/store_stats", json={}, headers={"X-Motcua-Token": "guess"})
    assert r.status_code == 403


def test_owner_file_is_private_and_removed_on_stop(app_cfg):
    app = Motcua(app_cfg)
    service = StoreService(app, app_cfg.store.path)
    service.start()
    path = owner_file(app_cfg.store.path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    service.stop()
    app.close()
    assert not path.exists()


def test_errors_come_back_as_messages_and_the_owner_keeps_serving(owner, app_cfg):
    ops = open_ops(app_cfg)
    with pytest.raises(OperationError, match="unknown query"):
        ops.query("no_such_query")
    with pytest.raises(OperationError, match="not found|No such file"):
        ops.import_file("/nonexistent/file.csv")
    assert ops.status()["dossiers"] == 0


def test_a_stale_owner_file_is_ignored(app_cfg):
    app_cfg.store.path.parent.mkdir(parents=True, exist_ok=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    owner_file(app_cfg.store.path).write_text(json.dumps(
        {"pid": int(dead.stdout), "host": "127.0.0.1", "port": 9, "token": "x"}), encoding="utf-8")
    assert find_owner(app_cfg.store.path) is None
    assert open_ops(app_cfg).remote is False


def test_run_system_in_process_serves_and_stops(app_cfg):
    stop = threading.Event()
    lines: list[str] = []
    t = threading.Thread(target=run_system, args=(app_cfg, stop, lines.append), daemon=True)
    t.start()
    deadline = time.time() + 120
    while not any("Press Ctrl-C" in line for line in lines) and time.time() < deadline and t.is_alive():
        time.sleep(0.1)
    assert any("store API" in line for line in lines), lines
    metrics_line = next(line for line in lines if "/metrics" in line)
    scraped = httpx.get(metrics_line.split()[-1], timeout=10)
    assert scraped.status_code == 200
    # the probes file's checks are declared at zero, a failure counter beside each run counter
    assert 'motcua_probe_failures_total{check="dvcqg-sync",location="central"}' in scraped.text
    ops = find_owner(app_cfg.store.path)
    assert ops is not None and ops.status()["dossiers"] > 0
    # the owner's recompute checkpoints (the file would grow by a set of results at each one):
    # a reader that began before a recompute's commit may refuse one, never three in a row
    assert any(ops.recompute().get("checkpointed") for _ in range(3))
    # a first start creates the account `admin`, its random password in a 0600 file (never printed)
    pw_file = app_cfg.store.path.parent / "initial-admin-password.txt"
    assert any(str(pw_file) in line for line in lines), lines
    password = pw_file.read_text(encoding="utf-8").strip()
    assert len(password) >= 12 and stat.S_IMODE(pw_file.stat().st_mode) == 0o600
    assert not any(password in line for line in lines)
    users = UserFile(app_cfg.users_file)
    assert users.authenticate("admin", password).role == "admin"
    assert users.authenticate("admin", password + "x") is None
    stop.set()
    t.join(timeout=30)
    assert not t.is_alive()
    assert not owner_file(app_cfg.store.path).exists()
    # an accounts file that exists (even with every account removed) is never refilled
    users.remove("admin")
    pw_file.unlink()
    assert users.ensure_first_admin(pw_file) is None and not pw_file.exists() and users.load() == {}


def test_whole_system_while_running_cli_and_watch_folder_never_hit_the_lock(app_env, tmp_path, run_app):
    proc = start_system(app_env, tmp_path)
    try:
        st = run_app("status", "--json")
        assert st.returncode == 0, st.stderr
        before = json.loads(st.stdout)["dossiers"]
        assert before > 0  # demo data was generated on the empty store

        f = tmp_path / "export.csv"
        f.write_text(CSV, encoding="utf-8")
        imp = run_app("import", str(f), "--json")
        assert imp.returncode == 0, imp.stderr
        assert json.loads(imp.stdout)["inserted"] == 2

        inbox = Path(app_env["MOTCUA_INBOX__PATH"])
        (inbox / "drop.csv").write_text(CSV.replace("T-1", "T-3").replace("T-2", "T-4"), encoding="utf-8")
        (inbox / "broken.csv").write_bytes(b"\x00\x01\x02 not a csv")
        archive, rejected = Path(app_env["MOTCUA_INBOX__ARCHIVE"]), Path(app_env["MOTCUA_INBOX__REJECTED"])
        deadline = time.time() + 30
        # the inbox moves a file, then writes its report beside it: wait for both
        done = ("*drop.csv", "*drop.csv.report.txt"), ("*broken.csv", "*broken.csv.report.txt")
        while time.time() < deadline and not all(list(d.glob(g)) for d, gs in zip((archive, rejected), done) for g in gs):
            time.sleep(0.2)
        assert list(archive.glob("*drop.csv")) and list(archive.glob("*drop.csv.report.txt"))
        assert list(rejected.glob("*broken.csv")) and list(rejected.glob("*broken.csv.report.txt"))
        assert not list(inbox.iterdir())

        st = run_app("status", "--json")
        assert json.loads(st.stdout)["dossiers"] == before + 4
        rep = run_app("report", "--month", "2026-03", "--json")
        assert rep.returncode == 0, rep.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=60)[0]
    assert proc.returncode == 0, rest
    assert "Traceback" not in rest

    # Started again, it resumes with the data kept (no new demo data).
    proc = start_system(app_env, tmp_path)
    try:
        st = run_app("status", "--json")
        assert json.loads(st.stdout)["dossiers"] == before + 4
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert proc.returncode == 0


def test_port_in_use_is_a_plain_message(app_env, tmp_path, run_app):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        env = dict(app_env, MOTCUA_SERVICE__PORT=str(busy.getsockname()[1]))
        r = run_app("run", env=env, timeout=180)
    assert r.returncode == 2
    assert "another program uses that port" in r.stderr and "Traceback" not in r.stderr
    assert not owner_file(Path(app_env["MOTCUA_STORE__PATH"])).exists()


# -- hostile clients and exhausted resources --------------------------------------------------------

def test_import_takes_files_only_from_the_systems_own_folders(owner, app_cfg, tmp_path):
    _, service = owner
    host, port = service.address
    uploads = app_cfg.store.path.parent / "uploads"
    (uploads / "ok.csv").write_text(CSV, encoding="utf-8")
    outside = tmp_path / "outside.csv"
    outside.write_text(CSV, encoding="utf-8")
    (uploads / "link.csv").symlink_to(outside)

    def post(path: str) -> httpx.Response:
        return httpx.post(f"http://{host}:{port}/import", json={"path": path, "dry_run": True},
                          headers={"X-Motcua-Token": service.token}, timeout=60)

    for bad in ("/etc/passwd", str(outside), str(uploads / ".." / "motcua.duckdb"), str(uploads / "link.csv"),
                "ok.csv", ""):
        r = post(bad)
        assert r.status_code == 422, bad
        assert "refused: the system imports only files in its own folders" in r.json()["error"], bad
        assert "bị từ chối" in r.json()["error_vi"]
    r = post(str(uploads / "ok.csv"))
    assert r.status_code == 200 and r.json()["result"]["rows_read"] == 2


def test_a_client_imports_any_file_through_a_copy_named_as_the_original(owner, app_cfg, tmp_path):
    app, _ = owner
    f = tmp_path / "elsewhere" / "export.csv"
    f.parent.mkdir()
    f.write_text(CSV, encoding="utf-8")
    ops = open_ops(app_cfg)
    res = ops.import_file(str(f))
    assert res["inserted"] == 2 and res["file"] == str(f.resolve())
    assert app.query("import_batches").rows[0][2] == str(f.resolve())
    assert not list((app_cfg.store.path.parent / "uploads").iterdir()), "the copy is gone"
    assert f.read_text(encoding="utf-8") == CSV


def test_clients_that_hang_up_leave_no_traceback_and_the_owner_serves_on(owner, capfd):
    import socket
    import struct

    _, service = owner
    host, port = service.address
    head = f"POST /query/store_stats HTTP/1.1\r\nHost: x\r\nX-Motcua-Token: {service.token}\r\n"
    for request in (head + "Content-Length: 2\r\n\r\n{}",                 # reset before the answer is read
                    head + "Content-Length: 5000\r\n\r\n{\"par",          # reset in the middle of the body
                    head + f"Content-Length: {1 << 40}\r\n\r\n{{}}"):      # a body too large to read
        for _ in range(5):
            s = socket.create_connection((host, port))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
            s.sendall(request.encode())
            s.close()
    time.sleep(1.0)
    assert httpx.get(f"http://{host}:{port}/health", headers={"X-Motcua-Token": service.token}).status_code == 200
    err = capfd.readouterr().err
    assert "Traceback" not in err and "BrokenPipe" not in err and "ConnectionReset" not in err, err


def test_out_of_memory_is_a_plain_message_from_the_owner_and_from_the_command_line(app_env, tmp_path, run_app):
    from config.app import load_config
    from imports.sample import write_dossier_csv

    env = dict(app_env, MOTCUA_STORE__MEMORY_LIMIT="16MB")  # DuckDB's own limit: a real OutOfMemoryException
    f = write_dossier_csv(tmp_path / "many.csv", 50_000)
    r = run_app("import", str(f), env=env)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("error: not enough memory (không đủ bộ nhớ): ") and "store.memory_limit" in r.stderr
    assert "Out of Memory Error" not in r.stderr and "Possible solutions" not in r.stderr and "Traceback" not in r.stderr

    cfg = load_config(environ=env)
    app = Motcua(cfg)
    service = StoreService(app, cfg.store.path, "127.0.0.1", 0)
    service.start()
    try:
        ops = open_ops(cfg)
        with pytest.raises(OperationError) as e:
            ops.import_file(str(f), lang="vi")
        assert str(e.value).startswith("not enough memory (không đủ bộ nhớ)")
        assert e.value.message_vi.startswith("không đủ bộ nhớ: ") and "Out of Memory" not in e.value.message_vi
        assert ops.status()["imports"] == 0  # the owner answers, nothing half-written
    finally:
        service.stop()
        app.close()


def test_disk_full_is_a_plain_message():
    import duckdb

    from store.service import resource_error

    con = duckdb.connect()
    with pytest.raises(duckdb.IOException) as e:  # a real device with no space left
        con.execute("COPY (SELECT * FROM range(1000000)) TO '/dev/full' (FORMAT csv)")
    plain = resource_error(e.value)
    assert plain is not None and str(plain).startswith("disk full (hết dung lượng đĩa): free some space")
    assert plain.message_vi.startswith("hết dung lượng đĩa: hãy giải phóng dung lượng")
    with pytest.raises(OSError) as e2, open("/dev/full", "w") as f:
        f.write("x" * 100_000)
        f.flush()
    assert str(resource_error(e2.value)).startswith("disk full (hết dung lượng đĩa)")
    assert resource_error(ValueError("no")) is None


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MB tmpfs (mounting needs root; skipped otherwise, saying so)."""
    d = tmp_path / "small-disk"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(d)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"a full disk needs a small tmpfs, which this user cannot mount: {r.stderr.strip()}")
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], capture_output=True)


def test_an_import_onto_a_full_disk_ends_with_a_plain_message(app_env, small_disk, tmp_path, run_app):
    from imports.sample import write_dossier_csv

    env = dict(app_env, MOTCUA_STORE__PATH=str(small_disk / "data" / "motcua.duckdb"))
    f = write_dossier_csv(tmp_path / "many.csv", 60_000)
    r = run_app("import", str(f), env=env)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("error: disk full (hết dung lượng đĩa)"), r.stderr
    assert "No space left on device" not in r.stderr and "FATAL" not in r.stderr and "Traceback" not in r.stderr
