"""Writes into Tadbir lock what they allocate, retry only a lost race, and name what Tadbir refused at once."""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mssql
from writer_workers import build_tadbir, count, executed, header, lines

from hamgam.tadbir import schema
from hamgam.tadbir.allocation import LOCK_HINT, lock_key
from hamgam.tadbir.write_errors import WriteRefused, is_contention, refusal
from hamgam.tadbir.writer import TadbirWriter
from tadbir_demo import fill_company
from throwaway_pg import pg_database


def _strict_quote_dates(metadata: sa.MetaData) -> None:
    metadata.tables["__SPFactor__"].c.SPDate.nullable = False  # a site where a quote must have its date


def test_a_not_null_violation_is_not_retried_and_names_the_record_and_the_column(empty_url):
    engine = build_tadbir(empty_url, _strict_quote_dates)
    before = count(engine, schema.sp_factor)
    undated = dataclasses.replace(header(2), date=None)
    writer = TadbirWriter(engine)
    with executed(engine) as seen, pytest.raises(WriteRefused) as refused:
        writer.write_quote(undated, lines(), number=None)
    inserts = [sql for _, sql in seen if sql.lstrip().upper().startswith('INSERT INTO "__SPFACTOR__"')]
    assert len(inserts) == 1  # tried once: a missing value stays missing however often it is tried
    assert refused.value.column == "SPDate"
    assert "quote (next number) of fiscal period 2" in str(refused.value) and "NOT NULL" in str(refused.value)
    assert count(engine, schema.sp_factor) == before
    engine.dispose()


def _compiled_for_sql_server(statement) -> str:
    return str(statement.compile(dialect=mssql.dialect()))


def test_every_read_that_allocates_runs_under_update_and_range_locks_on_sql_server(tadbir):
    writer = TadbirWriter(tadbir)
    with executed(tadbir) as seen:
        writer.write_quote(header(2), lines(), number=None)
        writer.write_quote(header(2), lines(), number=9001)
        writer.insert_customer(2, {"Name": "شرکت نو", "SubscriptionNo": "99001"}, detail_chain=["1"],
                               receivables_account="1103")
    reads = [stmt for stmt, _ in seen if isinstance(stmt, sa.Select) and stmt.get_final_froms()]  # not the PG lock
    assert len(reads) == 9  # 3 per quote (Id, FactorNo or "taken?", first line Id), customer: 2 Ids + siblings
    for read in reads:
        sql = _compiled_for_sql_server(read)
        assert re.search(r"FROM \[?__\w+__\]? " + re.escape(LOCK_HINT), sql), sql


class _Driver(Exception):
    """What pyodbc (sqlstate, message) and pymssql (number, message) raise: no SQL Server on this machine."""


def _mssql_error(kind, *args) -> sa.exc.DBAPIError:
    return kind("INSERT INTO [__SPFactor__] ...", {}, _Driver(*args))


@pytest.mark.parametrize("number", [2627, 2601, 1205, 1222])
def test_sql_server_duplicate_keys_deadlocks_and_lock_timeouts_are_a_lost_race(number):
    pyodbc = _mssql_error(sa.exc.IntegrityError, "23000", f"[23000] [Microsoft][SQL Server]... ({number}) "
                                                           "(SQLExecDirectW)")
    pymssql = _mssql_error(sa.exc.OperationalError, number, b"...")
    assert is_contention(pyodbc, "mssql") and is_contention(pymssql, "mssql")


def test_sql_server_refusals_name_the_column_but_never_the_value():
    not_null = _mssql_error(sa.exc.IntegrityError, "23000", "[23000] [Microsoft][SQL Server]Cannot insert the value "
                            "NULL into column 'SPDate', table 'tadbir.dbo.__SPFactor__'; column does not allow nulls. "
                            "INSERT fails. (515) (SQLExecDirectW)")
    too_long = _mssql_error(sa.exc.DataError, 2628, "String or binary data would be truncated in table "
                            "'tadbir.dbo.__Customer__', column 'MobileNo'. Truncated value: '09121234567'.")
    assert not is_contention(not_null, "mssql") and not is_contention(too_long, "mssql")
    refused = refusal(not_null, "mssql", "quote 17 of fiscal period 2")
    assert (refused.column, refused.code) == ("SPDate", "error 515")
    assert str(refused).startswith("quote 17 of fiscal period 2: Tadbir refused it: a value is missing")
    truncated = refusal(too_long, "mssql", "customer 0777")
    assert truncated.column == "MobileNo" and "0912" not in str(truncated)


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _advisory_waiters(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                                    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                                    )).scalar_one()


@pytest.mark.postgres
def test_on_postgresql_a_writer_waits_for_the_period_lock_of_the_table_it_allocates_in():
    with pg_database("hamgam_tadbir_lock") as url:
        engine = sa.create_engine(url)
        fill_company(engine, 100)
        writer = TadbirWriter(engine)
        before = count(engine, schema.sp_factor)
        holder = engine.connect()
        holder.begin()
        holder.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.cast(lock_key("__SPFactor__"), sa.Integer),
                                                                sa.cast(2, sa.Integer))))
        done: list[tuple[int, int]] = []
        thread = threading.Thread(target=lambda: done.append(writer.write_quote(header(2), lines(), number=None)))
        thread.start()
        _wait_for(lambda: _advisory_waiters(engine) == 1, "the writer waiting for the period lock")
        assert not done and count(engine, schema.sp_factor) == before
        holder.rollback()  # the lock goes with the transaction
        holder.close()
        thread.join(timeout=60)
        assert done and count(engine, schema.sp_factor) == before + 1
        engine.dispose()
