"""The column-mapping config type (config/mapping.py) and the shipped vi-igate mapping."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.errors import ConfigError
from imports.dossiers import import_dossiers
from imports.reader import match_header
from config.mapping import (DEFAULT_MAPPING, DOSSIER_COLUMNS, ColumnMapping, is_personal_header, load_mapping,
                            normalize_label)
from store.db import Store


def test_normalize_label():
    assert normalize_label("  Cơ quan / Đơn vị ") == "co quan don vi"
    assert normalize_label("ĐÃ TRẢ KẾT QUẢ") == normalize_label("đã trả kết quả") == "da tra ket qua"
    assert normalize_label("dossier_code") == "dossier code"
    assert normalize_label("Trực   tuyến\t") == "truc tuyen"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("aăâđeêioôơuưy AĂÂĐEÊIOÔƠUƯY/_-.àáảãạằắẳẵặầấẩẫậ")), max_size=30))
def test_normalize_label_is_idempotent_and_ascii(text):
    n = normalize_label(text)
    assert normalize_label(n) == n
    assert n == n.strip() and "  " not in n and all(c.isascii() for c in n)


def test_shipped_mapping_loads_and_covers_the_official_headers():
    m = load_mapping()
    assert m.name == "vi-igate" and Path(DEFAULT_MAPPING).exists()
    idx = m.header_index()
    for header, col in [("Mã hồ sơ", "dossier_code"), ("Cơ quan / Đơn vị", "agency_name"),
                        ("Mã cơ quan", "agency_code"), ("Mã thủ tục", "procedure_code"),
                        ("Tên thủ tục", "procedure_name"), ("Lĩnh vực", "field"), ("Ngày tiếp nhận", "received_at"),
                        ("Ngày hẹn trả", "reported_due_at"), ("Ngày có kết quả", "finished_at"),
                        ("Ngày trả kết quả", "returned_at"), ("Trạng thái", "state"), ("Kênh nộp", "channel"),
                        ("Thời hạn giải quyết", "time_limit"), ("Đơn vị tính", "time_unit")]:
        assert idx[normalize_label(header)] == col, header
    for c in DOSSIER_COLUMNS:
        assert idx[normalize_label(c)] == c
    vals = {c: m.value_index(c) for c in ("state", "channel", "time_unit")}
    assert vals["state"][normalize_label("Đã trả kết quả")] == "returned"
    assert vals["state"][normalize_label("Đang xử lý")] == "processing"
    assert vals["channel"][normalize_label("Trực tuyến")] == "online"
    assert vals["channel"][normalize_label("Trực tiếp")] == "direct"
    assert vals["channel"][normalize_label("Bưu chính công ích")] == "postal"
    assert vals["time_unit"][normalize_label("Ngày làm việc")] == "working_days"
    assert vals["time_unit"][normalize_label("Giờ làm việc")] == "working_hours"


@pytest.mark.parametrize("header", ["Họ tên", "Họ và tên người nộp", "Người nộp", "Chủ hồ sơ", "CMND", "Số CCCD",
                                    "Số giấy tờ", "ID number", "Điện thoại", "Số điện thoại", "Phone", "Địa chỉ",
                                    "Address", "Email", "E-mail", "Applicant name", "Tổ chức/Cá nhân", "SĐT"])
def test_personal_data_headers(header):
    assert is_personal_header(header)


@pytest.mark.parametrize("header", ["Mã hồ sơ", "Cơ quan / Đơn vị", "Tên thủ tục", "Ngày tiếp nhận", "Trạng thái",
                                    "agency_name", "procedure_name", "Ghi chú", "Kênh nộp", "Ngày nộp"])
def test_non_personal_headers(header):
    assert not is_personal_header(header)


def test_header_matching_splits_known_pii_and_unknown():
    m = load_mapping()
    h = match_header(["Mã hồ sơ", "Họ tên", "", "Trạng thái", "Trạng thái", "Cột X"], m, "dossiers")
    assert h.columns == {"dossier_code": 0, "state": 3}
    assert h.pii == ["Họ tên"]
    assert h.dropped == ["Trạng thái (second column for state)", "Cột X"]


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("body, expected", [
    ("columns:\n  dossier_code: [\"Họ tên\"]\n", "looks like a personal-data column"),
    ("columns:\n  applicant: [\"Người nộp\"]\n", "unknown canonical column"),
    ("values:\n  state:\n    \"Xong\": done\n", "unknown canonical value"),
    ("values:\n  colour:\n    \"Xanh\": blue\n", "values.colour"),
    ("columns:\n  dossier_code: [\"Mã\"]\n  agency_code: [\"MÃ\"]\n", "given for both"),
    ("values:\n  state:\n    \"Xong\": finished\n    \"XONG\": returned\n", "maps to both"),
    ("colums: {}\n", "Extra inputs are not permitted"),
])
def test_invalid_mappings_are_rejected_with_file_and_field(tmp_path, body, expected):
    p = _write(tmp_path / "m.yaml", body)
    with pytest.raises(ConfigError) as e:
        load_mapping(p)
    assert str(p) in str(e.value) and expected in str(e.value)


def test_custom_mapping_file_is_used(tmp_path):
    m = _write(tmp_path / "m.yaml", (
        "name: other-vendor\n"
        "columns:\n"
        "  dossier_code: [\"Số biên nhận\"]\n  agency_code: [\"Đơn vị mã\"]\n  channel: [\"Nguồn nộp\"]\n"
        "  received_at: [\"Ngày nhận hồ sơ\"]\n  time_unit: [\"Loại thời hạn\"]\n  state: [\"Tình hình\"]\n"
        "values:\n  channel:\n    \"Cổng DVC\": online\n  state:\n    \"Xong\": finished\n"
        "personal_data: [\"biển số xe\"]\n"
    ))
    p = tmp_path / "d.csv"
    with p.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Số biên nhận", "Đơn vị mã", "Nguồn nộp", "Ngày nhận hồ sơ", "Loại thời hạn", "Tình hình",
                    "finished_at", "Biển số xe"])
        w.writerow(["X1", "STP", "Cổng DVC", "2024-03-04", "same_day", "Xong", "2024-03-04 10:00", "76A-12345"])
    store = Store(tmp_path / "s.duckdb", memory_limit="256MB")
    try:
        s = import_dossiers(store, p, mapping=m)
        assert (s.inserted, s.quarantined) == (1, 0), s.errors
        assert s.pii_columns_dropped == ["Biển số xe"]
        cur = store.cursor()
        assert cur.execute("SELECT channel, state FROM dossiers").fetchall() == [("online", "finished")]
        # also as a ColumnMapping object
        s2 = import_dossiers(store, p, mapping=load_mapping(m))
        assert s2.unchanged == 1
    finally:
        store.close()


def test_empty_mapping_still_knows_canonical_names():
    m = ColumnMapping()
    assert m.header_index()["received at"] == "received_at"
    assert m.value_index("channel")["online"] == "online"
