"""Every T-SQL statement of the ``checksum`` and ``change_tracking`` change capture (and of the read sessions),
compiled for the mssql dialect and parsed as T-SQL by sqlglot. No SQL Server runs here: this proves the
statements are well-formed T-SQL of the intended shape, not that a server returned the right rows.

sqlglot's tsql dialect does not know ``CHANGETABLE(CHANGES <table>, <version>)``; ``mssql_rules`` adds exactly
that table-valued function (nothing else) to it.
"""

from __future__ import annotations

import pytest
import sqlglot
from mssql_rules import TSQLWithChangeTracking
from sqlalchemy.dialects import mssql
from sqlglot import exp
from sqlglot.dialects.tsql import TSQL

from hamgam.entities import SPECS
from hamgam.tadbir import change_tracking, changes, checksums, sessions
from hamgam.tadbir.sessions import ReadSettings


def tsql(statement) -> str:
    return str(statement.compile(dialect=mssql.dialect(), compile_kwargs={"literal_binds": True}))


def parsed(sql: str, dialect=TSQL) -> exp.Expression:
    tree = sqlglot.parse_one(sql, read=dialect)
    assert tree is not None
    return tree


@pytest.mark.parametrize("entity", sorted(SPECS))
def test_range_checksums_are_t_sql(entity):
    spec = SPECS[entity]
    statements = checksums.range_checksum_statements(changes.scope_of(spec), 2, 1000)
    statements += checksums.range_checksum_statements(changes.scope_of(spec), 2, 1000, first=3, last=5)
    assert len(statements) == (4 if spec.lines is not None else 2)
    for statement in statements:
        sql = tsql(statement)
        assert "CHECKSUM_AGG(BINARY_CHECKSUM(" in sql and "SUM(CAST(BINARY_CHECKSUM(" in sql
        assert "/ 1000" in sql and "GROUP BY" in sql
        tree = parsed(sql)
        assert isinstance(tree, exp.Select)
        assert tree.args.get("group") is not None


def test_lines_count_in_their_headers_range_and_only_for_headers_in_scope():
    spec = SPECS["sales_invoices"]
    _, lines = checksums.range_checksum_statements(changes.scope_of(spec), 2, 1000)
    sql = tsql(lines)
    assert "[SPId] / 1000" in sql and "EXISTS (SELECT" in sql and "[FactorType] = 1" in sql
    parsed(sql)


@pytest.mark.parametrize("entity", sorted(SPECS))
def test_the_probe_is_one_t_sql_statement(entity):
    spec = SPECS[entity]
    from change_world import context

    sql = tsql(changes.probe_statement(spec, context()))
    assert sql.count("CHECKSUM_AGG(BINARY_CHECKSUM(") == (2 if spec.lines is not None else 1)
    assert isinstance(parsed(sql), exp.Select)


def test_change_tracking_versions_are_t_sql():
    assert tsql(change_tracking.current_version_statement()).startswith("SELECT CHANGE_TRACKING_CURRENT_VERSION()")
    for entity in sorted(SPECS):
        for table, _ in changes.tracked_tables(SPECS[entity]):
            sql = tsql(change_tracking.min_valid_version_statement(table))
            assert f"CHANGE_TRACKING_MIN_VALID_VERSION(OBJECT_ID('dbo.{table}'))" in sql
            parsed(sql)
    parsed(tsql(change_tracking.current_version_statement()))


@pytest.mark.parametrize("entity", sorted(SPECS))
def test_changetable_queries_are_t_sql(entity):
    spec = SPECS[entity]
    for table, role in changes.tracked_tables(spec):
        parent = spec.lines.parent_column if role == "lines" and spec.lines is not None else None
        statement = change_tracking.changes_statement(table, changes._key_columns(table), 41, 57,
                                                      parent_column=parent)
        sql = tsql(statement)
        assert f"FROM CHANGETABLE(CHANGES [dbo].[{table}], 41) AS ct" in sql
        assert "ct.[SYS_CHANGE_VERSION] <= 57" in sql
        if parent:
            assert f"LEFT OUTER JOIN dbo.[{table}] AS t ON t.[Id] = ct.[Id] AND t.[FPId] = ct.[FPId]" in sql
        tree = parsed(sql, TSQLWithChangeTracking)
        assert tree.find(exp.Anonymous).name.upper() == "CHANGETABLE"
        with pytest.raises(sqlglot.errors.ParseError):  # plain tsql: the one construct the extension adds
            sqlglot.parse_one(sql, read="tsql")


def test_tracked_tables_name_every_table_an_entity_reads():
    tables = dict(changes.tracked_tables(SPECS["sales_invoices"]))
    assert tables["__SPFactor__"] == "header" and tables["__SPArticle__"] == "lines"
    assert {"__Customer__", "__Broker__", "__Merchandise__", "__StockRoom__", "__Unit__"} <= set(tables)
    assert dict(changes.tracked_tables(SPECS["identities"])) == {"__Customer__": "header"}


def test_read_sessions_set_a_lock_timeout_in_t_sql():
    statements = sessions.session_statements("mssql", ReadSettings(lock_timeout_ms=4000))
    assert statements == ["SET LOCK_TIMEOUT 4000", "SET DATEFORMAT ymd"]
    for statement in statements:
        parsed(statement)
    # snapshot reads use SQLAlchemy's own isolation support of the mssql dialect (SET TRANSACTION ISOLATION
    # LEVEL SNAPSHOT, which sqlglot's tsql does not parse)
    assert "SNAPSHOT" in mssql.dialect()._isolation_lookup
