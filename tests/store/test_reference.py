"""Reference data: the ReferenceData config type, load_reference upserts, the effective-dated tree."""
from __future__ import annotations

import datetime as dt
import textwrap

import pytest
from pydantic import ValidationError

from config.errors import ConfigError
from config.reference import ReferenceData, load_reference_file
from store.db import StoreError
from store.reference import load_reference

# A province P with a department S1, a district H1 (closed 2025-07-01, successor X1) holding
# communes X1 and X2; X1 moves under P when the district closes; X2 closes and merges into X1.
TREE = {
    "agencies": [
        {"code": "P", "name": "UBND tỉnh", "level": "province"},
        {"code": "S1", "name": "Sở Tư pháp", "level": "department", "parent": "P"},
        {"code": "H1", "name": "UBND huyện Bình Sơn", "level": "district", "parent": "P",
         "valid_to": "2025-07-01", "successor": "X1"},
        {"code": "X1", "name": "UBND xã Bình Sơn (cũ)", "level": "commune", "parent": "H1", "valid_to": "2025-07-01"},
        {"code": "X1", "name": "UBND xã Bình Sơn", "level": "commune", "parent": "P", "valid_from": "2025-07-01"},
        {"code": "X2", "name": "UBND xã Bình Hiệp", "level": "commune", "parent": "H1",
         "valid_to": "2025-07-01", "successor": "X1"},
    ],
    "procedures": [
        {"code": "1.000894", "name": "Đăng ký khai sinh", "field": "Hộ tịch", "time_limit": 1,
         "time_unit": "working_days", "online_level": "full"},
        {"code": "QNG-01", "name": "Cấp phép xây dựng", "field": "Xây dựng", "time_limit": 15,
         "time_unit": "working_days"},
    ],
}


def write(tmp_path, text: str, name: str = "ref.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


# -- the config type ----------------------------------------------------------------------------

def test_defaults_of_an_agency_and_a_procedure():
    ref = ReferenceData.model_validate({"agencies": [{"code": "A", "name": "Cơ quan A"}],
                                        "procedures": [{"code": "P", "name": "TT", "time_limit": 3,
                                                        "time_unit": "working_days"}]})
    a, p = ref.agencies[0], ref.procedures[0]
    assert (a.level, a.parent, a.valid_from, a.valid_to, a.successor) == ("unit", None, dt.date(1900, 1, 1), None, None)
    assert p.online_level == "none" and p.field is None


@pytest.mark.parametrize("agency, message", [
    ({"code": "A", "name": "x", "valid_from": "2025-01-01", "valid_to": "2024-01-01"}, "must be after valid_from"),
    ({"code": "A", "name": "x", "parent": "A"}, "its own parent"),
    ({"code": "A", "name": "x", "successor": "B"}, "closed agency"),
    ({"code": "A", "name": "x", "level": "ministry"}, "level"),
    ({"code": "A", "name": "x", "colour": "red"}, "colour"),
])
def test_bad_agency_entries_are_refused(agency, message):
    with pytest.raises(ValidationError, match=message):
        ReferenceData.model_validate({"agencies": [agency]})


def test_overlapping_versions_and_duplicate_procedures_are_refused():
    with pytest.raises(ValidationError, match="overlaps"):
        ReferenceData.model_validate({"agencies": [
            {"code": "A", "name": "x", "valid_to": "2025-07-02"},
            {"code": "A", "name": "y", "valid_from": "2025-07-01"}]})
    with pytest.raises(ValidationError, match="listed twice"):
        ReferenceData.model_validate({"procedures": [
            {"code": "P", "name": "x", "time_limit": 1, "time_unit": "same_day"},
            {"code": "P", "name": "y", "time_limit": 1, "time_unit": "same_day"}]})


def test_a_bad_file_names_the_file_and_the_field(tmp_path):
    p = write(tmp_path, """\
        agencies:
          - {code: A, name: Sở A}
        procedures:
          - {code: P1, name: Khai sinh, time_limit: 1, time_unit: working_weeks}
        """)
    with pytest.raises(ConfigError) as err:
        load_reference_file(p)
    msg = str(err.value)
    assert str(p) in msg and "procedures.0.time_unit" in msg


def test_numeric_codes_in_yaml_are_refused_with_a_hint(tmp_path):
    p = write(tmp_path, "agencies:\n  - {code: 001, name: Xã}\n")
    with pytest.raises(ConfigError, match="quoted strings"):
        load_reference_file(p)


# -- loading ------------------------------------------------------------------------------------------

def test_loading_is_an_idempotent_upsert_with_counts(store, tmp_path):
    first = load_reference(store, ReferenceData.model_validate(TREE))
    assert first == {"agencies": {"inserted": 6, "updated": 0, "unchanged": 0},
                     "procedures": {"inserted": 2, "updated": 0, "unchanged": 0}}
    assert load_reference(store, ReferenceData.model_validate(TREE)) == {
        "agencies": {"inserted": 0, "updated": 0, "unchanged": 6},
        "procedures": {"inserted": 0, "updated": 0, "unchanged": 2}}
    # A partial file renames one agency and one procedure; the rest stays.
    p = write(tmp_path, """\
        agencies:
          - {code: S1, name: Sở Tư pháp tỉnh, level: department, parent: P}
        procedures:
          - {code: QNG-01, name: Cấp giấy phép xây dựng, field: Xây dựng, time_limit: 12, time_unit: working_days}
        """)
    assert load_reference(store, p) == {"agencies": {"inserted": 0, "updated": 1, "unchanged": 0},
                                        "procedures": {"inserted": 0, "updated": 1, "unchanged": 0}}
    cur = store.cursor()
    assert cur.execute("SELECT count(*) FROM agencies").fetchone()[0] == 6
    assert cur.execute("SELECT name FROM agencies WHERE code = 'S1'").fetchone()[0] == "Sở Tư pháp tỉnh"
    assert cur.execute("SELECT time_limit FROM procedures WHERE code = 'QNG-01'").fetchone()[0] == 12


@pytest.mark.parametrize("extra, message", [
    ({"code": "S9", "name": "Sở ma", "parent": "NOPE"}, "parent NOPE is not a known agency"),
    ({"code": "S9", "name": "Sở đóng", "parent": "P", "valid_to": "2025-01-01", "successor": "GONE"},
     "successor GONE is not a known agency"),
    # A new version of S1 in a later file while the stored one is still open:
    ({"code": "S1", "name": "Sở Tư pháp mới", "parent": "P", "valid_from": "2026-01-01"}, "overlaps"),
])
def test_an_inconsistent_tree_is_refused_and_nothing_is_written(store, extra, message):
    load_reference(store, ReferenceData.model_validate(TREE))
    before = store.cursor().execute("SELECT count(*) FROM agencies").fetchone()[0]
    with pytest.raises(ConfigError, match=message):
        load_reference(store, ReferenceData.model_validate({"agencies": [extra],
                                                            "procedures": [TREE["procedures"][0]]}))
    assert store.cursor().execute("SELECT count(*) FROM agencies").fetchone()[0] == before


def test_a_cycle_across_files_is_refused(store):
    load_reference(store, ReferenceData.model_validate(
        {"agencies": [{"code": "A", "name": "A", "parent": "B"}, {"code": "B", "name": "B"}]}))
    with pytest.raises(ConfigError, match="cycle"):
        load_reference(store, ReferenceData.model_validate({"agencies": [{"code": "B", "name": "B", "parent": "A"}]}))
    assert store.cursor().execute("SELECT parent_code FROM agencies WHERE code = 'B'").fetchone()[0] is None


def test_shipped_demo_reference_file_loads(store):
    from testbed.demo_data import REFERENCE_PATH

    counts = load_reference(store, REFERENCE_PATH)
    assert counts["agencies"]["inserted"] > 10 and counts["procedures"]["inserted"] > 5
    assert load_reference(store, REFERENCE_PATH)["agencies"]["inserted"] == 0


# -- the tree ---------------------------------------------------------------------------------------

def test_agencies_current_follows_the_date(store):
    load_reference(store, ReferenceData.model_validate(TREE))
    before = store.query("agencies_current", as_of="2025-06-30")
    after = store.query("agencies_current", as_of="2025-07-01")
    # tree order; siblings by level (departments before districts), then by name
    assert before.column("code") == ["P", "S1", "H1", "X2", "X1"]
    assert before.column("depth") == [0, 1, 1, 2, 2]
    assert dict(zip(after.column("code"), after.column("parent_code"))) == {"P": None, "S1": "P", "X1": "P"}
    assert "UBND xã Bình Sơn" in after.column("name")
    with pytest.raises(StoreError, match="as_of must be a date"):
        store.query("agencies_current", as_of="yesterday")


def test_closed_agencies_keep_their_history(store):
    load_reference(store, ReferenceData.model_validate(TREE))
    h = store.query("agency_history", code="H1").one()
    assert h["valid_to"] == dt.date(2025, 7, 1) and h["successor_code"] == "X1" and h["open_now"] is False
    assert len(store.query("agency_history", code="X1")) == 2
    assert len(store.query("agency_history")) == 6


def ancestors(table, code):
    return [a for c, a, _ in table.rows if c == code]


def test_rollup_uses_the_tree_of_the_date_and_closed_agencies_keep_their_last_parents(store):
    load_reference(store, ReferenceData.model_validate(TREE))
    june = store.query("rollup", as_of="2025-06-30")
    assert ancestors(june, "X1") == ["X1", "H1", "P"]
    assert ancestors(june, "X2") == ["X2", "H1", "P"]
    august = store.query("rollup", as_of="2025-08-01")
    assert ancestors(august, "X1") == ["X1", "P"]             # the new version of X1
    assert ancestors(august, "X2") == ["X2", "H1", "P"]       # closed: its last parents, history intact
    assert ancestors(august, "H1") == ["H1", "P"]


def test_rollup_follows_successors_only_when_asked_and_only_once_closed(store):
    load_reference(store, ReferenceData.model_validate(TREE))
    august = store.query("rollup", as_of="2025-08-01", follow_successor=True)
    assert ancestors(august, "X2") == ["X1", "P"]
    assert ancestors(august, "H1") == ["X1", "P"]
    june = store.query("rollup", as_of="2025-06-30", follow_successor=True)
    assert ancestors(june, "X2") == ["X2", "H1", "P"]         # not closed yet


def test_successor_chains_are_followed_to_the_end(store):
    load_reference(store, ReferenceData.model_validate({"agencies": [
        {"code": "P", "name": "P", "level": "province"},
        {"code": "A", "name": "A", "parent": "P", "valid_to": "2024-01-01", "successor": "B"},
        {"code": "B", "name": "B", "parent": "P", "valid_to": "2025-01-01", "successor": "C"},
        {"code": "C", "name": "C", "parent": "P"},
    ]}))
    t = store.query("rollup", as_of="2025-02-01", follow_successor=True)
    assert ancestors(t, "A") == ["C", "P"]
    t = store.query("rollup", as_of="2024-06-01", follow_successor=True)
    assert ancestors(t, "A") == ["B", "P"]


def test_procedures_query(store):
    load_reference(store, ReferenceData.model_validate(TREE))
    assert store.query("procedures", field="Hộ tịch").column("code") == ["1.000894"]
    assert len(store.query("procedures")) == 2
