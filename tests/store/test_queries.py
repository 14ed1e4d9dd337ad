"""The store's named queries on a real store file with hand-built dossiers.

The SLA results (sla_results, read through the view dossier_sla) are seeded directly, as the engine's contract describes them; the
expected figures are computed in Python from the same data by `expected_counts` below, a plain
re-statement of the Biểu 06 counting rules (store/sla.py), and some are also spelled out by hand.
"""
from __future__ import annotations

import datetime as dt
import json
import unicodedata
from collections import Counter
import dataclasses
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.reference import ReferenceData
from reports.bieu06 import render_text, to_json_rows
from store.db import Store
from store.errors import QueryError
from store.queries import AUDIT_KINDS
from store.reference import load_reference
from store.registry import Table
from sla_rules.constants import FLAG_STOPPED
from store.sla import STAT_COLUMNS, refresh_month_stats

T = dt.datetime
AS_OF = T(2024, 4, 20, 10, 0)

REFERENCE = ReferenceData.model_validate({
    "agencies": [
        {"code": "P", "name": "UBND tỉnh Quảng Ngãi", "level": "province"},
        {"code": "S1", "name": "Sở Tư pháp", "level": "department", "parent": "P"},
        {"code": "H1", "name": "UBND huyện Bình Sơn", "level": "district", "parent": "P"},
        {"code": "X1", "name": "UBND xã Bình Hiệp", "level": "commune", "parent": "H1"},
    ],
    "procedures": [
        {"code": "PR-A", "name": "Đăng ký khai sinh", "field": "Hộ tịch", "time_limit": 3, "time_unit": "working_days"},
        {"code": "PR-B", "name": "Cấp giấy phép xây dựng", "field": "Xây dựng", "time_limit": 15,
         "time_unit": "working_days"},
    ],
})
# Every agency's ancestors (itself first), written out by hand for the expectations.
ANCESTORS = {"P": ["P"], "S1": ["S1", "P"], "H1": ["H1", "P"], "X1": ["X1", "H1", "P"]}


@dataclass
class D:
    """A dossier and the SLA engine's answer for it (as dossier_sla would hold it)."""

    code: str
    agency: str
    received: dt.datetime
    resolved: dt.datetime | None = None          # finished_at (or returned_at when returned_only)
    late_from: dt.datetime | None = None         # None: no deadline
    state: str = "processing"
    final: str | None = None                     # engine's final_status
    sup_req: dt.datetime | None = None
    sup_rcv: dt.datetime | None = None
    channel: str = "online"
    field: str | None = "Hộ tịch"
    procedure: str = "PR-A"
    returned_only: bool = False
    time_unit: str = "working_days"
    reported_due: dt.datetime | None = None
    reported_status: str | None = None
    source_system: str | None = "2.0"
    synced_at: dt.datetime | None = None
    synced_status: str | None = None
    events: list = dataclasses.field(default_factory=list)

    @property
    def due_date(self) -> dt.date | None:
        return None if self.late_from is None else (self.late_from - dt.timedelta(microseconds=1)).date()

    def stopped(self, as_of: dt.datetime) -> bool:
        """The engine's STOPPED flag: a request still open at as_of (or at the result)."""
        until = min(as_of, self.resolved) if self.resolved else as_of
        reqs = [t for t in [self.sup_req, *(at for e, at in self.events if e == "supplement_requested")]
                if t is not None and t <= until]
        rcvs = [t for t in [self.sup_rcv, *(at for e, at in self.events if e == "supplement_received")]
                if t is not None and t <= until]
        return bool(reqs) and not any(max(reqs) <= t for t in rcvs)

    def status(self, as_of: dt.datetime) -> str:
        if self.state in ("withdrawn", "rejected"):
            return "excluded"
        if self.final is not None:
            return self.final
        if self.late_from is None:
            return "no_deadline"
        if self.stopped(as_of):
            return "waiting_supplement"
        return "pending_overdue" if as_of >= self.late_from else "pending_in_time"


def seed(store: Store, dossiers: list[D], as_of: dt.datetime = AS_OF, *, clear: bool = False) -> None:
    """Write dossiers + SLA results and rebuild the monthly table, as a recompute would."""
    with store.transaction() as c:
        if clear:
            c.execute("DELETE FROM dossiers; DELETE FROM sla_results; DELETE FROM dossier_events")
        if not dossiers:
            refresh_month_stats(c, as_of)
            return
        c.executemany(
            "INSERT INTO dossiers (dossier_code, agency_code, procedure_code, field, channel, received_at, time_limit, "
            "time_unit, supplement_requested_at, supplement_received_at, finished_at, returned_at, state, "
            "reported_due_at, reported_status, source_system, synced_at, synced_status) "
            "VALUES (?, ?, ?, ?, ?, ?, 3, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(d.code, d.agency, d.procedure, d.field, d.channel, d.received, d.time_unit, d.sup_req, d.sup_rcv,
              None if d.returned_only else d.resolved, d.resolved if d.returned_only else None, d.state,
              d.reported_due, d.reported_status, d.source_system, d.synced_at, d.synced_status) for d in dossiers])
        # sla_results holds the status (final_status is the status of a resolved dossier, due_date
        # the day before late_from, due_at follows from late_from) keyed by dossier_id, the as_of
        # of them all in sla_result_set; the view dossier_sla shows the engine's columns.
        c.executemany(
            "INSERT INTO sla_results (dossier_id, status, late_from, flags) "
            "SELECT dossier_id, ?, ?, ? FROM dossiers WHERE dossier_code = ?",
            [(d.status(as_of), d.late_from, FLAG_STOPPED if d.stopped(as_of) else 0, d.code) for d in dossiers])
        c.execute("DELETE FROM sla_result_set")
        c.execute("INSERT INTO sla_result_set (as_of) VALUES (?)", [as_of])
        c.execute("INSERT INTO sla_rule_versions (rule_version, effective_from, office_close) "
                  "VALUES ('test-rules', TIMESTAMP '1900-01-01', TIME '17:00') "
                  "ON CONFLICT DO NOTHING")
        events = [(d.code, e, at) for d in dossiers for e, at in d.events]
        if events:
            c.executemany('INSERT INTO dossier_events (dossier_code, event, "at") VALUES (?, ?, ?)', events)
        refresh_month_stats(c, as_of)


# -- the expectation: Biểu 06 rules restated in Python ------------------------------------------------

def next_month(m: dt.date) -> dt.date:
    return dt.date(m.year + m.month // 12, m.month % 12 + 1, 1)


def expected_counts(dossiers: list[D], month: dt.date, as_of: dt.datetime = AS_OF) -> dict[str, int]:
    start = T(month.year, month.month, 1)
    end = T(next_month(month).year, next_month(month).month, 1)
    cut = min(end, as_of)
    c = Counter({k: 0 for k in STAT_COLUMNS})
    if start >= as_of:
        return dict(c)
    for d in dossiers:
        if d.state in ("withdrawn", "rejected") or d.received >= as_of:
            continue
        res = d.resolved if d.state in ("finished", "returned") and d.resolved and d.resolved <= as_of else None
        if res is not None and res < d.received:
            res = d.received
        if start <= d.received < cut:
            c["received_online" if d.channel == "online" else "received_direct_postal"] += 1
        if d.received < start and (res is None or res >= start):
            c["carried_over"] += 1
        if res is not None and start <= res < cut:
            c["resolved_total"] += 1
            c["resolved_" + (d.final or "on_time")] += 1
        if d.received < cut and (res is None or res >= cut):
            c["pending_total"] += 1
            # late at the month's last instant; never while the engine found the clock stopped
            overdue = (not d.stopped(as_of) and d.late_from is not None and d.late_from < end
                       and d.late_from <= as_of)
            c["pending_overdue" if overdue else "pending_in_time"] += 1
    c["received_total"] = c["received_online"] + c["received_direct_postal"] + c["carried_over"]
    return dict(c)


def counts_of(row: dict) -> dict[str, int]:
    return {k: row[k] for k in STAT_COLUMNS}


# -- the hand-built province: 3 agencies with dossiers, February to April 2024 ------------------------

PATTERNS: dict[str, dict] = {
    # name: dossier fields (agency and code added per agency)
    "carried-resolved-late": dict(received=T(2024, 2, 20, 9), resolved=T(2024, 3, 5, 10), late_from=T(2024, 3, 1),
                                  state="finished", final="overdue"),
    "carried-pending": dict(received=T(2024, 2, 25, 9), late_from=T(2024, 3, 10)),
    "first-instant-of-march": dict(received=T(2024, 3, 1), resolved=T(2024, 3, 3, 9), late_from=T(2024, 3, 7),
                                   state="finished", final="early"),
    "last-second-of-march": dict(received=T(2024, 3, 31, 23, 59, 59), resolved=T(2024, 4, 2, 9),
                                 late_from=T(2024, 4, 5), state="finished", final="on_time"),
    "resolved-at-march-end": dict(received=T(2024, 3, 10, 8), resolved=T(2024, 3, 31, 23, 59, 59, 999999),
                                  late_from=T(2024, 4, 1), state="finished", final="on_time"),
    "resolved-at-april-start": dict(received=T(2024, 3, 15, 8), resolved=T(2024, 4, 1), late_from=T(2024, 3, 25),
                                    state="finished", final="overdue"),
    "waiting-supplement": dict(received=T(2024, 3, 20, 8), late_from=T(2024, 3, 28), sup_req=T(2024, 3, 25, 9)),
    "supplement-back-in-april": dict(received=T(2024, 3, 5, 8), sup_req=T(2024, 3, 10, 9), sup_rcv=T(2024, 4, 5, 9),
                                     late_from=T(2024, 4, 12)),
    "late-from-midnight": dict(received=T(2024, 3, 25, 8), late_from=T(2024, 4, 1)),
    "late-from-after-midnight": dict(received=T(2024, 3, 25, 8), late_from=T(2024, 4, 1, 0, 0, 0, 1)),
    "withdrawn": dict(received=T(2024, 3, 12, 8), late_from=T(2024, 3, 20), state="withdrawn"),
    "rejected": dict(received=T(2024, 3, 12, 9), late_from=T(2024, 3, 20), state="rejected"),
    "april-early": dict(received=T(2024, 4, 10, 8), resolved=T(2024, 4, 15, 9), late_from=T(2024, 4, 18),
                        state="finished", final="early"),
    "april-pending": dict(received=T(2024, 4, 19, 8), late_from=T(2024, 4, 25), field=None),
    "received-after-as-of": dict(received=T(2024, 4, 20, 11), late_from=T(2024, 4, 26)),
    "finished-after-as-of": dict(received=T(2024, 4, 18, 8), resolved=T(2024, 4, 21, 9), late_from=T(2024, 4, 24),
                                 state="finished"),
    "no-deadline-resolved": dict(received=T(2024, 3, 8, 8), resolved=T(2024, 3, 9, 9), state="finished"),
    "no-deadline-pending": dict(received=T(2024, 3, 8, 9)),
    "returned-late": dict(received=T(2024, 3, 2, 8), resolved=T(2024, 3, 6, 9), late_from=T(2024, 3, 5),
                          state="returned", final="overdue", returned_only=True),
}
CHANNELS = ["online", "direct", "postal"]


def province() -> list[D]:
    out = []
    for ai, agency in enumerate(["X1", "S1", "H1"]):
        for pi, (name, spec) in enumerate(PATTERNS.items()):
            if (ai == 1 and pi % 3 == 1) or (ai == 2 and pi % 4 == 2):
                continue  # agencies differ
            spec = {"field": "Hộ tịch" if pi % 2 == 0 else "Xây dựng",
                    "procedure": "PR-A" if pi % 2 == 0 else "PR-B", **spec}
            out.append(D(code=f"{agency}-{name}", agency=agency, channel=CHANNELS[(pi + ai) % 3], **spec))
    return out


DOSSIERS = province()
MONTHS = [dt.date(2024, 2, 1), dt.date(2024, 3, 1), dt.date(2024, 4, 1), dt.date(2024, 5, 1)]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    with Store(tmp_path_factory.mktemp("q") / "queries.duckdb") as s:
        load_reference(s, REFERENCE)
        seed(s, DOSSIERS)
        yield s


def rows_by_key(t: Table) -> dict:
    return {r["key"]: r for r in t if r["row_kind"] != "total"}


def total_row(t: Table) -> dict:
    (row,) = [r for r in t if r["row_kind"] == "total"]
    return row


def test_the_hand_built_province_is_big_enough():
    assert len(DOSSIERS) >= 30 and {d.agency for d in DOSSIERS} == {"X1", "S1", "H1"}


@pytest.mark.parametrize("month", MONTHS, ids=str)
def test_bieu06_by_agency_with_rollup_matches_every_column(store, month):
    t = store.query("bieu06", month=month.strftime("%Y-%m"))
    rows = rows_by_key(t)
    assert set(rows) == {"P", "S1", "H1", "X1"}
    for key, row in rows.items():
        mine = [d for d in DOSSIERS if key in ANCESTORS[d.agency]]
        assert counts_of(row) == expected_counts(mine, month), key
    assert counts_of(total_row(t)) == expected_counts(DOSSIERS, month)
    assert counts_of(rows["P"]) == counts_of(total_row(t))


@pytest.mark.parametrize("month", MONTHS, ids=str)
def test_bieu06_by_agency_without_rollup_counts_own_dossiers(store, month):
    rows = rows_by_key(store.query("bieu06", month=month.strftime("%Y-%m"), rollup=False))
    for key, row in rows.items():
        assert counts_of(row) == expected_counts([d for d in DOSSIERS if d.agency == key], month), key
    assert counts_of(rows["P"]) == expected_counts([], month)


@pytest.mark.parametrize("by, attr", [("field", "field"), ("procedure", "procedure"), ("channel", "channel")])
@pytest.mark.parametrize("month", MONTHS[1:3], ids=str)
def test_bieu06_by_field_procedure_and_channel(store, by, attr, month):
    t = store.query("bieu06", month=month.strftime("%Y-%m"), by=by)
    keys = {getattr(d, attr) for d in DOSSIERS}
    rows = rows_by_key(t)
    for key in keys:
        exp = expected_counts([d for d in DOSSIERS if getattr(d, attr) == key], month)
        if any(exp.values()):
            assert counts_of(rows[key]) == exp, key
        else:
            assert key not in rows
    assert counts_of(total_row(t)) == expected_counts(DOSSIERS, month)
    assert {r["row_kind"] for r in t} == {"total", by}
    if by == "procedure":
        assert rows["PR-B"]["name"] == "Cấp giấy phép xây dựng"


def test_bieu06_for_one_agency_covers_its_subtree(store):
    march = MONTHS[1]
    t = store.query("bieu06", month="2024-03", agency="H1")
    assert [r["key"] for r in t if r["row_kind"] == "agency"] == ["H1", "X1"]
    h1 = [d for d in DOSSIERS if d.agency in ("H1", "X1")]
    assert counts_of(total_row(t)) == expected_counts(h1, march)
    assert counts_of(rows_by_key(t)["H1"]) == expected_counts(h1, march)
    # Without roll-up each row is the agency's own; the total is still the subtree's.
    t = store.query("bieu06", month="2024-03", agency="H1", rollup=False)
    assert counts_of(rows_by_key(t)["H1"]) == expected_counts([d for d in DOSSIERS if d.agency == "H1"], march)
    assert counts_of(total_row(t)) == expected_counts(h1, march)
    # By field: rollup decides whether the subtree counts.
    f = store.query("bieu06", month="2024-03", agency="H1", by="field", rollup=False)
    assert counts_of(total_row(f)) == expected_counts([d for d in DOSSIERS if d.agency == "H1"], march)
    f = store.query("bieu06", month="2024-03", agency="H1", by="field")
    assert counts_of(total_row(f)) == expected_counts(h1, march)


def test_bieu06_spelled_out_for_one_commune_in_march(store):
    """X1 has every pattern; its March figures worked out by hand from PATTERNS."""
    row = rows_by_key(store.query("bieu06", month="2024-03", rollup=False))["X1"]
    # received in March (not withdrawn/rejected): first-instant, last-second, resolved-at-march-end,
    # resolved-at-april-start, waiting-supplement, supplement-back-in-april, late-from-midnight,
    # late-from-after-midnight, no-deadline-resolved, no-deadline-pending, returned-late = 11
    assert row["received_online"] + row["received_direct_postal"] == 11
    assert row["carried_over"] == 2                  # the two February dossiers
    assert row["received_total"] == 13
    # resolved in March: carried-resolved-late (overdue), first-instant (early), resolved-at-march-end
    # (on time), no-deadline-resolved (on time: cannot be late), returned-late (overdue)
    assert (row["resolved_total"], row["resolved_early"], row["resolved_on_time"], row["resolved_overdue"]) == (5, 1, 2, 2)
    # pending at the end of March: carried-pending (overdue), last-second (in time), resolved-at-april-start
    # (late from 25 March: overdue), waiting-supplement and supplement-back-in-april (in time),
    # late-from-midnight (due 31 March, late from 1 April 00:00: in time at the month's last instant),
    # late-from-after-midnight (in time), no-deadline-pending (in time)
    assert (row["pending_total"], row["pending_in_time"], row["pending_overdue"]) == (8, 6, 2)
    assert row["on_time_ratio"] == pytest.approx(3 / 5)
    assert row["score_766"] == pytest.approx(20 * 3 / 13)


def test_the_current_month_is_cut_at_as_of(store):
    row = rows_by_key(store.query("bieu06", month="2024-04", rollup=False))["X1"]
    # received-after-as-of is not counted; finished-after-as-of is pending at as_of
    assert row["received_online"] + row["received_direct_postal"] == 3  # april-early, april-pending, finished-after
    codes = {r["dossier_code"] for r in store.query("dossiers_overdue", agency="X1", month="2024-04")}
    assert "X1-finished-after-as-of" not in codes
    assert "X1-supplement-back-in-april" in codes        # back 5 April, late from 12 April, as_of 20 April
    t = store.query("bieu06", month="2024-05")
    assert all(v == 0 for v in counts_of(total_row(t)).values())


def test_dossiers_behind_the_overdue_columns(store):
    t = store.query("dossiers_overdue", agency="X1", month="2024-03", rollup=False)
    got = {(r["dossier_code"], r["kind"]) for r in t}
    assert got == {("X1-carried-resolved-late", "resolved_overdue"), ("X1-returned-late", "resolved_overdue"),
                   ("X1-carried-pending", "pending_overdue"), ("X1-resolved-at-april-start", "pending_overdue")}
    days = [r["days_late"] for r in t]
    assert days == sorted(days, reverse=True)
    assert t.one()["dossier_code"] == "X1-carried-pending"   # late since 10 March: the most days late
    # the same list agrees with the Biểu 06 overdue columns for every agency with roll-up
    for key, row in rows_by_key(store.query("bieu06", month="2024-03")).items():
        listed = store.query("dossiers_overdue", agency=key, month="2024-03")
        assert len(listed) == row["resolved_overdue"] + row["pending_overdue"], key
    # without a month: resolved overdue ever + pending overdue at the last recompute
    now = {r["dossier_code"]: r["kind"] for r in store.query("dossiers_overdue", agency="H1", limit=1000)}
    exp = {d.code for d in DOSSIERS if d.agency in ("H1", "X1") and d.state not in ("withdrawn", "rejected")
           and (d.final == "overdue" or d.status(AS_OF) == "pending_overdue")}
    assert set(now) == exp
    assert now["X1-supplement-back-in-april"] == "pending_overdue"


def test_supplement_cycles_known_only_from_events(tmp_path):
    """Dossier columns empty, two cycles in dossier_events: the second request is still open at the
    end of March (waiting: in time) although the deadline of the restarted clock has passed."""
    events = [("supplement_requested", T(2024, 3, 5, 9)), ("supplement_received", T(2024, 3, 8, 9)),
              ("supplement_requested", T(2024, 3, 20, 9))]
    back_in_april = [*events, ("supplement_received", T(2024, 4, 2, 9))]
    with Store(tmp_path / "ev.duckdb") as s:
        seed(s, [D("E1", "X1", T(2024, 3, 1, 9), late_from=T(2024, 3, 14), events=events),
                 # back on 2 April: the clock restarted from it
                 D("E2", "X1", T(2024, 3, 1, 9), late_from=T(2024, 4, 8), events=back_in_april),
                 D("E3", "X1", T(2024, 3, 1, 9), late_from=T(2024, 3, 14), events=events[:2])])
        march = total_row(s.query("bieu06", month="2024-03"))
        assert (march["pending_total"], march["pending_in_time"], march["pending_overdue"]) == (3, 2, 1)  # E3 late
        april = total_row(s.query("bieu06", month="2024-04"))
        assert (april["pending_in_time"], april["pending_overdue"]) == (1, 2)       # E1 still waiting


def test_agency_month_stats_holds_own_figures_per_month(store):
    rows = store.cursor().execute(
        f"SELECT month, agency_code, {', '.join(STAT_COLUMNS)} FROM agency_month_stats ORDER BY 1, 2").fetchall()
    assert rows, "refresh wrote nothing"
    for month, agency, *vals in rows:
        assert dict(zip(STAT_COLUMNS, vals)) == expected_counts([d for d in DOSSIERS if d.agency == agency], month)
    assert {r[0] for r in rows} == set(MONTHS[:3])


def test_agency_ratio_month_ranks_worst_first(store):
    t = store.query("agency_ratio_month", month="2024-03")
    ratios = t.column("on_time_ratio")
    assert ratios == sorted(ratios)
    expected = {}
    for key in ANCESTORS:
        c = expected_counts([d for d in DOSSIERS if key in ANCESTORS[d.agency]], MONTHS[1])
        if c["resolved_total"]:
            expected[key] = (c["resolved_early"] + c["resolved_on_time"]) / c["resolved_total"]
    assert dict(zip(t.column("agency_code"), ratios)) == pytest.approx(expected)
    best = store.query("agency_ratio_month", month="2024-03", worst_first=False, limit=1)
    assert best.one()["on_time_ratio"] == max(expected.values())
    communes = store.query("agency_ratio_month", month="2024-03", level="commune")
    assert communes.column("agency_code") == ["X1"]
    assert len(store.query("agency_ratio_month", month="2024-03", min_resolved=1000)) == 0


def test_province_month_and_series(store):
    series = store.query("province_month_series", months=4, end_month="2024-05")
    assert series.column("month") == MONTHS
    for row in series:
        assert counts_of(row) == expected_counts(DOSSIERS, row["month"])
    default = store.query("province_month_series", months=2)     # ends at the as_of month
    assert default.column("month") == MONTHS[1:3]
    one = store.query("province_month", month="2024-03").one()
    assert counts_of(one) == expected_counts(DOSSIERS, MONTHS[1])
    c = expected_counts(DOSSIERS, MONTHS[1])
    assert one["on_time_ratio"] == pytest.approx((c["resolved_early"] + c["resolved_on_time"]) / c["resolved_total"])


@pytest.mark.parametrize("name, params, message", [
    ("bieu06", {"month": "2024-13"}, "bieu06: month must be a month YYYY-MM"),
    ("bieu06", {"month": "March"}, "month must be a month YYYY-MM"),
    ("bieu06", {"month": "2024-03", "by": "district"}, "by must be one of agency, field, procedure, channel"),
    ("agency_ratio_month", {"month": "2024-03", "limit": 0}, "limit must be a whole number"),
    ("agency_ratio_month", {"month": "2024-03", "level": "ministry"}, "level must be one of"),
    ("audit_dossiers", {"kind": "wrong"}, "kind must be one of"),
    ("province_month_series", {"months": 0}, "months must be a whole number from 1 to 240"),
    ("province_month_series", {"months": "twelve"}, "months must be a whole number"),
])
def test_bad_parameters_get_a_message_naming_query_and_parameter(store, name, params, message):
    with pytest.raises(QueryError, match=message):
        store.query(name, **params)


def test_results_survive_the_json_transport(store):
    t = store.query("bieu06", month="2024-03")
    back = Table.from_json(json.loads(json.dumps(t.to_json())))
    assert back.rows == t.rows
    detail = store.query("dossier_detail", code="X1-returned-late")
    assert Table.from_json(json.loads(json.dumps(detail.to_json()))).rows == detail.rows


# -- closed agencies and codes unknown to the reference data -------------------------------------------

def test_closed_agency_history_and_successor_rollup(tmp_path):
    with Store(tmp_path / "closed.duckdb") as s:
        load_reference(s, ReferenceData.model_validate({"agencies": [
            {"code": "P", "name": "Tỉnh", "level": "province"},
            {"code": "H1", "name": "Huyện cũ", "level": "district", "parent": "P", "valid_to": "2025-07-01",
             "successor": "X9"},
            {"code": "X9", "name": "Xã mới", "level": "commune", "parent": "P", "valid_from": "2025-07-01"},
        ]}))
        as_of = T(2025, 8, 20)
        ds = [D("h-june", "H1", T(2025, 6, 10), T(2025, 6, 12), T(2025, 6, 20), "finished", "early"),
              D("h-carried", "H1", T(2025, 6, 25), T(2025, 7, 3), T(2025, 7, 10), "finished", "on_time"),
              D("x-july", "X9", T(2025, 7, 5), T(2025, 7, 8), T(2025, 7, 15), "finished", "early"),
              D("ghost", "ZZ", T(2025, 7, 6), None, T(2025, 7, 9))]
        seed(s, ds, as_of)
        june = rows_by_key(s.query("bieu06", month="2025-06"))
        assert set(june) == {"P", "H1"}                       # X9 did not exist yet
        assert june["H1"]["received_total"] == 2
        july = rows_by_key(s.query("bieu06", month="2025-07"))
        assert july["H1"]["resolved_total"] == 1 and july["H1"]["name"] == "Huyện cũ"   # history kept
        assert july["X9"]["resolved_total"] == 1
        assert july["ZZ"]["received_total"] == 1 and july["ZZ"]["depth"] == 0          # unknown code: own row
        assert july["P"]["resolved_total"] == 2               # ZZ is not under the province tree
        # July: x-july and ghost received, h-carried carried over; h-june was resolved in June
        assert total_row(s.query("bieu06", month="2025-07"))["received_total"] == 3
        followed = rows_by_key(s.query("bieu06", month="2025-07", follow_successor=True))
        assert "H1" not in followed
        assert followed["X9"]["resolved_total"] == 2 and followed["X9"]["carried_over"] == 1
        ranked = s.query("agency_ratio_month", month="2025-07", follow_successor=True, level="commune")
        assert ranked.column("agency_code") == ["X9"] and ranked.one()["resolved_total"] == 2


# -- property: any data, every month, every grouping agrees with the rules ------------------------------

BASE = T(2024, 1, 1)
H_AS_OF = T(2024, 5, 15, 12)


@st.composite
def dossier(draw, i: int):
    received = BASE + dt.timedelta(hours=draw(st.integers(0, 24 * 150)))
    state = draw(st.sampled_from(["processing", "finished", "finished", "returned", "withdrawn", "rejected"]))
    late_from = None if draw(st.integers(0, 9)) == 0 else \
        T(*(received + dt.timedelta(days=draw(st.integers(1, 30)))).timetuple()[:3])
    resolved = received + dt.timedelta(hours=draw(st.integers(0, 24 * 60))) if state in ("finished", "returned") else None
    final = None
    if resolved is not None and resolved <= H_AS_OF and late_from is not None:
        due = (late_from - dt.timedelta(microseconds=1)).date()
        final = "overdue" if resolved >= late_from else "early" if resolved.date() < due else "on_time"
    sup_req = sup_rcv = None
    if draw(st.booleans()):
        sup_req = received + dt.timedelta(hours=draw(st.integers(1, 24 * 20)))
        if draw(st.booleans()):
            sup_rcv = sup_req + dt.timedelta(hours=draw(st.integers(1, 24 * 20)))
    return D(code=f"H{i}", agency=draw(st.sampled_from(["P", "S1", "H1", "X1", "UNKNOWN"])), received=received,
             resolved=resolved, late_from=late_from, state=state, final=final, sup_req=sup_req, sup_rcv=sup_rcv,
             channel=draw(st.sampled_from(CHANNELS)), field=draw(st.sampled_from(["Hộ tịch", "Đất đai", None])),
             returned_only=state == "returned" and draw(st.booleans()))


@st.composite
def dossier_sets(draw):
    n = draw(st.integers(0, 25))
    return [draw(dossier(i)) for i in range(n)]


def test_any_dossiers_count_as_the_rules_say(tmp_path):
    s = Store(tmp_path / "prop.duckdb")
    load_reference(s, REFERENCE)
    ancestors = {**ANCESTORS, "UNKNOWN": ["UNKNOWN"]}

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(dossier_sets())
    def check(ds):
        seed(s, ds, H_AS_OF, clear=True)
        for m in range(1, 7):
            month = dt.date(2024, m, 1)
            t = s.query("bieu06", month=month.strftime("%Y-%m"))
            total = counts_of(total_row(t))
            assert total == expected_counts(ds, month, H_AS_OF)
            assert total["received_total"] == total["resolved_total"] + total["pending_total"]
            for key, row in rows_by_key(t).items():
                mine = [d for d in ds if key in ancestors[d.agency]]
                assert counts_of(row) == expected_counts(mine, month, H_AS_OF), key
            by_channel = s.query("bieu06", month=month.strftime("%Y-%m"), by="channel")
            assert counts_of(total_row(by_channel)) == total
            for key, row in rows_by_key(by_channel).items():
                assert counts_of(row) == expected_counts([d for d in ds if d.channel == key], month, H_AS_OF)

    try:
        check()
    finally:
        s.close()


# -- the vendor's figures --------------------------------------------------------------------------------

def audit_set() -> list[D]:
    r = T(2024, 3, 4, 9)
    lf = T(2024, 3, 8)          # due 7 March
    due = T(2024, 3, 7, 17)
    return [
        D("A1", "X1", r, T(2024, 3, 5, 9), lf, "finished", "early", reported_due=due, reported_status="Quá hạn"),
        D("A2", "X1", r, T(2024, 3, 11, 9), lf, "finished", "overdue", reported_due=due,
          reported_status="Đã giải quyết - Đúng hạn"),
        D("A3", "S1", r, None, lf, reported_due=due, reported_status="Đang giải quyết - Trong hạn"),
        D("A4", "S1", r, T(2024, 3, 5, 9), lf, "finished", "early", reported_due=None, reported_status="Trước hạn"),
        D("A5", "S1", r, T(2024, 3, 7, 9), lf, "finished", "on_time", reported_due=due + dt.timedelta(days=2),
          reported_status="Đúng hạn"),
        D("A6", "H1", r, T(2024, 3, 7, 9), lf, "finished", "on_time", reported_due=due, reported_status="Trước hạn"),
        D("A7", "H1", r, T(2024, 3, 7, 9), lf, "finished", "on_time", reported_due=due,
          reported_status="Đã giải quyết đúng hạn"),
        D("A8", "H1", T(2024, 4, 18, 9), None, T(2024, 4, 24), reported_due=T(2024, 4, 23, 17),
          reported_status="Chưa quá hạn"),
        D("A9", "H1", r, T(2024, 3, 7, 9), lf, "finished", "on_time", reported_due=due, reported_status="Đang xử lý"),
        D("A10", "H1", r, None, lf, "withdrawn", reported_due=None, reported_status="Quá hạn"),
        D("A11", "X1", r, T(2024, 3, 4, 15), T(2024, 3, 5, 10, 0, 0, 1), "finished", "on_time",
          time_unit="working_hours", reported_due=T(2024, 3, 5, 10, 30),
          reported_status="on_time"),
        D("A12", "X1", r, T(2024, 3, 4, 15), T(2024, 3, 5, 10, 0, 0, 1), "finished", "on_time",
          time_unit="working_hours", reported_due=T(2024, 3, 5, 10, 0, 20),
          reported_status="ON_TIME"),
        D("A13", "X1", r, T(2024, 3, 5, 9), None, "finished", None, reported_due=None, reported_status=None),
        D("A14", "S1", T(2024, 3, 20, 9), None, T(2024, 3, 26), sup_req=T(2024, 3, 22, 9),
          reported_due=T(2024, 3, 25, 17), reported_status="Chờ bổ sung hồ sơ"),
        D("A15", "S1", T(2024, 3, 20, 9), None, T(2024, 3, 26), reported_due=T(2024, 3, 25, 17),
          reported_status="Quá hạn"),
    ]


AUDIT_EXPECTED = {
    "A1": "reported_overdue_resolved_on_time",
    "A2": "reported_on_time_actually_overdue",
    "A3": "reported_on_time_actually_overdue",
    "A4": "no_reported_due",
    "A5": "due_date_differs",
    "A6": "status_differs",
    "A11": "due_date_differs",
}


@pytest.fixture(scope="module")
def audit_store(tmp_path_factory):
    with Store(tmp_path_factory.mktemp("a") / "audit.duckdb") as s:
        load_reference(s, REFERENCE)
        seed(s, audit_set())
        yield s


def test_audit_classifies_each_disagreement_once(audit_store):
    t = audit_store.query("audit_dossiers", limit=100)
    assert dict(zip(t.column("dossier_code"), t.column("kind"))) == AUDIT_EXPECTED
    kinds = t.column("kind")
    assert kinds == sorted(kinds, key=AUDIT_KINDS.index)
    a5 = [r for r in t if r["dossier_code"] == "A5"][0]
    assert a5["due_days_diff"] == 2 and a5["due_date"] == dt.date(2024, 3, 7)


def test_audit_filters(audit_store):
    only = audit_store.query("audit_dossiers", kind="reported_on_time_actually_overdue")
    assert set(only.column("dossier_code")) == {"A2", "A3"}
    assert audit_store.query("audit_dossiers", agency="H1", rollup=False).column("dossier_code") == ["A6"]
    h1 = audit_store.query("audit_dossiers", agency="H1")            # with its commune X1
    assert set(h1.column("dossier_code")) == {"A1", "A2", "A6", "A11"}
    province = audit_store.query("audit_dossiers", agency="P")         # the whole tree
    assert len(province) == len(AUDIT_EXPECTED)
    assert len(audit_store.query("audit_dossiers", agency="P", rollup=False)) == 0
    assert len(audit_store.query("audit_dossiers", month="2024-04")) == 0
    assert len(audit_store.query("audit_dossiers", month="2024-03", limit=2)) == 2


def test_audit_by_agency_counts_kinds_and_overdue_figures(audit_store):
    t = audit_store.query("audit_by_agency")
    ds = [d for d in audit_set() if d.state not in ("withdrawn", "rejected")]
    total = total_row(Table(t.columns, t.rows))
    assert total["dossiers"] == len(ds)
    assert total["mismatches"] == len(AUDIT_EXPECTED)
    for k in AUDIT_KINDS:
        assert total[k] == sum(1 for v in AUDIT_EXPECTED.values() if v == k)
    # vendor overdue: A1 and A15; recomputed: A2 (resolved overdue), A3 and A15 (pending overdue at as_of)
    assert (total["reported_overdue"], total["recomputed_overdue"], total["overdue_difference"]) == (2, 3, -1)
    per = {r["agency_code"]: r for r in t if r["row_kind"] == "agency"}
    for agency, row in per.items():
        codes = [c for c, _ in AUDIT_EXPECTED.items() if next(d for d in ds if d.code == c).agency == agency]
        assert row["mismatches"] == len(codes), agency
    assert per["S1"]["agency_name"] == "Sở Tư pháp"
    assert per["S1"]["reported_overdue"] == 1 and per["S1"]["recomputed_overdue"] == 2     # A15 vs A3, A15


VENDOR_TEXTS = {
    "Quá hạn": "overdue", "QUÁ HẠN": "overdue", "Đã giải quyết - Trễ hạn": "overdue", "pending_overdue": "overdue",
    "Chưa quá hạn": "in_time", "Trong hạn": "in_time", "Còn hạn": "in_time", "pending_in_time": "in_time",
    "Trước hạn": "early", "early": "early", "Đúng hạn": "on_time", "Đã giải quyết đúng hạn": "on_time",
    "on_time": "on_time", "Chờ bổ sung": "waiting_supplement", "Đang xử lý": "unknown", "lorem": "unknown",
    # decomposed (NFD) Vietnamese, as some exports write it
    unicodedata.normalize("NFD", "Quá hạn"): "overdue",
}


def test_vendor_status_wording_is_read_as_documented(tmp_path):
    with Store(tmp_path / "v.duckdb") as s:
        ds = [D(f"V{i}", "X1", T(2024, 3, 1), reported_status=text) for i, text in enumerate(VENDOR_TEXTS)]
        seed(s, ds)
        got = dict(zip(s.query("vendor_statuses").column("reported_status"),
                       s.query("vendor_statuses").column("reported_class")))
        assert got == VENDOR_TEXTS


# -- sync to the national portal --------------------------------------------------------------------

def sync_set() -> list[D]:
    r, f = T(2024, 3, 4, 9), T(2024, 3, 6, 9)
    later = T(2024, 3, 6, 12)
    common = dict(late_from=T(2024, 3, 8), final="early")
    return [
        D("Z1", "X1", r, f, state="finished", source_system="1.0", **common),
        D("Z2", "X1", r, f, state="finished", source_system="1.0", synced_at=T(2024, 3, 5), synced_status="Đang xử lý",
          **common),
        D("Z3", "S1", r, f, state="finished", source_system="2.0", synced_at=later, synced_status="Đang xử lý", **common),
        D("Z4", "S1", r, f, state="finished", source_system="2.0", synced_at=later, synced_status="Đã trả kết quả",
          **common),
        D("Z5", "S1", r, f, state="returned", returned_only=True, source_system="2.0", synced_at=later,
          synced_status="returned", **common),
        D("Z6", "S1", r, None, source_system="2.0", late_from=T(2024, 3, 8)),
        D("Z7", "H1", r, f, state="finished", source_system="1.0", synced_at=later, synced_status="Chưa giải quyết",
          **common),
        D("Z8", "H1", r, T(2024, 4, 2, 9), state="finished", source_system="1.0", late_from=T(2024, 4, 5),
          final="early"),
    ]


SYNC_EXPECTED = {"Z1": "never_synced", "Z2": "synced_before_resolution", "Z3": "status_differs",
                 "Z7": "status_differs", "Z8": "never_synced"}


@pytest.fixture(scope="module")
def sync_store(tmp_path_factory):
    with Store(tmp_path_factory.mktemp("s") / "sync.duckdb") as s:
        load_reference(s, REFERENCE)
        seed(s, sync_set())
        yield s


def test_sync_unsynced_lists_results_that_did_not_reach_the_national_portal(sync_store):
    t = sync_store.query("sync_unsynced")
    assert dict(zip(t.column("dossier_code"), t.column("problem"))) == SYNC_EXPECTED
    assert set(sync_store.query("sync_unsynced", source_system="1.0").column("dossier_code")) == {"Z1", "Z2", "Z7", "Z8"}
    assert set(sync_store.query("sync_unsynced", agency="H1").column("dossier_code")) == {"Z1", "Z2", "Z7", "Z8"}
    assert set(sync_store.query("sync_unsynced", agency="H1", rollup=False).column("dossier_code")) == {"Z7", "Z8"}
    assert len(sync_store.query("sync_unsynced", limit=1)) == 1


def test_sync_by_agency_counts_per_source_system(sync_store):
    t = sync_store.query("sync_by_agency")
    total = [r for r in t if r["row_kind"] == "total"][0]
    assert (total["resolved"], total["unsynced"], total["synced_ok"]) == (7, 5, 2)
    assert total["unsynced_ratio"] == pytest.approx(5 / 7)
    systems = {r["source_system"]: r for r in t if r["row_kind"] == "source_system"}
    assert (systems["1.0"]["resolved"], systems["1.0"]["unsynced"]) == (4, 4)
    assert (systems["2.0"]["resolved"], systems["2.0"]["unsynced"]) == (3, 1)
    x1 = [r for r in t if r["row_kind"] == "agency" and r["agency_code"] == "X1"][0]
    assert (x1["never_synced"], x1["synced_before_resolution"], x1["agency_name"]) == (1, 1, "UBND xã Bình Hiệp")
    march = sync_store.query("sync_by_agency", month="2024-03")
    assert [r for r in march if r["row_kind"] == "total"][0]["resolved"] == 6       # Z8 resolved in April


# -- lists and store facts ---------------------------------------------------------------------------

def test_dossier_detail_and_events(audit_store):
    with audit_store.transaction() as c:
        c.executemany('INSERT INTO dossier_events (dossier_code, event, "at", detail) VALUES (?, ?, ?, ?)',
                      [("A14", "supplement_requested", T(2024, 3, 22, 9), "Mẫu 02"),
                       ("A14", "received", T(2024, 3, 20, 9), None)])
    d = audit_store.query("dossier_detail", code="A2").one()
    assert (d["agency_name"], d["procedure_name"], d["final_status"], d["audit_kind"], d["reported_class"]) == (
        "UBND xã Bình Hiệp", "Đăng ký khai sinh", "overdue", "reported_on_time_actually_overdue", "on_time")
    assert d["due_date"] == dt.date(2024, 3, 7)
    withdrawn = audit_store.query("dossier_detail", code="A10").one()
    assert withdrawn["status"] == "excluded" and withdrawn["audit_kind"] is None
    assert len(audit_store.query("dossier_detail", code="NOPE")) == 0
    ev = audit_store.query("dossier_events", code="A14")
    assert ev.column("event") == ["received", "supplement_requested"]


def test_quarantine_batches_runs_and_store_stats(tmp_path):
    with Store(tmp_path / "lists.duckdb") as s:
        with s.transaction() as c:
            c.execute("INSERT INTO import_batches (batch_id, kind, file_name, file_sha256, started_at, finished_at, "
                      "rows_read, rows_inserted, rows_quarantined, status) VALUES "
                      "(1, 'dossiers', 'jan.csv', 'aaa', TIMESTAMP '2024-02-01 08:00', TIMESTAMP '2024-02-01 08:00:02.5', "
                      " 10, 9, 1, 'done'), "
                      "(2, 'dossiers', 'feb.csv', 'bbb', TIMESTAMP '2024-03-01 08:00', TIMESTAMP '2024-03-01 08:00:01', "
                      " 5, 3, 2, 'done'), "
                      "(3, 'dossiers', 'bad.csv', 'ccc', TIMESTAMP '2024-03-02 08:00', NULL, 0, 0, 0, 'failed')")
            c.execute("INSERT INTO quarantine VALUES "
                      "('aaa', 4, 'received_at', 'jan.csv', '31/02/2024', 'not a date', '{\"state\": \"x\"}', 1, "
                      " TIMESTAMP '2024-02-01 08:00:01'), "
                      "('bbb', 2, 'channel', 'feb.csv', 'fax', 'unknown channel', NULL, 2, TIMESTAMP '2024-03-01 08:00:01'), "
                      "('bbb', 3, '', 'feb.csv', NULL, 'duplicate dossier_code', NULL, 2, TIMESTAMP '2024-03-01 08:00:01')")
            c.execute("INSERT INTO sla_runs VALUES (1, 'vn-default', TIMESTAMP '2024-03-01 12:00', "
                      "TIMESTAMP '2024-03-01 12:00', TIMESTAMP '2024-03-01 12:00:04', 8, 'full')")
        seed(s, DOSSIERS[:8], AS_OF)
        q = s.query("quarantine_list")
        assert q.column("file_name") == ["feb.csv", "feb.csv", "jan.csv"]
        assert s.query("quarantine_list", file_sha256="aaa").one()["raw"] == '{"state": "x"}'
        assert len(s.query("quarantine_list", limit=1)) == 1
        b = s.query("import_batches")
        assert b.column("batch_id") == [3, 2, 1] and b.rows[2][b.columns.index("duration_s")] == pytest.approx(2.5)
        r = s.query("sla_runs").one()
        assert (r["run_id"], r["duration_s"], r["dossiers"]) == (1, pytest.approx(4.0), 8)
        stats = s.query("store_stats").one()
        assert stats["dossiers"] == 8 and stats["dossiers_computed"] == 8 and stats["dossiers_not_computed"] == 0
        assert stats["agencies"] == 0 and stats["quarantined_rows"] == 3 and stats["imports"] == 3
        assert stats["last_import_file"] == "feb.csv"
        assert stats["last_recompute_as_of"] == T(2024, 3, 1, 12)
        assert stats["first_received_at"] == min(d.received for d in DOSSIERS[:8])
        assert stats["dossiers_no_deadline"] == sum(1 for d in DOSSIERS[:8] if d.status(AS_OF) == "no_deadline")
        assert stats["month_stats_rows"] > 0 and stats["schema_version"] >= 2


# -- the report ------------------------------------------------------------------------------------------

def display_width(s: str) -> int:
    return sum(0 if unicodedata.combining(ch) else 1 for ch in s)


def header_titles(text: str) -> tuple[list[str], list[str]]:
    """(group titles, column titles) read back from the two-level header, wrapped cells joined."""
    lines = text.splitlines()
    top = next(i for i, ln in enumerate(lines) if ln.startswith("+"))
    bottom = next(i for i in range(top + 1, len(lines)) if lines[i].startswith("+"))
    head = lines[top + 1:bottom]
    mid = next(i for i, ln in enumerate(head) if "-+-" in ln)

    def cells(rows: list[str], bounds: list[int]) -> list[str]:
        return [" ".join(" ".join(r[a + 1:b].strip() for r in rows).split()) for a, b in zip(bounds, bounds[1:])]

    group_bounds = [i for i, ch in enumerate(head[0]) if ch == "|"]
    col_bounds = [i for i, ch in enumerate(lines[top]) if ch == "+"]
    return cells(head[:mid], group_bounds)[1:], cells(head[mid + 1:], col_bounds)[1:]


def test_render_text_has_the_form_headers_and_the_figures(store):
    t = store.query("bieu06", month="2024-03")
    text = render_text(t, "2024-03")
    groups, columns = header_titles(text)
    assert groups == ["Số hồ sơ nhận giải quyết", "Số hồ sơ đã giải quyết", "Số hồ sơ đang giải quyết", "Chỉ số"]
    assert columns == ["Tổng số", "Trong kỳ: Trực tuyến", "Trong kỳ: Trực tiếp, bưu chính", "Từ kỳ trước",
                       "Tổng số", "Trước hạn", "Đúng hạn", "Quá hạn", "Tổng số", "Trong hạn", "Quá hạn",
                       "Tỷ lệ đúng hạn (%)", "Điểm tiến độ (QĐ 766)"]
    assert "Kỳ báo cáo: tháng 03/2024" in text and "Biểu số 06/VPCP/KSTT" in text
    table_lines = [ln for ln in text.splitlines() if ln and ln[0] in "|+"]
    assert len({display_width(ln) for ln in table_lines}) == 1, "columns are not aligned"
    total = total_row(t)
    total_line = next(ln for ln in table_lines if "Tổng cộng" in ln)
    cells = [c.strip() for c in total_line.strip("|").split("|")][1:12]
    assert cells == [f"{total[c]:,}".replace(",", ".") for c in STAT_COLUMNS]
    assert "  UBND huyện Bình Sơn" in text and "    UBND xã Bình Hiệp" in text    # indented by depth


def test_render_text_in_english_and_for_an_empty_month(store):
    text = render_text(store.query("bieu06", month="2024-03", by="channel"), "2024-03", lang="en")
    groups, columns = header_titles(text)
    assert groups[:3] == ["Dossiers received", "Dossiers resolved", "Dossiers pending"]
    assert columns[:4] == ["Total", "This period: online", "This period: in person, by post", "Carried over"]
    assert "In person" in text and "Period: 2024-03" in text
    empty = render_text(store.query("bieu06", month="2023-01"), "2023-01")
    assert "Không có số liệu" in empty


def test_to_json_rows_are_plain_json(store):
    t = store.query("bieu06", month="2024-03")
    rows = to_json_rows(t)
    assert json.loads(json.dumps(rows, ensure_ascii=False)) == rows
    assert [r["key"] for r in rows] == [r["key"] for r in t]
    assert rows[0]["row_kind"] == "total" and rows[0]["received_total"] == total_row(t)["received_total"]


# -- the dashboard's ranking on a province-sized aggregate (its speed: benchmarks/bench_query.py) --------

def test_agency_ratio_month_ranks_a_province_sized_aggregate(tmp_path):
    with Store(tmp_path / "big.duckdb") as s:
        with s.transaction() as c:
            c.execute("INSERT INTO agencies (code, name, level, parent_code) VALUES ('P', 'Tỉnh', 'province', NULL)")
            c.execute("INSERT INTO agencies (code, name, level, parent_code) "
                      "SELECT 'D' || i, 'Huyện ' || i, 'district', 'P' FROM range(20) t(i)")
            c.execute("INSERT INTO agencies (code, name, level, parent_code) "
                      "SELECT 'X' || i, 'Xã ' || i, 'commune', 'D' || (i % 20) FROM range(500) t(i)")
            # 36 months × 520 agencies of figures (the size does not depend on the dossier count)
            c.execute("""INSERT INTO agency_month_stats
                SELECT (DATE '2023-01-01' + INTERVAL (m) MONTH)::DATE, code, 100, 60, 30, 10, 90, 20 + (hash(code) % 50),
                       10, 60 - (hash(code) % 50), 10, 5, 5, TIMESTAMP '2025-12-31'
                FROM range(36) t(m), (SELECT code FROM agencies WHERE level = 'commune')""")
        t = s.query("agency_ratio_month", month="2024-06", limit=20)
        assert len(t) == 20 and t.column("on_time_ratio") == sorted(t.column("on_time_ratio"))
        assert t.one()["level"] == "commune"                   # the worst communes sit below their districts
