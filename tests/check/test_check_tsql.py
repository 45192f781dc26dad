"""Every SQL Server statement of ``hamgam check`` (``hamgam.check.mssql``), compiled for the mssql dialect and
parsed as T-SQL by sqlglot. No SQL Server runs here: this proves the statements are well-formed T-SQL of the
intended shape, not what a server answers."""

from __future__ import annotations

import pytest
import sqlglot
from sqlalchemy.dialects import mssql as mssql_dialect
from sqlglot import exp

from hamgam.check import mssql

STATEMENTS = {
    "server_version": (mssql.server_version(), ["SERVERPROPERTY('ProductVersion')", "SERVERPROPERTY('Edition')"]),
    "database_collation": (mssql.database_collation(), ["DATABASEPROPERTYEX(DB_NAME(), 'Collation')"]),
    "text_columns": (mssql.text_columns(["__Customer__", "__SPFactor__"]),
                     ["FROM [INFORMATION_SCHEMA].[COLUMNS]", "= SCHEMA_NAME()",
                      "IN ('__Customer__', '__SPFactor__')", "[COLLATION_NAME] IS NOT NULL"]),
    "change_tracking_database": (mssql.change_tracking_database(),
                                 ["FROM sys.change_tracking_databases", "database_id = DB_ID()"]),
    "change_tracking_tables": (mssql.change_tracking_tables(),
                               ["OBJECT_NAME(sys.change_tracking_tables.object_id) AS name"]),
    "permissions": (mssql.permissions([("__Customer__", "SELECT"), ("__SPArticle__", "DELETE"),
                                       ("__SPFactor__", "VIEW CHANGE TRACKING")]),
                    ["HAS_PERMS_BY_NAME('dbo.__Customer__', 'OBJECT', 'SELECT') AS p0",
                     "HAS_PERMS_BY_NAME('dbo.__SPFactor__', 'OBJECT', 'VIEW CHANGE TRACKING') AS p2"]),
    "session_date_format": (mssql.session_date_format(),
                            ["SELECT sys.dm_exec_sessions.date_format FROM sys.dm_exec_sessions",
                             "session_id = @@SPID"]),
}


def tsql(statement) -> str:
    return str(statement.compile(dialect=mssql_dialect.dialect(), compile_kwargs={"literal_binds": True}))


@pytest.mark.parametrize("name", sorted(STATEMENTS))
def test_each_statement_is_one_t_sql_select(name):
    statement, fragments = STATEMENTS[name]
    sql = " ".join(tsql(statement).split())
    for fragment in fragments:
        assert fragment in sql, sql
    tree = sqlglot.parse_one(sql, read="tsql")
    assert isinstance(tree, exp.Select)
