"""The status page with probe results from several locations: a service is down only when its
probes fail from the quorum of locations; a failure seen from fewer places leaves it working with
a quiet note naming them; the daily bars are the central's; the footer says from where it was
measured (titles only)."""
from __future__ import annotations

import datetime as dt

from config.agents import AgentLocation, AgentsConfig
from config.clock import local_now
from store.probe_writes import write_results
from tests.statuspage.conftest import check
from tests.statuspage.test_status_page import _bars, _card, _html, _state

AGENTS = AgentsConfig(quorum=2, locations={
    "hanoi": AgentLocation(title="Hà Nội", token_sha256="a" * 64),
    "hcm": AgentLocation(title="TP. Hồ Chí Minh", token_sha256="b" * 64)})


def _agent(app, location: str, results) -> None:
    write_results(app.store, results, location=location, raw_retention_days=100,
                  result_ids=[f"{location}-{r.name}-{r.started_at:%Y%m%d%H%M%S}" for r in results])


def test_status_follows_the_quorum_of_locations(sp_app):
    t = local_now().replace(microsecond=0) - dt.timedelta(minutes=1)
    # the central (conftest): home passes, the DVCQG sync fails
    _agent(sp_app, "hanoi", [check("home", t, ok=False), check("dvcqg-sync", t, ok=False)])
    _agent(sp_app, "hcm", [check("home", t), check("dvcqg-sync", t)])
    # Hà Nội's network was down all of yesterday: its failures stay off the bars
    yesterday = dt.datetime.combine(local_now().date() - dt.timedelta(days=1), dt.time(9, 0))
    _agent(sp_app, "hanoi", [check("home", yesterday + dt.timedelta(seconds=20 * i), ok=False) for i in range(300)])
    sp_app.status_page.agents = AGENTS
    html = _html(sp_app)

    # home fails from 1 of 3 locations: working, with a quiet note naming the location
    assert _state(html, "trang-chu") == "operational"
    assert "Trục trặc chỉ khi truy cập từ Hà Nội; các điểm đo khác vẫn truy cập bình thường." in _card(html, "trang-chu")
    # the sync fails from 2 of 3 (the central and Hà Nội): the portal's outage
    assert _state(html, "dong-bo-dvcqg") == "outage"
    assert "Trục trặc" not in _card(html, "dong-bo-dvcqg")
    assert "Đo từ 3 điểm: Máy chủ trung tâm; Hà Nội; TP. Hồ Chí Minh." in html
    # yesterday's bar is the central's 100 failures of 200, not Hà Nội's 300 more
    assert "(100/200)" in _bars(html, "trang-chu")[-2][1]
    en = _html(sp_app, "en")
    assert "Trouble seen only from Hanoi" not in en  # titles are the config's own words
    assert "Trouble seen only from Hà Nội; the other locations reach it normally." in en
    assert "Measured from 3 locations: Central server; Hà Nội; TP. Hồ Chí Minh." in en


def test_two_locations_one_failing_is_not_an_outage_with_the_default_quorum(sp_app):
    """Default quorum 2 with two locations reporting: both must fail."""
    t = local_now().replace(microsecond=0) - dt.timedelta(minutes=1)
    _agent(sp_app, "hanoi", [check("dvcqg-sync", t)])  # the central sees it fail, Hà Nội does not
    sp = sp_app.status_page
    sp.agents = AgentsConfig(locations={"hanoi": AgentLocation(title="Hà Nội", token_sha256="a" * 64)})
    html = _html(sp_app)
    assert _state(html, "dong-bo-dvcqg") == "operational"
    assert "Trục trặc chỉ khi truy cập từ Máy chủ trung tâm" in _card(html, "dong-bo-dvcqg")
    sp.agents = AgentsConfig(quorum=1)  # one failing location is enough
    assert _state(_html(sp_app), "dong-bo-dvcqg") == "outage"


def test_only_the_central_says_one_location(sp_app):
    html = _html(sp_app)
    assert _state(html, "dong-bo-dvcqg") == "outage"
    assert "Đo từ 1 điểm: Máy chủ trung tâm." in html and "Trục trặc" not in html


def test_an_agent_alone_before_the_central_s_first_result_does_not_turn_a_service_red(sp_app):
    """Just after a start: the central has not run `home` yet, an agent sends what it buffered while
    the central was down (its own network's failures). The central counts as reporting its own
    probes: one failing place of two leaves the service working, with the note."""
    with sp_app.store.transaction() as cur:
        cur.execute("DELETE FROM probe_results WHERE name = 'home'")
    t = local_now().replace(microsecond=0) - dt.timedelta(minutes=1)
    _agent(sp_app, "hanoi", [check("home", t, ok=False)])
    sp_app.status_page.agents = AGENTS
    html = _html(sp_app)
    assert _state(html, "trang-chu") == "operational"
    assert "Trục trặc chỉ khi truy cập từ Hà Nội" in _card(html, "trang-chu")
