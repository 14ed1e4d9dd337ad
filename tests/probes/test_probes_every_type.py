"""Every kind of check and assertion a probes file can declare, against the simulated portal served
over HTTPS on loopback (real sockets, real TLS), for both release profiles: methods, headers, a raw
body, redirects followed or not, status, body text, regex, JSON paths (equals, not equals, min,
max, exists, where), response time, TLS certificate days left, and journeys that extract a CSRF
token and a cookie for the next step."""
from __future__ import annotations

import pytest

from config.portal import load_profile
from config.probes import ProbesFile
from probes.runner import JOURNEY_STEP, format_results, run_once
from steps.secrets import Secrets
from testbed.portal.server import running
from tests.probes.tls_cert import self_signed

CERT_DAYS = 30
RELEASES = {"v1.0": "v1.0", "v2.0": load_profile("v2.0").scaled(0.25)}


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return self_signed(tmp_path_factory.mktemp("tls"), CERT_DAYS)


def probes(ca_file) -> ProbesFile:
    csrf = {"name": "csrf", "regex": 'name="_csrf" value="([^"]+)"'}
    return ProbesFile.model_validate({
        "variables": {"base_url": "https://127.0.0.1:1"},
        "defaults": {"timeout": 5, "ca_file": str(ca_file)},
        "checks": [
            {"name": "text-and-time", "url": "${base_url}/vi",
             "expect": {"status": 200, "body_contains": ["Thủ tục được quan tâm"], "max_ms": 5000}},
            {"name": "regex", "url": "${base_url}/vi", "expect": {"body_regex": r"Cổng Dịch vụ công tỉnh \w+"}},
            {"name": "absent-text", "url": "${base_url}/vi", "expect": {"body_not_contains": ["Lỗi hệ thống"]}},
            {"name": "json", "url": "${base_url}/api/procedures?q=khai%20sinh",
             "headers": {"Accept": "application/json"},
             "expect": {"json": [{"path": "total", "min": 1, "max": 50},
                                 {"path": "items[0].code", "exists": True},
                                 {"path": "items[0].nope", "exists": False},
                                 {"path": "items[0].online_level", "not_equals": "none"},
                                 {"path": "items", "where": {"online_level": ["full", "partial"]}, "min": 1}]}},
            {"name": "json-fails", "url": "${base_url}/api/procedures?q=khai%20sinh",
             "expect": {"json": [{"path": "total", "equals": 0}]}},
            {"name": "too-slow", "url": "${base_url}/vi/thu-tuc?q=khai%20sinh", "expect": {"max_ms": 1}},
            {"name": "head", "method": "HEAD", "url": "${base_url}/vi"},
            {"name": "no-follow", "url": "${base_url}/vi/dang-xuat", "follow_redirects": False,
             "expect": {"status": [303]}},
            {"name": "cert-ok", "url": "${base_url}/vi", "expect": {"cert_days_min": 10}},
            {"name": "cert-expiring", "url": "${base_url}/vi", "expect": {"cert_days_min": 60}},
        ],
        "journeys": [
            {"name": "rate-with-raw-body", "steps": [
                {"name": "form", "url": "${base_url}/vi/danh-gia", "extract": [csrf]},
                {"name": "post", "method": "POST", "url": "${base_url}/vi/danh-gia",
                 "headers": {"Content-Type": "application/x-www-form-urlencoded"},
                 "body": "muc_do=5&_csrf=${csrf}", "expect": {"body_contains": ["Cảm ơn bạn đã đánh giá"]}},
            ]},
            {"name": "cookie-and-csrf", "steps": [
                {"name": "login-page", "url": "${base_url}/vi/dang-nhap", "extract": [csrf]},
                {"name": "login", "method": "POST",
                 "url": "${base_url}/auth/realms/digo/login-actions/authenticate",
                 "form": {"username": "congdan.v2", "password": "${secret:PW}", "_csrf": "${csrf}", "next": "/vi"},
                 "expect": {"body_contains": ["Đăng xuất"]},
                 "extract": [{"name": "session", "cookie": "TESTBED_SESSION"}]},
                {"name": "still-logged-in", "url": "${base_url}/vi/tra-cuu-ho-so", "expect": {"body_contains": ["Đăng xuất"]}},
            ]},
        ],
    })


@pytest.mark.parametrize("release", list(RELEASES))
def test_every_probe_type_against_the_testbed_over_https(release, cert):
    with running(RELEASES[release], tls=cert) as base:
        assert base.startswith("https://")
        results = run_once(probes(cert[0]), base_url=base, secrets=Secrets({"PW": "MatKhau@2022"}, env={}))
    r = {(x.name, x.step): x for x in results}
    text = format_results(results)
    for name in ("text-and-time", "regex", "absent-text", "json", "head", "no-follow", "cert-ok"):
        assert r[(name, "")].ok, text
    assert r[("head", "")].bytes == 0
    assert r[("no-follow", "")].status_code == 303
    assert r[("json-fails", "")].reason.startswith("total: expected 0, got ")
    assert r[("too-slow", "")].reason.startswith("too slow: ") and r[("too-slow", "")].reason.endswith("limit 1 ms")
    exp = r[("cert-expiring", "")]
    assert not exp.ok and exp.reason.startswith("TLS certificate expires in ") and exp.reason.endswith("(minimum 60)")
    for x in results:
        if x.step != JOURNEY_STEP and x.status_code is not None:
            assert x.tls_ms is None or x.tls_ms > 0
            assert x.cert_days_left is not None and CERT_DAYS - 1 < x.cert_days_left <= CERT_DAYS
    # over TLS every fresh connection has a handshake, timed as its own phase
    assert r[("text-and-time", "")].tls_ms > 0 and r[("text-and-time", "")].connect_ms is not None
    # the 2.0 account logs in on both releases; the session cookie carries the login to the next step
    assert r[("cookie-and-csrf", JOURNEY_STEP)].ok, text
    if release == "v1.0":
        assert r[("rate-with-raw-body", JOURNEY_STEP)].ok, text
    else:  # the rating utility of 1.0 is gone in 2.0
        assert r[("rate-with-raw-body", "form")].reason == "expected status 200, got 404"
        assert r[("rate-with-raw-body", JOURNEY_STEP)].reason.startswith("failed at step 'form'")
