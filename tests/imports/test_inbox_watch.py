"""The watch folder reacts to file-system events: a real folder, a real watchdog observer, the real
import into a real store. A file is imported within a second or so after it lands, never
half-copied, once; a dossier file never waits for an events file that may come: an events file
copied after it is imported alone, to the same stored state, and one copied just before it goes
with it; the imports never overlap; with no events (none seen, or the observer unable to start)
the folder is still polled."""
from __future__ import annotations

import contextlib
import os
import resource
import threading
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from config.app import InboxConfig, load_config
from config.errors import ConfigError
from config.mapping import CORE_COLUMNS
from imports.dossiers import import_dossiers, import_events
from imports.inbox import Inbox, InboxWatcher
from imports.sample import dossier_rows
from store.db import Store

# two events of a dossier in _csv(20), one of a dossier nobody knows
EVENTS_CSV = ("dossier_code,event,at,detail\n"
              "W000000001,supplement_requested,2024-06-01 09:00,\n"
              "W000000001,supplement_received,2024-06-04 14:30,\n"
              "Z000000000,supplement_requested,2024-06-02 09:00,\n")


def _csv(n: int, prefix: str = "W") -> str:
    return "\n".join([",".join(CORE_COLUMNS)] + [",".join(r) for r in dossier_rows(n, prefix=prefix)]) + "\n"


class Imports:
    """The owner's import (the real one, into a real store; an events file alone when there is no
    dossier file, as system.Motcua.import_file does), remembering every call and whether two ever
    ran at once."""

    def __init__(self, store, slow: float = 0.0) -> None:
        self.store, self.slow = store, slow
        self.calls: list[tuple[str, str | None, float, dict]] = []
        self.active = self.most_at_once = 0
        self._lock = threading.Lock()

    def __call__(self, path: str | None, events: str | None) -> dict:
        with self._lock:
            self.active += 1
            self.most_at_once = max(self.most_at_once, self.active)
        try:
            time.sleep(self.slow)
            s = import_dossiers(self.store, path, events_path=events) if path else import_events(self.store, events)
            out = s.to_dict() | {"text": s.render("en")}
            self.calls.append((Path(path).name if path else None, Path(events).name if events else None,
                               time.monotonic(), out))
            return out
        finally:
            with self._lock:
                self.active -= 1


@pytest.fixture
def folder(tmp_path):
    def cfg(**kw) -> InboxConfig:
        # poll_seconds large: only file-system events (and the settling they start) bring a file in
        return InboxConfig(path=tmp_path / "inbox", archive=tmp_path / "archive", rejected=tmp_path / "rejected",
                           **({"poll_seconds": 3600} | kw))
    return cfg


@pytest.fixture
def watch():
    started: list[InboxWatcher] = []

    def start(inbox: Inbox, events: bool = True) -> InboxWatcher:
        w = InboxWatcher(inbox, events=events).start()
        started.append(w)
        return w
    yield start
    for w in started:
        w.stop()


def _wait_for(cond, timeout: float, every: float = 0.02) -> float:
    """Seconds until cond() held; fails after `timeout`."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():
            return time.monotonic() - t0
        time.sleep(every)
    raise AssertionError(f"not within {timeout} s")


def test_a_file_written_into_the_folder_is_imported_within_a_second_without_any_poll(folder, watch, store):
    cfg = folder()
    imports = Imports(store)
    w = watch(Inbox(cfg, imports))
    assert w.watching
    time.sleep(0.3)  # the first look (at start) is over: what follows comes from events only
    landed = time.monotonic()
    (cfg.path / "x.csv").write_text(_csv(50), encoding="utf-8")
    took = _wait_for(lambda: imports.calls, timeout=5)
    assert took < 1.5, took
    [(name, events, at, out)] = imports.calls
    assert (name, events) == ("x.csv", None) and out["inserted"] == 50
    assert at - landed >= cfg.settle_seconds, "taken only once it stayed unchanged that long"
    _wait_for(lambda: not list(cfg.path.iterdir()), timeout=2)  # archived, marker gone
    assert {p.name.split("_", 1)[1] for p in cfg.archive.iterdir()} == {"x.csv", "x.csv.report.txt"}


def test_a_file_moved_in_whole_is_imported_as_promptly(folder, watch, store, tmp_path):
    # copy tools write a hidden or temporary name, then rename it: a move into the folder
    cfg = folder()
    imports = Imports(store)
    watch(Inbox(cfg, imports))
    time.sleep(0.3)
    outside = tmp_path / "x.csv"
    outside.write_text(_csv(30), encoding="utf-8")
    hidden = cfg.path / ".x.csv.part"
    hidden.write_text(_csv(40, prefix="H"), encoding="utf-8")
    os.replace(outside, cfg.path / "a.csv")
    os.replace(hidden, cfg.path / "b.csv")
    _wait_for(lambda: len(imports.calls) == 2, timeout=1.5)
    assert sorted((c[0], c[3]["inserted"]) for c in imports.calls) == [("a.csv", 30), ("b.csv", 40)]


def test_with_the_default_settings_a_lone_dossier_file_is_in_within_a_second_and_a_half(folder, watch, store):
    # no wait for an events file that may come: the freshness target is 2 s from landing to figures
    cfg = folder()
    assert cfg.settle_seconds < 1.0 < cfg.events_wait_seconds
    imports = Imports(store)
    watch(Inbox(cfg, imports))
    time.sleep(0.3)
    (cfg.path / "x.csv").write_text(_csv(50), encoding="utf-8")
    took = _wait_for(lambda: imports.calls, timeout=10)
    assert cfg.settle_seconds <= took < 1.5, took


def test_a_file_written_slowly_is_imported_once_and_whole(folder, watch, store):
    # the settling alone guards a dossier file: 1 s here, writes every 0.2 s
    cfg = folder(settle_seconds=1.0)
    imports = Imports(store)
    watch(Inbox(cfg, imports))
    text = _csv(400).encode("utf-8")
    chunks = 10
    step = len(text) // chunks + 1
    with (cfg.path / "slow.csv").open("wb") as f:
        for i in range(chunks):
            f.write(text[i * step:(i + 1) * step])  # cut mid-line: read early, a row would be broken
            f.flush()
            last_write = time.monotonic()
            time.sleep(0.2)
    _wait_for(lambda: imports.calls, timeout=5)
    time.sleep(1.0)  # a second import would come by now
    [(name, _, at, out)] = imports.calls
    assert at > last_write + cfg.settle_seconds
    assert (out["inserted"], out["quarantined"]) == (400, 0)
    assert not list(cfg.rejected.iterdir())


def _stored(store) -> tuple[list, list, int]:
    """What the store holds of the dossiers and their events (not which batch wrote them, nor when),
    and how many rows are quarantined."""
    with store.transaction() as con:
        return (con.execute("SELECT * EXCLUDE (batch_id, updated_at) FROM dossiers ORDER BY dossier_code").fetchall(),
                con.execute("SELECT * EXCLUDE (batch_id) FROM dossier_events ORDER BY ALL").fetchall(),
                con.execute("SELECT count(*) FROM quarantine").fetchone()[0])


def test_an_events_file_that_lands_after_its_dossier_file_is_imported_alone_to_the_same_end(
        folder, watch, store, tmp_path):
    cfg = folder()
    assert cfg.settle_seconds < 1.0 < cfg.events_wait_seconds
    imports, refreshed = Imports(store), []
    watch(Inbox(cfg, imports, on_imported=refreshed.append))
    time.sleep(0.3)
    (cfg.path / "x.csv").write_text(_csv(20), encoding="utf-8")
    time.sleep(1.0)  # the dossier file has settled; its events file comes a second later
    late = time.monotonic()
    (cfg.path / "x.events.csv").write_text(EVENTS_CSV, encoding="utf-8")
    _wait_for(lambda: len(refreshed) == 2, timeout=3 + cfg.events_wait_seconds)  # the last step of an import
    [(name, events, at, out), (name2, events2, at2, out2)] = imports.calls
    assert (name, events) == ("x.csv", None) and at < late, "the dossier file did not wait for it"
    assert (name2, events2) == (None, "x.events.csv")
    assert at2 - late >= cfg.events_wait_seconds, "it waited for a dossier file that might come after it"
    # its events are applied to the stored dossier, the unknown dossier's event is quarantined
    assert (out2["kind"], out2["inserted"], out2["quarantined"], out2["dossiers_updated_from_events"]) == \
        ("events", 2, 1, 1)
    assert [[r["file"] for r in results] for results in refreshed] == [["x.csv"], ["x.events.csv"]]
    _wait_for(lambda: not list(cfg.path.iterdir()), timeout=2)
    assert sorted(p.name.split("_", 1)[1] for p in cfg.archive.iterdir()) == \
        ["x.csv", "x.csv.report.txt", "x.events.csv", "x.events.csv.report.txt"]

    stored = _stored(store)
    with store.transaction() as con:
        assert con.execute("SELECT supplement_requested_at::VARCHAR, supplement_received_at::VARCHAR FROM dossiers "
                           "WHERE dossier_code = 'W000000001'").fetchone() == \
            ("2024-06-01 09:00:00", "2024-06-04 14:30:00")
    assert (len(stored[1]), stored[2]) == (2, 1)
    # the same two files imported together, into a store of their own, leave the same
    (tmp_path / "x.csv").write_text(_csv(20), encoding="utf-8")
    (tmp_path / "x.events.csv").write_text(EVENTS_CSV, encoding="utf-8")
    with Store(tmp_path / "together.duckdb", memory_limit="512MB") as together:
        import_dossiers(together, tmp_path / "x.csv", events_path=tmp_path / "x.events.csv")
        assert _stored(together) == stored


def test_an_events_file_that_lands_just_before_its_dossier_file_goes_with_it(folder, watch, store):
    cfg = folder()
    imports = Imports(store)
    watch(Inbox(cfg, imports))
    time.sleep(0.3)
    (cfg.path / "x.events.csv").write_text(EVENTS_CSV, encoding="utf-8")
    time.sleep(1.0)  # settled, but waiting for its dossier file (events_wait_seconds)
    (cfg.path / "x.csv").write_text(_csv(20), encoding="utf-8")
    _wait_for(lambda: imports.calls, timeout=5)
    time.sleep(cfg.events_wait_seconds)  # an import of the events file alone would have come by now
    [(name, events, _, out)] = imports.calls
    assert (name, events) == ("x.csv", "x.events.csv")
    assert (out["inserted"], out["events"]["inserted"], out["events"]["quarantined"]) == (20, 2, 1)
    # both archived after the import returned (a busy machine takes longer than the wait above)
    _wait_for(lambda: not list(cfg.path.iterdir()), timeout=15)


def test_imports_never_overlap_however_many_files_and_nudges(folder, watch, store):
    cfg = folder(settle_seconds=0.1, events_wait_seconds=0.1, poll_seconds=0.05)
    imports = Imports(store, slow=0.2)
    inbox = Inbox(cfg, imports)
    w = watch(inbox)
    for i in range(5):
        (cfg.path / f"f{i}.csv").write_text(_csv(10, prefix=f"F{i}-"), encoding="utf-8")
    (cfg.path / "f4.events.csv").write_text(EVENTS_CSV, encoding="utf-8")  # with f4.csv, or alone after it
    (cfg.path / "lone.events.csv").write_text(EVENTS_CSV, encoding="utf-8")  # alone
    stop = threading.Event()

    def pester():  # events, polls and direct looks, all at once
        while not stop.is_set():
            w.nudge()
            inbox.poll()
    others = [threading.Thread(target=pester) for _ in range(2)]
    for t in others:
        t.start()
    try:
        _wait_for(lambda: not [p for p in cfg.path.iterdir() if not p.name.startswith(".")], timeout=15)
        time.sleep(0.5)
    finally:
        stop.set()
        for t in others:
            t.join()
    taken = sorted(f for c in imports.calls for f in c[:2] if f)
    assert taken == sorted([f"f{i}.csv" for i in range(5)] + ["f4.events.csv", "lone.events.csv"]), "each once"
    assert imports.most_at_once == 1


def test_without_events_the_folder_is_still_polled(folder, watch, store):
    cfg = folder(poll_seconds=1.0)
    imports = Imports(store)
    w = watch(Inbox(cfg, imports), events=False)
    assert not w.watching
    time.sleep(0.3)
    (cfg.path / "x.csv").write_text(_csv(10), encoding="utf-8")
    # the next poll sees it (within 1 s), the look due once it settled takes it
    took = _wait_for(lambda: imports.calls, timeout=5)
    assert took < cfg.poll_seconds + cfg.settle_seconds + 1.0, took


def test_without_events_nothing_comes_in_before_the_poll(folder, watch, store):
    # the counterpart of the first test: there, the events alone brought the file in
    cfg = folder()
    imports = Imports(store)
    watch(Inbox(cfg, imports), events=False)
    time.sleep(0.3)
    (cfg.path / "x.csv").write_text(_csv(10), encoding="utf-8")
    time.sleep(2.5)
    assert imports.calls == [] and (cfg.path / "x.csv").exists()


@contextlib.contextmanager
def _no_file_descriptor_left():
    """This process can open no file (RLIMIT_NOFILE at the lowest free descriptor): inotify_init
    fails with EMFILE, as it does past the inotify instance limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lowest_free = os.open(os.devnull, os.O_RDONLY)  # every lower number is in use
    os.close(lowest_free)
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowest_free, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_an_observer_that_cannot_start_is_said_plainly_and_the_folder_is_polled(folder, store, caplog):
    import watchdog.observers  # noqa: F401 - loaded before: no module could be read with no descriptor left

    cfg = folder(poll_seconds=0.5)
    imports = Imports(store)
    inbox = Inbox(cfg, imports)
    w = InboxWatcher(inbox)
    try:
        with caplog.at_level("WARNING", logger="motcua.inbox"), _no_file_descriptor_left():
            w.start()
        assert not w.watching
        # (its thread's first look may fail too while no descriptor is left: an error, looked at again)
        [msg] = [r.getMessage() for r in caplog.records if r.name == "motcua.inbox" and r.levelname == "WARNING"]
        assert msg.startswith(f"inbox: cannot watch {cfg.path} for new files (") and \
            msg.endswith("it is looked at every 0.5 s instead"), msg
        (cfg.path / "x.csv").write_text(_csv(10), encoding="utf-8")
        _wait_for(lambda: imports.calls, timeout=5)
    finally:
        w.stop()


def test_stop_ends_the_threads_and_nothing_is_taken_after_it(folder, store):
    cfg = folder(settle_seconds=0.1, events_wait_seconds=0.1)
    imports = Imports(store)
    before = {t.ident for t in threading.enumerate()}
    w = InboxWatcher(Inbox(cfg, imports)).start()
    assert w.watching
    w.stop()
    assert {t.ident for t in threading.enumerate() if t.is_alive()} <= before, "the inbox and observer threads end"
    (cfg.path / "late.csv").write_text(_csv(5), encoding="utf-8")
    time.sleep(1.0)
    assert imports.calls == []


def test_the_settings_are_checked(tmp_path):
    assert InboxConfig().settle_seconds == 0.5 and InboxConfig().events_wait_seconds == 2.0
    for bad in ({"settle_seconds": -1}, {"events_wait_seconds": -0.1}, {"settle_seconds": 3600}):
        with pytest.raises(ValidationError):
            InboxConfig(**bad)
    cfg = load_config(environ={"MOTCUA_INBOX__SETTLE_SECONDS": "3", "MOTCUA_INBOX__EVENTS_WAIT_SECONDS": "0"})
    assert (cfg.inbox.settle_seconds, cfg.inbox.events_wait_seconds) == (3.0, 0.0)
    p = tmp_path / "motcua.yaml"
    p.write_text("inbox:\n  settle_seconds: -1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="inbox.settle_seconds"):
        load_config(p, environ={})


def test_an_events_file_alone_that_is_refused_goes_to_rejected_with_its_report(folder, store):
    cfg = folder(settle_seconds=0, events_wait_seconds=0.2)
    imports, refreshed = Imports(store), []
    inbox = Inbox(cfg, imports, on_imported=refreshed.append)
    (cfg.path / "y.events.csv").write_text("dossier_code,event,at,detail\n", encoding="utf-8")  # no rows
    assert inbox.poll() == []  # first seen
    assert inbox.poll() == [], "it waits for a dossier file that may come"
    time.sleep(0.2)
    [res] = inbox.poll()
    assert (res["file"], res["status"]) == ("y.events.csv", "rejected") and "no data rows" in res["error"]
    assert refreshed == [] and not list(cfg.path.iterdir())
    assert sorted(p.name.split("_", 1)[1] for p in cfg.rejected.iterdir()) == \
        ["y.events.csv", "y.events.csv.report.txt"]


def test_the_figures_are_refreshed_before_the_archive_copy_is_written(tmp_path, store):
    """Officials wait for the figures, nobody for the archive: the refresh is called while the
    imported file is still in the folder (its marker saying imported), and archived after."""
    cfg = InboxConfig(path=tmp_path / "inbox", archive=tmp_path / "archive", rejected=tmp_path / "rejected",
                      settle_seconds=0, events_wait_seconds=0)
    seen = []

    def refresh(_results):
        marker = cfg.path / ".importing-a.csv.json"
        seen.append(((cfg.path / "a.csv").exists(), '"imported": true' in marker.read_text(),
                     list(cfg.archive.iterdir())))

    inbox = Inbox(cfg, Imports(store), on_imported=refresh)
    (cfg.path / "a.csv").write_text(_csv(5), encoding="utf-8")
    inbox.poll()
    res = inbox.poll()
    assert seen == [(True, True, [])]
    assert [r["status"] for r in res] == ["imported"] and res[0]["moved_to"]
    assert sorted(p.name.split("_", 1)[1] for p in cfg.archive.iterdir()) == ["a.csv", "a.csv.report.txt"]
    assert not list(cfg.path.iterdir())


def test_a_failed_refresh_still_archives_the_imported_file(tmp_path, store):
    cfg = InboxConfig(path=tmp_path / "inbox", archive=tmp_path / "archive", rejected=tmp_path / "rejected",
                      settle_seconds=0, events_wait_seconds=0)
    imports = Imports(store)

    def refresh(_results):
        raise RuntimeError("out of disk")

    inbox = Inbox(cfg, imports, on_imported=refresh)
    (cfg.path / "a.csv").write_text(_csv(5), encoding="utf-8")
    inbox.poll()
    with pytest.raises(RuntimeError):
        inbox.poll()
    assert not list(cfg.path.iterdir()) and len(list(cfg.archive.iterdir())) == 2
    inbox.poll()
    assert len(imports.calls) == 1  # never imported twice


def test_a_stop_between_the_import_and_the_archive_archives_at_the_next_start(tmp_path, store):
    cfg = InboxConfig(path=tmp_path / "inbox", archive=tmp_path / "archive", rejected=tmp_path / "rejected",
                      settle_seconds=0, events_wait_seconds=0)
    cfg.path.mkdir(parents=True)
    (cfg.path / "a.csv").write_text(_csv(5), encoding="utf-8")
    (cfg.path / ".importing-a.csv.json").write_text(
        '{"file": "a.csv", "events": null, "started": "2026-12-06T09:00:00", "pid": 1, "imported": true}')
    inbox = Inbox(cfg, Imports(store))
    assert [r["status"] for r in inbox.recovered] == ["imported_before_stop"]
    assert not list(cfg.path.iterdir()) and not list(cfg.rejected.iterdir())
    report = next(p for p in cfg.archive.iterdir() if p.name.endswith(".report.txt"))
    assert "imported; the system stopped before the file was archived" in report.read_text(encoding="utf-8")
    # without "imported" the stop came while it was read: refused unread, as before
    (cfg.path / "b.csv").write_text(_csv(5), encoding="utf-8")
    (cfg.path / ".importing-b.csv.json").write_text('{"file": "b.csv", "events": null, "started": "?", "pid": 1}')
    assert [r["status"] for r in Inbox(cfg, Imports(store)).recovered] == ["crashed"]
    assert [p.name.split("_", 1)[1] for p in cfg.rejected.iterdir() if not p.name.endswith(".txt")] == ["b.csv"]
