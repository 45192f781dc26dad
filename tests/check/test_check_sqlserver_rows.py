"""The SQL Server rows of ``hamgam check`` judged on what SQL Server answers, given as data (no SQL Server runs
here; the statements themselves are parsed as T-SQL in test_check_tsql.py)."""

from __future__ import annotations

from collections import namedtuple

from hamgam.check import mssql
from hamgam.check.tables import TableUse

Column = namedtuple("Column", "TABLE_NAME COLUMN_NAME DATA_TYPE CHARACTER_MAXIMUM_LENGTH COLLATION_NAME")
USES = [TableUse("__Customer__", ("Name", "SubscriptionNo", "Id"), True, ("identities", "reverse identities")),
        TableUse("__SPArticle__", ("SPADesc", "Id"), True, ("quotes", "reverse quotes")),
        TableUse("__Broker__", ("Name", "Id"), False, ("quotes",))]


def test_nvarchar_text_columns_pass_with_their_collation():
    found = [Column("__Customer__", "Name", "nvarchar", 256, "Persian_100_CI_AI"),
             Column("__Customer__", "SubscriptionNo", "nvarchar", 32, "Persian_100_CI_AI"),
             Column("__Customer__", "Fax", "varchar", 32, "Persian_100_CI_AI")]  # not one hamgam uses
    row = mssql.judge_text_columns(USES, found, "Persian_100_CI_AI")
    assert row.status == "ok"
    assert row.found == "2 NVARCHAR, 0 VARCHAR; collation Persian_100_CI_AI (database default Persian_100_CI_AI)"


def test_varchar_text_columns_are_a_warning_naming_them_and_the_collation():
    found = [Column("__Customer__", "NAME", "varchar", 256, "SQL_Latin1_General_CP1_CI_AS"),
             Column("__Broker__", "Name", "nvarchar", 256, "Arabic_CI_AS")]
    row = mssql.judge_text_columns(USES, found, "Arabic_CI_AS")
    assert row.status == "warn"
    assert row.found == ("1 NVARCHAR, 1 VARCHAR; collation Arabic_CI_AS, SQL_Latin1_General_CP1_CI_AS (database "
                         "default Arabic_CI_AS); VARCHAR: __Customer__.NAME")
    assert "code page 1256" in row.fix


def test_change_tracking_off_for_the_database_or_a_table_fails_with_the_statement_to_run():
    off = mssql.judge_change_tracking(None, [], ["__SPFactor__"], 1)
    assert off.status == "fail" and off.fix.startswith("ALTER DATABASE <db> SET CHANGE_TRACKING = ON")
    assert "companies[1].change_capture: checksum" in off.fix
    table_off = mssql.judge_change_tracking((2, "DAYS"), ["__spfactor__"], ["__SPFactor__", "__SPArticle__"], 0)
    assert table_off.found == "on for the database, off for __SPArticle__"
    assert table_off.fix.startswith("ALTER TABLE dbo.__SPArticle__ ENABLE CHANGE_TRACKING")
    on = mssql.judge_change_tracking((2, "DAYS"), ["__SPFactor__", "__SPArticle__"], ["__SPFactor__"], 0)
    assert on.status == "ok" and on.found == "on, retention 2 days, 1 tables tracked"


def test_permissions_wanted_follow_reads_writes_and_tracking():
    wanted = mssql.wanted_permissions(USES, ["__SPFactor__"])
    assert wanted == [("__Customer__", "SELECT"), ("__SPArticle__", "SELECT"), ("__Broker__", "SELECT"),
                      ("__Customer__", "INSERT"), ("__Customer__", "UPDATE"), ("__SPArticle__", "INSERT"),
                      ("__SPArticle__", "UPDATE"), ("__SPArticle__", "DELETE"),
                      ("__SPFactor__", "VIEW CHANGE TRACKING")]


def test_a_missing_permission_fails_with_its_grant():
    wanted = [("__Customer__", "SELECT"), ("__Customer__", "INSERT"), ("__Gone__", "SELECT")]
    rows = mssql.judge_permissions(wanted, (1, 0, None))
    assert [(r.status, r.check, r.fix) for r in rows] == [
        ("fail", "tadbir: permissions: INSERT on __Customer__", "GRANT INSERT ON dbo.__Customer__ TO <hamgam's login>"),
        ("fail", "tadbir: permissions: SELECT on __Gone__", "GRANT SELECT ON dbo.__Gone__ TO <hamgam's login>")]
    granted = mssql.judge_permissions(wanted[:2], (1, 1))
    assert [(r.status, r.found) for r in granted] == [("ok", "all 2 granted (SELECT, INSERT)")]


def test_a_date_format_other_than_ymd_is_a_warning_naming_the_fix():
    assert mssql.judge_date_format("ymd").status == "ok"
    row = mssql.judge_date_format("mdy")
    assert row.status == "warn" and row.found.startswith("mdy: ")
    assert "SET DATEFORMAT ymd" in row.fix and "DEFAULT_LANGUAGE" in row.fix
