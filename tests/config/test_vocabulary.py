"""The domain's closed sets (config/vocabulary.py) against what was declared elsewhere before: the
store's ENUM types in a freshly migrated store, the shipped mapping's value maps, the Biểu 06
columns of the store and of the reports."""
from __future__ import annotations

import ast
import io
from pathlib import Path

import duckdb
import pytest
from openpyxl import load_workbook

import config.vocabulary as vocabulary
from config.mapping import ENUMS, load_mapping
from config.vocabulary import (BIEU06_COLUMNS, BIEU06_COUNT_NAMES, BIEU06_GROUPS, CHANNEL_LABELS, CHANNELS,
                               DOSSIER_STATES, EVENT_KINDS, EXCLUDED_STATES, REPORTED_STATUSES, RESOLVED_STATES,
                               RESOLVED_STATUSES, SLA_STATUSES, SUPPLEMENT_EVENTS, TIME_UNIT_LABELS, TIME_UNITS,
                               bieu06_group_spans, quoted_list)
from store.db import Store

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    with Store(tmp_path_factory.mktemp("vocab") / "s.duckdb") as s:
        yield s


@pytest.mark.parametrize("enum_type, values", [
    ("dossier_state", DOSSIER_STATES),
    ("dossier_time_unit", TIME_UNITS),
    ("dossier_channel", CHANNELS),
    ("sla_status", SLA_STATUSES),
])
def test_the_store_enums_hold_the_vocabulary_in_its_order(store, enum_type, values):
    # the order matters: the recompute packs the sla_status code into month_key, and the
    # engine's clock kinds follow the time units' order
    got = store.cursor().execute(f"SELECT enum_range(NULL::{enum_type})").fetchone()[0]
    assert tuple(got) == values


@pytest.mark.parametrize("table, column, values", [
    ("dossiers", "state", DOSSIER_STATES), ("dossiers", "time_unit", TIME_UNITS), ("dossiers", "channel", CHANNELS),
    ("sla_results", "status", SLA_STATUSES),
])
def test_the_store_columns_hold_the_vocabulary(store, table, column, values):
    got = store.cursor().execute("SELECT data_type FROM information_schema.columns WHERE table_name = ? "
                                 "AND column_name = ?", [table, column]).fetchone()[0]
    assert got == f"ENUM({quoted_list(values)})"


def test_a_value_outside_the_vocabulary_is_refused_by_the_store(store):
    for enum_type in ("dossier_state", "dossier_time_unit", "dossier_channel", "sla_status"):
        with pytest.raises(duckdb.ConversionException):
            store.cursor().execute(f"SELECT CAST('weeks' AS {enum_type})").fetchall()


def test_the_monthly_table_and_bieu06_have_the_vocabulary_count_columns(store):
    cols = [r[0] for r in store.cursor().execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'agency_month_stats' "
        "ORDER BY ordinal_position").fetchall()]
    assert cols == ["month", "agency_code", *BIEU06_COUNT_NAMES, "as_of"]
    t = store.query("bieu06", month="2024-03")
    counts = [c for c in t.columns if c in BIEU06_COUNT_NAMES]
    assert counts == list(BIEU06_COUNT_NAMES)


def test_the_mapping_enums_are_the_vocabulary():
    assert ENUMS == {"channel": CHANNELS, "time_unit": TIME_UNITS, "state": DOSSIER_STATES,
                     "reported_status": REPORTED_STATUSES, "event": EVENT_KINDS}


@pytest.mark.parametrize("column", sorted(ENUMS))
def test_the_shipped_vietnamese_value_maps_cover_exactly_the_vocabulary(column):
    # every canonical value has at least one Vietnamese wording, and no wording maps elsewhere
    mapped = set(load_mapping().values[column].values())
    assert mapped == set(ENUMS[column])


def test_the_subsets_are_parts_of_their_sets():
    assert set(RESOLVED_STATES) | set(EXCLUDED_STATES) < set(DOSSIER_STATES)
    assert not set(RESOLVED_STATES) & set(EXCLUDED_STATES)
    assert SLA_STATUSES[:3] == RESOLVED_STATUSES == ("early", "on_time", "overdue")
    assert set(REPORTED_STATUSES) < set(SLA_STATUSES) and len(set(SLA_STATUSES)) == len(SLA_STATUSES)
    assert SUPPLEMENT_EVENTS == EVENT_KINDS[:2] == ("supplement_requested", "supplement_received")


def test_the_clock_kinds_follow_the_time_units_order():
    from sla_rules.constants import CLK_CAL, CLK_DAYS, CLK_HOURS, CLK_SAME, STATUSES

    assert [CLK_DAYS, CLK_CAL, CLK_SAME, CLK_HOURS] == [TIME_UNITS.index(u) + 1 for u in
                                                        ("working_days", "calendar_days", "same_day", "working_hours")]
    assert STATUSES == SLA_STATUSES


def test_every_value_has_its_labels():
    assert tuple(CHANNEL_LABELS) == CHANNELS and tuple(TIME_UNIT_LABELS) == TIME_UNITS
    for label in (*CHANNEL_LABELS.values(), *TIME_UNIT_LABELS.values(), *BIEU06_GROUPS.values()):
        assert label.vi and label.en and label.of("vi") == label.vi and label.of("en") == label.en
    assert CHANNEL_LABELS["postal"].vi == "Bưu chính" and TIME_UNIT_LABELS["working_hours"].en == "working hours"


def test_the_bieu06_columns_come_in_contiguous_groups():
    assert len(BIEU06_COLUMNS) == 11 and len(set(BIEU06_COUNT_NAMES)) == 11
    groups = [c.group for c in BIEU06_COLUMNS]
    assert groups == sorted(groups, key=list(BIEU06_GROUPS).index)
    assert bieu06_group_spans("vi") == [("Số hồ sơ nhận giải quyết", 4), ("Số hồ sơ đã giải quyết", 4),
                                         ("Số hồ sơ đang giải quyết", 3)]
    assert [s for _, s in bieu06_group_spans("en")] == [4, 4, 3]
    # each group opens with its total, whose parts follow it
    assert [c.name for c in BIEU06_COLUMNS if c.is_total] == ["received_total", "resolved_total", "pending_total"]
    assert all(BIEU06_COLUMNS[i].is_total for i in (0, 4, 8))


def test_every_list_of_the_columns_in_the_store_and_reports_is_the_vocabulary():
    import reports.bieu06 as bieu06
    import reports.briefing.labels as labels
    import reports.briefing.model as model
    import store.sla as sla

    names = list(BIEU06_COUNT_NAMES)
    assert sla.STAT_COLUMNS == bieu06.COUNT_COLUMNS == model.COUNT_COLUMNS == names
    assert [n for n, _ in labels.STAT_LABELS] == names
    assert labels.STAT_LABELS[0][1] == "Tổng số hồ sơ nhận giải quyết"
    assert labels.STAT_LABELS[1][1] == "  Tiếp nhận trực tuyến trong tháng"
    assert labels.BIEU06_SUB == bieu06.TEXT["vi"]["columns"][:11] == [c.vi for c in BIEU06_COLUMNS]
    assert bieu06.TEXT["en"]["columns"][:11] == [c.en for c in BIEU06_COLUMNS]
    assert bieu06.TEXT["vi"]["channels"] == labels.CHANNEL_VI == {c: lb.vi for c, lb in CHANNEL_LABELS.items()}


def test_the_briefing_workbook_writes_the_vocabulary_headers(store):
    from reports.files import build

    name, data = build(store, "2024-03", "xlsx")
    wb = load_workbook(io.BytesIO(data))
    ws = wb["Biểu 06 - cơ quan"]
    assert [ws.cell(7, 3 + i).value for i in range(0, 11, 4)] == [t for t, _ in bieu06_group_spans("vi")]
    assert [ws.cell(8, 3 + i).value for i in range(11)] == [c.vi for c in BIEU06_COLUMNS]
    assert ws.cell(9, 13).value == "(13)" and ws.cell(9, 14).value is None
    ws = wb["Số liệu cơ quan"]
    top = 2  # a note above the header
    header = [ws.cell(top, j).value for j in range(1, 18)]
    assert header[4:15] == [c.vi_alone for c in BIEU06_COLUMNS]
    assert header[15:] == ["Tỷ lệ đúng hạn", "Điểm tiến độ (QĐ 766)"]


def test_the_testbed_words_cover_the_vocabulary():
    from testbed.portal.data import PROCEDURES, STATE_LABELS

    assert tuple(STATE_LABELS) == DOSSIER_STATES
    assert {p.time_unit for p in PROCEDURES} <= set(TIME_UNITS)


def test_quoted_list_makes_sql_literals(store):
    assert quoted_list(EXCLUDED_STATES) == "'withdrawn', 'rejected'"
    listed = quoted_list(["a", "o'clock"])
    assert store.cursor().execute(f"SELECT [{listed}]").fetchone()[0] == ["a", "o'clock"]


def test_the_vocabulary_imports_nothing_of_the_project():
    tree = ast.parse(Path(vocabulary.__file__).read_text(encoding="utf-8"))
    imported = {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    project = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()} | {p.stem for p in ROOT.glob("*.py")}
    assert imported and not imported & project, imported & project


def test_no_copy_of_a_closed_set_is_left_in_the_code():
    # a tuple, list or set literal, or a dict's keys, holding all the values of a closed set (in
    # any order) is a second declaration of it; import it from config/vocabulary.py instead. The
    # simulated portal's own words for the states are the vendor's, not the monitor's.
    allowed = {"testbed/portal/data.py dossier states"}
    sets = {"time units": set(TIME_UNITS), "dossier states": set(DOSSIER_STATES), "channels": set(CHANNELS),
            "SLA statuses": set(SLA_STATUSES), "reported statuses": set(REPORTED_STATUSES),
            "event kinds": set(EVENT_KINDS), "Biểu 06 columns": set(BIEU06_COUNT_NAMES)}
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in {".venv", "tests", "build", "data"} or rel == Path("config/vocabulary.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Tuple, ast.List, ast.Set, ast.Dict)):
                elts = node.keys if isinstance(node, ast.Dict) else node.elts
                values = {e.value for e in elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
                found += [f"{rel}:{node.lineno} {what}" for what, s in sets.items()
                          if s <= values and f"{rel.as_posix()} {what}" not in allowed]
    assert found == []


def test_a_demo_procedure_with_an_unknown_time_unit_is_refused(tmp_path):
    from testbed.demo_data import DemoDataError, load_reference

    p = tmp_path / "ref.yaml"
    p.write_text("agencies:\n  - {code: A, name: Sở A, level: department}\n"
                 "procedures:\n  - {code: P1, name: Thủ tục, time_limit: 2, time_unit: weeks}\n", encoding="utf-8")
    with pytest.raises(DemoDataError, match="time_unit 'weeks' is not one of working_days, calendar_days, "
                                            "same_day, working_hours"):
        load_reference(p)

