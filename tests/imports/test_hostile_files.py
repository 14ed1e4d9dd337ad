"""Hostile files never take the system down: a generated corpus (tests/imports/hostile.py) through the real
paths: the reader, a real `app.py run` owner with its watch folder, `app.py import`, the owner's
import (the dashboard's upload call), the compliance import; restarts that never read them again."""
from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from imports.dossiers import import_dossiers
from imports.errors import ImportRefused
from imports.workbook import ReaderLimits
from store.db import Store
from store.ops import OperationError, OwnerNotAnswering, find_owner
from tests.imports import hostile

ROOT = Path(__file__).resolve().parents[2]


def _count(store: Store, table: str) -> int:
    return store.cursor().execute(f"SELECT count(*) FROM {table}").fetchone()[0]


# -- the reader, in the test process -------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(hostile.XLSX_CORPUS))
def test_each_hostile_workbook_is_refused_with_a_plain_message_and_nothing_stored(name, tmp_path):
    writer, reason = hostile.XLSX_CORPUS[name]
    f = writer(tmp_path / name)
    with Store(tmp_path / "s.duckdb") as store:
        with pytest.raises(ImportRefused) as e:
            import_dossiers(store, f)
        assert (_count(store, "import_batches"), _count(store, "dossiers")) == (0, 0)
    assert e.value.reason == reason, str(e.value)
    assert str(e.value).startswith(f"{f}: ") and "Traceback" not in str(e.value)
    assert e.value.message_vi.startswith(f"{f}: ") and e.value.message_vi != str(e.value)


def test_the_rectangle_refusal_names_the_cells_the_declared_range_and_the_memory(tmp_path):
    f = hostile.lying_dimension(tmp_path / "lie.xlsx")
    with pytest.raises(ImportRefused) as e:
        with Store(tmp_path / "s.duckdb") as store:
            import_dossiers(store, f)
    msg, vi = str(e.value), e.value.message_vi
    assert "from A1 to XFD1048576" in msg and "17,179,869,184 cells, 22 of them with a value" in msg
    assert "the sheet declares its range as A1:U2" in msg and "imports.reader_memory_mb" in msg
    assert "a file built to exhaust memory" in msg
    # Vietnamese number formats, no English left in the Vietnamese message
    assert "17.179.869.184 ô, 22 ô có giá trị" in vi and "tự khai vùng dữ liệu là A1:U2" in vi
    words = vi[len(str(f)):].replace("imports.reader_memory_mb", "")
    assert "trang tính" in words and "cells" not in words and "memory" not in words and "sheet" not in words


def test_the_corpus_kills_an_unguarded_reader_and_costs_the_guarded_one_little(tmp_path):
    """Without the checks python-calamine aborts its process on these 2 KB files; through the
    reader they cost a child of a few tens of MB, and the calling process nothing."""
    files = [w(tmp_path / n) for n, (w, r) in hostile.XLSX_CORPUS.items() if r == "sparse"]
    assert all(f.stat().st_size < 5000 for f in files)
    for f in files:
        raw = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
            import resource
            resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            from python_calamine import CalamineWorkbook
            wb = CalamineWorkbook.from_path({str(f)!r})
            wb.get_sheet_by_name(wb.sheet_names[0])
            """)], capture_output=True, text=True, timeout=120)
        assert raw.returncode == -signal.SIGABRT and "memory allocation of" in raw.stderr, (f, raw.stderr[-300:])
    guarded = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import resource, sys, tempfile
        from pathlib import Path
        from config.mapping import load_mapping
        from imports.errors import ImportRefused
        from imports.reader import inspect_file, prepare_file
        for f in {[str(f) for f in files]!r}:
            try:
                prepare_file(inspect_file(f), load_mapping(), "dossiers", Path(tempfile.mkdtemp()))
            except ImportRefused as e:
                print(e.reason)
        # this process's own peak: ru_maxrss would carry over the pytest worker's peak at the fork
        hwm = next(int(x.split()[1]) for x in open("/proc/self/status") if x.startswith("VmHWM:"))
        print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, hwm)
        """)], capture_output=True, text=True, timeout=120, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert guarded.returncode == 0, guarded.stderr
    *reasons, usage = guarded.stdout.split("\n")[:-1]
    assert reasons == ["sparse"] * len(files)
    child_kb, self_kb = map(int, usage.split())
    assert child_kb < 200_000 and self_kb < 300_000, usage  # KB: far from the 512 GiB asked for


def test_what_the_checks_miss_ends_at_the_memory_limit_with_a_plain_message(tmp_path):
    f = hostile.ods_bomb(tmp_path / "repeat.ods")
    assert f.stat().st_size < 2000
    t0 = time.monotonic()
    with Store(tmp_path / "s.duckdb") as store:
        with pytest.raises(ImportRefused) as e:
            import_dossiers(store, f, reader_limits=ReaderLimits(memory_mb=512))
        assert _count(store, "import_batches") == 0
    assert e.value.reason == "memory"
    assert "not enough memory to read the file: the reader's limit is 512 MB" in str(e.value)
    assert e.value.message_vi.startswith(f"{f}: không đủ bộ nhớ để đọc tệp")
    assert time.monotonic() - t0 < 60


def test_one_line_of_fifty_mb_is_said_to_be_what_it_is(tmp_path):
    f = hostile.one_line(tmp_path / "one-line.csv")
    with Store(tmp_path / "s.duckdb") as store:
        with pytest.raises(ImportRefused) as e:
            import_dossiers(store, f)
    msg = str(e.value)
    assert "one line of 50.0 MB with no line break: not a CSV export" in msg, msg[:300]
    assert len(msg) < 400 and "blank" not in msg
    assert "một dòng dài 50,0 MB không có dấu xuống dòng" in e.value.message_vi


def test_a_header_row_of_thousands_of_columns_gives_a_bounded_message(tmp_path):
    f = tmp_path / "wide.csv"
    f.write_text(",".join(f"cột {i}" for i in range(20_000)) + "\n1,2\n", encoding="utf-8")
    with Store(tmp_path / "s.duckdb") as store:
        with pytest.raises(ImportRefused) as e:
            import_dossiers(store, f)
    assert len(str(e.value)) < 2000 and "and 19,960 more" in str(e.value)


def test_a_sound_workbook_still_imports(tmp_path):
    f = hostile.good_workbook(tmp_path / "good.xlsx", n=5)
    with Store(tmp_path / "s.duckdb") as store:
        s = import_dossiers(store, f)
        assert (s.inserted, s.sheet) == (5, "Danh sách")


def test_a_compliance_import_of_a_hostile_workbook_is_a_plain_refusal(app_cfg, tmp_path):
    from compliance.actions import perform
    from compliance.common import ComplianceRefused
    from system import Motcua

    app = Motcua(app_cfg)
    try:
        for name in ("dimension-bomb.xlsx", "zip-bomb.xlsx"):
            f = hostile.XLSX_CORPUS[name][0](tmp_path / name)
            with pytest.raises(ComplianceRefused, match=rf"{f.name}: cannot read the workbook: "):
                perform(app, "import_requests", actor="tester", path=str(f))
        assert app.query("compliance_requests").rows == []
    finally:
        app.close()


# -- a real owner: watch folder, app.py import, the owner's import, restarts ---------------------------

class Owner:
    """`app.py run` in a process of its own; its output drained so that it never blocks."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "run"], env=env, cwd=cwd,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        ready = threading.Event()

        def drain() -> None:
            for line in self.proc.stdout:
                self.lines.append(line)
                if "Press Ctrl-C" in line:
                    ready.set()
            ready.set()

        threading.Thread(target=drain, daemon=True).start()
        if not ready.wait(240) or self.proc.poll() is not None:
            self.proc.kill()
            raise AssertionError("app.py run did not start:\n" + "".join(self.lines))

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=90)
        time.sleep(0.2)
        out = "".join(self.lines)
        assert self.proc.returncode == 0, out
        return out


@pytest.fixture
def owner_env(app_env):
    return dict(app_env, MOTCUA_DASHBOARD__ENABLED="false")


def _wait_for(cond, timeout: float = 90, what: str = "", every: float = 0.1) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def _listing(d: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in d.iterdir()}


@pytest.mark.slow
def test_hostile_files_never_take_the_owner_down_and_are_never_read_again(owner_env, app_cfg, tmp_path, run_app):
    inbox, rejected = app_cfg.inbox.path, app_cfg.inbox.rejected
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    files = {n: w(corpus / n) for n, (w, _) in hostile.XLSX_CORPUS.items()}
    files["one-line.csv"] = hostile.one_line(corpus / "one-line.csv")
    owner = Owner(owner_env, tmp_path)
    try:
        ops = find_owner(app_cfg.store.path)
        before = ops.status()
        assert before["dossiers"] > 0
        # the watch folder: each file lands whole (a rename), as a copy tool finishes it
        for n, f in files.items():
            os.replace(f, inbox / n)
        _wait_for(lambda: all(list(rejected.glob(f"*_{n}.report.txt")) for n in files), what="rejected/")
        assert not [p for p in inbox.iterdir() if not p.name.startswith(".")]
        assert not list(inbox.glob(".importing-*")), "markers are removed once the files have moved"
        for n in files:
            report = next(rejected.glob(f"*_{n}.report.txt")).read_text(encoding="utf-8")
            assert f"{n}: refused" in report and "bị từ chối" in report, report
            assert "Traceback" not in report and "Out of Memory Error" not in report
        assert "built to exhaust memory" in next(rejected.glob("*_dimension-bomb.xlsx.report.txt")).read_text()
        assert "compression bomb" in next(rejected.glob("*_zip-bomb.xlsx.report.txt")).read_text()

        # app.py import while the owner runs (the owner reads the file), and the memory backstop
        bomb = hostile.dimension_bomb(tmp_path / "cli-bomb.xlsx")
        r = run_app("import", str(bomb), env=owner_env)
        assert r.returncode == 2 and "a file built to exhaust memory" in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
        ods = hostile.ods_bomb(tmp_path / "cli-bomb.ods")
        r = run_app("import", str(ods), env=owner_env)
        assert r.returncode == 2 and "not enough memory to read the file" in r.stderr, r.stderr
        # app.py compliance import: the owner reads the requests spreadsheet
        r = run_app("compliance", "import", str(bomb), "--by", "Văn phòng UBND tỉnh", env=owner_env)
        assert r.returncode != 0 and "cannot read the workbook: sheet" in r.stderr, r.stderr
        assert "Traceback" not in r.stderr

        # the dashboard's upload: a file in uploads/, checked by the owner in Vietnamese
        uploads = app_cfg.store.path.parent / "uploads"
        up = hostile.lying_dimension(uploads / "20260101-000000_tai-len.xlsx")
        with pytest.raises(OperationError) as e:
            ops.import_file(str(up), dry_run=True, lang="vi")
        assert str(e.value).startswith(f"{up}: trang tính \"Danh sách\" có ô từ A1 đến XFD1048576"), str(e.value)
        with pytest.raises(OperationError, match="không đủ bộ nhớ để đọc tệp"):
            ops.import_file(str(ods), lang="vi")

        after = ops.status()  # alive, and nothing half-written
        assert (after["dossiers"], after["imports"], after["quarantined_rows"]) == \
            (before["dossiers"], before["imports"], before["quarantined_rows"])
        assert not list(uploads.glob("client-*")), "the client's copies are removed"
        first_run = owner.stop()
        assert "Traceback" not in first_run
    finally:
        if owner.proc.poll() is None:
            owner.proc.kill()

    kept = _listing(rejected)
    owner = Owner(owner_env, tmp_path)
    try:
        time.sleep(2 * float(owner_env["MOTCUA_INBOX__POLL_SECONDS"]) + 1)
        ops = find_owner(app_cfg.store.path)
        again = ops.status()
        assert (again["dossiers"], again["imports"]) == (before["dossiers"], before["imports"])
        assert _listing(rejected) == kept and not list(inbox.iterdir())
        second_run = owner.stop()
        assert "refused" not in second_run and "Traceback" not in second_run
    finally:
        if owner.proc.poll() is None:
            owner.proc.kill()


@pytest.mark.slow
def test_a_file_whose_import_never_finished_goes_to_rejected_at_restart_unread(owner_env, app_cfg, tmp_path):
    from imports.sample import write_dossier_csv

    inbox, rejected = app_cfg.inbox.path, app_cfg.inbox.rejected
    log = app_cfg.store.path.parent / "logs" / "motcua.log"
    big = write_dossier_csv(tmp_path / "big.csv", 150_000, prefix="KILL")
    owner = Owner(owner_env, tmp_path)
    try:
        ops = find_owner(app_cfg.store.path)
        before = ops.status()
        os.replace(big, inbox / "big.csv")
        marker = inbox / ".importing-big.csv.json"
        _wait_for(marker.exists, what="the import's marker", every=0.01)
        owner.proc.kill()  # the owner dies in the middle of the import (as an abort would kill it)
        owner.proc.wait(timeout=30)
        with pytest.raises(OperationError) as e:
            ops.status()
        assert isinstance(e.value, OwnerNotAnswering)
        assert str(e.value) == (f"the system (app.py run) is not answering: it stopped or crashed; see {log}, "
                                "then start it again (app.py run)")
    finally:
        if owner.proc.poll() is None:
            owner.proc.kill()
    assert marker.exists() and (inbox / "big.csv").exists()

    owner = Owner(owner_env, tmp_path)
    try:
        moved = list(rejected.glob("*_big.csv"))
        assert len(moved) == 1 and not (inbox / "big.csv").exists() and not marker.exists()
        report = next(rejected.glob("*_big.csv.report.txt")).read_text(encoding="utf-8")
        assert "the system stopped while it was reading this file" in report
        assert "hệ thống dừng đột ngột khi đang đọc tệp này" in report
        ops = find_owner(app_cfg.store.path)
        now = ops.status()
        # atomic: the killed import is either all there or not at all; and it is not read again
        assert now["dossiers"] in (before["dossiers"], before["dossiers"] + 150_000)
        assert now["imports"] - before["imports"] == (now["dossiers"] - before["dossiers"]) // 150_000
        time.sleep(2 * float(owner_env["MOTCUA_INBOX__POLL_SECONDS"]) + 1)
        assert ops.status()["imports"] == now["imports"]
        assert "was being imported when the system stopped" in owner.stop()
        assert "was being imported when the system stopped" in log.read_text(encoding="utf-8")
    finally:
        if owner.proc.poll() is None:
            owner.proc.kill()


# -- the dashboard's upload (Dữ liệu page) through a running owner --------------------------------------

@pytest.fixture
def dashboard_owner(tmp_path, monkeypatch):
    """A small store served by an in-process owner, an ICT account, and the dashboard's environment."""
    from config.app import load_config
    from dashboard.users import UserFile
    from store.service import StoreService
    from system import Motcua

    env = {"MOTCUA_STORE__PATH": str(tmp_path / "data" / "motcua.duckdb"),
           "MOTCUA_INBOX__PATH": str(tmp_path / "inbox"), "MOTCUA_INBOX__ARCHIVE": str(tmp_path / "archive"),
           "MOTCUA_INBOX__REJECTED": str(tmp_path / "rejected"),
           "MOTCUA_DASHBOARD__USERS_FILE": str(tmp_path / "users.json")}
    for k in [k for k in os.environ if k.startswith("MOTCUA_")]:
        monkeypatch.delenv(k)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    cfg = load_config(environ=env)
    app = Motcua(cfg)
    app.demo_data(months=1, per_month=200)
    UserFile(tmp_path / "users.json").add("u-ict", "ict", "correct-horse-1", rounds=4)
    service = StoreService(app, cfg.store.path, "127.0.0.1", 0)
    service.start()
    yield cfg
    service.stop()
    app.close()


def test_the_upload_page_says_in_vietnamese_why_a_hostile_workbook_is_refused(dashboard_owner, tmp_path):
    from streamlit.testing.v1 import AppTest

    cfg = dashboard_owner
    ops = find_owner(cfg.store.path)
    before = ops.status()
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=120)
    at.run()
    at.text_input(key="login_user").input("u-ict")
    at.text_input(key="login_password").input("correct-horse-1")
    at.button[0].click().run()
    at.switch_page("pages/data.py").run()
    assert not at.exception
    bomb = hostile.lying_dimension(tmp_path / "bom.xlsx").read_bytes()
    at.file_uploader(key="data_file").set_value(("bao-cao.xlsx", bomb, "application/octet-stream"))
    at.button[0].click().run()  # the form's "check" button: a dry run by the owner
    assert not at.exception, [e.value for e in at.exception]
    shown = " ".join(e.value for e in at.error)
    assert "Hệ thống trả lời:" in shown and 'trang tính "Danh sách" có ô từ A1 đến XFD1048576' in shown, shown
    assert "gần như trống" in shown and "sheet" not in shown and "memory" not in shown.replace("reader_memory_mb", "")
    after = ops.status()  # the owner answers; nothing stored; the upload is not kept
    assert (after["dossiers"], after["imports"]) == (before["dossiers"], before["imports"])
    assert not list((cfg.store.path.parent / "uploads").glob("*bao-cao.xlsx"))


def test_a_refused_file_that_cannot_be_moved_is_not_read_again_and_again(app_cfg, tmp_path):
    from imports.inbox import Inbox
    from system import Motcua

    app = Motcua(app_cfg)
    calls: list[str] = []

    def import_file(path: str, events: str | None) -> dict:
        calls.append(path)
        return app.import_file(path, events)

    try:
        # taken at the second look, however close (the settling is not what this test is about)
        inbox = Inbox(app_cfg.inbox.model_copy(update={"settle_seconds": 0, "events_wait_seconds": 0}), import_file)
        rejected = app_cfg.inbox.rejected
        rejected.rmdir()
        rejected.write_text("not a folder")  # every move into it fails
        f = hostile.dimension_bomb(app_cfg.inbox.path / "bomb.xlsx")
        for _ in range(5):
            inbox.poll()
        assert calls == [str(f)], "read once, then held"
        assert f.exists() and not list(app_cfg.inbox.path.glob(".importing-*"))
    finally:
        app.close()
