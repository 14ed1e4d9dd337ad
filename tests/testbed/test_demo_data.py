"""Demo data (testbed/demo_data.py) and the Quảng Ngãi reference file.

The generated files are read back with DuckDB's CSV reader (real files, small sizes): shape,
determinism, seasonality, the vendor's mislabelling, the unsynced 1.0 dossiers, references valid
at the reception date, internal consistency of every dossier and its events.
"""
from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import holidays
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from testbed.demo_data import (
    CANONICAL_COLUMNS,
    EVENT_COLUMNS,
    PROCEDURE_MIX,
    REFERENCE_PATH,
    DemoDataError,
    _add_months,
    generate,
)

ROOT = Path(__file__).resolve().parents[2]
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
TS_COLUMNS = ("received_at", "supplement_requested_at", "supplement_received_at", "extended_due_at",
              "finished_at", "returned_at", "reported_due_at", "synced_at")

# Jan-Mar 2025: Tết (29/01/2025) inside, the 2.0 go-live on 01/03/2025 (half the period).
SEASON = dict(seed=11, months=3, dossiers_per_month=2000, end=dt.date(2025, 4, 1))
# Jun-Jul 2025: districts abolished on 01/07/2025, criminal records move to the police.
REFORM = dict(seed=5, months=2, dossiers_per_month=1500, end=dt.date(2025, 8, 1))


def _con(out: dict) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"CREATE VIEW d AS SELECT * FROM read_csv('{out['dossiers']}', header=true, all_varchar=true)")
    con.execute(f"CREATE VIEW e AS SELECT * FROM read_csv('{out['events']}', header=true, all_varchar=true)")
    ts = ", ".join(f"CAST({c} AS TIMESTAMP) AS {c}" for c in TS_COLUMNS)
    con.execute(f"CREATE VIEW dt AS SELECT * REPLACE ({ts}) FROM d")
    con.execute('CREATE VIEW et AS SELECT * REPLACE (CAST("at" AS TIMESTAMP) AS "at") FROM e')
    return con


def _one(con: duckdb.DuckDBPyConnection, sql: str):
    return con.execute(sql).fetchone()[0]


@pytest.fixture(scope="module")
def season(tmp_path_factory):
    out = generate(tmp_path_factory.mktemp("season"), **SEASON)
    return out, _con(out)


@pytest.fixture(scope="module")
def reform(tmp_path_factory):
    out = generate(tmp_path_factory.mktemp("reform"), **REFORM)
    return out, _con(out)


@pytest.fixture(scope="module")
def ref():
    return yaml.safe_load(REFERENCE_PATH.read_text(encoding="utf-8"))


# --- shape and determinism ------------------------------------------------------------------------
def test_headers_are_exactly_the_canonical_columns(season):
    out, _ = season
    with open(out["dossiers"], encoding="utf-8") as f:
        assert f.readline().rstrip("\n").split(",") == list(CANONICAL_COLUMNS)
    with open(out["events"], encoding="utf-8") as f:
        assert f.readline().rstrip("\n").split(",") == list(EVENT_COLUMNS)


def test_row_count_and_codes(season):
    out, con = season
    n = SEASON["months"] * SEASON["dossiers_per_month"]
    assert out["rows"] == n
    assert _one(con, "SELECT count(*) FROM d") == n
    assert _one(con, "SELECT count(DISTINCT dossier_code) FROM d") == n
    assert _one(con, "SELECT count(*) FROM e") == out["events_rows"] > 0
    assert sum(out["states"].values()) == n
    assert (out["start"], out["end"], out["go_live"]) == (dt.date(2025, 1, 1), dt.date(2025, 4, 1), dt.date(2025, 3, 1))
    assert out["as_of"] == dt.datetime(2025, 4, 1)


def test_same_seed_same_bytes_even_in_another_process(tmp_path):
    kw = dict(seed=3, months=2, dossiers_per_month=400, end=dt.date(2025, 9, 1))
    a = generate(tmp_path / "a", **kw)
    code = ("import datetime as dt, sys; from testbed.demo_data import generate; "
            f"generate(sys.argv[1], seed=3, months=2, dossiers_per_month=400, end=dt.date(2025, 9, 1))")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "b")], check=True, cwd=ROOT)
    for name in ("dossiers.csv", "events.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    c = generate(tmp_path / "c", **{**kw, "seed": 4})
    assert Path(c["dossiers"]).read_bytes() != Path(a["dossiers"]).read_bytes()


def test_dates_are_iso_and_before_the_snapshot(season):
    out, con = season
    for col in TS_COLUMNS:
        values = [r[0] for r in con.execute(f"SELECT DISTINCT {col} FROM d WHERE {col} IS NOT NULL LIMIT 500").fetchall()]
        assert all(TS_RE.match(v) for v in values), col
    as_of = out["as_of"]
    for col in TS_COLUMNS:
        if col in ("reported_due_at", "extended_due_at"):
            continue  # due dates may lie after the snapshot
        assert _one(con, f"SELECT count(*) FROM dt WHERE {col} >= TIMESTAMP '{as_of}'") == 0, col
    assert _one(con, f"SELECT count(*) FROM et WHERE \"at\" >= TIMESTAMP '{as_of}'") == 0


def test_no_personal_data(season):
    out, _ = season
    text = Path(out["dossiers"]).read_text(encoding="utf-8") + Path(out["events"]).read_text(encoding="utf-8")
    assert not re.search(r"\d{9,}", text)  # no ID card or phone numbers
    assert "@" not in text  # no e-mail addresses


# --- realism -----------------------------------------------------------------------------------------
def test_tet_month_is_below_average_and_month_ends_are_busier(season):
    _, con = season
    monthly = dict(con.execute(
        "SELECT month(CAST(received_at AS TIMESTAMP)), count(*) FROM d GROUP BY 1").fetchall())
    lny = [d for d, n in holidays.VN(years=2025, language="en_US").items() if n == "Lunar New Year"][0]
    assert lny.month == 1
    assert monthly[lny.month] < sum(monthly.values()) / len(monthly) * 0.9

    # working days away from Tết: the last days of the month take more dossiers than the rest
    vn = holidays.VN(years=2025)
    rows = con.execute("SELECT CAST(received_at AS TIMESTAMP)::DATE AS day, count(*) FROM d GROUP BY 1").fetchall()
    per_day = {day: n for day, n in rows}
    work = [day for day in per_day if day.weekday() < 5 and day not in vn and abs((day - lny).days) > 21]
    end_of_month = [per_day[day] for day in work if day.day >= 25]
    rest = [per_day[day] for day in work if day.day <= 20]
    assert end_of_month and rest
    assert sum(end_of_month) / len(end_of_month) > 1.15 * sum(rest) / len(rest)
    # the dip lasts past the holidays: the first weeks after Tết are quieter than March
    all_work = [day for day in per_day if day.weekday() < 5 and day not in vn]
    after_tet = [per_day[day] for day in all_work if 0 < (day - lny).days <= 17 and day.day <= 20]
    march = [per_day[day] for day in all_work if day.month == 3 and day.day <= 20]
    assert after_tet and sum(after_tet) / len(after_tet) < 0.85 * sum(march) / len(march)
    mondays = [per_day[day] for day in work if day.weekday() == 0 and day.day <= 20]
    fridays = [per_day[day] for day in work if day.weekday() == 4 and day.day <= 20]
    assert sum(mondays) / len(mondays) > sum(fridays) / len(fridays)


def test_reception_times_and_channels(season):
    _, con = season
    vn = holidays.VN(years=2025)
    rows = con.execute("SELECT CAST(received_at AS TIMESTAMP), channel FROM d").fetchall()
    days_off = [(ts, ch) for ts, ch in rows if ts.weekday() == 6 or ts.date() in vn]
    assert days_off and all(ch == "online" for _, ch in days_off)  # offices closed
    direct = [ts for ts, ch in rows if ch == "direct"]
    assert all(dt.time(7) <= ts.time() < dt.time(17) for ts in direct)
    after_15 = sum(ts.time() >= dt.time(15) for ts in direct) / len(direct)
    assert 0.10 < after_15 < 0.32
    online = sum(ch == "online" for _, ch in rows) / len(rows)
    assert 0.40 < online < 0.65  # 2025
    assert any(ch == "postal" for _, ch in rows)
    assert any(ts.time() >= dt.time(20) for ts, ch in rows if ch == "online")


def test_outcome_shares(season):
    _, con = season
    n = _one(con, "SELECT count(*) FROM d")
    supp = _one(con, "SELECT count(*) FROM d WHERE supplement_requested_at IS NOT NULL") / n
    assert 0.045 < supp < 0.085
    multi = _one(con, "SELECT count(*) FROM (SELECT dossier_code FROM e WHERE event = 'supplement_requested' "
                      "GROUP BY 1 HAVING count(*) >= 2)")
    assert multi > 0
    excluded = _one(con, "SELECT count(*) FROM d WHERE state IN ('withdrawn', 'rejected')") / n
    assert 0.008 < excluded < 0.025
    assert _one(con, "SELECT count(*) FROM d WHERE state = 'rejected'") > 0
    pending = _one(con, "SELECT count(*) FROM d WHERE state = 'processing'") / n
    assert 0.005 < pending < 0.08
    assert _one(con, "SELECT count(*) FROM d WHERE extended_due_at IS NOT NULL") > 0
    assert _one(con, "SELECT count(*) FROM d WHERE state = 'processing' AND supplement_requested_at IS NOT NULL "
                     "AND supplement_received_at IS NULL") > 0  # waiting for the citizen
    units = dict(con.execute("SELECT time_unit, count(*) FROM d GROUP BY 1").fetchall())
    assert set(units) == {"working_days", "same_day", "working_hours", "calendar_days"}


def test_vendor_due_dates_and_mislabel_share(season):
    out, con = season
    # by the vendor's own due date, a resolved dossier is overdue iff it finished after it;
    # 1.0 follows that rule exactly, 2.0 also calls ~4 % of the others overdue
    judged = """
        SELECT source_system, reported_status,
               CASE WHEN time_unit = 'working_hours' THEN finished_at > reported_due_at
                    ELSE CAST(finished_at AS DATE) > CAST(reported_due_at AS DATE) END AS late_by_own_rule
        FROM dt WHERE state IN ('finished', 'returned')"""
    rows = con.execute(f"SELECT source_system, late_by_own_rule, reported_status, count(*) FROM ({judged}) "
                       "GROUP BY ALL").fetchall()
    tally = {(s, late, st_): c for s, late, st_, c in rows}
    assert tally.get(("1.0", True, "overdue"), 0) > 0
    assert not any(late and st_ != "overdue" for (_, late, st_) in tally)
    assert tally.get(("1.0", False, "overdue"), 0) == 0
    ok_20 = sum(c for (s, late, _), c in tally.items() if s == "2.0" and not late)
    mislabelled = tally.get(("2.0", False, "overdue"), 0)
    assert ok_20 > 500
    assert 0.02 < mislabelled / ok_20 < 0.07
    # the vendor never restarts the clock: supplement dossiers look late far more often
    rate = dict(con.execute(
        "SELECT supplement_received_at IS NOT NULL, avg((reported_status = 'overdue')::INT) FROM dt "
        "WHERE state IN ('finished', 'returned') AND source_system = '1.0' GROUP BY 1").fetchall())
    assert rate[True] > 3 * rate[False]
    statuses = {r[0] for r in con.execute("SELECT DISTINCT reported_status FROM d").fetchall()}
    assert statuses <= {"early", "on_time", "overdue", "pending_in_time", "pending_overdue", "excluded"}
    assert _one(con, "SELECT count(*) FROM d WHERE state IN ('withdrawn', 'rejected') "
                     "AND reported_status <> 'excluded'") == 0


def test_source_system_and_sync(season):
    out, con = season
    go = out["go_live"]
    assert _one(con, f"SELECT count(*) FROM dt WHERE (received_at < DATE '{go}') <> (source_system = '1.0')") == 0
    resolved_after = (f"source_system = '1.0' AND state <> 'processing' "
                      f"AND greatest(finished_at, returned_at) >= DATE '{go}'")
    n, unsynced = con.execute(
        f"SELECT count(*), count(*) FILTER (synced_at IS NULL) FROM dt WHERE {resolved_after}").fetchone()
    assert n >= 50
    assert 0.25 < unsynced / n < 0.55
    # before the go-live, and on 2.0, hardly anything is left unsynced
    assert _one(con, f"SELECT avg((synced_at IS NULL)::INT) FROM dt WHERE source_system = '2.0'") < 0.01
    stale = _one(con, "SELECT count(*) FROM d WHERE synced_status IS NOT NULL AND synced_status <> state")
    assert stale > 0
    assert _one(con, "SELECT count(*) FROM d WHERE (synced_at IS NULL) <> (synced_status IS NULL)") == 0
    assert _one(con, "SELECT count(*) FROM dt WHERE synced_at < received_at") == 0


def test_dossiers_and_events_are_consistent(season):
    _, con = season
    bad = {
        "finish before reception": "finished_at < received_at",
        "return before finish": "returned_at < finished_at",
        "supplement order": "supplement_requested_at <= received_at OR supplement_received_at <= supplement_requested_at",
        "resolved without finish": "state IN ('finished', 'returned') AND finished_at IS NULL",
        "returned without return": "state = 'returned' AND returned_at IS NULL",
        "pending with a finish": "state = 'processing' AND finished_at IS NOT NULL",
    }
    for what, cond in bad.items():
        assert _one(con, f"SELECT count(*) FROM dt WHERE {cond}") == 0, what
    assert _one(con, "SELECT count(*) FROM e LEFT JOIN d USING (dossier_code) WHERE d.dossier_code IS NULL") == 0
    assert {r[0] for r in con.execute("SELECT DISTINCT event FROM e").fetchall()} == {
        "supplement_requested", "supplement_received", "extended"}
    # the dossier columns hold the latest supplement cycle
    assert _one(con, """
        WITH last AS (SELECT dossier_code, max("at") FILTER (event = 'supplement_requested') AS req FROM et GROUP BY 1)
        SELECT count(*) FROM dt LEFT JOIN last USING (dossier_code)
        WHERE last.req IS DISTINCT FROM dt.supplement_requested_at""") == 0
    # an apology letter (Mẫu 04) is sent before the new date and goes with extended_due_at
    assert _one(con, """
        SELECT count(*) FROM dt FULL JOIN (SELECT dossier_code, "at" FROM et WHERE event = 'extended') x
        USING (dossier_code)
        WHERE (dt.extended_due_at IS NULL) <> (x."at" IS NULL) OR x."at" >= dt.extended_due_at""") == 0
    details = [r[0] for r in con.execute("SELECT DISTINCT detail FROM e").fetchall()]
    assert any("Mẫu 02" in d for d in details) and any("Mẫu 04" in d for d in details)


# --- the other side of the contracts: import validation and the SLA engine -------------------------
def test_files_pass_import_validation_and_the_engine_disagrees_with_the_vendor(season):
    from config.app import AppConfig
    from imports.dossiers import load_staging
    from sla_rules.engine import SlaEngine

    out, _ = season
    con = duckdb.connect()
    dossiers = load_staging(con, out["dossiers"])
    events = load_staging(con, out["events"], kind="events")
    assert (dossiers.valid_rows, dossiers.errors) == (out["rows"], [])
    assert (events.valid_rows, events.errors) == (out["events_rows"], [])
    cfg = AppConfig()
    engine = SlaEngine.from_files(cfg.sla.rule_set, cfg.sla.calendar_overrides)
    engine.install(con)
    con.execute(f"CREATE TEMP TABLE sla AS {engine.compute_sql(dossiers.relation, out['as_of'], events=events.relation, internals=('flags',))}")
    # the audit's findings are in the demo: late requests and orphan receipts, none of them moving a status
    from sla_rules.constants import FLAG_LATE_REQUEST, FLAG_ORPHAN_RECEIPT
    found = dict(con.execute(f"""SELECT flags & {FLAG_LATE_REQUEST + FLAG_ORPHAN_RECEIPT}, count(*) FROM sla
                                 GROUP BY 1""").fetchall())
    assert found.get(FLAG_LATE_REQUEST, 0) > 0 and found.get(FLAG_ORPHAN_RECEIPT, 0) > 0
    assert con.execute(f"SELECT count(*) FROM sla WHERE flags & {FLAG_LATE_REQUEST} <> 0 "
                       "AND status NOT IN ('overdue', 'pending_overdue')").fetchone()[0] == 0
    statuses = dict(con.execute("SELECT status, count(*) FROM sla GROUP BY 1").fetchall())
    assert {"early", "on_time", "overdue", "pending_in_time", "excluded"} <= set(statuses)
    resolved = sum(statuses[k] for k in ("early", "on_time", "overdue"))
    assert statuses["early"] > statuses["overdue"] and statuses["on_time"] > statuses["overdue"]
    true_overdue = statuses["overdue"] / resolved
    assert 0.02 < true_overdue < 0.12
    rows = con.execute(f"""
        SELECT x.source_system, s.final_status = 'overdue', x.reported_status = 'overdue', count(*)
        FROM sla s JOIN {dossiers.relation} x USING (dossier_code)
        WHERE s.final_status IS NOT NULL GROUP BY ALL""").fetchall()
    tally = {(src, late, said): n for src, late, said, n in rows}
    vendor_overdue = sum(n for (_, _, said), n in tally.items() if said) / resolved
    assert vendor_overdue > true_overdue + 0.04  # the monitor's headline: the vendor over-reports delays

    def wrongly_late(src: str) -> float:
        ok = sum(n for (s, late, _), n in tally.items() if s == src and not late)
        return tally.get((src, False, True), 0) / ok

    # both systems report dossiers the engine finds early or on time as overdue (the buggy rule;
    # 2.0's extra mislabelling is checked against the vendor's own due dates above)
    assert wrongly_late("1.0") > 0.03 and wrongly_late("2.0") > 0.03


# --- references ----------------------------------------------------------------------------------------
def _valid_agency_check(con: duckdb.DuckDBPyConnection, ref: dict) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE ra (code VARCHAR, name VARCHAR, vf DATE, vt DATE)")
    con.executemany("INSERT INTO ra VALUES (?, ?, ?, ?)", [
        (a["code"], a["name"], a.get("valid_from") or dt.date(1900, 1, 1), a.get("valid_to"))
        for a in ref["agencies"]])
    invalid = con.execute("""
        SELECT d.agency_code, d.received_at FROM dt d
        WHERE NOT EXISTS (SELECT 1 FROM ra WHERE ra.code = d.agency_code AND ra.name = d.agency_name
                          AND ra.vf <= CAST(d.received_at AS DATE)
                          AND (ra.vt IS NULL OR CAST(d.received_at AS DATE) < ra.vt))
        LIMIT 5""").fetchall()
    assert invalid == []
    procs = {str(p["code"]): p for p in ref["procedures"]}
    rows = con.execute("SELECT DISTINCT procedure_code, procedure_name, field, time_limit, time_unit FROM d").fetchall()
    for code, name, field, limit, unit in rows:
        p = procs[code]
        assert (name, field, float(limit), unit) == (p["name"], p["field"], float(p["time_limit"]), p["time_unit"])


def test_every_agency_and_procedure_is_in_the_reference_and_valid(season, reform, ref):
    for _, con in (season, reform):
        _valid_agency_check(con, ref)


def test_two_tier_reform_moves_dossiers(reform):
    _, con = reform
    rows = con.execute("""
        SELECT CAST(received_at AS TIMESTAMP) >= TIMESTAMP '2025-07-01' AS after, split_part(agency_code, '.', 2) AS kind,
               count(*) FROM d WHERE procedure_code = '1.001193' GROUP BY ALL""").fetchall()
    kinds = {(after, kind) for after, kind, _ in rows}
    assert {k for a, k in kinds if not a} <= {"H", "TP", "TX"}  # districts, town, city
    assert {k for a, k in kinds if a} <= {"X", "P", "DK"}  # communes, wards, the special zone
    assert len({k for a, k in kinds if a}) >= 2
    handlers = dict(con.execute("""
        SELECT CAST(received_at AS TIMESTAMP) >= TIMESTAMP '2025-07-01', min(agency_code) FROM d
        WHERE procedure_code = 'QNG-LLTP-001' GROUP BY 1""").fetchall())
    assert handlers == {False: "QNG.STP", True: "QNG.CA"}
    communes = _one(con, "SELECT count(DISTINCT agency_code) FROM dt WHERE received_at >= TIMESTAMP '2025-07-01' "
                         "AND (agency_code LIKE 'QNG.X.%' OR agency_code LIKE 'QNG.P.%')")
    assert communes >= 25


def test_reference_file_validates_and_loads_into_a_store(tmp_path):
    from config.reference import load_reference_file
    from store.db import Store
    from store.reference import load_reference

    data = load_reference_file(REFERENCE_PATH)
    assert len(data.procedures) >= 40
    with Store(tmp_path / "ref.duckdb", memory_limit="256MB") as store:
        first = load_reference(store, REFERENCE_PATH)
        again = load_reference(store, REFERENCE_PATH)
        assert first["agencies"]["inserted"] == len(data.agencies)
        assert again["agencies"]["unchanged"] == len(data.agencies)
        n = store.cursor().execute("SELECT count(*) FROM agencies WHERE level = 'district' "
                                   "AND valid_to = DATE '2025-07-01' AND successor_code IS NOT NULL").fetchone()[0]
    assert n == 13


def test_reference_content(ref):
    agencies = {a["code"]: a for a in ref["agencies"]}
    names = {a["name"] for a in ref["agencies"]}
    for expected in ("UBND tỉnh Quảng Ngãi", "Sở Tư pháp", "Sở Tài chính", "Sở Kế hoạch và Đầu tư", "Sở Xây dựng",
                     "Sở Nông nghiệp và Môi trường", "Sở Y tế", "Sở Giáo dục và Đào tạo", "Sở Công Thương",
                     "Sở Nội vụ", "Sở Văn hóa, Thể thao và Du lịch", "Sở Khoa học và Công nghệ",
                     "Công an tỉnh Quảng Ngãi",
                     "Ban Quản lý Khu kinh tế Dung Quất và các Khu công nghiệp Quảng Ngãi",
                     "UBND phường Cẩm Thành", "UBND phường Nghĩa Lộ", "UBND phường Trương Quang Trọng",
                     "UBND đặc khu Lý Sơn", "UBND xã Bình Sơn", "UBND xã Sơn Tịnh", "UBND xã Tư Nghĩa",
                     "UBND xã Mộ Đức", "UBND xã Ba Tơ"):
        assert expected in names, expected
    assert agencies["QNG.SKHDT"]["successor"] == "QNG.STC"
    assert str(agencies["QNG.SKHDT"]["valid_to"]) == "2025-03-01"
    districts = [a for a in ref["agencies"] if a["level"] == "district"]
    assert len(districts) == 13
    for a in districts:
        succ = agencies[a["successor"]]
        assert str(a["valid_to"]) == "2025-07-01" and str(succ["valid_from"]) == "2025-07-01"
    communes = [a for a in ref["agencies"] if a["level"] == "commune" and str(a.get("valid_from")) == "2025-07-01"]
    assert len(communes) >= 25
    assert all(re.fullmatch(r"[A-Z0-9.]+", a["code"]) for a in ref["agencies"])  # short stable ASCII codes
    procs = ref["procedures"]
    assert len(procs) >= 40
    units = {p["time_unit"] for p in procs}
    assert units == {"working_days", "same_day", "working_hours", "calendar_days"}
    assert all(re.fullmatch(r"\d\.\d{6}|QNG-[A-Z]+-\d{3}", str(p["code"])) for p in procs)
    assert {p["online_level"] for p in procs} == {"full", "partial", "none"}
    assert set(PROCEDURE_MIX) <= {str(p["code"]) for p in procs}


# --- errors, properties, speed -----------------------------------------------------------------------
def test_bad_parameters_give_clear_errors(tmp_path):
    with pytest.raises(DemoDataError, match="months"):
        generate(tmp_path, seed=1, months=0, dossiers_per_month=100)
    with pytest.raises(DemoDataError, match="dossiers_per_month"):
        generate(tmp_path, seed=1, months=1, dossiers_per_month=0)
    with pytest.raises(DemoDataError, match="end"):
        generate(tmp_path, seed=1, months=1, dossiers_per_month=10, end="01/13/2025")
    with pytest.raises(DemoDataError, match="seed"):
        generate(tmp_path, seed="abc", months=1, dossiers_per_month=10)
    a_file = tmp_path / "not-a-dir"
    a_file.write_text("x", encoding="utf-8")
    with pytest.raises(DemoDataError, match="not-a-dir"):
        generate(a_file, seed=1, months=1, dossiers_per_month=10)
    broken = tmp_path / "ref.yaml"
    text = REFERENCE_PATH.read_text(encoding="utf-8")
    broken.write_text("\n".join(l for l in text.splitlines() if "QNG-LLTP-001" not in l), encoding="utf-8")
    with pytest.raises(DemoDataError, match=r"ref\.yaml.*QNG-LLTP-001"):
        generate(tmp_path / "out", seed=1, months=1, dossiers_per_month=10, reference=broken)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**31), months=st.integers(1, 3), per_month=st.integers(50, 300),
       end=st.dates(dt.date(2021, 3, 1), dt.date(2027, 12, 31)))
def test_any_period_gives_valid_files(tmp_path_factory, ref, seed, months, per_month, end):
    out = generate(tmp_path_factory.mktemp("prop"), seed=seed, months=months, dossiers_per_month=per_month, end=end)
    con = _con(out)
    assert _one(con, "SELECT count(*) FROM d") == months * per_month
    assert _one(con, "SELECT min(CAST(received_at AS TIMESTAMP))::DATE FROM d") >= _add_months(end, -months)
    assert _one(con, "SELECT max(CAST(received_at AS TIMESTAMP)) FROM d") < dt.datetime.combine(end, dt.time())
    _valid_agency_check(con, ref)
    assert _one(con, "SELECT count(*) FROM dt WHERE finished_at < received_at OR returned_at < finished_at") == 0


def test_add_months_clamps_to_month_end():
    assert _add_months(dt.date(2025, 3, 31), -1) == dt.date(2025, 2, 28)
    assert _add_months(dt.date(2024, 3, 31), -1) == dt.date(2024, 2, 29)
    assert _add_months(dt.date(2026, 1, 1), -12) == dt.date(2025, 1, 1)
    assert _add_months(dt.date(2025, 11, 15), 3) == dt.date(2026, 2, 15)


def test_a_month_at_province_scale(tmp_path):
    out = generate(tmp_path, seed=2, months=1, dossiers_per_month=30000, end=dt.date(2025, 11, 1))
    assert out["rows"] == 30000
