"""Numbers in the readers' own way: one definition for the dashboard, the briefing and the status page."""
from __future__ import annotations

import pytest

from config.numbers import NBSP, number, percent


@pytest.mark.parametrize("v, digits, lang, text", [
    (3251, 0, "vi", "3.251"), (3251, 0, "en", "3,251"), (89.664, 2, "vi", "89,66"), (89.664, 2, "en", "89.66"),
    (1234567.5, 1, "vi", "1.234.567,5"), (0.5, 0, "vi", "0"), (-1234.5, 1, "vi", "-1.234,5"), (12, 0, "vi", "12"),
])
def test_groups_and_decimals(v, digits, lang, text):
    assert number(v, digits, lang) == text


def test_percent_is_written_as_each_language_writes_it():
    assert percent(0.89664, 2) == "89,66" + NBSP + "%"
    assert percent(0.89664, 2, "en") == "89.66%"
    assert percent(1, 1) == "100,0" + NBSP + "%" and percent(12.345, 0) == "1.234" + NBSP + "%"
