"""The month-end forecast (named query month_forecast) on a real store built by a recompute.

As it stands it is Biểu 06 (bieu06 by agency) row for row; its best and worst cases equal a count
made here dossier by dossier, apart from store/: the dossiers pending at the recompute's as_of, with
their deadlines and whether an open supplement request stops their clock, read from the store's
tables, then the two readings applied in plain Python and rolled up along the agency tree written
out below. A finished month is left as it stands; an agency account sees only its subtree.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from benchmarks.synth import synth_select
from config.reference import ReferenceData
from dashboard.access import AccessDenied, ScopedOps
from dashboard.users import User
from sla_rules.constants import FLAG_STOPPED
from store.db import Store
from store.reference import load_reference
from store.sla import STAT_COLUMNS, recompute
from tests.store.test_migration_004 import DOSSIER_COLS

AS_OF = dt.datetime(2025, 9, 17, 14, 0)        # a Wednesday: September is under way
CURRENT, FINISHED = "2025-09", "2025-08"
NEXT_MONTH = dt.datetime(2025, 10, 1)
DENOMINATORS = ("received_and_carried", "received")

# The synthetic dossiers' agencies AG0..AG119 on a tree of four levels; AG119 is unknown to the
# reference data (its own one-node tree, as the roll-up rule says).
PARENT = {"P": None, "D1": "P", "D2": "P", "H1": "P", "X1": "H1"}
for i in range(119):
    PARENT[f"AG{i}"] = ["D1", "D2", "H1", "X1"][i % 4]
LEVEL = {"P": "province", "D1": "department", "D2": "department", "H1": "district", "X1": "commune"}
REFERENCE = ReferenceData.model_validate({"agencies": [
    {"code": c, "name": f"Cơ quan {c}", "level": LEVEL.get(c, "unit"), **({"parent": p} if p else {})}
    for c, p in PARENT.items()]})


def ancestors(code: str) -> list[str]:
    out = [code]
    while PARENT.get(out[-1]):
        out.append(PARENT[out[-1]])
    return out


@pytest.fixture(scope="module")
def store(tmp_path_factory, engine):
    with Store(tmp_path_factory.mktemp("forecast") / "forecast.duckdb", memory_limit="512MB") as s:
        load_reference(s, REFERENCE)
        with s.transaction() as c:
            # June to early October: some received after as_of (unknown to the figures)
            c.execute(f"INSERT INTO dossiers ({DOSSIER_COLS}) "
                      f"SELECT {DOSSIER_COLS} FROM ({synth_select(4000, 5, '2025-06-01', 125)})")
            # no usable time limit: no deadline, never late
            c.execute("UPDATE dossiers SET time_limit = NULL WHERE hash(dossier_code) % 37 = 0")
            # open supplement requests (stopped clocks), some answered later
            c.execute("""
                INSERT INTO dossier_events (dossier_code, event, "at")
                SELECT dossier_code, 'supplement_requested', received_at + INTERVAL 1 DAY FROM dossiers
                WHERE hash(dossier_code) % 11 = 0
                UNION ALL
                SELECT dossier_code, 'supplement_received', received_at + INTERVAL 30 DAY FROM dossiers
                WHERE hash(dossier_code) % 11 = 0 AND hash(dossier_code) % 3 = 0""")
        recompute(s, engine, AS_OF)
        yield s


def pending_at_as_of(store: Store) -> list[dict]:
    """Every dossier pending at as_of as the monthly figures count it: not left out (withdrawn,
    rejected), received before as_of, not resolved before it; with its deadline and whether its
    clock is stopped."""
    rows = store.cursor().execute("""
        SELECT d.agency_code, d.received_at, coalesce(d.finished_at, d.returned_at) AS resolved_at,
               CAST(d.state AS VARCHAR), CAST(s.status AS VARCHAR), s.late_from, s.flags
        FROM dossiers d JOIN sla_results s ON s.dossier_id = d.dossier_id""").fetchall()
    out = []
    for agency, received, resolved, state, status, late_from, flags in rows:
        if status == "excluded" or received >= AS_OF:
            continue
        if state != "withdrawn" and resolved is not None and resolved < AS_OF:
            continue
        out.append({"agency": agency, "late_from": late_from, "stopped": bool((flags or 0) & FLAG_STOPPED)})
    return out


def brute_force(pending: list[dict]) -> dict[str | None, Counter]:
    """Per agency (rolled up) and for the province (None): pending in time and overdue at as_of,
    and those in time whose deadline falls before the month's end."""
    out: dict[str | None, Counter] = {}
    for d in pending:
        overdue = not d["stopped"] and d["late_from"] is not None and d["late_from"] <= AS_OF
        due = not overdue and not d["stopped"] and d["late_from"] is not None and d["late_from"] < NEXT_MONTH
        for key in [None, *ancestors(d["agency"])]:
            c = out.setdefault(key, Counter())
            c["overdue" if overdue else "in_time"] += 1
            c["due"] += due
    return out


def ratios(early: int, on_time: int, resolved: int, den: int) -> tuple[float | None, float | None]:
    if resolved <= 0:
        return None, None
    return (early + on_time) / resolved, (20 * (early + on_time) / den if den > 0 else None)


def expected(row: dict, c: Counter, denominator: str) -> dict:
    """The best and worst columns of a row from its figures as they stand and the brute force."""
    den = row["received_total"] if denominator == "received_and_carried" else (
        row["received_online"] + row["received_direct_postal"])
    pit, late = c["in_time"], c["overdue"] + c["due"]
    best = ratios(row["resolved_early"], row["resolved_on_time"] + pit, row["resolved_total"] + pit, den)
    worst = ratios(row["resolved_early"], row["resolved_on_time"], row["resolved_total"] + late, den)
    return {"due_in_month": c["due"],
            "best_resolved_total": row["resolved_total"] + pit, "best_pending_total": row["pending_total"] - pit,
            "best_on_time_ratio": best[0], "best_score_766": best[1],
            "worst_resolved_total": row["resolved_total"] + late, "worst_pending_total": row["pending_total"] - late,
            "worst_resolved_overdue": row["resolved_overdue"] + late,
            "worst_on_time_ratio": worst[0], "worst_score_766": worst[1]}


def approx(d: dict) -> dict:
    return {k: v if v is None or isinstance(v, int) else pytest.approx(v, rel=1e-12) for k, v in d.items()}


NOW_COLUMNS = ["row_kind", "key", "name", "level", "depth", "parent_code", *STAT_COLUMNS, "on_time_ratio", "score_766"]


@pytest.mark.parametrize("month", [CURRENT, FINISHED])
@pytest.mark.parametrize("agency", [None, "H1"])
@pytest.mark.parametrize("denominator", DENOMINATORS)
def test_as_it_stands_is_bieu06(store, month, agency, denominator):
    f = store.query("month_forecast", month=month, agency=agency, score_denominator=denominator)
    b = store.query("bieu06", month=month, agency=agency, score_denominator=denominator)
    assert len(f) == len(b) > 1
    assert [{k: r[k] for k in NOW_COLUMNS} for r in f] == [{k: r[k] for k in NOW_COLUMNS} for r in b]


def test_the_data_has_every_case(store):
    pending = pending_at_as_of(store)
    c = brute_force(pending)[None]
    assert c["overdue"] > 10 and c["due"] > 10 and c["in_time"] - c["due"] > 10  # some due after the month
    assert sum(d["stopped"] for d in pending) > 5 and any(d["late_from"] is None for d in pending)
    got = store.cursor().execute("SELECT count(*) FROM dossiers WHERE received_at >= ?", [AS_OF]).fetchone()[0]
    assert got > 50  # received after as_of: not counted


@pytest.mark.parametrize("denominator", DENOMINATORS)
def test_best_and_worst_equal_the_brute_force(store, denominator):
    counts = brute_force(pending_at_as_of(store))
    t = store.query("month_forecast", month=CURRENT, score_denominator=denominator)
    assert {r["as_of"] for r in t} == {AS_OF} and all(r["in_progress"] for r in t)
    checked = 0
    for r in t:
        c = counts.get(r["key"], Counter())
        # the brute force's pending dossiers are the figures' own
        assert (c["in_time"], c["overdue"]) == (r["pending_in_time"], r["pending_overdue"]), r["key"]
        assert {k: r[k] for k in expected(r, c, denominator)} == approx(expected(r, c, denominator)), r["key"]
        checked += bool(c["due"])
    assert checked >= 6  # the province, P, the departments, the district, the commune, units


def test_best_is_never_below_worst(store):
    for month in (CURRENT, FINISHED):
        for r in store.query("month_forecast", month=month):
            for what in ("on_time_ratio", "score_766"):
                best, now, worst = r[f"best_{what}"], r[what], r[f"worst_{what}"]
                if best is not None and worst is not None:
                    assert best >= worst, (month, r["key"], what)
                if now is not None:
                    assert best >= now and (worst is None or now >= worst), (month, r["key"], what)


def test_a_finished_month_stays_as_it_stands(store):
    t = store.query("month_forecast", month=FINISHED)
    assert any(r["pending_total"] for r in t)  # something pending at that month's end, left as it was
    for r in t:
        assert not r["in_progress"] and r["due_in_month"] == 0
        for what in ("on_time_ratio", "score_766"):
            assert r[f"best_{what}"] == r[what] == r[f"worst_{what}"]
        assert r["best_resolved_total"] == r["worst_resolved_total"] == r["resolved_total"]
        assert r["worst_resolved_overdue"] == r["resolved_overdue"]
    # a month not begun at as_of: nothing known
    (total, *_) = store.query("month_forecast", month="2025-11")
    assert not total["in_progress"] and total["received_total"] == 0 and total["best_on_time_ratio"] is None


def test_an_agency_account_sees_only_its_subtree(store):
    def subtree(code: str) -> set[str]:
        return set(store.query("agency_scope", agency=code).column("code"))

    scoped = ScopedOps(store, User("huyen", "agency", agency="H1"), subtree)
    mine = scoped.query("month_forecast", month=CURRENT)
    keys = {r["key"] for r in mine if r["row_kind"] == "agency"}
    assert keys == {"H1", "X1"} | {c for c, p in PARENT.items() if p in ("H1", "X1")}
    province = {r["key"]: r for r in store.query("month_forecast", month=CURRENT)}
    assert {k: v for k, v in mine.to_dicts()[0].items() if k not in ("row_kind", "key")} == \
        {k: v for k, v in province["H1"].items() if k not in ("row_kind", "key", "name", "level", "depth",
                                                               "parent_code")} | \
        {"name": None, "level": None, "depth": None, "parent_code": None}
    assert {r["key"] for r in scoped.query("month_forecast", month=CURRENT, agency="X1")} - {None} < keys
    with pytest.raises(AccessDenied):
        scoped.query("month_forecast", month=CURRENT, agency="D1")


def test_bad_parameters_name_the_query(store):
    from store.errors import QueryError

    with pytest.raises(QueryError, match="month_forecast: month"):
        store.query("month_forecast", month="2025-13")
    with pytest.raises(QueryError, match="month_forecast: score_denominator"):
        store.query("month_forecast", month=CURRENT, score_denominator="everything")


def test_results_without_the_recomputes_keys_are_judged_from_their_dossiers(store):
    """A row the recompute did not key (month_key, agency_ix) is read through its dossier: the same
    forecast (in a transaction rolled back, so the store keeps its keys)."""
    keyed = store.query("month_forecast", month=CURRENT).to_dicts()
    with store.scratch() as cur:
        cur.execute("UPDATE sla_results SET month_key = NULL WHERE dossier_id % 2 = 0")
        cur.execute("UPDATE sla_results SET agency_ix = NULL WHERE dossier_id % 3 = 0")
        assert store.query_in(cur, "month_forecast", month=CURRENT).to_dicts() == keyed
    assert sum(r["due_in_month"] for r in keyed if r["row_kind"] == "total") > 10
