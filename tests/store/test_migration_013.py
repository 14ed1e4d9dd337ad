"""Migration 013: quarantine rows written before the import masked them lose the citizens' ID and
phone numbers they hold, as the import masks them now; the rest of each row stays."""
from __future__ import annotations

import datetime as dt
import json

from store import db
from store.db import Store


def test_old_quarantine_rows_are_masked(tmp_path, monkeypatch):
    path = tmp_path / "motcua.duckdb"
    monkeypatch.setattr(db, "MIGRATIONS", [m for m in db.MIGRATIONS if m[0] <= 12])
    monkeypatch.setattr(db, "SCHEMA_VERSION", 12)
    with Store(path) as s, s.transaction() as cur:
        cur.executemany(
            "INSERT INTO quarantine (file_sha256, row_no, field, file_name, value, reason, raw, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [("f1", 3, "agency_code", "ho-so.csv", "0912 345 678", "unknown agency '0912 345 678'",
              json.dumps({"dossier_code": "HS-1", "agency_code": "0912 345 678", "field": "CCCD 012345678901"}),
              dt.datetime(2026, 11, 2, 9, 0)),
             ("f1", 4, "received_at", "ho-so.csv", "hôm qua", "expected a date", json.dumps({"dossier_code": "HS-2"}),
              dt.datetime(2026, 11, 2, 9, 0))])
    monkeypatch.undo()
    with Store(path) as s:
        assert s.schema_version() == db.SCHEMA_VERSION >= 13
        rows = s.cursor().execute("SELECT row_no, value, reason, CAST(raw AS VARCHAR) FROM quarantine "
                                  "ORDER BY row_no").fetchall()
    text = repr(rows)
    assert "0912 345 678" not in text and "012345678901" not in text
    first, second = rows
    assert first[1].startswith("0") and first[1].endswith("78") and "*" in first[1]
    assert json.loads(first[3])["dossier_code"] == "HS-1"  # still JSON, the code kept
    assert second[1:3] == ("hôm qua", "expected a date") and json.loads(second[3]) == {"dossier_code": "HS-2"}
