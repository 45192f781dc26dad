"""Dates reach SQL Server as text no login's DATEFORMAT can misread (issue 12, fix 8).

No SQL Server runs here: what the server would receive is the mssql dialect's compiled statement with its
parameters put in by pymssql's own quoting (``pymssql._mssql.substitute_params``), after the parameter hook a
Tadbir engine on SQL Server has (``hamgam.tadbir.mssql_params``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pymssql._mssql as pymssql_wire
import pytest
import sqlalchemy as sa

from hamgam.tadbir import clock, mssql_params, sessions
from hamgam.tadbir.sessions import ReadSettings

PYMSSQL = sa.create_engine("mssql+pymssql://hamgam@tadbir.invalid/Tadbir").dialect  # as a real engine has it
FACTOR = sa.table("__SPFactor__", sa.column("Id"), sa.column("FPId"), sa.column("SPDate"))


def sent_to_sql_server(statement: sa.Executable, *, hooked: bool = True) -> str:
    """The statement text pymssql would send for ``statement`` on a Tadbir engine (hook included)."""
    compiled = statement.compile(dialect=PYMSSQL)
    params = compiled.construct_params()
    processors = compiled._bind_processors
    params = {k: processors[k](v) if k in processors else v for k, v in params.items()}
    if hooked:
        params = mssql_params.unambiguous_parameters(params, executemany=False)
    return pymssql_wire.substitute_params(str(compiled), params).decode()


def test_pymssql_alone_sends_a_datetime_that_dateformat_dmy_misreads():
    # the fault the hook exists for, as pymssql does it by itself
    sql = sent_to_sql_server(sa.select(FACTOR.c.Id).where(FACTOR.c.SPDate >= datetime(2025, 6, 1, 10, 30)),
                             hooked=False)
    assert "'2025-06-01 10:30:00.000'" in sql


def test_a_datetime_parameter_reaches_sql_server_as_iso_8601_with_a_t():
    sql = sent_to_sql_server(sa.select(FACTOR.c.Id).where(FACTOR.c.SPDate >= datetime(2025, 6, 1, 10, 30, 0, 123456)))
    assert "N'2025-06-01T10:30:00.123'" in sql
    assert "2025-06-01 10:30" not in sql


def test_a_date_parameter_reaches_sql_server_unambiguously():
    # 'YYYY-MM-DD' is ambiguous for DATETIME columns too; 'YYYYMMDD' and ISO 8601 with a T never are
    sql = sent_to_sql_server(sa.select(FACTOR.c.Id).where(FACTOR.c.SPDate >= date(2024, 3, 20)))
    assert "N'2024-03-20T00:00:00.000'" in sql  # the mssql dialect makes a date a datetime first
    assert "'2024-03-20'" not in sql
    assert mssql_params.unambiguous(date(2024, 3, 20)) == "20240320"  # a date the dialect passes as it is


def test_executemany_parameters_are_made_unambiguous_row_by_row():
    rows = [{"d": datetime(2025, 1, 2, 3, 4, 5)}, {"d": date(2025, 12, 31)}, {"d": None}]
    assert mssql_params.unambiguous_parameters(rows, executemany=True) == [
        {"d": "2025-01-02T03:04:05.000"}, {"d": "20251231"}, {"d": None}]
    assert mssql_params.unambiguous_parameters((7, datetime(2025, 1, 2)), executemany=False) == (
        7, "2025-01-02T00:00:00.000")


def test_a_tadbir_engine_on_sql_server_gets_the_hook_and_others_do_not(tmp_path):
    mssql_engine = sa.create_engine("mssql+pymssql://hamgam@tadbir.invalid/Tadbir1404")  # never connects
    sqlite_engine = sa.create_engine(f"sqlite:///{tmp_path / 'tadbir.sqlite'}")
    try:
        sessions.configure(mssql_engine, ReadSettings())
        sessions.read_engine(sqlite_engine, ReadSettings())
        assert mssql_params.is_installed(mssql_engine)
        assert not mssql_params.is_installed(sqlite_engine)
    finally:
        mssql_engine.dispose()
        sqlite_engine.dispose()


def test_read_sessions_on_sql_server_read_dates_year_month_day():
    statements = sessions.session_statements("mssql", ReadSettings(lock_timeout_ms=4000))
    assert "SET DATEFORMAT ymd" in statements
    assert "SET LOCK_TIMEOUT 4000" in statements
    assert not any("DATEFORMAT" in s for s in sessions.session_statements("postgresql", ReadSettings()))


# -- hamgam's clock where it meets Tadbir's dates ----------------------------------------------------------

EVENING_UTC = datetime(2025, 6, 1, 21, 0, tzinfo=UTC)  # 00:30 on 2 June in Tehran


def test_the_clock_tadbir_compares_with_is_tehran_wall_time():
    assert clock.tadbir_now(now=EVENING_UTC) == datetime(2025, 6, 2, 0, 30)
    assert clock.tadbir_today(now=EVENING_UTC) == datetime(2025, 6, 2)
    assert clock.tadbir_now("Europe/London", now=EVENING_UTC) == datetime(2025, 6, 1, 22, 0)


def test_a_crm_quote_without_a_date_is_dated_today_in_tehran_not_on_the_workers_clock():
    from hamgam.reverse import quotes

    assert quotes._date(None, "Asia/Tehran", now=EVENING_UTC) == datetime(2025, 6, 2)
    assert quotes._date("2025-05-31T14:20:00", "Asia/Tehran", now=EVENING_UTC) == datetime(2025, 5, 31)


def test_the_tadbir_time_zone_is_a_setting_and_an_unknown_one_is_refused():
    from hamgam.config import parse_config
    from hamgam.settings import ConfigError

    base = "companies: [{code: 100, default: true}]\n"
    assert parse_config(base).sync.tadbir_timezone == "Asia/Tehran"
    assert parse_config(base + "sync: {tadbir_timezone: Asia/Dubai}\n").sync.tadbir_timezone == "Asia/Dubai"
    with pytest.raises((ConfigError, ValueError), match="Mars/Olympus"):
        parse_config(base + "sync: {tadbir_timezone: Mars/Olympus}\n")
