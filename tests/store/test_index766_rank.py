"""The 766 rank over months (index766_rank) on real stores: the ranks and movements held to a
plain-Python ranking of index766's own totals month by month (a demo province over several
months), ties sharing a rank, an agency with nothing measured unranked, the agency scope and the
level filter; and the points the dossiers due soon would save (index766_due_soon_gain)."""
from __future__ import annotations

import datetime as dt

import pytest
import yaml

from store.errors import QueryError
from tests.store.test_index766 import AS_OF, MONTH, REFERENCE, write_export


def plain_ranks(app, months: list[str], **kw) -> dict[tuple[str, str], int | None]:
    """Competition ranking (1, 2, 2, 4) of index766's totals against their measured maximum, each
    month on its own."""
    level = kw.pop("level", None)
    out = {}
    for m in months:
        rows = [r for r in app.query("index766", month=m, **kw).to_dicts()
                if r["row_kind"] == "agency" and (level is None or r["level"] == level)]
        scores = {r["agency_code"]: None if r["total_points"] is None else r["total_points"] / r["total_max"]
                  for r in rows}
        for code, v in scores.items():
            out[(code, m)] = (None if v is None else
                              1 + sum(1 for w in scores.values() if w is not None and w > v + 1e-9))
    return out


def shift(m: str, k: int) -> str:
    y, mo = divmod(int(m[:4]) * 12 + int(m[5:7]) - 1 + k, 12)
    return f"{y}-{mo + 1:02d}"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from config.app import load_config
    from system import Motcua

    d = tmp_path_factory.mktemp("rank")
    cfg = load_config(environ={"MOTCUA_STORE__PATH": str(d / "motcua.duckdb")})
    app = Motcua(cfg)
    app.demo_data(out_dir=d / "demo", months=4, per_month=900, seed=5, end=dt.date(2026, 11, 1))
    yield app
    app.close()


def test_ranks_and_movements_match_index766s_totals(demo):
    end = "2026-10"
    t = demo.query("index766_rank", end_month=end, months=3)
    rows = t.to_dicts()
    months = [shift(end, -k) for k in (3, 2, 1, 0)]
    want = plain_ranks(demo, months)
    assert {r["month"].strftime("%Y-%m") for r in rows} == set(months[1:])
    codes = {c for c, _ in want}
    assert {r["agency_code"] for r in rows} == codes
    assert len(rows) == 3 * len(codes)
    some_ranked = 0
    for r in rows:
        m = r["month"].strftime("%Y-%m")
        assert r["rank"] == want[(r["agency_code"], m)], r
        assert r["prev_rank"] == want[(r["agency_code"], shift(m, -1))], r
        assert r["movement"] == (None if r["rank"] is None or r["prev_rank"] is None else r["prev_rank"] - r["rank"])
        some_ranked += r["rank"] is not None
    assert some_ranked > len(codes)  # the demo is measured: most agencies are ranked most months
    moved = [r for r in rows if r["movement"]]
    assert moved, "the demo's ranks move from month to month"
    # the totals are index766's
    idx = {r["agency_code"]: r for r in demo.query("index766", month=end).to_dicts() if r["row_kind"] == "agency"}
    for r in rows:
        if r["month"].strftime("%Y-%m") == end:
            assert r["total_points"] == (None if idx[r["agency_code"]]["total_points"] is None
                                         else pytest.approx(idx[r["agency_code"]]["total_points"]))
            assert r["ranked"] == sum(1 for x in idx.values() if x["total_points"] is not None)


def test_level_filter_ranks_within_the_level(demo):
    end = "2026-10"
    rows = demo.query("index766_rank", end_month=end, months=2, level="commune").to_dicts()
    want = plain_ranks(demo, [shift(end, -2), shift(end, -1), end], level="commune")
    assert rows and {r["level"] for r in rows} == {"commune"}
    for r in rows:
        m = r["month"].strftime("%Y-%m")
        assert (r["rank"], r["prev_rank"]) == (want[(r["agency_code"], m)], want[(r["agency_code"], shift(m, -1))])
    with pytest.raises(QueryError, match="level must be one of"):
        demo.query("index766_rank", end_month=end, level="ward")
    with pytest.raises(QueryError, match="months must be a whole number"):
        demo.query("index766_rank", end_month=end, months=0)


@pytest.fixture
def month(app, tmp_path):
    """The hand-made month of test_index766, plus a department with no dossier at all."""
    ref = tmp_path / "ref.yaml"
    agencies = [*REFERENCE["agencies"], {"code": "S2", "name": "Sở Xây dựng", "level": "department", "parent": "P"}]
    ref.write_text(yaml.safe_dump({**REFERENCE, "agencies": agencies}, allow_unicode=True), encoding="utf-8")
    app.load_reference(ref)
    res = app.import_file(str(write_export(tmp_path / "export.csv")))
    assert res["inserted"] == 7
    app.recompute(AS_OF)
    return app


def test_ties_share_a_rank_and_nothing_measured_is_unranked(month):
    rows = {r["agency_code"]: r for r in month.query("index766_rank", end_month=MONTH, months=1).to_dicts()}
    assert set(rows) == {"P", "S1", "S2", "H1", "X1"}
    # test_index766's hand computation: X1 (and H1, which counts only X1) above P above S1
    assert (rows["H1"]["rank"], rows["X1"]["rank"], rows["P"]["rank"], rows["S1"]["rank"]) == (1, 1, 3, 4)
    assert rows["H1"]["total_points"] == pytest.approx(rows["X1"]["total_points"])
    assert rows["S2"]["rank"] is None and rows["S2"]["total_points"] is None and rows["S2"]["groups_measured"] == 0
    assert {r["ranked"] for r in rows.values()} == {4}
    # February had no dossier: nothing was ranked, so no movement
    assert all(r["prev_rank"] is None and r["movement"] is None for r in rows.values())
    # April: no dossier received or resolved, progress unmeasured: everyone unranked, no movement
    april = month.query("index766_rank", end_month="2024-04", months=1).to_dicts()
    assert all(r["rank"] is None and r["movement"] is None for r in april)
    assert {r["agency_code"]: r["prev_rank"] for r in april}["S1"] == 4


def test_agency_scope(month):
    rows = month.query("index766_rank", end_month=MONTH, months=1, agency="H1").to_dicts()
    assert {r["agency_code"] for r in rows} == {"H1", "X1"}  # the subtree only, ranked among itself
    assert {r["rank"] for r in rows} == {1}


def test_due_soon_gain_is_20_times_due_soon_over_the_denominator(month):
    # at 05/03 10:00, D1 (due 18/03) is far; with 10 working days ahead, S1's D1, D2 and D3 are due soon
    at = "2024-03-05 10:00"
    for den, d in (("received_and_carried", 3), ("received", 3)):
        r = month.query("index766_due_soon_gain", month=MONTH, agency="S1", days=10, as_of=at,
                        score_denominator=den).one()
        n = month.query("due_soon_by_agency", agency="S1", days=10, as_of=at).to_dicts()
        due = next(x["due_soon"] for x in n if x["row_kind"] == "total")
        assert due > 0
        assert (r["due_soon"], r["denominator"]) == (due, d)
        assert r["points_saved"] == pytest.approx(20 * due / d)
    none = month.query("index766_due_soon_gain", month="2024-05", agency="S1", days=1, as_of=at).one()
    assert none["points_saved"] is None and none["denominator"] == 0


def test_declared_for_agency_accounts():
    from store.catalog import get

    q = get("index766_rank")
    assert (q.scope, q.roles, q.scored, q.cache) == ("agency", ("agency",), True, "until_write")
    q = get("index766_due_soon_gain")
    assert (q.scope, q.roles, q.scored) == ("agency", ("agency",), True) and q.cache != "until_write"


def test_the_kept_pre_counts_give_the_rank_counted_from_the_dossiers_and_go_stale_with_the_data(demo):
    from store.index766_queries import _kept_fresh
    from store.index766_writes import keep_pre_counts

    store = demo.store
    with store.transaction() as con:  # counted from the dossiers
        con.execute("DELETE FROM index766_pre_stamp")
    live = store.query("index766_rank", end_month="2026-10", months=3).to_dicts()
    live_dept = store.query("index766_rank", end_month="2026-10", months=3, level="department").to_dicts()
    assert not _kept_fresh(store.cursor())
    assert keep_pre_counts(store) > 0
    assert _kept_fresh(store.cursor())
    assert store.query("index766_rank", end_month="2026-10", months=3).to_dicts() == live
    assert store.query("index766_rank", end_month="2026-10", months=3, level="department").to_dicts() == live_dept
    # another refresh (a later as_of) leaves them stale: read from the dossiers again, never stale figures
    demo.recompute(as_of="2026-11-20T12:00:00")
    assert not _kept_fresh(store.cursor())
    after = store.query("index766_rank", end_month="2026-10", months=3).to_dicts()
    assert keep_pre_counts(store) > 0
    assert store.query("index766_rank", end_month="2026-10", months=3).to_dicts() == after


def test_biểu_06_of_several_months_at_once_equals_each_month_on_its_own(demo):
    from store.queries import _month_end, bieu06, bieu06_by_agency_months

    con = demo.store.cursor()
    months = [dt.date(2026, m, 1) for m in (6, 7, 8, 9, 10, 11, 12)]  # the first and last hold nothing
    top = next(r["key"] for r in bieu06(con, "2026-09", by="agency").to_dicts()
               if r["row_kind"] == "agency" and r["depth"] == 1)
    for agency in (None, top):
        got: dict = {}
        for r in bieu06_by_agency_months(con, months, _month_end(months[-1]), agency).to_dicts():
            got.setdefault(r.pop("month"), []).append(r)
        for m in months:
            assert got[m] == bieu06(con, m.strftime("%Y-%m"), by="agency", agency=agency).to_dicts(), (m, agency)
