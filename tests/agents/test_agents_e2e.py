"""Remote agents as real processes: the central (`app.py run`, receiver on 127.0.0.2) down and back,
agents (`app.py agent`) in working folders of their own probing a portal on 127.0.0.3, an answer
lost on the way (proxy on 127.0.0.4), refused tokens and hostile bodies. Nothing is lost, nothing
is stored twice."""
from __future__ import annotations

import concurrent.futures
import json
import socket
import time

import httpx
import pytest

from tests.agents.helpers import CENTRAL_HOST, Agent, Central, LosingProxy, Target, probes_file, summary_numbers

TOKENS = {"hanoi": "hanoi-token-" + "h" * 30, "hcm": "hcm-token-" + "c" * 30, "danang": "danang-token-" + "d" * 30,
          "old": "old-token-" + "o" * 30}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("central")
    target = Target()
    central = Central(folder, target.url, TOKENS, revoked={"old"})
    yield central, target, tmp_path_factory
    if central.alive():
        central.stop()
    target.close()


def _stored(central: Central, location: str) -> tuple[int, int]:
    return central.rows("SELECT count(*), count(DISTINCT result_id) FROM probe_results WHERE location = ?",
                        [location])[0]


def test_central_down_at_start_and_restarted_mid_run_loses_nothing_and_stores_nothing_twice(site):
    central, target, tmp = site
    own = probes_file(tmp.mktemp("probes") / "probes.yaml", target.url, interval=1)
    hanoi = Agent(tmp.mktemp("agent-hanoi"), central.url, "hanoi", TOKENS["hanoi"], own)
    # a damaged file in the other agent's spool (a disk fault, a hand edit): set aside, never fatal
    hcm_folder = tmp.mktemp("agent-hcm")
    spool = hcm_folder / "data" / "agent-spool"
    spool.mkdir(parents=True)
    (spool / f"{1:020d}-000001-3.json").write_bytes(b'{"v": 1, "results": [{"id": "trunc')
    hcm = Agent(hcm_folder, central.url, "hcm", TOKENS["hcm"], own)
    try:
        # the central is down: results wait on disk
        for a in (hanoi, hcm):
            a.wait_for(lambda a=a: a.waiting_files() >= 3, what="spooling")
        central.start()
        assert f"agents         {central.url}/api/agents/v1/results" in central.banner
        for a in (hanoi, hcm):
            a.wait_for(lambda a=a: a.waiting_files() == 0, what="sending after the central came up")
        assert (hcm.spool / "bad" / f"{1:020d}-000001-3.json").exists()
        # down again mid-run, then back
        central.stop()
        hanoi.wait_for(lambda: hanoi.waiting_files() >= 2, what="spooling while the central is down")
        central.start()
        hanoi.wait_for(lambda: hanoi.waiting_files() == 0, what="sending after the restart")
        lines = {a.location: a.stop() for a in (hanoi, hcm)}
    finally:
        for a in (hanoi, hcm):
            if a.proc.poll() is None:
                a.proc.kill()
    central.stop()
    for loc, line in lines.items():
        measured, sent, waiting = summary_numbers(line)
        assert waiting == 0 and measured == sent >= 5, line
        assert _stored(central, loc) == (measured, measured), (loc, line)
    assert "1 file(s) set aside" in lines["hcm"] and "set aside" not in lines["hanoi"]
    assert "not a readable batch" in hcm.output
    assert "is not answering" in hanoi.output  # the central's absence was said, not hidden
    assert central.rows("SELECT count(*) FROM probe_results WHERE location = 'central'")[0][0] >= 1
    rows = dict(central.rows("SELECT location, duplicates FROM agent_contacts"))
    assert set(rows) == {"hanoi", "hcm"}


def test_an_answer_lost_on_the_way_is_sent_again_and_stored_once(site):
    central, target, tmp = site
    central.start()
    proxy = LosingProxy((CENTRAL_HOST, central.port))
    own = probes_file(tmp.mktemp("probes") / "probes.yaml", target.url, interval=1)
    agent = Agent(tmp.mktemp("agent-danang"), proxy.url, "danang", TOKENS["danang"], own)
    try:
        assert proxy.answered_upstream.wait(30), agent.output  # the first batch stored, its answer lost
        agent.wait_for(lambda: agent.waiting_files() == 0 and proxy.lost, what="resending")
        time.sleep(1.5)
        line = agent.stop()
    finally:
        if agent.proc.poll() is None:
            agent.proc.kill()
        proxy.close()
    central.stop()
    measured, sent, waiting = summary_numbers(line)
    assert waiting == 0 and measured == sent
    assert _stored(central, "danang") == (measured, measured)
    (dups,) = central.rows("SELECT duplicates FROM agent_contacts WHERE location = 'danang'")[0]
    assert dups > 0  # the resent batch reached the central twice and was stored once


@pytest.mark.parametrize("location, token", [("hanoi", "not-the-token-of-hanoi-at-all"), ("old", TOKENS["old"])])
def test_a_wrong_or_revoked_token_is_refused_and_the_agent_keeps_its_results(site, location, token):
    central, target, tmp = site
    before_rows = _stored(central, location)
    before_batches = central.rows("SELECT coalesce(sum(batches), 0) FROM agent_contacts WHERE location = ?", [location])
    central.start()
    own = probes_file(tmp.mktemp("probes") / "probes.yaml", target.url, interval=1)
    folder = tmp.mktemp(f"agent-refused-{location}")
    try:
        r = httpx.post(f"{central.url}/api/agents/v1/results", headers={"Authorization": f"Bearer {token}"},
                       json={"location": location, "results": []}, timeout=5)
        assert r.status_code == 401 and r.json() == {"error": "unauthorized"}
        agent = Agent(folder, central.url, location, token, own)
        try:
            agent.wait_for(lambda: "refused this agent's token" in agent.output, what="told the token was refused")
            agent.wait_for(lambda: agent.waiting_files() >= 2, what="keeping its results")
            line = agent.stop()
        finally:
            if agent.proc.poll() is None:
                agent.proc.kill()
    finally:
        central.stop()
    measured, sent, waiting = summary_numbers(line)
    assert sent == 0 and waiting == measured > 0
    # nothing stored, nothing counted: the rows of that location are those it had before
    assert _stored(central, location) == before_rows
    assert central.rows("SELECT coalesce(sum(batches), 0) FROM agent_contacts WHERE location = ?",
                        [location]) == before_batches


def _raw(host: str, port: int, request: bytes) -> bytes:
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        return data


def test_hostile_requests_are_refused_with_4xx_and_the_owner_goes_on(site):
    central, _, _ = site
    central.start()
    url = f"{central.url}/api/agents/v1/results"
    auth = {"Authorization": f"Bearer {TOKENS['hanoi']}"}
    good = {"location": "hanoi", "agent_version": "1", "results": []}
    try:
        # a body announced as 10 MB: refused before a byte of it is read
        head = (f"POST /api/agents/v1/results HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKENS['hanoi']}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {10 << 20}\r\n\r\n").encode()
        assert _raw(CENTRAL_HOST, central.port, head).startswith(b"HTTP/1.1 413")
        # no length at all (chunked)
        chunked = head.replace(f"Content-Length: {10 << 20}".encode(), b"Transfer-Encoding: chunked") + b"0\r\n\r\n"
        assert _raw(CENTRAL_HOST, central.port, chunked).startswith(b"HTTP/1.1 411")
        with httpx.Client(headers=auth, timeout=10) as c:
            assert c.post(url, content=b"{not json").status_code == 400
            many = json.dumps({"location": "hanoi", "results": [{}] * 100_000})
            assert c.post(url, content=many).status_code == 413
            assert c.post(url, json={**good, "location": "hcm"}).status_code == 403
            bad = {**good, "results": [{"id": "x" * 10, "name": "n" * 5000, "kind": "check", "started_at": "2026-01-01",
                                        "ok": True}]}
            assert c.post(url, json=bad).status_code == 422
            assert c.get(f"{central.url}/api/agents/v1/nothing").status_code == 404
        # a burst of bad tokens does not hang the server
        def bad_token(i: int) -> int:
            return httpx.post(url, headers={"Authorization": f"Bearer wrong-{i}-" + "x" * 30}, json=good,
                              timeout=10).status_code

        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            codes = set(pool.map(bad_token, range(300)))
        assert codes <= {401, 503} and 401 in codes
        assert time.monotonic() - t0 < 20
        r = httpx.post(url, headers=auth, json=good, timeout=5)
        assert r.status_code == 200 and r.json() == {"stored": 0, "duplicates": 0, "refused": 0}
        # the agents fetch the central's probes file with their token, and only with it
        r = httpx.get(f"{central.url}/api/agents/v1/probes", headers=auth, timeout=5)
        assert r.status_code == 200 and "checks:" in r.text
        assert httpx.get(f"{central.url}/api/agents/v1/probes", timeout=5).status_code == 401
        assert central.alive()
    finally:
        central.stop()


def test_an_agent_without_its_own_probes_file_runs_the_central_s_and_caches_it(site):
    central, target, tmp = site
    central.start()
    folder = tmp.mktemp("agent-fetch")
    agent = Agent(folder, central.url, "hcm", TOKENS["hcm"], None)
    try:
        agent.wait_for(lambda: "central's probes file" in agent.output and agent.spool.joinpath(
            "central-probes.yaml").exists(), what="fetching the probes")
        line = agent.stop()
    finally:
        if agent.proc.poll() is None:
            agent.proc.kill()
    # restarted with the central down: the cached file is used
    central.stop()
    agent = Agent(folder, central.url, "hcm", TOKENS["hcm"], None,
                  extra_env={"MOTCUA_AGENTS__AGENT__STOP_GRACE_SECONDS": "1"})
    try:
        agent.wait_for(lambda: "using the probes file cached" in agent.output, what="using the cache")
        agent.wait_for(lambda: agent.waiting_files() >= 1, what="probing with the cached file")
        agent.stop()
    finally:
        if agent.proc.poll() is None:
            agent.proc.kill()
    assert summary_numbers(line)[2] == 0
