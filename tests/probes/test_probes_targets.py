"""The probe runner over real sockets: broken targets give failed checks with plain reasons, never
exceptions; results and rollups land in a real DuckDB store; secrets never leave the runner."""
from __future__ import annotations

import datetime as dt
import http.server
import logging
import socket
import threading
import time
from contextlib import contextmanager

import pytest

from config.probes import ProbesFile
from probes.runner import ProbeResult, format_results, run_once
from probes.scheduler import ProbeScheduler
from steps.secrets import Secrets
from store.db import Store
from store.probe_writes import write_results
from testbed.portal.server import running
from tests.probes.local_server import serve


def cfg(checks=(), journeys=(), **defaults) -> ProbesFile:
    return ProbesFile.model_validate({"variables": {"base_url": "http://127.0.0.1:1"},
                                      "defaults": {"timeout": 2, **defaults},
                                      "checks": list(checks), "journeys": list(journeys)})


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@contextmanager
def raw_server(behaviour: str):
    """A TCP server on loopback: 'silent' accepts and never answers; 'garbage' answers non-HTTP
    bytes; 'close' closes at once."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    srv.settimeout(0.2)
    stop = threading.Event()
    held: list[socket.socket] = []

    def loop():
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except OSError:
                continue
            if behaviour == "silent":
                held.append(c)
                continue
            try:
                c.settimeout(1)
                c.recv(4096)
                if behaviour == "garbage":
                    c.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\x00\x01\x02garbage\r\n\r\n")
            except OSError:
                pass
            finally:
                c.close()

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    finally:
        stop.set()
        t.join(timeout=2)
        for c in held:
            c.close()
        srv.close()


class _Redirector(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802
        self.send_response(302)
        self.send_header("Location", self.path)  # to itself
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


def redirect_loop_server():
    return serve(_Redirector)


def one(results, name, step=""):
    found = [r for r in results if r.name == name and r.step == step]
    assert len(found) == 1, [(r.name, r.step) for r in results]
    return found[0]


# -- broken targets -------------------------------------------------------------------------------
def test_broken_targets_fail_with_plain_reasons():
    closed = free_port()
    with raw_server("silent") as silent, raw_server("garbage") as garbage, raw_server("close") as closer, \
            redirect_loop_server() as loop:
        c = cfg(checks=[
            {"name": "refused", "url": f"http://127.0.0.1:{closed}/"},
            {"name": "silent", "url": f"{silent}/", "timeout": 0.5},
            {"name": "garbage", "url": f"{garbage}/"},
            {"name": "closes", "url": f"{closer}/"},
            {"name": "loop", "url": f"{loop}/vi"},
            {"name": "bad-host", "url": "http://no-such-host.invalid/"},
        ], journeys=[{"name": "j", "steps": [{"name": "first", "url": f"http://127.0.0.1:{closed}/"},
                                               {"name": "second", "url": f"{loop}/"}]}])
        t0 = time.monotonic()
        results = run_once(c, secrets=Secrets({}, env={}))
        assert time.monotonic() - t0 < 8
    assert not any(r.ok for r in results)
    assert one(results, "refused").reason == "connection refused"
    assert one(results, "silent").reason == "timed out after 0.5 s"
    assert one(results, "garbage").reason.startswith("not a valid HTTP response")
    assert one(results, "closes").reason == "server closed the connection without answering"
    assert one(results, "loop").reason == "too many redirects (> 10)"
    assert one(results, "bad-host").reason.startswith("cannot resolve host no-such-host.invalid")
    # a journey stops at its first failed step and says where
    assert one(results, "j", "first").reason == "connection refused"
    assert not [r for r in results if r.name == "j" and r.step == "second"]
    assert one(results, "j", "*").reason == "failed at step 'first': connection refused"
    text = format_results(results)
    assert "FAIL  refused" in text and "connection refused" in text and "8 results, 8 failed" in text


def test_redirect_limit_is_a_setting():
    with redirect_loop_server() as loop:
        results = run_once(cfg(checks=[{"name": "loop", "url": f"{loop}/"}], max_redirects=3),
                           secrets=Secrets({}, env={}))
    assert results[0].reason == "too many redirects (> 3)" and results[0].status_code is None


def test_missing_secret_is_a_failed_check_not_an_exception():
    c = cfg(checks=[{"name": "needs-secret", "url": "http://127.0.0.1:1/?k=${secret:API_KEY}"}])
    [r] = run_once(c, secrets=Secrets({}, env={}))
    assert not r.ok and "secret API_KEY is not set" in r.reason and "MOTCUA_SECRET_API_KEY" in r.reason


# -- timings ----------------------------------------------------------------------------------------
def test_phase_timings_against_the_testbed():
    with running("v1.0") as base:
        port = base.rsplit(":", 1)[1]
        c = cfg(checks=[{"name": "home", "url": "${base_url}/vi"},
                        {"name": "home-by-name", "url": f"http://localhost:{port}/vi"}])
        results = run_once(c, base_url=base, secrets=Secrets({}, env={}))
    for r in results:
        assert r.ok, r
        assert r.status_code == 200 and r.bytes and r.bytes > 500
        assert r.connect_ms is not None and r.ttfb_ms is not None and r.transfer_ms is not None
        assert r.tls_ms is None and r.cert_days_left is None  # plain http
        # the testbed's home page holds a worker >= ~6 ms (v1.0: 10 ms ± 4 ms jitter)
        assert r.ttfb_ms >= 5
        assert r.total_ms >= r.ttfb_ms + r.connect_ms
        assert r.started_at.tzinfo is None
    assert one(results, "home").dns_ms == 0.0  # an address literal needs no look-up
    assert one(results, "home-by-name").dns_ms is not None


# -- secrets never leave the runner ---------------------------------------------------------------
def test_secret_values_are_redacted_everywhere(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    pw = "S3cret-Value-42"
    secrets = Secrets({"PW": pw}, env={})
    with running("v1.0") as base, Store(tmp_path / "s.duckdb") as store:
        c = cfg(checks=[
            {"name": "echo", "url": "${base_url}/vi/thu-tuc/${secret:PW}", "expect": {"status": 200}},
            {"name": "text", "url": "${base_url}/vi", "expect": {"body_contains": ["${secret:PW}"]}},
        ], journeys=[{"name": "login", "steps": [
            {"name": "page", "url": "${base_url}/vi/dang-nhap",
             "extract": [{"name": "csrf", "regex": 'name="_csrf" value="([^"]+)"'}]},
            {"name": "post", "method": "POST", "url": "${base_url}/auth/realms/digo/login-actions/authenticate",
             "form": {"username": "congdan.v1", "password": "${secret:PW}", "_csrf": "${csrf}"},
             "expect": {"body_contains": ["Đăng xuất", "${secret:PW}"]}}]}])
        results = run_once(c, store=store, base_url=base, secrets=secrets)
        dump = repr(store.cursor().execute("SELECT * FROM probe_results").fetchall())
        dump += repr(store.cursor().execute("SELECT * FROM probe_runs").fetchall())
    assert one(results, "echo").reason == "expected status 200, got 404"
    assert "***" in one(results, "echo").url
    assert one(results, "text").reason == "text '***' not found"
    assert one(results, "login", "post").reason == "text 'Đăng xuất' not found; text '***' not found"
    everything = format_results(results) + repr(results) + dump + caplog.text
    assert pw not in everything
    assert "***" in dump


# -- the store ----------------------------------------------------------------------------------------
def _result(name, started, ok=True, ms=10.0, step=""):
    return ProbeResult(name=name, kind="check" if not step else "journey", step=step, started_at=started, ok=ok,
                       reason="" if ok else "connection refused", status_code=200 if ok else None, total_ms=ms)


def test_results_rollups_and_retention(tmp_path):
    now = dt.datetime(2026, 6, 15, 10, 30)
    with Store(tmp_path / "s.duckdb") as store:
        old = [_result("home", now - dt.timedelta(days=20), ms=5.0)]
        write_results(store, old, now=now - dt.timedelta(days=20), raw_retention_days=14)
        batch = [_result("home", now.replace(minute=m), ok=m % 3 != 0, ms=float(m)) for m in range(0, 12)]
        batch += [_result("j", now, step="login", ms=40.0), _result("j", now, step="*", ms=80.0)]
        summary = write_results(store, batch, now=now, raw_retention_days=14, target="http://x")
        assert summary["results"] == 14 and summary["failures"] == 4 and summary["purged"] == 1
        # rewriting the same hour keeps one rollup row per hour, name and step
        write_results(store, [_result("home", now.replace(minute=59), ms=100.0)], now=now)

        hourly = {(r["name"], r["step"]): r for r in store.query("probe_rollup", grain="hourly", since=now.replace(minute=0))}
        h = hourly[("home", "")]
        assert h["count"] == 13 and h["failures"] == 4 and h["max_ms"] == 100.0
        assert h["p50_ms"] == pytest.approx(6.0) and h["success_ratio"] == pytest.approx(round(9 / 13, 4))
        assert hourly[("j", "login")]["count"] == 1 and hourly[("j", "*")]["p95_ms"] == 80.0
        daily = {(r["bucket"], r["name"]) for r in store.query("probe_rollup", grain="daily")}
        # the purged day's rollup survives raw retention
        assert ((now - dt.timedelta(days=20)).date(), "home") in daily and (now.date(), "home") in daily
        raw = store.query("probe_results", probe="home")
        assert len(raw) == 13 and min(raw.column("started_at")) >= now.replace(minute=0)
        assert len(store.query("probe_results", failed_only=True)) == 4
        latest = store.query("probe_latest").to_dicts()
        assert [(r["name"], r["step"], r["total_ms"]) for r in latest] == [
            ("home", "", 100.0), ("j", "*", 80.0), ("j", "login", 40.0)]
        assert len(store.query("probe_runs")) == 2  # the purged run is gone with its raw rows


def test_rollup_retention_prunes_old_rollups_and_a_batch_keeps_other_checks_rollups(tmp_path):
    now = dt.datetime(2026, 6, 15, 10, 30)
    with Store(tmp_path / "s.duckdb") as store:
        for days in (40, 20):
            write_results(store, [_result("home", now - dt.timedelta(days=days))], now=now - dt.timedelta(days=days),
                          raw_retention_days=14, rollup_retention_days=30)
        write_results(store, [_result("home", now, ms=10.0), _result("other", now, ms=30.0)], now=now,
                      raw_retention_days=14, rollup_retention_days=30)
        # a later batch of one check recomputes that check's rollups only, and leaves the others right
        write_results(store, [_result("home", now.replace(minute=45), ms=20.0)], now=now,
                      raw_retention_days=14, rollup_retention_days=30)
        hourly = store.query("probe_rollup", grain="hourly").to_dicts()
        daily = store.query("probe_rollup", grain="daily").to_dicts()
        raw_days = {r["started_at"].date() for r in store.query("probe_results")}
    assert {r["bucket"].date() if hasattr(r["bucket"], "date") else r["bucket"] for r in hourly} == \
        {(now - dt.timedelta(days=20)).date(), now.date()}   # 40 days: past the 30-day rollup retention
    assert {r["bucket"] for r in daily} == {(now - dt.timedelta(days=20)).date(), now.date()}
    assert raw_days == {now.date()}                          # raw: 14 days
    today = {r["name"]: r for r in hourly if r["bucket"] == now.replace(minute=0)}
    assert today["home"]["count"] == 2 and today["home"]["max_ms"] == 20.0
    assert today["other"]["count"] == 1 and today["other"]["max_ms"] == 30.0


@pytest.mark.parametrize("limit", [2, 8])
def test_probes_in_flight_are_bounded(limit):
    import httpx

    with running("v1.0") as base:  # 32 workers, 10-15 ms per home page: the portal is not the limit
        c = cfg(checks=[{"name": f"home{i}", "url": "${base_url}/vi"} for i in range(8)]
                + [{"name": f"search{i}", "url": "${base_url}/vi/thu-tuc?q=a"} for i in range(8)],
                max_in_flight=limit)
        results = run_once(c, base_url=base, secrets=Secrets({}, env={}))
        peak = httpx.get(f"{base}/__testbed/stats").json()["peak_in_flight"]
    assert all(r.ok for r in results)
    assert peak <= limit
    if limit == 8:
        assert peak > 2  # the bound is what held the 2 above, not the portal


# -- the schedule ---------------------------------------------------------------------------------------
def test_scheduler_runs_jobs_and_survives_a_dead_target(tmp_path):
    closed = free_port()
    with running("v1.0") as base, Store(tmp_path / "s.duckdb") as store:
        c = cfg(checks=[{"name": "home", "url": "${base_url}/vi", "interval": 0.3},
                        {"name": "dead", "url": f"http://127.0.0.1:{closed}/", "interval": 0.3}],
                write_every=0.3)
        sched = ProbeScheduler(c, store, secrets=Secrets({}, env={}), base_url=base)
        assert sorted(sched.job_ids) == ["check:dead", "check:home"]
        sched.start()
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                rows = dict(store.cursor().execute(
                    "SELECT name, count(*) FROM probe_results GROUP BY name").fetchall())
                if rows.get("home", 0) >= 3 and rows.get("dead", 0) >= 3:
                    break
                time.sleep(0.1)
        finally:
            sched.shutdown()
        assert rows.get("home", 0) >= 3 and rows.get("dead", 0) >= 3, rows
        latest = {r["name"]: r for r in store.query("probe_latest")}
        assert latest["home"]["ok"] and not latest["dead"]["ok"]
        assert latest["dead"]["reason"] == "connection refused"
        assert sched.last_results[("dead", "")].reason == "connection refused"


def test_scheduler_keeps_running_against_every_kind_of_broken_target(tmp_path):
    """Down, refusing, silent, garbage, closing, redirecting in a loop, unknown host: each a failed
    check with its reason, run after run; the healthy check beside them keeps passing."""
    closed = free_port()
    with running("v1.0") as base, raw_server("silent") as silent, raw_server("garbage") as garbage, \
            raw_server("close") as closer, redirect_loop_server() as loop, Store(tmp_path / "s.duckdb") as store:
        broken = {"refused": f"http://127.0.0.1:{closed}/", "silent": f"{silent}/", "garbage": f"{garbage}/",
                  "closes": f"{closer}/", "loop": f"{loop}/", "bad-host": "http://no-such-host.invalid/"}
        c = cfg(checks=[{"name": "home", "url": "${base_url}/vi", "interval": 0.2}]
                + [{"name": n, "url": u, "interval": 0.2, "timeout": 0.4} for n, u in broken.items()],
                write_every=0.3)
        sched = ProbeScheduler(c, store, secrets=Secrets({}, env={}), base_url=base)
        sched.start()
        try:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                rows = dict(store.cursor().execute(
                    "SELECT name, count(*) FROM probe_results GROUP BY name").fetchall())
                if all(rows.get(n, 0) >= 3 for n in ["home", *broken]):
                    break
                time.sleep(0.2)
        finally:
            sched.shutdown()
        assert all(rows.get(n, 0) >= 3 for n in ["home", *broken]), rows
        assert sched.scheduler.state == 0  # stopped by us, not by an error
        reasons = dict(store.cursor().execute(
            "SELECT name, any_value(reason) FROM probe_results WHERE NOT ok GROUP BY name").fetchall())
        oks = dict(store.cursor().execute("SELECT name, bool_and(ok) FROM probe_results GROUP BY name").fetchall())
    assert oks["home"] is True and not any(oks[n] for n in broken)
    assert reasons["refused"] == "connection refused"
    assert reasons["silent"] == "timed out after 0.4 s"
    assert reasons["garbage"].startswith("not a valid HTTP response")
    assert reasons["closes"] == "server closed the connection without answering"
    assert reasons["loop"] == "too many redirects (> 10)"
    assert reasons["bad-host"] == "cannot resolve host no-such-host.invalid"


def test_scheduler_writes_in_batches_and_shutdown_writes_the_rest(tmp_path):
    """One write per `write_every`, not one per run (each write recomputes the touched rollups);
    every run's result reaches the store, the last ones at shutdown."""
    with running("v1.0") as base, Store(tmp_path / "s.duckdb") as store:
        c = cfg(checks=[{"name": f"home{i}", "url": "${base_url}/vi", "interval": 0.2} for i in range(5)],
                write_every=1.0)
        sched = ProbeScheduler(c, store, secrets=Secrets({}, env={}), base_url=base)
        sched.start()
        time.sleep(2.5)
        sched.shutdown(wait=True)
        stored = store.cursor().execute("SELECT count(*) FROM probe_results").fetchone()[0]
        runs = store.cursor().execute("SELECT count(*), sum(results) FROM probe_runs").fetchone()
        hourly = store.cursor().execute("SELECT sum(count) FROM probe_rollup_hourly").fetchone()[0]
    assert sched.runs >= 25, sched.runs           # 5 checks every 0.2 s for 2.5 s
    assert stored == sched.runs == runs[1] == hourly
    assert 2 <= sched.writes == runs[0] <= 4, (sched.writes, runs)


# -- TLS: handshake time and certificate days left, with a self-signed certificate on loopback ----
class _Hello(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802
        body = "xin chào".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@contextmanager
def https_server(tmp_path, days: int):
    import ssl

    from tests.probes.tls_cert import self_signed

    cert, key = self_signed(tmp_path, days)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    with serve(_Hello, tls=ctx) as base:
        yield base, cert


def test_tls_timing_and_certificate_days_left(tmp_path):
    with https_server(tmp_path, days=30) as (url, cert):
        trusted = run_once(cfg(checks=[{"name": "ok", "url": f"{url}/"},
                                       {"name": "expiring", "url": f"{url}/", "expect": {"cert_days_min": 60}}],
                               ca_file=str(cert)), secrets=Secrets({}, env={}))
        untrusted = run_once(cfg(checks=[{"name": "self-signed", "url": f"{url}/"}]), secrets=Secrets({}, env={}))
    ok, expiring = trusted
    assert ok.ok and ok.status_code == 200, ok
    assert ok.tls_ms is not None and ok.tls_ms > 0 and ok.connect_ms is not None
    assert 29.0 < ok.cert_days_left <= 30.0
    assert not expiring.ok
    assert expiring.reason.startswith("TLS certificate expires in ") and expiring.reason.endswith("days (minimum 60)")
    [bad] = untrusted
    assert not bad.ok and bad.reason.startswith("TLS error") and "certificate" in bad.reason.lower()


def test_first_runs_are_spread_over_the_interval_not_all_at_once():
    """500 checks starting at the same instant queued for seconds (bench_probe_schedule: lag p99 2.8 s)."""
    import datetime as dt

    from config.probes import load_probes

    full = load_probes(None)
    home = full.checks[0]
    cfg = full.model_copy(update={"checks": [home.model_copy(update={"name": f"c{i}", "interval": 10})
                                             for i in range(10)], "journeys": []})
    sched = ProbeScheduler(cfg, None, secrets=Secrets({}, env={}), base_url="http://127.0.0.1:9")
    sched.scheduler.start(paused=True)
    try:
        firsts = sorted(j.next_run_time.replace(tzinfo=None) for j in sched.scheduler.get_jobs())
    finally:
        sched.scheduler.shutdown(wait=False)
    gaps = [(b - a).total_seconds() for a, b in zip(firsts, firsts[1:])]
    assert len(firsts) == 10 and all(0.9 <= g <= 1.1 for g in gaps), gaps
    assert (firsts[-1] - firsts[0]) < dt.timedelta(seconds=10)


def test_shutdown_lets_running_probes_finish_without_a_traceback(caplog):
    """Stopping the scheduler while a probe waits on a silent server: the probe ends with its own
    result ("timed out"), and nothing is logged as an exception (APScheduler's shutdown used to
    cancel the running job, which logged a traceback on Ctrl-C)."""
    import logging
    import socket
    import time

    from config.probes import load_probes

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    base = f"http://127.0.0.1:{silent.getsockname()[1]}"
    full = load_probes(None)
    check = full.checks[0].model_copy(update={"name": "silent", "interval": 60, "timeout": 1.0})
    cfg = full.model_copy(update={"checks": [check], "journeys": []})
    sched = ProbeScheduler(cfg, None, secrets=Secrets({}, env={}), base_url=base)
    try:
        with caplog.at_level(logging.INFO):
            sched.start()
            time.sleep(0.3)                        # the probe is now waiting for an answer
            sched.shutdown(wait=True)
    finally:
        silent.close()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    res = sched.last_results[("silent", "")]
    assert not res.ok and "timed out" in res.reason
