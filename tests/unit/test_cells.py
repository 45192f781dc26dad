"""Reading legacy Tadbir values: a value that is not what its column means raises Unreadable, saying what it
is; the pipeline makes that the row's problem (an invalid record) instead of a stopped run."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pandas as pd
import pytest

from hamgam.transform.cells import Unreadable, tadbir_date, tadbir_number, tadbir_whole_number


@pytest.mark.parametrize(("stored", "expected"), [
    (datetime(2025, 6, 1, 13, 5), date(2025, 6, 1)),
    (pd.Timestamp("2025-06-01 00:00:00"), date(2025, 6, 1)),
    (date(2025, 6, 1), date(2025, 6, 1)),
    ("2025-06-01 00:00:00.000000", date(2025, 6, 1)),  # SQLite's text of a DATETIME
    ("2025-06-01T10:20:30", date(2025, 6, 1)),
    ("1404/03/11", date(2025, 6, 1)),  # Jalali as text: 11 Khordad 1404
    ("1404/3/11", date(2025, 6, 1)),
    ("۱۴۰۴/۰۳/۱۱", date(2025, 6, 1)),  # Persian digits
    ("1403/12/30", date(2025, 3, 20)),  # the leap year's last day
    ("1404-01-01", date(2025, 3, 21)),
    (None, None), ("", None), ("  ", None), (float("nan"), None), (pd.NaT, None),
])
def test_a_date_is_read_from_a_datetime_or_gregorian_or_jalali_text(stored, expected):
    assert tadbir_date(stored) == expected


@pytest.mark.parametrize("stored", ["0000/00/00", "1404/13/40", "1404/12/31", "2025-02-30", "فردا", "12"])
def test_what_is_no_date_is_unreadable_and_says_so(stored):
    with pytest.raises(Unreadable, match=f"^'{stored}' is not a date$"):
        tadbir_date(stored)


@pytest.mark.parametrize(("stored", "expected"), [
    (12, 12), (12.0, 12), ("12", 12), ("۱۲", 12), (Decimal("12.000"), 12), (None, None), ("", None),
    (float("nan"), None),
])
def test_a_whole_number_is_read(stored, expected):
    assert tadbir_whole_number(stored) == expected


@pytest.mark.parametrize("stored", ["12A", "12.5", 12.5, "inf", "NaN", "۱۲ب"])
def test_what_is_no_whole_number_is_unreadable(stored):
    with pytest.raises(Unreadable, match=r"is not a whole number$"):
        tadbir_whole_number(stored)


@pytest.mark.parametrize(("stored", "expected"), [
    ("2.5", Decimal("2.5")), (2.5, Decimal("2.5")), (3, Decimal(3)), ("٢٫٥", Decimal("2.5")), (None, None),
])
def test_a_number_is_read(stored, expected):
    assert tadbir_number(stored) == expected


@pytest.mark.parametrize("stored", ["دو", "1,000", "12A", "Infinity"])
def test_what_is_no_number_is_unreadable(stored):
    with pytest.raises(Unreadable, match=f"^'{stored}' is not a number$"):
        tadbir_number(stored)
