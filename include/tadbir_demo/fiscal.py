"""Fiscal periods: one per Jalali year, stored with Gregorian datetimes."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import jdatetime


@dataclass(frozen=True)
class Period:
    id: int  # __FiscalPeriod__.Id, referenced by every FPId
    year: int  # Jalali year, e.g. 1403
    start: datetime  # 1 Farvardin, 00:00:00
    end: datetime  # last day of Esfand, 23:59:59

    @property
    def opening(self) -> datetime:
        """When master data is carried over into this period (first day, 09:00)."""
        return self.start.replace(hour=9)


def jalali_to_gregorian(year: int, month: int, day: int) -> date:
    return jdatetime.date(year, month, day).togregorian()


def make_periods(years: Iterable[int]) -> list[Period]:
    """Periods for the given Jalali years, oldest first, Ids 1, 2, ..."""
    periods = []
    for index, year in enumerate(sorted(set(years)), start=1):
        first = jalali_to_gregorian(year, 1, 1)
        last = jalali_to_gregorian(year + 1, 1, 1) - timedelta(days=1)
        periods.append(
            Period(index, year, datetime.combine(first, time.min), datetime.combine(last, time(23, 59, 59)))
        )
    return periods


def period_rows(periods: list[Period]) -> list[dict]:
    rows = []
    for p in periods:
        last = jdatetime.date.fromgregorian(date=p.end.date())
        rows.append(
            {
                "Id": p.id,
                "FPNo": p.year,
                "Name": f"سال مالی {p.year}",
                "StartDate": p.start,
                "EndDate": p.end,
                "FPDesc": f"از {p.year}/01/01 تا {last.year}/{last.month:02d}/{last.day:02d}",
                "SType": "1",  # perpetual inventory
                "LRes": "",
                "DRes": "",
                "TRes": "",
            }
        )
    return rows


def moment_in(rng: random.Random, period: Period) -> datetime:
    """A working-hours datetime inside ``period``, whole seconds."""
    day = period.start + timedelta(days=rng.randint(0, (period.end - period.start).days))
    return day.replace(hour=rng.randint(8, 17), minute=rng.randint(0, 59), second=rng.randint(0, 59))
