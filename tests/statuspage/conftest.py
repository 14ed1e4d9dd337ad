"""The status page's tests: a real store with probe results written through store/probe_writes
(each service in a known state now, and a few days of daily figures), the system over it, and the
page served on loopback by its real server."""
from __future__ import annotations

import datetime as dt

import pytest

from config.app import load_config
from config.clock import local_now
from probes.runner import ProbeResult
from store.probe_writes import write_results
from system import Motcua

V2_STEPS = ("find-procedure", "login-page", "login", "form", "details", "upload", "confirm", "lookup", "lookup-api")


def check(name: str, t: dt.datetime, ok: bool = True) -> ProbeResult:
    return ProbeResult(name, "check", "", t, ok, "" if ok else "HTTP 404 (expected 200)", total_ms=120.0)


def journey(name: str, steps: tuple[str, ...], t: dt.datetime, fail_at: str | None = None) -> list[ProbeResult]:
    """A journey's run: each step until `fail_at` (failed, the rest not reached), then its summary."""
    out = []
    for i, s in enumerate(steps):
        ok = s != fail_at
        out.append(ProbeResult(name, "journey", s, t + dt.timedelta(milliseconds=100 * (i + 1)), ok,
                               "" if ok else "HTTP 502", total_ms=100.0))
        if not ok:
            break
    out.append(ProbeResult(name, "journey", "*", t, fail_at is None,
                           "" if fail_at is None else f"failed at step '{fail_at}'", total_ms=100.0 * len(out)))
    return out


def now_results(t: dt.datetime) -> list[ProbeResult]:
    """The services now: home works; old accounts are refused; new sign-in works; an upload fails
    (the submission's later steps not reached); QR look-up is gone; DVCQG sync fails; payment has
    no recent result."""
    return ([check("home", t), check("feature-login-page", t), check("feature-dossier-lookup", t),
             check("feature-qr-lookup", t, ok=False), check("dvcqg-sync", t, ok=False)]
            + journey("citizen-v1-login", ("login-page", "login", "session-cookie"), t, fail_at="login")
            + journey("citizen-v2-submission", V2_STEPS, t, fail_at="upload"))


def write_day(store, day: dt.date, runs: int, failures: int, name: str = "home") -> None:
    t0 = dt.datetime.combine(day, dt.time(8, 0))
    results = [check(name, t0 + dt.timedelta(seconds=20 * i), ok=i >= failures) for i in range(runs)]
    write_results(store, results, raw_retention_days=100, now=max(r.started_at for r in results))


def env_for(tmp) -> dict[str, str]:
    return {"MOTCUA_STORE__PATH": str(tmp / "data" / "motcua.duckdb"), "MOTCUA_STATUS_PAGE__PORT": "0",
            "MOTCUA_STATUS_PAGE__CACHE_SECONDS": "1"}


@pytest.fixture
def sp_app(tmp_path):
    """The system over a store holding the services' state now and three past days of `home`:
    199/200 runs passed three days ago, 190/200 two days ago, 100/200 yesterday."""
    cfg = load_config(environ=env_for(tmp_path))
    app = Motcua(cfg)
    today = local_now().date()
    for back, failures in ((3, 1), (2, 10), (1, 100)):
        write_day(app.store, today - dt.timedelta(days=back), 200, failures)
    t = local_now().replace(microsecond=0) - dt.timedelta(minutes=2)
    write_results(app.store, now_results(t), raw_retention_days=100)
    yield app
    app.close()
