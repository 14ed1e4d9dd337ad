"""The probes' network layer (probes/transport.py) and what a probe reports as latency,
over real loopback sockets: the streams are ours, errors keep their plain reasons, and the
reported latency is the sum of the network phases (DNS, connect, TLS, time to first byte,
transfer) over every redirect hop."""
from __future__ import annotations

import asyncio
import http.server
import itertools
import socket
import struct
import threading
import time
from contextlib import contextmanager

import httpx
import pytest

from config.probes import HttpCheck
from probes.runner import Runner, run_once, tls_context
from probes.transport import AsyncioStream, probe_transport
from steps.secrets import Secrets
from testbed.portal.server import running
from tests.probes.local_server import serve
from tests.probes.test_probes_targets import cfg, free_port, https_server


def phases_sum(r) -> float:
    return sum(x or 0.0 for x in (r.dns_ms, r.connect_ms, r.tls_ms, r.ttfb_ms, r.transfer_ms))


class _Slow(http.server.BaseHTTPRequestHandler):
    """/hop: waits 60 ms, redirects to /end; /end: waits 60 ms, answers 200."""
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802
        time.sleep(0.06)
        if self.path == "/hop":
            self.send_response(302)
            self.send_header("Location", "/end")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def slow_server():
    return serve(_Slow)


def test_the_client_talks_through_our_asyncio_streams():
    """httpx builds its own pool; probe_transport replaces it. If a new httpx stops using `_pool`,
    this fails instead of the probes silently timing anyio's machinery again."""
    async def go(base):
        async with httpx.AsyncClient(transport=probe_transport(tls_context())) as client:
            r = await client.get(f"{base}/vi")
            return r.status_code, r.extensions["network_stream"]
    with running("v1.0") as base:
        status, stream = asyncio.run(go(base))
    assert status == 200
    assert isinstance(stream, AsyncioStream)


def test_latency_is_the_sum_of_the_phases_over_redirect_hops():
    with slow_server() as base:
        c = cfg(checks=[{"name": "hop", "url": f"{base}/hop"}, {"name": "end", "url": f"{base}/end"}])
        t0 = time.perf_counter()
        hop, end = run_once(c, secrets=Secrets({}, env={}))
        wall_ms = (time.perf_counter() - t0) * 1000
    assert hop.ok and end.ok, (hop, end)
    for r in (hop, end):
        assert r.total_ms == pytest.approx(phases_sum(r), abs=1e-6)
        assert r.connect_ms is not None and r.transfer_ms is not None and r.dns_ms == 0.0
    # two hops of ≥ 60 ms each on the server: both are in the time to first byte and the total
    assert hop.ttfb_ms >= 120 and end.ttfb_ms >= 60
    assert hop.total_ms >= 120 and hop.total_ms < wall_ms


def test_latency_covers_the_servers_own_time_and_no_more_than_the_call():
    """Against the testbed's Server-Timing: the probe's latency is at least what the server says it
    spent (the phases cannot miss the server's time), at most the wall time of the whole call."""
    with running("v1.0") as base:
        c = cfg(checks=[{"name": f"home{i}", "url": "${base_url}/vi"} for i in range(5)])
        t0 = time.perf_counter()
        results = run_once(c, base_url=base, secrets=Secrets({}, env={}))
        wall_ms = (time.perf_counter() - t0) * 1000
    for r in results:
        assert r.ok and r.server_ms is not None, r
        assert r.server_ms <= r.total_ms < wall_ms
        assert r.total_ms == pytest.approx(phases_sum(r), abs=1e-6)


def test_tls_phases_add_up_too(tmp_path):
    with https_server(tmp_path, days=30) as (url, cert):
        [r] = run_once(cfg(checks=[{"name": "ok", "url": f"{url}/"}], ca_file=str(cert)),
                       secrets=Secrets({}, env={}))
    assert r.ok and r.tls_ms and r.tls_ms > 0
    assert r.total_ms == pytest.approx(phases_sum(r), abs=1e-6)


def test_journey_total_is_the_portals_time_over_its_steps():
    with running("v1.0") as base:
        c = cfg(journeys=[{"name": "j", "steps": [{"name": "a", "url": "${base_url}/vi"},
                                                  {"name": "b", "url": "${base_url}/vi/thu-tuc?q=khai+sinh"}]}])
        results = run_once(c, base_url=base, secrets=Secrets({}, env={}))
    steps = {r.step: r for r in results}
    assert all(r.ok for r in results), results
    # the second step reuses the first step's connection, as a browser would: no connect phase
    assert steps["a"].connect_ms is not None and steps["b"].connect_ms is None
    assert steps["*"].total_ms == pytest.approx(steps["a"].total_ms + steps["b"].total_ms)


def test_refused_by_a_host_name_with_two_addresses_is_still_connection_refused():
    closed = free_port()
    [r] = run_once(cfg(checks=[{"name": "refused", "url": f"http://localhost:{closed}/"}]),
                   secrets=Secrets({}, env={}))
    assert not r.ok and r.reason == "connection refused"


def test_a_server_that_resets_mid_response_is_a_plain_reason():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()

    def serve():
        c, _ = srv.accept()
        c.recv(4096)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
        c.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        [r] = run_once(cfg(checks=[{"name": "reset", "url": f"http://127.0.0.1:{srv.getsockname()[1]}/"}]),
                       secrets=Secrets({}, env={}))
    finally:
        t.join(timeout=5)
        srv.close()
    assert not r.ok
    assert r.reason in ("connection reset while reading the response",
                        "server closed the connection without answering") \
        or r.reason.startswith("not a valid HTTP response"), r.reason


def test_one_tls_context_per_ca_file_and_setting(tmp_path):
    assert tls_context() is tls_context()
    assert tls_context(verify=False) is not tls_context()
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    a = tls_context(ca)
    assert tls_context(ca) is a
    runner = Runner(cfg(), Secrets({}, env={}))
    assert runner.ssl_context() is tls_context()


def test_a_host_name_is_looked_up_once_per_request(monkeypatch):
    """The DNS phase is the probe's own look-up; the connect uses its addresses (before, the connect
    looked the name up again, and a slow resolver counted twice in the total)."""
    looked_up: list[str] = []
    real = socket.getaddrinfo

    def counting(host, *a, **kw):
        looked_up.append(host)
        return real(host, *a, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", counting)
    with running("v1.0") as base:
        port = base.rsplit(":", 1)[1]
        [r] = run_once(cfg(checks=[{"name": "by-name", "url": f"http://localhost:{port}/vi"}]),
                       secrets=Secrets({}, env={}))
    assert r.ok, r
    assert looked_up.count("localhost") == 1, looked_up
    assert r.dns_ms is not None and r.dns_ms > 0
    assert r.total_ms == pytest.approx(phases_sum(r), abs=1e-6)


def test_the_dns_phase_holds_the_look_up_not_the_thread_pools_start_up():
    """The look-up runs in the event loop's executor, whose first call starts a thread (≈ 1–2 ms,
    which `probe --once` reported as DNS time). Here the executor's threads take 300 ms to start:
    the probe waits for them, its DNS phase does not count them."""
    import concurrent.futures

    check = HttpCheck.model_validate({"name": "by-name", "url": "http://localhost:{port}/vi"})

    async def probe(port: str) -> tuple[float, object]:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(initializer=time.sleep, initargs=(0.3,)))
        runner = Runner(cfg(), Secrets({}, env={}))
        t0 = time.perf_counter()
        [r] = await runner.run_check(check.model_copy(update={"url": check.url.format(port=port)}))
        return (time.perf_counter() - t0) * 1000, r

    with running("v1.0") as base:
        wall_ms, r = asyncio.run(probe(base.rsplit(":", 1)[1]))
    assert r.ok, r
    assert wall_ms >= 300                      # the probe did wait for the thread to start
    assert 0 < r.dns_ms < 100, r.dns_ms        # the look-up of localhost alone
    assert r.total_ms == pytest.approx(phases_sum(r), abs=1e-6) and r.total_ms < 200


def test_localhost_resolves_in_well_under_a_millisecond_once_warm():
    """`localhost` is answered from the hosts file: tens of microseconds, as blackbox_exporter reports
    it; the best of a few probes (a loaded machine can pause any single one) stays well under 1 ms."""
    with running("v1.0") as base:
        port = base.rsplit(":", 1)[1]
        probes = cfg(checks=[{"name": f"n{i}", "url": f"http://localhost:{port}/vi"} for i in range(5)])

        async def twice() -> list:
            runner = Runner(probes, Secrets({}, env={}))
            await runner.run_all()              # the executor's thread starts here
            return [r for _ in range(3) for r in await runner.run_all()]

        results = asyncio.run(twice())
    assert all(r.ok for r in results), results
    assert min(r.dns_ms for r in results) < 0.5, sorted(r.dns_ms for r in results)


class _ClosesAfterEach(http.server.BaseHTTPRequestHandler):
    """Answers as if keeping the connection, then closes it (as a server at its keep-alive limit)."""
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *a):
        pass


def test_a_journey_step_after_the_server_closed_the_idle_connection_reconnects():
    with serve(_ClosesAfterEach) as base:
        steps = [{"name": "a", "url": f"{base}/a"}, {"name": "pause", "url": f"{base}/b"}]

        async def go():
            runner = Runner(cfg(journeys=[{"name": "j", "steps": steps}]), Secrets({}, env={}))
            return await runner.run_journey(runner.cfg.journeys[0])
        results = asyncio.run(go())
    by_step = {r.step: r for r in results}
    assert all(r.ok for r in results), results
    assert by_step["a"].connect_ms is not None and by_step["pause"].connect_ms is not None  # a new connection


class _ClosesOnTheSecondRequest(http.server.BaseHTTPRequestHandler):
    """Answers the first request of a connection and keeps it open; reads the second and closes
    without answering: the server's idle close crossing the client's next request, made certain
    (in the test above it is a race the client usually, not always, wins)."""
    protocol_version = "HTTP/1.1"
    seen: list[tuple[int, str, str]] = []  # (connection serial, method, path) of every request read
    connections = itertools.count()  # a serial per connection: id() of a closed socket is reused
    answer_first = True
    reset = False  # close with a TCP reset (the client reads "connection reset") instead of a FIN

    def setup(self):
        super().setup()
        self.requests_here = 0
        self.serial = next(type(self).connections)

    def _answer(self):
        n = len(self.read_body())
        type(self).seen.append((self.serial, self.command, self.path))
        self.requests_here += 1
        if self.requests_here > 1 or not self.answer_first:
            self.close_connection = True
            if self.reset:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        body = f"ok {n}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    do_GET = do_POST = do_PUT = _answer  # noqa: N815

    def log_message(self, *a):
        pass


@contextmanager
def closes_on_the_second_request(reset: bool = False, answer_first: bool = True):
    _ClosesOnTheSecondRequest.seen = []
    _ClosesOnTheSecondRequest.reset = reset
    _ClosesOnTheSecondRequest.answer_first = answer_first
    with serve(_ClosesOnTheSecondRequest) as base:
        yield base, _ClosesOnTheSecondRequest.seen


def run_journey(steps):
    async def go():
        runner = Runner(cfg(journeys=[{"name": "j", "steps": steps}]), Secrets({}, env={}))
        return await runner.run_journey(runner.cfg.journeys[0])
    return {r.step: r for r in asyncio.run(go())}


@pytest.mark.parametrize("method,reset", [("GET", False), ("PUT", False), ("GET", True)])
def test_an_idempotent_step_the_server_closed_under_is_sent_again_on_a_new_connection(method, reset):
    """A server may close an idle keep-alive connection just as the next request goes out on it;
    the request never got an answer. As browsers do (RFC 9112 §9.3.1), an idempotent request is
    sent once more on a new connection, so the probe does not report a failure the portal did not
    have. Before, the step failed with "server closed the connection without answering" (or,
    closed with a reset, "connection reset while reading the response")."""
    with closes_on_the_second_request(reset) as (base, seen):
        by_step = run_journey([{"name": "a", "url": f"{base}/a"},
                               {"name": "b", "url": f"{base}/b", "method": method, "body": "x"}])
    assert by_step["b"].ok, by_step["b"]
    assert by_step["b"].status_code == 200
    assert by_step["b"].connect_ms is not None  # answered on a new connection
    assert by_step["b"].total_ms == pytest.approx(phases_sum(by_step["b"]), abs=1e-6)
    assert [(m, p) for _, m, p in seen] == [("GET", "/a"), (method, "/b"), (method, "/b")]
    assert seen[0][0] == seen[1][0] != seen[2][0]  # the second /b on another connection


def test_a_post_step_the_server_closed_under_is_not_sent_twice():
    """A POST may have been acted on (a dossier filed) before the server closed: it is never sent
    again by itself. The step fails, and the reason says what happened."""
    with closes_on_the_second_request() as (base, seen):
        by_step = run_journey([{"name": "a", "url": f"{base}/a"},
                               {"name": "file", "url": f"{base}/file", "method": "POST", "body": "x"}])
    assert not by_step["file"].ok
    assert "closed" in by_step["file"].reason and "not sent again" in by_step["file"].reason, by_step["file"].reason
    assert [(m, p) for _, m, p in seen] == [("GET", "/a"), ("POST", "/file")]


def test_a_new_connection_closed_without_an_answer_is_a_failure_not_retried():
    """Only a reused connection is sent on again: on a new one the close is the portal's failure."""
    with closes_on_the_second_request(answer_first=False) as (base, seen):
        by_step = run_journey([{"name": "a", "url": f"{base}/a"}])
    assert not by_step["a"].ok
    assert by_step["a"].reason == "server closed the connection without answering", by_step["a"].reason
    assert [(m, p) for _, m, p in seen] == [("GET", "/a")]
