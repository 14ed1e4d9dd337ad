"""The 766 scorecard's named queries on a real store: a small hand-made month imported from an
official's export (Vietnamese headers), recomputed by the engine, each group held to a hand
computation; the groups the data cannot measure say which input is missing."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from config.index766 import load_index766
from store.errors import QueryError

AS_OF = "2024-04-01 00:00"
MONTH = "2024-03"

REFERENCE = {
    "agencies": [
        {"code": "P", "name": "UBND tỉnh Quảng Ngãi", "level": "province"},
        {"code": "S1", "name": "Sở Tư pháp", "level": "department", "parent": "P"},
        {"code": "H1", "name": "UBND huyện Bình Sơn", "level": "district", "parent": "P"},
        {"code": "X1", "name": "UBND xã Bình Hiệp", "level": "commune", "parent": "H1"},
    ],
    "procedures": [
        {"code": "PR-F", "name": "Cấp phiếu lý lịch tư pháp", "time_limit": 10, "time_unit": "working_days",
         "online_level": "full"},
        {"code": "PR-N", "name": "Chứng thực bản sao", "time_limit": 10, "time_unit": "working_days",
         "online_level": "none"},
        {"code": "PR-P", "name": "Đăng ký khai sinh", "time_limit": 10, "time_unit": "working_days",
         "online_level": "partial"},
    ],
}

BASIC_HEADERS = ["Mã hồ sơ", "Mã cơ quan", "Mã thủ tục", "Kênh nộp", "Ngày tiếp nhận", "Thời hạn giải quyết",
                 "Đơn vị tính", "Trạng thái", "Ngày có kết quả", "Ngày trả kết quả"]
INPUT_HEADERS = ["Thanh toán trực tuyến", "Đã số hoá hồ sơ", "Số hoá kết quả", "Đánh giá mức độ hài lòng"]
# code, agency, procedure, channel, received, state, finished, returned | paid, digitised, result, rating
ROWS = [
    ("D1", "S1", "PR-F", "Trực tuyến", "04/03/2024 09:00", "Đã trả kết quả", "06/03/2024 10:00", "06/03/2024 14:00",
     "Có", "Có", "Có", "5"),                                   # early
    ("D2", "S1", "PR-F", "Trực tiếp", "04/03/2024 09:00", "Đã có kết quả", "29/03/2024 10:00", "",
     "Không", "Không", "Không", "2"),                          # overdue (due 18/03)
    ("D3", "S1", "PR-N", "Trực tiếp", "05/03/2024 09:00", "Đang xử lý", "", "",
     "Không", "Có", "", ""),                                   # pending, overdue at the month's end
    ("D4", "S1", "PR-N", "Trực tiếp", "05/03/2024 09:00", "Đã rút", "", "",
     "Có", "Có", "Có", "1"),                                   # withdrawn: counted nowhere
    ("D5", "X1", "PR-P", "Trực tuyến", "11/03/2024 09:00", "Đã có kết quả", "12/03/2024 10:00", "",
     "Có", "Có", "Có", "4"),                                   # early
    ("D6", "X1", "PR-N", "Trực tiếp", "11/03/2024 09:00", "Đã có kết quả", "13/03/2024 10:00", "",
     "Không", "Không", "", "4"),                               # early
    ("D7", "X1", "PR-P", "Trực tiếp", "12/03/2024 09:00", "Đang xử lý", "", "",
     "", "", "", ""),                                          # pending, nothing said
]


def write_export(path: Path, with_inputs: bool = True) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(BASIC_HEADERS + (INPUT_HEADERS if with_inputs else []))
        for code, ag, pr, ch, rec, state, fin, ret, *inputs in ROWS:
            w.writerow([code, ag, pr, ch, rec, "10", "Ngày làm việc", state, fin, ret]
                       + (list(inputs) if with_inputs else []))
    return path


@pytest.fixture
def month(app, tmp_path):
    """The hand-made month in the app's store, with the reference data, recomputed at AS_OF."""
    ref = tmp_path / "ref.yaml"
    ref.write_text(yaml.safe_dump(REFERENCE, allow_unicode=True), encoding="utf-8")
    app.load_reference(ref)
    res = app.import_file(str(write_export(tmp_path / "export.csv")))
    assert (res["inserted"], res["quarantined"]) == (7, 0)
    app.recompute(AS_OF)
    return app


def rows_by_code(t) -> dict:
    return {r["agency_code"]: r for r in t.to_dicts()}


# Hand computation (config/index766.yaml): online = min(2, 2A/0.8) + 4B + min(6, 6C/0.5) + 10 × paid online;
# digitisation = 11 × reception share + 11 × result share; satisfaction = 18 × (avg − 1) / 4;
# progress = 20 × (early + on time) / (received + carried over).
EXPECTED = {
    # S1: received D1 D2 D3 (D4 withdrawn); in time D1. A: PR-F, PR-N → 1/2; B: PR-F dossiers D1 D2, online D1 → 1/2;
    # C: 1/3; paid online D1 of D1 D2 D3. Digitised at reception D1 D3 of D1 D2 D3; results D1 of D1 D2;
    # ratings 5, 2.
    "S1": dict(progress=20 / 3, online=1.25 + 2 + 4 + 10 / 3, digitisation=11 * 2 / 3 + 11 / 2, satisfaction=18 * 2.5 / 4),
    # X1: received D5 D6 D7; in time D5 D6. A: PR-P, PR-N → 1/2; B: PR-P dossiers D5 D7, online D5; C: 1/3;
    # paid online D5 of D5 D6 (D7 says nothing). Digitised D5 of D5 D6; results D5 of D5 (D6 says nothing);
    # ratings 4, 4.
    "X1": dict(progress=40 / 3, online=1.25 + 2 + 4 + 10 / 2, digitisation=11 / 2 + 11, satisfaction=18 * 3 / 4),
    # P (everything): received 6, in time 3; A: 2 of 3 procedures; B: D1 D5 of D1 D2 D5 D7; C: 2/6;
    # paid online 2 of 5; digitised 3 of 5; results 2 of 3; ratings 5 2 4 4.
    "P": dict(progress=10.0, online=2 * (2 / 3) / 0.8 + 2 + 4 + 10 * 2 / 5, digitisation=11 * 3 / 5 + 11 * 2 / 3,
              satisfaction=18 * 2.75 / 4),
}
EXPECTED["H1"] = EXPECTED["X1"]  # the district counts its commune
EXPECTED[None] = EXPECTED["P"]   # the total row: the whole province


@pytest.mark.parametrize("code", ["S1", "X1", "H1", "P", None])
def test_each_group_against_a_hand_computation(month, code):
    rows = rows_by_code(month.query("index766", month=MONTH))
    assert set(rows) == {None, "P", "S1", "H1", "X1"}
    r, want = rows[code], EXPECTED[code]
    assert r["progress_points"] == pytest.approx(want["progress"])
    assert r["online_service_points"] == pytest.approx(want["online"])
    assert r["digitisation_points"] == pytest.approx(want["digitisation"])
    assert r["satisfaction_points"] == pytest.approx(want["satisfaction"])
    assert r["publicity_points"] is None
    assert r["publicity_reason"].startswith("not measured: published_procedures (not in an export)")
    assert r["total_points"] == pytest.approx(sum(want.values()))
    assert (r["total_max"], r["groups_measured"]) == (20 + 22 + 22 + 18, 4)


def test_progress_is_the_stores_score_766_with_the_chosen_denominator(month):
    for den in ("received_and_carried", "received"):
        b = {r["key"]: r["score_766"] for r in month.query("bieu06", month=MONTH, score_denominator=den).to_dicts()}
        got = {r["agency_code"]: r["progress_points"]
               for r in month.query("index766", month=MONTH, score_denominator=den).to_dicts()}
        assert got == b


def test_agency_scope_and_shares(month):
    t = month.query("index766", month=MONTH, agency="H1")
    rows = rows_by_code(t)
    assert set(rows) == {None, "H1", "X1"}  # the subtree only, its total first
    assert t.rows[0][t.columns.index("row_kind")] == "total"
    x = rows["X1"]
    assert (x["received"], x["resolved"], x["ratings"]) == (3, 2, 2)
    assert x["share_online_payment"] == pytest.approx(1 / 2)  # D5 yes, D6 no, D7 not said
    assert x["share_online_channel"] == pytest.approx(1 / 3)
    assert x["rating_avg"] == pytest.approx(4.0)


def test_without_the_columns_the_groups_say_what_is_missing(app, tmp_path):
    """An export without the new columns and no reference data: online service lacks the
    procedures' online level, digitisation and satisfaction lack their columns; progress stands."""
    res = app.import_file(str(write_export(tmp_path / "plain.csv", with_inputs=False)))
    assert (res["inserted"], res["quarantined"]) == (7, 0)
    app.recompute(AS_OF)
    r = rows_by_code(app.query("index766", month=MONTH))["S1"]
    assert r["progress_points"] == pytest.approx(20 / 3)
    assert r["online_service_points"] is None
    assert r["online_service_reason"] == (
        "not measured: procedures_online (procedures.online_level not in the data); "
        "online_capable_dossiers (procedures.online_level not in the data); "
        "online_payment (dossiers.paid_online not in the data)")
    assert r["online_service_reason_vi"].startswith("chưa đo được: procedures_online (dữ liệu không có "
                                                    "procedures.online_level)")
    assert r["digitisation_points"] is None
    assert r["digitisation_reason"] == (
        "not measured: dossier_digitised (dossiers.dossier_digitised not in the data); "
        "result_digitised (dossiers.result_digitised not in the data)")
    assert r["satisfaction_points"] is None
    assert r["satisfaction_reason"] == "not measured: ratings (dossiers.satisfaction_rating not in the data)"
    assert (r["total_points"], r["total_max"], r["groups_measured"]) == (pytest.approx(20 / 3), 20, 1)
    assert r["share_online_channel"] == pytest.approx(1 / 3)  # measured, but its group lacks other inputs


def test_a_month_without_dossiers_is_not_measured_anywhere(month):
    r = rows_by_code(month.query("index766", month="2024-05"))[None]
    assert r["total_points"] is None and r["groups_measured"] == 0 and r["total_max"] == 0
    assert r["progress_reason"].startswith("not measured:")
    assert "no dossier received in the month" in r["online_service_reason"]
    assert r["satisfaction_reason"] == "not measured: ratings (no dossier resolved in the month)"


def test_the_rules_decide_the_weights(month):
    rules = load_index766().model_dump(mode="json")
    rules["satisfaction"]["zero_at"] = 0            # 18 × avg / 5
    rules["online_service"]["components"][3]["points"] = 3   # online payment: 3 × share instead of 10
    rules["online_service"]["components"][2]["points"] = 3   # the channel share worth 3 instead of 6
    rules["online_service"]["max_points"] = 12
    r = rows_by_code(month.query("index766", month=MONTH, rules=rules))["S1"]
    assert r["satisfaction_points"] == pytest.approx(18 * 3.5 / 5)
    assert r["online_service_points"] == pytest.approx(1.25 + 2 + min(3, 3 * (1 / 3) / 0.5) + 3 * (1 / 3))
    bad = load_index766().model_dump(mode="json")
    bad["digitisation"]["max_points"] = 30
    with pytest.raises(QueryError, match="add up to 22, not to max_points 30"):
        month.query("index766", month=MONTH, rules=bad)


def test_losses_name_the_procedures_that_cost_the_most(month):
    t = month.query("index766_losses", month=MONTH, agency="S1")
    rows = t.to_dicts()
    assert [r["procedure_code"] for r in rows] == ["PR-F", "PR-N"]
    f, n = rows
    # S1's denominator is 3: PR-F's overdue D2 costs 20/3; PR-N's pending D3 earns nothing either
    assert (f["resolved_overdue"], f["points_lost"], f["points_unearned"]) == (1, pytest.approx(20 / 3),
                                                                                pytest.approx(20 / 3))
    assert (n["resolved_overdue"], n["points_lost"], n["points_unearned"]) == (0, 0.0, pytest.approx(20 / 3))
    score = rows_by_code(month.query("index766", month=MONTH))["S1"]["progress_points"]
    assert score + sum(r["points_unearned"] for r in rows) == pytest.approx(20)
    assert f["score_766"] == pytest.approx(10.0)  # the procedure's own: 20 × 1 / 2
    assert len(month.query("index766_losses", month=MONTH, agency="S1", limit=1)) == 1
    with pytest.raises(QueryError, match="month must be a month YYYY-MM"):
        month.query("index766_losses", month="March", agency="S1")


def test_declared_for_agency_accounts_and_scored():
    from store.catalog import get

    for name in ("index766", "index766_losses"):
        q = get(name)
        assert (q.scope, q.roles, q.scored, q.cache) == ("agency", ("agency",), True, "until_write")
