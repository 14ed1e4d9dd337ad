"""The spool's bounds, the token file's checks, and the receiver in-process over a real store:
times from a wrong clock, the metrics' location label, a batch sent twice."""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import time
import uuid

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from agents.agent import AgentError, read_token_file, result_payload
from agents.receiver import AgentReceiver
from agents.spool import Spool
from config.agents import AgentLocation, AgentsConfig, token_digest
from config.clock import local_now
from probes.metrics import ProbeMetrics
from probes.runner import ProbeResult
from store.probe_writes import write_results

TOKEN = "hanoi-" + "t" * 30


def _results(n: int) -> list[dict]:
    return [{"id": str(uuid.uuid4()), "name": "home", "kind": "check", "ok": True, "reason": ""} for _ in range(n)]


def test_a_full_spool_drops_its_oldest_batches_with_a_warning_and_counts_them(tmp_path, caplog):
    spool = Spool(tmp_path, max_bytes=2000)
    for _ in range(20):
        spool.put(_results(3))
    batches = spool.batches()
    assert sum(b.size for b in batches) <= 2000
    assert spool.dropped_batches == 20 - len(batches) > 0
    assert spool.dropped_results == 3 * spool.dropped_batches
    assert spool.waiting() == 3 * len(batches)
    assert "is full" in caplog.text and "dropped the oldest batch" in caplog.text
    # the newest are the ones kept, oldest first
    assert [b.path.name for b in batches] == sorted(b.path.name for b in batches)


def test_a_half_written_batch_is_never_sent_and_a_bad_one_is_set_aside(tmp_path, caplog):
    Spool(tmp_path).put(_results(2))
    (tmp_path / "00000000000000000009-000001-2.json.tmp").write_text("{", encoding="utf-8")  # a crash mid-write
    big = tmp_path / "00000000000000000008-000001-1.json"
    big.write_bytes(b" " * 2048)
    not_ours = tmp_path / "00000000000000000007-000001-5.json"
    not_ours.write_text(json.dumps({"v": 1, "results": [1, 2, 3, 4, 5]}), encoding="utf-8")
    spool = Spool(tmp_path, max_file_bytes=1024)
    assert not list(tmp_path.glob("*.tmp"))
    got = [spool.read(b) for b in spool.batches()]
    assert got[0] is None and got[1] is None and len(got[2]) == 2
    assert sorted(p.name for p in (tmp_path / "bad").iterdir()) == [not_ours.name, big.name]
    assert spool.bad_files == 2 and spool.waiting() == 2
    assert caplog.text.count("not a readable batch") == 2


def test_the_token_file_must_be_private_and_hold_a_token(tmp_path):
    p = tmp_path / "t"
    p.write_text(TOKEN + "\n", encoding="utf-8")
    p.chmod(0o644)
    with pytest.raises(AgentError, match="chmod 600"):
        read_token_file(p)
    p.chmod(0o600)
    assert read_token_file(p) == TOKEN
    p.write_text("short\n", encoding="utf-8")
    with pytest.raises(AgentError, match="too short"):
        read_token_file(p)
    p.write_text("x" * 10_000, encoding="utf-8")
    with pytest.raises(AgentError, match="one line"):
        read_token_file(p)


@pytest.fixture
def receiver(store):
    cfg = AgentsConfig(enabled=True, host="127.0.0.2", port=0,
                       locations={"hanoi": AgentLocation(token_sha256=token_digest(TOKEN))})
    registry = CollectorRegistry()
    metrics = ProbeMetrics(registry)

    def write(results, location, ids, version):
        return write_results(store, results, location=location, result_ids=ids, agent_version=version)

    r = AgentReceiver(cfg, write, observe=metrics.observe_results)
    r.start()
    yield r, store, registry
    r.stop()


def _payload(minutes_ago: float, ok: bool = True) -> dict:
    res = ProbeResult("home", "check", "", local_now() - dt.timedelta(minutes=minutes_ago), ok,
                      "" if ok else "HTTP 503 " + "x" * 900, status_code=200 if ok else 503, total_ms=42.0)
    return result_payload(res, str(uuid.uuid4()))


def test_results_from_a_wrong_clock_are_refused_alone_and_the_rest_stored(receiver, caplog):
    r, store, _ = receiver
    batch = [_payload(1), _payload(-30), _payload(60 * 24 * 40), _payload(2, ok=False)]
    with caplog.at_level(logging.WARNING):
        got = httpx.post(f"{r.url}/api/agents/v1/results", headers={"Authorization": f"Bearer {TOKEN}"},
                         json={"location": "hanoi", "agent_version": "1", "results": batch}, timeout=10)
    assert got.status_code == 200 and got.json() == {"stored": 2, "duplicates": 0, "refused": 2}
    assert "clock right" in caplog.text
    rows = store.cursor().execute("SELECT result_id, length(reason) FROM probe_results WHERE location = 'hanoi' "
                                  "ORDER BY started_at").fetchall()
    assert [i for i, _ in rows] == [batch[3]["id"], batch[0]["id"]]
    assert rows[0][1] == 500  # the reason cut to what the store keeps


def test_an_agent_s_results_carry_its_location_in_the_metrics_and_are_counted_once(receiver):
    r, _, registry = receiver
    batch = [_payload(1), _payload(0.5, ok=False)]
    for _ in range(2):  # the second time, as if the first answer had been lost
        got = httpx.post(f"{r.url}/api/agents/v1/results", headers={"Authorization": f"Bearer {TOKEN}"},
                         json={"location": "hanoi", "results": batch}, timeout=10)
        assert got.status_code == 200
    assert got.json() == {"stored": 0, "duplicates": 2, "refused": 0}
    text = generate_latest(registry).decode()
    assert 'motcua_probe_runs_total{check="home",location="hanoi"} 2.0' in text
    assert 'motcua_probe_failures_total{check="home",location="hanoi"} 1.0' in text
    assert 'motcua_probe_success{check="home",location="hanoi"} 0.0' in text


def test_agent_token_writes_a_private_token_file_and_prints_its_digest(tmp_path, monkeypatch, capsys):
    import stat

    import app

    monkeypatch.chdir(tmp_path)
    assert app.main(["agent-token", "hanoi", "--out", "hanoi.token"]) == 0
    out = capsys.readouterr().out
    p = tmp_path / "hanoi.token"
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    token = read_token_file(p)
    assert f"token_sha256: {token_digest(token)}" in out and token not in out
    assert app.main(["agent-token", "hanoi", "--out", "hanoi.token"]) == 2  # never overwritten
    assert read_token_file(p) == token
    assert app.main(["agent-token", "central"]) == 2


def test_what_was_measured_just_before_the_stop_is_sent_before_the_summary(receiver, tmp_path):
    """The summary's "0 waiting" once said too early: the sender, told to finish, found the spool
    empty while the writer was still writing the last results."""
    from agents.agent import Agent
    from config.agents import AgentSideConfig

    r, store, _ = receiver
    agent = Agent(central=r.url, location="hanoi", token=TOKEN, spool_dir=tmp_path / "spool",
                  settings=AgentSideConfig(stop_grace_seconds=5))
    import threading

    for name, fn in (("w", agent._writer), ("s", agent._sender)):
        t = threading.Thread(target=fn, daemon=True)
        t.start()
        agent._threads.append(t)
    for _ in range(5):
        agent._on_results([ProbeResult("home", "check", "", local_now(), True, total_ms=1.0)])
    line = agent.stop()
    assert line == "agent hanoi: 5 results measured, 5 sent, 0 waiting"
    assert store.cursor().execute("SELECT count(*) FROM probe_results WHERE location = 'hanoi'").fetchone()[0] == 5


def test_journeys_whose_credentials_are_not_on_the_agent_s_machine_are_left_out_and_said(monkeypatch):
    from agents.agent import runnable_here
    from config.probes import load_probes, secret_names

    for k in [k for k in os.environ if k.startswith("MOTCUA_SECRET")]:
        monkeypatch.delenv(k)
    shipped = load_probes().model_copy(update={"secrets_file": None})  # the central's, as an agent runs it
    needing = {p.name for p in shipped.probes() if secret_names(p)}
    assert needing  # the shipped file has journeys that sign in
    said: list[str] = []
    here = runnable_here(shipped, "hanoi", said.append)
    assert {p.name for p in here.probes()} == {p.name for p in shipped.probes()} - needing
    assert len(said) == 1 and all(n in said[0] for n in needing) and "CITIZEN_V2_PASSWORD" in said[0]
    # given here (environment), they run
    for p in shipped.probes():
        for n in secret_names(p):
            monkeypatch.setenv(f"MOTCUA_SECRET_{n}", "x")
    said.clear()
    assert {p.name for p in runnable_here(shipped, "hanoi", said.append).probes()} == {p.name for p in shipped.probes()}
    assert said == []


def test_stopping_waits_for_a_batch_being_written_so_the_store_can_close(store):
    """The owner closes the store right after the receiver stops: a write still under way made that
    close fail ("connection is busy") and `app.py run` end with an error."""
    cfg = AgentsConfig(enabled=True, host="127.0.0.2", port=0,
                       locations={"hanoi": AgentLocation(token_sha256=token_digest(TOKEN))})
    writing, release, written = threading.Event(), threading.Event(), threading.Event()

    def write(results, location, ids, version):
        writing.set()
        release.wait(10)
        out = write_results(store, results, location=location, result_ids=ids, agent_version=version)
        written.set()
        return out

    r = AgentReceiver(cfg, write)
    r.start()
    sender = threading.Thread(target=lambda: httpx.post(
        f"{r.url}/api/agents/v1/results", headers={"Authorization": f"Bearer {TOKEN}"},
        json={"location": "hanoi", "agent_version": "1", "results": [_payload(1)]}, timeout=20))
    sender.start()
    assert writing.wait(10)
    stopper = threading.Thread(target=r.stop)
    stopper.start()
    time.sleep(0.5)
    assert stopper.is_alive()  # waiting for the write
    release.set()
    stopper.join(20)
    assert not stopper.is_alive() and written.is_set()
    sender.join(20)
    store.close()  # what the owner does next: no write under way
