"""Huge input: over-long values are quarantined, over-long lines refuse the file cleanly."""
from __future__ import annotations

import pytest

from imports.dossiers import import_dossiers
from imports.errors import ImportRefused
import imports.staging as staging
from store.db import Store

HEADER = "dossier_code,agency_code,agency_name,procedure_code,field,channel,received_at,time_limit,time_unit,state\n"
GOOD = "OK-{i},STP,Sở Tư pháp,P1,Tư pháp,online,2026-03-02 08:00,5,working_days,processing\n"


def test_over_long_values_are_quarantined_and_good_rows_go_in(tmp_path):
    f = tmp_path / "huge.csv"
    f.write_text(HEADER + GOOD.format(i=1)
                 + "X" * 3_000_000 + ",STP,Sở Tư pháp,P1,Tư pháp,online,2026-03-02 08:00,5,working_days,processing\n"
                 + GOOD.format(i=2).replace("Sở Tư pháp", "Y" * 3_000_000), encoding="utf-8")
    with Store(tmp_path / "s.duckdb") as store:
        s = import_dossiers(store, f)
        assert (s.inserted, s.quarantined) == (1, 2)
        rows = store.cursor().execute(
            "SELECT row_no, field, reason, length(value), length(CAST(raw AS VARCHAR)) FROM quarantine ORDER BY row_no"
        ).fetchall()
    assert [(r[0], r[1]) for r in rows] == [(2, "dossier_code"), (3, "agency_name")]
    assert all("too long: 3000000 characters" in r[2] for r in rows)
    assert all(r[3] < 100 and r[4] < 20_000 for r in rows), "the quarantine keeps a bounded excerpt"


def test_a_line_beyond_the_reader_limit_refuses_the_file_with_a_message(tmp_path, monkeypatch):
    monkeypatch.setattr(staging, "MAX_LINE_BYTES", 1 << 20)
    f = tmp_path / "toolong.csv"
    f.write_text(HEADER + GOOD.format(i=1) + GOOD.format(i=2).replace("Tư pháp,online", "T" * (2 << 20) + ",online"),
                 encoding="utf-8")
    with Store(tmp_path / "s.duckdb") as store:
        with pytest.raises(ImportRefused, match="toolong.csv: cannot be read as CSV"):
            import_dossiers(store, f)
        assert store.cursor().execute("SELECT count(*) FROM dossiers").fetchone()[0] == 0
