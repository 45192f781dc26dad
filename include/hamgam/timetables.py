"""Jalali (Solar Hijri) fiscal years as Airflow data intervals.

`FiscalYearTimetable` gives a DAG one data interval per Tadbir fiscal year: from 00:00 (Asia/Tehran) on
the 1st of Jalali month `start_month` of year Y to the same moment of year Y+1. Like Airflow's cron
data-interval timetables, the scheduled run of a year is created when the year ends; a backfill
(`airflow backfill create --dag-id D --from-date A --to-date B`, or the UI's backfill dialog) makes one
run per fiscal year in the range. `jdatetime` does the calendar (leap years included), pendulum the
time zone.

Which years a range [earliest, latest] selects (the DAG's start_date/end_date, or a backfill's
from/to dates): every fiscal year that has begun by `latest` and has not ended by `earliest`, i.e. the
years the range touches. A year is not lost because `earliest` is a few hours after its first moment:
Airflow reads `--from-date 2024-03-20` as 2024-03-20 00:00 UTC, which is 03:30 on 1 Farvardin 1403 in
Tehran, 3.5 hours after that year began. So `--from-date 2024-03-20 --to-date 2026-03-20` gives
exactly 1403 and 1404 (1 Farvardin 1405 is 2026-03-21), and `--from-date 2024-06-01` still includes
1403. Airflow keeps only intervals that have already ended, so the open year is never backfilled.

Run ids name the fiscal year: `backfill__fiscal_year_1403__2025-03-20T20:30:00+00:00` instead of
Airflow's `backfill__2025-03-20T20:30:00+00:00` (the moment the run may start: the end of 1403), and
likewise `scheduled__…` and `manual__…` (`generate_run_id`). The run id is what the grid, the run list
and the run's page show, and Airflow accepts no spaces in it, hence `fiscal_year_1403`.

With catchup=False (as with cron data-interval timetables) the first scheduled run is the latest
fiscal year that has ended, created as soon as the DAG is unpaused; then each year when it ends.

The DAG processor serializes, and the scheduler and the API server deserialize, DAGs that use this
timetable only when it is registered by a plugin (`plugins/hamgam_plugin.py`); the class must stay importable as
`hamgam.timetables.FiscalYearTimetable`, which is the name stored in serialized DAGs.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, cast

import jdatetime
import pendulum
from airflow.timetables.base import DagRunInfo, DataInterval, Timetable

if TYPE_CHECKING:
    from airflow.timetables.base import TimeRestriction
    from airflow.utils.types import DagRunType
    from pendulum import DateTime

DEFAULT_TIMEZONE = "Asia/Tehran"
JALALI_MONTHS = ("Farvardin", "Ordibehesht", "Khordad", "Tir", "Mordad", "Shahrivar",
                 "Mehr", "Aban", "Azar", "Dey", "Bahman", "Esfand")


def _now() -> DateTime:
    return pendulum.now("UTC")


def _aware(value: datetime.datetime | str) -> DateTime:
    """A pendulum DateTime; naive values and strings without an offset are read as UTC (Airflow's rule)."""
    if isinstance(value, str):
        # not exact: a date or datetime string parses to a DateTime (only a duration would not)
        return cast("DateTime", pendulum.parse(value, tz="UTC"))
    if value.tzinfo is None:
        return pendulum.instance(value, tz="UTC")
    return pendulum.instance(value)


def fiscal_year_of(moment: datetime.datetime | str, *, start_month: int = 1,
                   timezone: str = DEFAULT_TIMEZONE) -> int:
    """The Jalali fiscal year that contains `moment` (a year starting in `start_month`)."""
    local = _aware(moment).in_timezone(timezone)
    jalali = jdatetime.date.fromgregorian(date=local.date())
    return jalali.year if jalali.month >= start_month else jalali.year - 1


def fiscal_year_of_interval(start: datetime.datetime | str, *, start_month: int = 1,
                            timezone: str = DEFAULT_TIMEZONE) -> int:
    """The fiscal year a run covers, from its `data_interval_start` (a datetime or an ISO string).

    For intervals made by `FiscalYearTimetable` this is the Jalali year of the interval's first day,
    e.g. 2024-03-19T20:30:00+00:00 (1 Farvardin 1403, 00:00 Tehran) → 1403. Any other start gives the
    fiscal year containing it, so a manual run with a hand-picked interval still names a year.
    """
    return fiscal_year_of(start, start_month=start_month, timezone=timezone)


def fiscal_year_interval(year: int, *, start_month: int = 1, timezone: str = DEFAULT_TIMEZONE) -> DataInterval:
    """The data interval (UTC) of Jalali fiscal year `year`."""
    return FiscalYearTimetable(start_month, timezone).interval_of(year)


class FiscalYearTimetable(Timetable):
    """One data interval per Jalali fiscal year; each run is scheduled at the end of its year.

    :param start_month: the Jalali month (1 = Farvardin … 12 = Esfand) the fiscal year starts with.
    :param timezone: where the year starts at midnight (an IANA name).

    Manual runs: the data interval of a manually triggered run (and of `airflow dags test D DATE`) is
    the fiscal year *containing* the run's logical date. Airflow 3 passes the logical date chosen in
    the trigger form (default: now) as `run_after`, so "Trigger" resyncs the year being worked in, and
    triggering with any date inside an older year resyncs that year. (Cron data-interval timetables
    use the last complete period instead; for a fiscal-year resync the year a date falls in is the
    one a user means.)
    """

    periodic = True
    run_ordering = ("data_interval_end", "logical_date")

    def __init__(self, start_month: int = 1, timezone: str = DEFAULT_TIMEZONE) -> None:
        if not isinstance(start_month, int) or not 1 <= start_month <= 12:
            raise ValueError(f"start_month must be a Jalali month number 1..12, not {start_month!r}")
        try:
            pendulum.timezone(timezone)
        except Exception as exc:  # pendulum raises its own InvalidTimezone / zoneinfo errors
            raise ValueError(f"unknown timezone {timezone!r}") from exc
        self.start_month = start_month
        self.timezone = timezone
        self.description = (f"Jalali fiscal year from 1 {JALALI_MONTHS[start_month - 1]} 00:00 "
                            f"({timezone}); each run starts when its year has ended")

    # -- calendar ---------------------------------------------------------------------------------

    def year_start(self, year: int) -> DateTime:
        """The first moment (in UTC) of fiscal year `year`."""
        first_day = jdatetime.date(year, self.start_month, 1).togregorian()
        local = pendulum.datetime(first_day.year, first_day.month, first_day.day, tz=self.timezone)
        return local.in_timezone("UTC")

    def interval_of(self, year: int) -> DataInterval:
        """The data interval of fiscal year `year` (UTC, end exclusive)."""
        return DataInterval(self.year_start(year), self.year_start(year + 1))

    def fiscal_year_of(self, moment: datetime.datetime | str) -> int:
        """The fiscal year containing `moment`."""
        return fiscal_year_of(moment, start_month=self.start_month, timezone=self.timezone)

    def _floor(self, moment: datetime.datetime) -> DateTime:
        """Start of the fiscal year containing `moment`."""
        return self.year_start(self.fiscal_year_of(moment))

    def _next_start(self, start: DateTime) -> DateTime:
        return self.year_start(self.fiscal_year_of(start) + 1)

    # -- Timetable protocol ---------------------------------------------------------------------

    @property
    def summary(self) -> str:
        return f"Jalali fiscal year (from month {self.start_month})"

    def serialize(self) -> dict[str, Any]:
        return {"start_month": self.start_month, "timezone": self.timezone}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> FiscalYearTimetable:
        return cls(int(data.get("start_month", 1)), data.get("timezone", DEFAULT_TIMEZONE))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FiscalYearTimetable):
            return NotImplemented
        return (self.start_month, self.timezone) == (other.start_month, other.timezone)

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.start_month, self.timezone))

    def __repr__(self) -> str:
        return f"FiscalYearTimetable(start_month={self.start_month}, timezone={self.timezone!r})"

    def generate_run_id(self, *, run_type: DagRunType, run_after: DateTime, data_interval: DataInterval | None,
                        **extra: Any) -> str:
        """Airflow's run id with the run's fiscal year first: `backfill__fiscal_year_1403__<run_after>`.

        Airflow 3.3 asks the timetable for the id of scheduled, backfill and manual (UI, API, CLI) runs;
        the suffix stays Airflow's own (run_after), so ids are as unique as Airflow makes them. A run
        without a data interval (none of this timetable's) keeps Airflow's id.
        """
        if data_interval is None:
            return super().generate_run_id(run_type=run_type, run_after=run_after, data_interval=data_interval,
                                           **extra)
        year = self.fiscal_year_of(data_interval.start)
        return run_type.generate_run_id(suffix=f"fiscal_year_{year}__{run_after.isoformat()}")

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        """The fiscal year containing `run_after` (the logical date of a manual run; see the class doc)."""
        return self.interval_of(self.fiscal_year_of(run_after))

    def next_dagrun_info(self, *, last_automated_data_interval: DataInterval | None,
                         restriction: TimeRestriction) -> DagRunInfo | None:
        # The first candidate is the year containing `earliest` (see the module doc for why).
        earliest = self._floor(restriction.earliest) if restriction.earliest is not None else None
        if not restriction.catchup:
            # Like cron data-interval timetables: the latest year that has ended, run right away.
            latest_complete = self.year_start(self.fiscal_year_of(_now()) - 1)
            earliest = latest_complete if earliest is None else max(earliest, latest_complete)
        if last_automated_data_interval is None:
            if earliest is None:
                return None
            start = earliest
        else:
            # The next year starts where the last run's year ended (re-aligned if start_month changed).
            start = self._floor(last_automated_data_interval.end)
            if start <= last_automated_data_interval.start:
                start = self._next_start(start)
            if earliest is not None:
                start = max(start, earliest)
        if restriction.latest is not None and start > restriction.latest:
            return None
        return DagRunInfo.interval(start=start, end=self._next_start(start))
