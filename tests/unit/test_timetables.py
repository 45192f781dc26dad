"""FiscalYearTimetable: Jalali fiscal years as data intervals, and how Airflow's backfill enumerates them."""

from __future__ import annotations

import datetime

import pendulum
import pytest
from airflow.timetables.base import DataInterval, TimeRestriction

from hamgam import timetables
from hamgam.timetables import (
    FiscalYearTimetable,
    fiscal_year_interval,
    fiscal_year_of,
    fiscal_year_of_interval,
)

UTC = pendulum.UTC
TEHRAN = "Asia/Tehran"


def utc(*args: int) -> pendulum.DateTime:
    return pendulum.datetime(*args, tz="UTC")


def tehran(*args: int) -> pendulum.DateTime:
    return pendulum.datetime(*args, tz=TEHRAN)


Y1403 = DataInterval(utc(2024, 3, 19, 20, 30), utc(2025, 3, 20, 20, 30))  # 1 Farvardin 1403 .. 1404, Tehran
Y1404 = DataInterval(utc(2025, 3, 20, 20, 30), utc(2026, 3, 20, 20, 30))
Y1405 = DataInterval(utc(2026, 3, 20, 20, 30), utc(2027, 3, 20, 20, 30))


@pytest.fixture
def now(monkeypatch):
    """Pin the timetable's clock: call it with a datetime."""
    def pin(moment: pendulum.DateTime) -> None:
        monkeypatch.setattr(timetables, "_now", lambda: moment)
    pin(tehran(2026, 11, 28, 12))  # 7 Azar 1405
    return pin


def info(tt, last=None, earliest=None, latest=None, catchup=True):
    return tt.next_dagrun_info(last_automated_data_interval=last,
                               restriction=TimeRestriction(earliest, latest, catchup))


# -- calendar ------------------------------------------------------------------------------------

def test_1403_is_a_leap_year_starting_1_farvardin_midnight_in_tehran():
    tt = FiscalYearTimetable()
    interval = tt.interval_of(1403)
    assert interval == Y1403
    assert interval.start.in_timezone(TEHRAN) == tehran(2024, 3, 20)
    assert interval.end.in_timezone(TEHRAN) == tehran(2025, 3, 21)
    assert (interval.end - interval.start).in_days() == 366  # Esfand 1403 has 30 days


def test_1404_is_a_common_year():
    interval = FiscalYearTimetable().interval_of(1404)
    assert interval == Y1404
    assert (interval.end - interval.start).in_days() == 365
    assert interval.start.in_timezone(TEHRAN) == tehran(2025, 3, 21)


def test_intervals_are_aware_utc_and_contiguous():
    tt = FiscalYearTimetable()
    for year in range(1395, 1410):
        interval = tt.interval_of(year)
        assert interval.start.utcoffset() == datetime.timedelta(0)
        assert interval.end == tt.interval_of(year + 1).start


def test_year_containing_a_moment_is_decided_in_tehran_time():
    assert fiscal_year_of(utc(2025, 3, 20, 20, 29)) == 1403  # 23:59 on 30 Esfand 1403 in Tehran
    assert fiscal_year_of(utc(2025, 3, 20, 20, 30)) == 1404
    assert fiscal_year_of("2024-03-20") == 1403  # a bare date is UTC midnight: 03:30 in Tehran
    assert fiscal_year_of(datetime.datetime(2024, 3, 19, 21)) == 1403  # naive means UTC


def test_start_month_other_than_farvardin():
    tt = FiscalYearTimetable(start_month=7)  # fiscal year from 1 Mehr
    assert tt.interval_of(1403) == DataInterval(tehran(2024, 9, 22).in_timezone(UTC),
                                                tehran(2025, 9, 23).in_timezone(UTC))
    assert tt.fiscal_year_of(tehran(2025, 3, 21)) == 1403  # 1 Farvardin 1404 is still fiscal 1403
    assert tt.fiscal_year_of(tehran(2025, 9, 23)) == 1404
    assert tt.summary == "Jalali fiscal year (from month 7)"
    assert "1 Mehr" in tt.description


def test_fiscal_year_of_interval_names_the_year_a_run_covers():
    assert fiscal_year_of_interval(Y1403.start) == 1403
    assert fiscal_year_of_interval(Y1404.start.in_timezone(TEHRAN)) == 1404
    assert fiscal_year_of_interval("2025-03-20T20:30:00+00:00") == 1404
    assert fiscal_year_of_interval(tehran(2024, 9, 22), start_month=7) == 1403
    assert fiscal_year_interval(1404) == Y1404


@pytest.mark.parametrize("bad", [0, 13, "1"])
def test_start_month_must_be_a_month(bad):
    with pytest.raises(ValueError, match="start_month"):
        FiscalYearTimetable(start_month=bad)


def test_unknown_timezone_is_refused():
    with pytest.raises(ValueError, match="timezone"):
        FiscalYearTimetable(timezone="Asia/Nowhere")


# -- scheduling --------------------------------------------------------------------------------------

def test_catchup_runs_each_year_at_its_end(now):
    tt = FiscalYearTimetable()
    first = info(tt, earliest=tehran(2024, 3, 20))
    assert first.data_interval == Y1403 and first.run_after == Y1403.end
    assert first.logical_date == Y1403.start
    second = info(tt, last=first.data_interval, earliest=tehran(2024, 3, 20))
    assert second.data_interval == Y1404 and second.run_after == Y1404.end
    third = info(tt, last=second.data_interval, earliest=tehran(2024, 3, 20))
    assert third.data_interval == Y1405 and third.run_after == Y1405.end  # created when 1405 ends


def test_earliest_inside_a_year_includes_that_year():
    tt = FiscalYearTimetable()
    assert info(tt, earliest=utc(2024, 3, 20)).data_interval == Y1403  # UTC midnight, 3.5 h into 1403
    assert info(tt, earliest=tehran(2024, 6, 1)).data_interval == Y1403
    assert info(tt, earliest=Y1404.start).data_interval == Y1404


def test_latest_stops_before_a_year_that_starts_after_it():
    tt = FiscalYearTimetable()
    assert info(tt, last=Y1403, earliest=Y1403.start, latest=utc(2025, 3, 20)) is None  # 30 Esfand 1403
    assert info(tt, last=Y1403, earliest=Y1403.start, latest=Y1404.start).data_interval == Y1404
    assert info(tt, earliest=Y1404.start, latest=Y1403.end - datetime.timedelta(seconds=1)) is None


def test_no_start_date_and_catchup_means_no_run():
    assert info(FiscalYearTimetable()) is None


def test_catchup_off_schedules_the_latest_complete_year_now_then_the_next_at_its_end(now):
    tt = FiscalYearTimetable()
    first = info(tt, earliest=tehran(2020, 3, 20), catchup=False)
    assert first.data_interval == Y1404  # 1404 ended before "now" (Azar 1405); no 1399..1403
    assert first.run_after <= timetables._now()
    assert info(tt, last=Y1404, earliest=tehran(2020, 3, 20), catchup=False).data_interval == Y1405
    now(tehran(2027, 4, 1))  # Farvardin 1406: 1405 is complete, 1404's successor is skipped to it
    assert info(tt, last=Y1403, earliest=tehran(2020, 3, 20), catchup=False).data_interval == Y1405


def test_catchup_off_respects_a_later_start_date(now):
    tt = FiscalYearTimetable()
    assert info(tt, earliest=tehran(2026, 5, 1), catchup=False).data_interval == Y1405


def test_a_changed_start_month_never_repeats_or_goes_back():
    mehr = FiscalYearTimetable(start_month=7)
    nxt = info(mehr, last=Y1403, earliest=Y1403.start)
    assert nxt.data_interval.start > Y1403.start
    assert nxt.data_interval == mehr.interval_of(mehr.fiscal_year_of(Y1403.end))


# -- manual runs, serialization -------------------------------------------------------------------

@pytest.mark.parametrize(("logical_date", "expected"), [
    (tehran(2024, 6, 1), Y1403),
    (utc(2025, 3, 20, 20, 29), Y1403),
    (utc(2025, 3, 20, 20, 30), Y1404),
    (tehran(2026, 11, 28, 12), Y1405),  # "Trigger" now: the open year
])
def test_manual_run_covers_the_year_containing_its_logical_date(logical_date, expected):
    assert FiscalYearTimetable().infer_manual_data_interval(run_after=logical_date) == expected


def test_serialize_round_trip():
    tt = FiscalYearTimetable(start_month=4, timezone="Asia/Tehran")
    data = tt.serialize()
    assert data == {"start_month": 4, "timezone": "Asia/Tehran"}
    again = FiscalYearTimetable.deserialize(data)
    assert again == tt and again.interval_of(1404) == tt.interval_of(1404)
    assert FiscalYearTimetable.deserialize({}) == FiscalYearTimetable()


def test_summary_and_description():
    tt = FiscalYearTimetable()
    assert tt.summary == "Jalali fiscal year (from month 1)"
    assert tt.description.startswith("Jalali fiscal year from 1 Farvardin 00:00 (Asia/Tehran)")
    assert tt.periodic and tt.can_be_scheduled
    assert tt.type_name == "hamgam.timetables.FiscalYearTimetable"


# -- backfill ------------------------------------------------------------------------------------

def _backfill_intervals(from_date, to_date):
    """The intervals `airflow backfill create` would run: the same code path, on a deserialized DAG."""
    from airflow.models.backfill import _get_info_list
    from airflow.sdk import DAG
    from airflow.serialization.serialized_objects import DagSerialization

    with DAG("fiscal_probe", schedule=FiscalYearTimetable(), start_date=tehran(2020, 3, 20),
             catchup=False) as dag:
        pass
    serialized = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    infos = _get_info_list(from_date=from_date, to_date=to_date, reverse=False, dag=serialized)
    return [i.data_interval for i in infos]


def test_backfill_over_two_years_makes_exactly_one_run_per_fiscal_year():
    # Dates as `--from-date 2024-03-20 --to-date 2026-03-20` arrive: UTC midnight.
    assert _backfill_intervals(utc(2024, 3, 20), utc(2026, 3, 20)) == [Y1403, Y1404]


def test_backfill_range_inside_years_selects_the_years_it_touches():
    assert _backfill_intervals(tehran(2024, 6, 1), tehran(2025, 1, 1)) == [Y1403]
    assert _backfill_intervals(Y1403.start, Y1404.start) == [Y1403, Y1404]
    assert _backfill_intervals(utc(2024, 3, 20), utc(2025, 3, 20)) == [Y1403]  # to 30 Esfand 1403


def test_backfill_never_includes_the_open_year():
    tt = FiscalYearTimetable()
    today = pendulum.now("UTC")
    current = tt.fiscal_year_of(today)
    assert _backfill_intervals(tt.year_start(current - 1), today) == [tt.interval_of(current - 1)]


def test_run_ids_name_the_fiscal_year_of_the_interval():
    from airflow.utils.types import DagRunType

    table = FiscalYearTimetable()
    assert table.generate_run_id(run_type=DagRunType.SCHEDULED, run_after=Y1403.end, data_interval=Y1403) == (
        "scheduled__fiscal_year_1403__2025-03-20T20:30:00+00:00")
    assert table.generate_run_id(run_type=DagRunType.MANUAL, run_after=utc(2025, 5, 1),
                                 data_interval=Y1404) == "manual__fiscal_year_1404__2025-05-01T00:00:00+00:00"
    # no interval (a manual run without a logical date): Airflow's own id
    assert table.generate_run_id(run_type=DagRunType.MANUAL, run_after=utc(2025, 5, 1),
                                 data_interval=None) == "manual__2025-05-01T00:00:00+00:00"


def test_a_fiscal_year_run_gets_its_year_as_note_when_it_starts():
    from types import SimpleNamespace

    from hamgam.run_notes import BY_FISCAL_YEAR, on_dag_run_running

    def run(**fields):
        return SimpleNamespace(**{"dag_id": BY_FISCAL_YEAR, "run_id": "backfill__2025-03-20T20:30:00+00:00",
                                  "note": None, "data_interval_start": Y1403.start, **fields})

    started = run()
    on_dag_run_running(dag_run=started, msg="started")
    assert started.note == "fiscal year 1403"
    for untouched in (run(note="rerun after the CRM fix"), run(dag_id="tadbir_to_payamgostar__identities"),
                      run(data_interval_start=None)):
        before = untouched.note
        on_dag_run_running(dag_run=untouched, msg="started")
        assert untouched.note == before
