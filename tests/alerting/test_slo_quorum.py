"""The quorum of locations (config/agents.py) over probe results in a real store: a probe failing
from one location of three is that location's ticket; from two it is the portal's condition, keyed
as before; with only the central every condition is as it was; a location that stopped reporting
is not counted."""
from __future__ import annotations

import datetime as dt

from alerting.slo import SloEvaluator
from config.agents import AgentLocation, AgentsConfig
from config.slo import Slo, SloFile
from probes.runner import ProbeResult
from store.probe_writes import write_results

NOW = dt.datetime(2026, 11, 24, 10, 0)
AGENTS = AgentsConfig(quorum=2, fresh_minutes=10, locations={
    "hanoi": AgentLocation(title="Hà Nội", token_sha256="a" * 64),
    "hcm": AgentLocation(title="TP. Hồ Chí Minh", token_sha256="b" * 64)})
SLOS = SloFile(slos=[Slo(name="trang-chu", title="Trang chủ", probe="home", step="")])


def seed(store, location: str, minutes: int, *, ok=lambda i: True, end: dt.datetime = NOW) -> None:
    """One run of `home` a minute for `minutes` minutes before `end`, from `location`."""
    rs = [ProbeResult(name="home", kind="check", step="", started_at=end - dt.timedelta(minutes=i + 1), ok=ok(i),
                      status_code=200 if ok(i) else 503, total_ms=200.0, reason="" if ok(i) else "HTTP 503")
          for i in range(minutes)]
    ids = None if location == "central" else [f"{location}-{end:%H%M}-{i}" for i in range(minutes)]
    write_results(store, rs, location=location, result_ids=ids, now=end)


def failing_for(minutes: int):
    return lambda i: i >= minutes  # the last `minutes` runs failed


def keys(conds) -> list[tuple[str, str]]:
    return [(c.key, c.severity) for c in conds]


def test_one_location_of_three_failing_is_that_locations_ticket_only(store):
    seed(store, "central", 240)
    seed(store, "hcm", 240)
    seed(store, "hanoi", 240, ok=failing_for(70))  # Hà Nội cannot reach the portal for 70 minutes
    conds = SloEvaluator(SLOS, store, lambda: NOW, AGENTS).conditions()
    assert keys(conds) == [("location:hanoi:slo:trang-chu:failures", "ticket"),
                           ("location:hanoi:check:home", "ticket")]
    assert conds[1].title == "Điểm đo «Hà Nội»: «home» thất bại, các điểm đo khác vẫn truy cập được"
    assert conds[1].since == NOW - dt.timedelta(minutes=70)
    assert "Điểm đo «Hà Nội»" in conds[0].title and "các điểm đo khác vẫn truy cập được" in conds[0].title


def test_two_locations_failing_is_the_portals_condition_with_the_keys_of_before(store):
    seed(store, "central", 240, ok=failing_for(40))
    seed(store, "hcm", 240)
    seed(store, "hanoi", 240, ok=failing_for(70))
    conds = SloEvaluator(SLOS, store, lambda: NOW, AGENTS).conditions()
    assert keys(conds) == [("slo:trang-chu:failures", "page"), ("check:home", "ticket")]
    check = conds[1]
    assert check.title == "Kiểm tra «home» thất bại"
    assert check.detail.startswith("thất bại từ 2/3 điểm đo: Máy chủ trung tâm; Hà Nội")
    # the portal's outage began when the second location started failing
    assert check.since == NOW - dt.timedelta(minutes=40)
    assert "từ 2/3 điểm đo: Máy chủ trung tâm; Hà Nội" in conds[0].detail


def test_only_the_central_reporting_is_as_before(store):
    seed(store, "central", 240, ok=failing_for(70))
    conds = SloEvaluator(SLOS, store, lambda: NOW, AGENTS).conditions()
    assert keys(conds) == [("slo:trang-chu:failures", "page"), ("check:home", "ticket")]
    assert conds[1].detail == "HTTP 503"  # no word on locations when there is one
    assert "điểm đo" not in conds[0].detail
    # and the same without any agents config (system.py's callers of before)
    assert keys(SloEvaluator(SLOS, store, lambda: NOW).conditions()) == keys(conds)


def test_a_stale_location_is_not_counted_as_reporting(store):
    seed(store, "central", 240)
    seed(store, "hanoi", 240, ok=failing_for(70))
    # Hồ Chí Minh failed too, but its last result is 30 minutes old: it no longer reports
    seed(store, "hcm", 60, ok=lambda i: False, end=NOW - dt.timedelta(minutes=30))
    ev = SloEvaluator(SLOS, store, lambda: NOW, AGENTS)
    assert ev.counted(NOW) == {"central", "hanoi"}
    conds = ev.failing_checks()
    # counted, hcm's failure would have made 2 of 3: the portal's
    assert keys(conds) == [("location:hanoi:check:home", "ticket")]


def test_a_location_alone_reporting_a_check_speaks_for_the_portal(store):
    """When a single location runs a check at all, needed(1) = 1: its failure is the portal's
    (there is no other place to tell it from)."""
    seed(store, "hanoi", 30, ok=lambda i: False)
    conds = SloEvaluator(SloFile(), store, lambda: NOW, AGENTS).failing_checks()
    assert keys(conds) == [("check:home", "ticket")]
    assert conds[0].detail == "HTTP 503"


def test_just_after_the_central_starts_one_agent_s_buffered_failures_are_not_the_portal_s(store):
    """The central restarted: an agent sends what it buffered (failures of its own network) before
    the central has run the check. The central runs it (its own probes file): it counts as
    reporting, so one failing place of two is that place's ticket, not a public outage."""
    seed(store, "hanoi", 30, ok=lambda i: False)
    slos = SloFile(slos=[Slo(name="trang-chu", title="Trang chủ", probe="home", step="")])
    conds = SloEvaluator(slos, store, lambda: NOW, AGENTS, own_checks=["home"]).conditions()
    assert keys(conds) == [("location:hanoi:slo:trang-chu:failures", "ticket"),
                           ("location:hanoi:check:home", "ticket")]
    # a check the central does not run stays the lone agent's to speak for
    assert keys(SloEvaluator(SloFile(), store, lambda: NOW, AGENTS, own_checks=["search"]).failing_checks()
                ) == [("check:home", "ticket")]


def test_the_one_rule_every_reader_of_the_quorum_asks():
    """needed_at: the quorum over the locations with a recent result; the central counted for its
    own checks even without one (the alerts, the status page and the Hệ thống page all ask it)."""
    assert AGENTS.needed_at(["hanoi"], own=True) == 2      # an agent alone, just after the central started
    assert AGENTS.needed_at(["hanoi"], own=False) == 1     # a check only that agent runs
    assert AGENTS.needed_at(["central", "hanoi", "hcm", "hanoi"], own=True) == 2
    assert AGENTS.needed_at(["central"], own=True) == AGENTS.needed_at([], own=True) == 1
    assert AgentsConfig(quorum=3).needed_at(["central", "hanoi"]) == 2   # fewer report than the quorum: all
