"""The due-soon list in words (reports/due_soon.py): working time left in office days, hours and
minutes, the terminal list and the morning digest, in Vietnamese and English."""
from __future__ import annotations

import datetime as dt

import pytest

from reports.due_soon import digest, format_days, format_left, render_text
from store.registry import Table


@pytest.mark.parametrize("minutes, vi, en", [
    (0, "0 phút", "0 min"),
    (45, "45 phút", "45 min"),
    (180, "3 giờ", "3 h"),
    (480, "1 ngày làm việc", "1 working day"),
    (780, "1 ngày làm việc 5 giờ", "1 working day 5 h"),
    (2 * 480 + 61, "2 ngày làm việc 1 giờ 1 phút", "2 working days 1 h 1 min"),
    (-5, "0 phút", "0 min"),
])
def test_working_time_left_in_office_days(minutes, vi, en):
    assert format_left(minutes, 480, "vi") == vi
    assert format_left(minutes, 480, "en") == en


def test_days_are_written_the_way_each_language_writes_numbers():
    assert (format_days(2, "vi"), format_days(0.5, "vi"), format_days(0.5, "en")) == ("2", "0,5", "0.5")


ROWS = Table(["dossier_code", "agency_code", "agency_name", "procedure_code", "procedure_name", "received_at",
              "due_at", "working_minutes_left", "office_day_minutes"],
             [("HS-1", "STP", "Sở Tư pháp", "P1", "Chứng thực bản sao", dt.datetime(2024, 3, 4, 9),
               dt.datetime(2024, 3, 8, 15), 180, 480)])
AS_OF = dt.datetime(2024, 3, 8, 10)


def test_the_terminal_list_and_its_empty_case():
    text = render_text(ROWS, 2, AS_OF, "vi")
    assert "Hồ sơ sắp đến hạn (trong 2 ngày làm việc), tính đến 10:00 08/03/2024" in text
    assert "HS-1" in text and "15:00 08/03/2024" in text and "3 giờ" in text and "1 hồ sơ" in text
    assert render_text(ROWS, 2, AS_OF, "vi", limit=1).endswith("1 hồ sơ gấp nhất (giới hạn --limit; có thể còn hồ sơ khác)")
    assert render_text(ROWS, 2, AS_OF, "vi", limit=5).endswith("\n1 hồ sơ")
    empty = render_text(Table(ROWS.columns, []), 2, AS_OF, "en")
    assert empty == "Dossiers due soon (within 2 working days), as of 2024-03-08 10:00\nNo dossier is due soon."


def test_the_digest_names_the_count_the_most_urgent_and_the_link():
    title, body = digest("Sở Tư pháp", 7, ROWS.to_dicts(), 2, AS_OF, url="http://127.0.0.1:8501/co-quan")
    assert title == "[motcua-watch] Sở Tư pháp: 7 hồ sơ sắp đến hạn"
    assert "Sở Tư pháp có 7 hồ sơ sắp đến hạn trong 2 ngày làm việc (tính đến 10:00 08/03/2024)." in body
    assert "- HS-1: Chứng thực bản sao, hạn 15:00 08/03/2024, còn 3 giờ" in body
    assert "… và 6 hồ sơ khác." in body and body.endswith("Xem danh sách: http://127.0.0.1:8501/co-quan")
