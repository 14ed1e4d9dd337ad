"""Random dossiers: the SQL engine agrees with the per-row Python oracle (tests/sla_oracle.py).

Each hypothesis example is a batch of dossiers run through one SQL query, for speed.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config import default_path
from config.ruleset import RuleSet
from sla_rules.engine import SlaEngine
from tests.sla_oracle import Dossier, Oracle, load_input

OVERRIDES = [default_path("calendar", "vn-civil-service.yaml"), default_path("calendar", "quang-ngai.yaml")]
BASE = SlaEngine.from_files(default_path("rules", "vn-default.yaml"), OVERRIDES)


def _variant(**settings) -> SlaEngine:
    data = BASE.ruleset.model_dump(mode="json")
    for v in data["versions"]:
        v["settings"].update(settings)
    return SlaEngine(RuleSet.model_validate(data), BASE.calendar)


def _two_versions() -> SlaEngine:
    data = BASE.ruleset.model_dump(mode="json")
    data["versions"][1]["settings"] = {"office_hours": ["07:30-11:30", "13:00-16:00", "16:30-17:30"],
                                       "same_day_cutoff": "15:30", "supplement_mode": "resume"}
    return SlaEngine(RuleSet.model_validate(data), BASE.calendar)


ENGINES = {"restart": BASE, "resume": _variant(supplement_mode="resume"), "mixed": _two_versions()}
CON = duckdb.connect()
for _e in ENGINES.values():
    _e.install(CON)

INTERESTING = [time(0, 0), time(6, 59), time(7, 0), time(9, 15), time(11, 29, 59), time(11, 30), time(12, 0),
               time(13, 0), time(13, 30), time(14, 59), time(15, 0), time(15, 0, 1), time(15, 30), time(16, 15),
               time(16, 59, 59), time(17, 0), time(17, 30), time(23, 59, 59)]

def _instant(day: int, t: time, rnd: time, use_rnd: bool) -> datetime:
    return datetime.combine(date(2025, 1, 1) + timedelta(days=day), rnd if use_rnd else t)


instants = st.builds(_instant, st.integers(0, 729), st.sampled_from(INTERESTING), st.times(), st.booleans())
offsets = st.integers(0, 40 * 24 * 60).map(lambda m: timedelta(minutes=m))
limits = st.one_of(st.none(), st.sampled_from([0.0, -1.0, 0.25, 0.5, 1.5, 2.75, 100.0]),
                   st.integers(1, 40).map(float))
units = st.sampled_from(["working_days", "working_days", "working_hours", "calendar_days", "same_day", "bogus"])
states = st.sampled_from(["processing", "finished", "finished", "returned", "withdrawn", "rejected"])


@st.composite
def dossiers(draw, code: str) -> Dossier:
    rec = draw(instants)
    req = rec + draw(offsets) if draw(st.booleans()) else None
    back = None
    if req is not None and draw(st.booleans()):
        back = req + draw(offsets) if draw(st.integers(0, 9)) else rec + draw(offsets)  # sometimes before the request
    state = draw(states)
    done = rec + draw(offsets) if draw(st.integers(0, 4)) else None
    fin = done if state == "finished" else (done if draw(st.booleans()) else None)
    ret = done if state == "returned" else None
    events = []
    for _ in range(draw(st.integers(0, 4))):
        events.append((draw(st.sampled_from(["supplement_requested", "supplement_received", "extended"])),
                       rec + draw(offsets)))
    return Dossier(code, rec, draw(limits), draw(units), req, back,
                   rec + draw(offsets) if draw(st.booleans()) else None, fin, ret, state, events)


batches = st.integers(1, 25).flatmap(lambda n: st.tuples(*[dossiers(f"D{i}") for i in range(n)]))
as_ofs = st.one_of(st.just(datetime(2027, 6, 1)), instants)

FIELDS = ("rule_version", "clock_start_at", "due_date", "due_at", "late_from", "final_status", "status")


def check(engine: SlaEngine, batch, as_of: datetime, use_events: bool) -> None:
    load_input(CON, list(batch))
    sql = engine.compute_sql("input_dossiers", as_of, events="input_events" if use_events else None)
    cur = CON.execute(sql)
    names = [d[0] for d in cur.description]
    got = {r[0]: dict(zip(names, r)) for r in cur.fetchall()}
    orc = Oracle(engine.ruleset, engine.calendar)
    assert len(got) == len(batch)
    for d in batch:
        if not use_events:
            d = Dossier(**{**d.__dict__, "events": []})
        exp = orc.compute(d, as_of)
        for f in FIELDS:
            assert got[d.dossier_code][f] == getattr(exp, f), (f, d, as_of, got[d.dossier_code], exp)


SETTINGS = settings(max_examples=70, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", list(ENGINES))
@SETTINGS
@given(batch=batches, as_of=as_ofs, use_events=st.booleans())
def test_sql_matches_oracle(name, batch, as_of, use_events):
    check(ENGINES[name], batch, as_of, use_events)


def test_generated_data_covers_every_status():
    """The comparison above is only meaningful if random data reaches every status."""
    seen: set[str] = set()

    @settings(max_examples=150, deadline=None, database=None, derandomize=True)
    @given(batch=batches)
    def collect(batch):
        load_input(CON, list(batch))
        sql = BASE.compute_sql("input_dossiers", datetime(2026, 1, 15, 12, 0))
        seen.update(r[0] for r in CON.execute(f"SELECT status FROM ({sql})").fetchall())

    collect()
    assert seen >= {"early", "on_time", "overdue", "pending_in_time", "pending_overdue", "waiting_supplement",
                    "excluded", "no_deadline"}
