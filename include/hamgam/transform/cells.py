"""Reading the values legacy Tadbir keeps in date and number columns, whatever a client left there.

The reference schema has ``DATETIME`` dates and ``INT`` numbers, but legacy clients also leave Jalali dates
as text (``1404/03/11``, in Persian or Saman digits too), empty dates (``0000/00/00``) and numbers with
letters (``12A``). These readers return the value, or raise :class:`Unreadable` saying what is wrong, so a
row carries its problem into validation instead of stopping a run.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from hamgam.transform.text import to_ascii_digits

__all__ = ["Unreadable", "tadbir_date", "tadbir_number", "tadbir_whole_number"]

JALALI_BEFORE = 1700  # a year below this is a Jalali year (1404), above it a Gregorian one (2025)
_DATE = re.compile(r"^(\d{1,4})[/\-.](\d{1,2})[/\-.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")


class Unreadable(ValueError):
    """A stored value is not what its column means; the message says what it is (``'12A' is not ...``)."""


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value) or str(value) in ("NaT", "nan")


def tadbir_date(value: object) -> date | None:
    """A date from a ``DATETIME`` (datetime, pandas Timestamp) or from text: ISO ``yyyy-mm-dd[ hh:mm:ss]``
    or ``yyyy/mm/dd``, Jalali when the year is below 1700 (jdatetime does the calendar). None for NULL or
    empty text; :class:`Unreadable` for anything else (``0000/00/00``, ``1404/13/40``)."""
    if _is_missing(value):
        return None
    if isinstance(value, datetime):
        return value.date()
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime().date()
    if isinstance(value, date):
        return value
    text = to_ascii_digits(str(value)).strip()
    if not text:
        return None
    match = _DATE.match(text)
    if match is None:
        raise Unreadable(f"{str(value)!r} is not a date")
    year, month, day = (int(part) for part in match.groups())
    try:
        if year < JALALI_BEFORE:
            import jdatetime

            return jdatetime.date(year, month, day).togregorian()
        return date(year, month, day)
    except ValueError:
        raise Unreadable(f"{str(value)!r} is not a date") from None


def _decimal(value: object) -> Decimal | None:
    if _is_missing(value):
        return None
    if isinstance(value, bool):
        return Decimal(int(value))
    if isinstance(value, int):
        return Decimal(value)
    text = to_ascii_digits(str(value)).strip().replace("\u066b", ".")  # Arabic decimal separator
    if not text:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise Unreadable(f"{str(value)!r} is not a number") from None
    if not number.is_finite():
        raise Unreadable(f"{str(value)!r} is not a number")
    return number


def tadbir_number(value: object) -> Decimal | None:
    """A number from a numeric column (int, float, Decimal, or digits as text in any digit form); None for
    NULL or empty text; :class:`Unreadable` when it is not a number."""
    return _decimal(value)


def tadbir_whole_number(value: object) -> int | None:
    """A whole number (a document number); None for NULL or empty; :class:`Unreadable` otherwise."""
    try:
        number = _decimal(value)
    except Unreadable:
        number = Decimal("NaN")
    if number is None:
        return None
    if number.is_nan() or number != number.to_integral_value():
        raise Unreadable(f"{str(value)!r} is not a whole number")
    return int(number)
