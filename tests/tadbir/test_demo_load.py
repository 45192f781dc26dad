"""``tadbir-demo load``: the demo Tadbir loaded into a database server, one database per company.

SQLite and PostgreSQL are loaded for real. No SQL Server runs here: for it, the DDL the loader sends is compiled
for the mssql dialect and parsed as T-SQL, its types checked against Tadbir's (reference schema), and a sample of
the INSERTs is rendered as pymssql would send them and checked by ``mssql_rules.broken_rules``."""

from __future__ import annotations

import uuid

import psycopg
import pytest
import sqlalchemy as sa
import sqlglot
from mssql_rules import PYMSSQL, broken_rules, sent
from sqlglot import exp

from hamgam.tadbir import mssql_params, schema
from tadbir_demo import build_demo, generate_company
from tadbir_demo.__main__ import main
from tadbir_demo.load import MSSQL_COLLATION, company_url, create_database_statement, engine_for
from throwaway_pg import PG_ADMIN, PG_URL, pg_problem

COMPANIES = "100,200"


def counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                    for name, t in schema.metadata.tables.items()}
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def built_counts(tmp_path_factory) -> dict[int, dict[str, int]]:
    """What ``build_demo`` writes into its SQLite files: the loader must write the same rows."""
    summary = build_demo(tmp_path_factory.mktemp("built"))
    return {code: company["counts"] for code, company in summary["companies"].items()}


def test_load_into_sqlite_then_fail_skip_or_replace(tmp_path, built_counts, capsys):
    template = f"sqlite:///{tmp_path}/server/Tadbir{{code}}.sqlite"
    assert main(["load", "--url", template, "--companies", COMPANIES, "--create-database"]) == 0
    for code in (100, 200):
        assert counts(template.replace("{code}", str(code))) == built_counts[code]

    capsys.readouterr()
    assert main(["load", "--url", template, "--companies", COMPANIES]) == 1
    assert "company 100: sqlite:///" in capsys.readouterr().err

    assert main(["load", "--url", template, "--companies", COMPANIES, "--existing", "skip"]) == 0
    assert "already holds a Tadbir, left as it is" in capsys.readouterr().out
    assert counts(template.replace("{code}", "100")) == built_counts[100]

    assert main(["load", "--url", template, "--companies", COMPANIES, "--existing", "replace"]) == 0
    assert counts(template.replace("{code}", "200")) == built_counts[200]


def test_load_reads_the_url_from_the_environment(tmp_path, monkeypatch, built_counts):
    template = f"sqlite:///{tmp_path}/Tadbir{{code}}.sqlite"
    monkeypatch.setenv("TADBIR_DEMO_URL", template)
    assert main(["load", "--companies", "100"]) == 0
    assert counts(template.replace("{code}", "100")) == built_counts[100]


def test_a_url_without_the_company_code_is_refused():
    with pytest.raises(ValueError, match=r"\{code\}"):
        company_url("mssql+pymssql://sa:pw@mssql/Tadbir", 100)


@pytest.mark.postgres
def test_load_creates_the_postgres_databases(built_counts, capsys):
    if pg_problem():
        pytest.skip(pg_problem())
    prefix = f"tadbir_load_{uuid.uuid4().hex[:10]}_"
    template = PG_URL.format(name=prefix + "{code}")
    try:
        assert main(["load", "--url", template, "--companies", COMPANIES, "--create-database"]) == 0
        assert "created database " + prefix + "100" in capsys.readouterr().err
        for code in (100, 200):
            assert counts(template.replace("{code}", str(code))) == built_counts[code]
        # a second run on the same server: the databases exist, skip leaves them
        assert main(["load", "--url", template, "--companies", COMPANIES, "--create-database",
                     "--existing", "skip"]) == 0
        assert "created database" not in capsys.readouterr().err
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            for code in (100, 200):
                admin.execute(f'DROP DATABASE IF EXISTS "{prefix}{code}" WITH (FORCE)')


# ---- SQL Server: what the loader would send --------------------------------------------------------------------


def mssql_ddl() -> list[str]:
    statements: list[str] = []
    mock = sa.create_mock_engine("mssql+pymssql://", lambda sql, *a, **k: statements.append(
        str(sql.compile(dialect=mock.dialect)).strip()))
    schema.metadata.create_all(mock, checkfirst=False)
    return statements


def column_types(create_table: str) -> dict[str, str]:
    tree = sqlglot.parse_one(create_table, read="tsql")
    assert isinstance(tree, exp.Create) and tree.kind == "TABLE", create_table
    return {col.name: col.args["kind"].sql(dialect="tsql") for col in tree.find_all(exp.ColumnDef)}


def test_mssql_ddl_parses_as_t_sql_with_tadbirs_types():
    ddl = mssql_ddl()
    tables = {sqlglot.parse_one(s, read="tsql").this.this.name: s for s in ddl if s.startswith("CREATE TABLE")}
    assert set(tables) == set(schema.TABLE_NAMES)
    assert sum(s.startswith("CREATE INDEX") for s in ddl) == len(ddl) - len(tables)
    for statement in ddl:
        sqlglot.parse_one(statement, read="tsql")  # raises on anything T-SQL does not have
        # server defaults are ASCII ('' and '0'): a Persian default would need N'…'
        assert all(lit.name.isascii() for lit in sqlglot.parse_one(statement, read="tsql").find_all(exp.Literal))

    customer = column_types(tables["__Customer__"])
    assert customer["Name"] == "NVARCHAR(256)"  # Persian text: Unicode, as Tadbir keeps it
    assert customer["Address"] == "NVARCHAR(512)"
    assert customer["SubscriptionNo"] == "NVARCHAR(32)"
    assert customer["Credit"] == "BIGINT"  # Rial amounts: exact integers
    assert customer["EDate"] == "DATETIME"
    assert customer["Id"] == "INTEGER" and customer["FPId"] == "INTEGER"
    factor = column_types(tables["__SPFactor__"])
    assert factor["SPDate"] == "DATETIME" and factor["Total"] == "BIGINT" and factor["SPDesc"] == "NVARCHAR(1024)"
    article = column_types(tables["__SPArticle__"])
    assert article["Amount"] == "NUMERIC(18, 4)"  # DECIMAL and NUMERIC are one type in T-SQL
    # no text column anywhere is VARCHAR (non-Latin text would become '?')
    every_type = [t for s in tables.values() for t in column_types(s).values()]
    assert not [t for t in every_type if t.startswith(("VARCHAR", "CHAR", "TEXT"))]
    assert "IDENTITY" not in " ".join(tables.values())  # Tadbir assigns the ids


def test_mssql_inserts_of_one_company_keep_the_rules():
    """The first row of every table, and every row with Persian text in a table's first hundred, rendered as
    pymssql sends the loader's INSERTs: T-SQL, text as N'…', dates that no login language misreads."""
    rows, _ = generate_company(100)
    checked = 0
    for name, table_rows in rows.items():
        table = schema.metadata.tables[name]
        sample = [table_rows[0], *(r for r in table_rows[:100] if any(
            isinstance(v, str) and not v.isascii() for v in r.values()))]
        for row in sample:
            statement = table.insert().values(row)
            assert broken_rules(statement) == [], (name, row)
            checked += 1
    text = sent(schema.customer.insert().values(rows["__Customer__"][0])).sql
    assert "N'" in text
    assert checked > len(rows)


def test_mssql_create_database_is_t_sql_with_persian_collation():
    statement = create_database_statement(PYMSSQL, "Tadbir100").text
    tree = sqlglot.parse_one(statement, read="tsql")
    assert isinstance(tree, exp.IfBlock)
    assert "DB_ID(N'Tadbir100') IS NULL" in statement
    assert f"CREATE DATABASE [Tadbir100] COLLATE {MSSQL_COLLATION}" in statement


def test_the_mssql_load_engine_sends_unambiguous_dates():
    engine = engine_for(company_url("mssql+pymssql://sa:pw@mssql.invalid:1433/Tadbir{code}", 100))
    try:
        assert engine.dialect.name == "mssql"
        assert mssql_params.is_installed(engine)
    finally:
        engine.dispose()
