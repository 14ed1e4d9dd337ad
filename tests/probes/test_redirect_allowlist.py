"""Redirects are followed only to allowed hosts, hop by hop, in the probes (httpx) and in the load
tests (Locust, in child processes): a target answering 302 to a host off the list gets a failed step
with the reason, and the host off the list receives nothing. Real servers on loopback: the target
on 127.0.0.1, the host off the list on 127.0.0.2 (loopback too, but not on any allowlist)."""
from __future__ import annotations

import http.server
import textwrap
import threading
import urllib.request
from contextlib import contextmanager

import pytest

from config.probes import DEFAULT_PROBES, ProbesFile
from loadtests.runner import LoadRequest, run_loadtest
from probes.runner import run_once
from steps.secrets import Secrets

OFF_LIST_HOST = "127.0.0.2"
REFUSED = f"chuyển hướng tới máy không được phép: {OFF_LIST_HOST}"


@contextmanager
def serve(host: str, handler: type[http.server.BaseHTTPRequestHandler]):
    srv = http.server.ThreadingHTTPServer((host, 0), handler)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://{host}:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


@contextmanager
def world():
    """(target, off-list server, requests the off-list server received)."""
    received: list[str] = []

    class OffList(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _any(self):
            received.append(f"{self.command} {self.path}")
            body = b"load that should never have come here"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _any

        def log_message(self, *a):
            pass

    with serve(OFF_LIST_HOST, OffList) as away:
        class Target(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                moves = {"/away": (302, f"{away}/stolen"), "/away-307": (307, f"{away}/stolen-form"),
                         "/hop": (302, "/hop2"), "/hop2": (303, "/ok")}
                if self.path in moves:
                    code, where = moves[self.path]
                    self.send_response(code)
                    self.send_header("Location", where)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = "trang đích".encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _any

            def log_message(self, *a):
                pass

        with serve("127.0.0.1", Target) as target:
            yield target, away, received


def test_the_off_list_server_does_count_what_reaches_it():
    """The control: what the other tests find empty would not be empty if anything was sent."""
    with world() as (_target, away, received):
        urllib.request.urlopen(f"{away}/direct", timeout=5).read()
    assert received == ["GET /direct"]


# -- probes ---------------------------------------------------------------------------------------

def _probes(base: str, **defaults) -> ProbesFile:
    return ProbesFile.model_validate({
        "variables": {"base_url": base}, "defaults": {"timeout": 5, **defaults},
        "checks": [{"name": "away", "url": "${base_url}/away"},
                   {"name": "hops", "url": "${base_url}/hop", "expect": {"body_contains": ["trang đích"]}},
                   {"name": "no-follow", "url": "${base_url}/away", "follow_redirects": False,
                    "expect": {"status": [302]}}],
        "journeys": [{"name": "login", "steps": [
            {"name": "form", "method": "POST", "url": "${base_url}/away-307",
             "form": {"username": "cán-bộ", "password": "${secret:PORTAL_PW}"}},
            {"name": "after", "url": "${base_url}/ok"}]}]})


def test_a_probe_is_not_led_off_its_hosts_by_a_redirect():
    with world() as (target, _away, received):
        results = run_once(_probes(target), secrets=Secrets({"PORTAL_PW": "mat-khau-bi-mat"}, env={}))
    by = {(r.name, r.step): r for r in results}
    assert not by[("away", "")].ok and by[("away", "")].reason == REFUSED
    # a 307 would have carried the form, password included, to the other host
    assert by[("login", "form")].reason == REFUSED
    assert by[("login", "*")].reason == f"failed at step 'form': {REFUSED}"
    assert by[("hops", "")].ok, "redirects on the probes' own host are followed (302, then 303)"
    assert by[("no-follow", "")].ok, "a step that does not follow its redirects only sees the 302"
    assert received == [], "nothing reached the host off the list"


def test_a_host_named_in_the_settings_may_be_redirected_to():
    with world() as (target, _away, received):
        results = run_once(_probes(target, redirect_hosts=[OFF_LIST_HOST]),
                           secrets=Secrets({"PORTAL_PW": "mat-khau-bi-mat"}, env={}))
    by = {(r.name, r.step): r for r in results}
    assert by[("away", "")].ok and by[("login", "*")].ok
    assert {"GET /stolen", "POST /stolen-form"} <= set(received)


# -- load tests -----------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_load_test_sends_nothing_where_a_redirect_points_off_the_allowlist(app, tmp_path):
    f = tmp_path / "lt.yaml"
    f.write_text(textwrap.dedent(f"""
        shapes: {{s: {{kind: steady, duration: 3, warmup: 0}}}}
        scenarios:
          redirected:
            portal: {DEFAULT_PROBES}
            shape: s
            users: 3
            user_classes:
              - name: c
                wait: {{constant: 0.1}}
                tasks:
                  - {{name: away, steps: [{{name: x, url: "${{base_url}}/away"}}]}}
                  - {{name: form, steps: [{{name: x, method: POST, url: "${{base_url}}/away-307",
                                            form: {{q: "hồ sơ"}}}}]}}
                  - {{name: hops, steps: [{{name: x, url: "${{base_url}}/hop",
                                            expect: {{body_contains: ["trang đích"]}}}}]}}
        """), encoding="utf-8")
    with world() as (target, _away, received):
        res = run_loadtest(app, LoadRequest("redirected", target, "x"), loadtests_file=f,
                           runs_dir=tmp_path / "runs", out=lambda _line: None, progress_every=0, report=False)
    assert res.status == "completed", res
    ends = {e["name"]: e for e in app.query("loadtest_endpoints", run_id=res.run_id)}
    for name in ("away", "form"):
        assert ends[name]["requests"] > 0 and ends[name]["failures"] == ends[name]["requests"], ends[name]
    # the redirects on the target's own host are followed, each step one request in the statistics
    assert ends["hops"]["requests"] > 0 and ends["hops"]["failures"] == 0, ends["hops"]
    msgs = {x["error"] for x in app.query("loadtest_failures", run_id=res.run_id)}
    assert msgs == {REFUSED}, msgs
    assert received == [], f"load reached the host off the allowlist: {received[:5]}"
