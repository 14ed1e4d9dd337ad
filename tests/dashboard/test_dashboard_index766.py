"""The 766 scorecard's blocks under AppTest on the demo province: Tổng quan shows index766's
points per group, its table per agency (level filter applied) and index766_rank's last ranks and
movements; Cơ quan shows where the agency's points go (index766_losses) and what its dossiers due
soon would save (index766_due_soon_gain); an agency account's queries stay in its subtree."""
from __future__ import annotations

import pytest

from config.index766 import GROUPS, load_index766
from dashboard.access import AccessDenied, ScopedOps
from dashboard.backend import Backend
from dashboard.i18n import num
from dashboard.users import User
from tests.dashboard.apptest import AGENCY, backend_query, login, metric, open_page, table


def _rules(world) -> dict:
    return load_index766(world["cfg"].reports.index766).model_dump(mode="json")


def _points(v, of) -> str:
    return "–" if v is None else f"{num(v, digits=2)} / {num(of)}"


def test_overview_shows_the_estimate_and_the_rank(store_env):
    at = open_page(login("leadership"), "overview")
    m = at.selectbox(key="ov_month").value.strftime("%Y-%m")
    rules = load_index766(store_env["cfg"].reports.index766)
    t = backend_query(store_env, "index766", month=m, rules=_rules(store_env)).to_dicts()
    total = t[0]
    assert total["row_kind"] == "total"
    assert any(s.value.startswith("Bộ chỉ số 766 (ước tính)") for s in at.subheader)
    for gid in GROUPS:
        assert metric(at, rules.group(gid).name.vi) == _points(total[f"{gid}_points"], rules.group(gid).max_points)
    assert total["publicity_points"] is None  # never in an export: shown as "–" with the reason in Vietnamese
    card = next(x for x in at.metric if x.label == rules.publicity.name.vi)
    assert "không có trong tệp xuất" in card.help and "published_" not in card.help
    assert "công khai" in card.help
    assert metric(at, "Tổng các nhóm đo được") == _points(total["total_points"], total["total_max"])
    assert any("ước tính" in c.value and "chưa được xác nhận" in c.value and "Quyết định 766/QĐ-TTg" in c.value
               for c in at.caption)
    shown = table(at, "Tối đa")
    agencies = sorted((r for r in t if r["row_kind"] == "agency" and r["groups_measured"]),
                      key=lambda r: (r["total_points"] / r["total_max"], r["agency_name"] or r["agency_code"]))
    assert list(shown["Cơ quan"]) == [r["agency_name"] for r in agencies]
    assert list(shown["Tổng điểm"]) == pytest.approx([r["total_points"] for r in agencies])
    # the rank: the last month's rank and movement per agency, worst first
    rank = backend_query(store_env, "index766_rank", end_month=m, months=12, rules=_rules(store_env)).to_dicts()
    last = {r["agency_code"]: r for r in rank if r["month"].strftime("%Y-%m") == m and r["rank"] is not None}
    shown = table(at, "Hạng")
    assert len(shown) == len(last)
    worst = max(last.values(), key=lambda r: r["rank"])
    assert shown["Hạng"].iloc[0] == f"{worst['rank']}/{worst['ranked']}"
    by_name = {r["agency_name"]: r for r in last.values()}
    for _, row in shown.iterrows():
        r = by_name[row["Cơ quan"]]
        mv = r["movement"]
        assert row["So với tháng trước"] == ("–" if mv is None else "=" if mv == 0 else
                                             f"▲ {mv}" if mv > 0 else f"▼ {-mv}")
        assert row["Hạng các tháng (cũ → mới)"].split(" · ")[-1] == str(r["rank"])
    # the level filter: the table and the rank list only that level, ranked within it
    at.selectbox(key="ov_level").set_value("commune").run()
    communes = [r for r in agencies if r["level"] == "commune"]
    assert len(table(at, "Tối đa")) == len(communes)
    ranked = [r for r in backend_query(store_env, "index766_rank", end_month=m, months=12, level="commune",
                                       rules=_rules(store_env)) if r["month"].strftime("%Y-%m") == m and r["rank"]]
    assert len(table(at, "Hạng")) == len(ranked) and max(r["rank"] for r in ranked) <= len(communes)


def test_overview_in_english_has_the_blocks(store_env):
    at = open_page(login("leadership", lang="en"), "overview")
    assert any(s.value.startswith("The 766 scorecard (estimate)") for s in at.subheader)
    assert "Since last month" in table(at, "Rank").columns


def test_agency_page_shows_where_the_points_go(store_env):
    at = open_page(login("leadership"), "agency")
    at.selectbox(key="ag_agency").set_value(AGENCY).run()
    m = at.selectbox(key="ag_month").value.strftime("%Y-%m")
    assert any(s.value == "Điểm mất ở đâu" for s in at.subheader)
    losses = [r for r in backend_query(store_env, "index766_losses", month=m, agency=AGENCY, limit=10)
              if r["points_unearned"] > 0]
    assert losses, "the demo agency loses points"
    shown = table(at, "Điểm chưa đạt")
    assert list(shown["Mã"]) == [r["procedure_code"] for r in losses]
    assert list(shown["Điểm bị mất"]) == pytest.approx([r["points_lost"] for r in losses])
    from dashboard.due_soon import now_minute

    gains = [backend_query(store_env, "index766_due_soon_gain", month=m, agency=AGENCY, days=2, as_of=now_minute()).one()]
    card = next(x for x in at.metric if x.label == "Điểm giữ được nếu giải quyết kịp")
    assert card.value in {"–" if g["points_saved"] is None else "+" + num(g["points_saved"], digits=2) for g in gains}
    assert "đúng hạn trong tháng này thay vì trễ hạn" in card.help
    assert metric(at, "Hồ sơ sắp đến hạn") == num(gains[0]["due_soon"])


def test_agency_account_gets_its_own_subtree_only(store_env):
    b = Backend(store_env["cfg"])
    subtree = set(b.query("agency_scope", agency=AGENCY).column("code"))
    scoped = ScopedOps(b, User("a", "agency", agency=AGENCY), lambda c: subtree if c == AGENCY else {c})
    m = "2026-10"
    for name, params in (("index766_rank", {"end_month": m, "months": 2}), ("index766_due_soon_gain", {"month": m}),
                         ("index766_losses", {"month": m, "agency": None}), ("index766", {"month": m})):
        with pytest.raises(AccessDenied):
            scoped.query(name, **{**params, "agency": "QNG.SNNMT"})
        assert scoped.scoped_params(name, params)["agency"] == AGENCY
    rows = scoped.query("index766_rank", end_month=m, months=2).to_dicts()
    assert rows and {r["agency_code"] for r in rows} <= subtree
    # and on the page: the account's own agency, nothing of another's
    at = open_page(login("agency"), "agency")
    assert any(s.value == "Điểm mất ở đâu" for s in at.subheader)


def test_a_configured_rules_file_is_the_one_shown(store_env, monkeypatch, tmp_path):
    """Another rules file (reports.index766) decides the weights on the page, as on the command line."""
    import yaml

    rules = _rules(store_env)
    rules["satisfaction"]["zero_at"] = 0
    path = tmp_path / "index766.yaml"
    path.write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("MOTCUA_REPORTS__INDEX766", str(path))
    at = open_page(login("leadership"), "overview")
    m = at.selectbox(key="ov_month").value.strftime("%Y-%m")
    mine = backend_query(store_env, "index766", month=m, rules=rules).one()
    shipped = backend_query(store_env, "index766", month=m).one()
    assert mine["satisfaction_points"] != shipped["satisfaction_points"]
    assert metric(at, "Mức độ hài lòng") == _points(mine["satisfaction_points"], 18)


def test_the_owner_prewarms_the_blocks_answers(store_env):
    """The default view's 766 answers are among the owner's prewarmed ones, with the page's parameters."""
    from dashboard.warm import overview_queries

    b = Backend(store_env["cfg"])
    queries = overview_queries(b.query)
    m = next(p["end_month"] for n, p in queries if n == "province_month_series")
    assert ("index766", {"month": m}) in queries
    assert ("index766_rank", {"end_month": m, "months": 12, "level": None}) in queries


def test_why_a_group_is_not_measured_reads_in_vietnamese():
    """The query names inputs and stored columns (store/index766_queries.py); the page words them
    with the rules file's and the import's Vietnamese (the reasons as tests/store/test_index766.py
    pins them for an export without the 766 columns)."""
    import re

    from dashboard.index766 import reason_text
    from tests.dashboard.test_vietnamese_output import ENGLISH

    rules = load_index766()
    row = {"online_service_reason_vi": "chưa đo được: procedures_online (dữ liệu không có procedures.online_level); "
                                       "online_capable_dossiers (dữ liệu không có procedures.online_level)",
           "satisfaction_reason_vi": "chưa đo được: ratings (dữ liệu không có dossiers.satisfaction_rating)",
           "satisfaction_reason": "not measured: ratings (dossiers.satisfaction_rating not in the data)"}
    online = reason_text(rules, "online_service", row, "vi")
    assert online.startswith("Chưa đo được: A: tỷ lệ thủ tục") and "mức độ cung cấp trực tuyến của thủ tục" in online
    sat = reason_text(rules, "satisfaction", row, "vi")
    assert sat == ("Chưa đo được: đánh giá của người dân (1–5) đối với hồ sơ giải quyết trong tháng "
                   "(dữ liệu không có cột “Đánh giá mức độ hài lòng”)")
    for text in (online, sat):
        assert not re.search(r"\w_\w|dossiers\.|procedures\.", text) and not ENGLISH.search(text), text
    assert reason_text(rules, "satisfaction", row, "en") == row["satisfaction_reason"]
