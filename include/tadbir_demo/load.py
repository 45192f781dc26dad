"""The demo Tadbir loaded into a database server: SQL Server (the compose file's dev profile), PostgreSQL or
SQLite, one database per company, named by a URL template (``mssql+pymssql://sa:…@mssql:1433/Tadbir{code}``).

The rows are ``generate_company``'s, so a server holds exactly what ``build_demo``'s SQLite files hold. On SQL
Server the tables are hamgam's reference schema compiled for the mssql dialect (text as NVARCHAR, as Tadbir keeps
Persian text) and every date parameter is sent in a form SQL Server reads the same under any login language
(``hamgam.tadbir.mssql_params``), as hamgam's own Tadbir engines send them.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path

import sqlalchemy as sa

from hamgam.tadbir import mssql_params, schema

from .build import DEFAULT_FISCAL_YEARS, DEFAULT_SEED, fill_company

# What SQL Server's CREATE DATABASE gives the demo databases: Persian sorting and comparison, case- and
# accent-insensitive, as Persian Tadbir installations are commonly set up
MSSQL_COLLATION = "Persian_100_CI_AI"
# the database a server always has, to create the company's database from
_ADMIN_DATABASE = {"mssql": "master", "postgresql": "postgres"}


class Existing(StrEnum):
    """What to do with a company database that already holds a demo Tadbir."""

    FAIL = "fail"  # stop, naming the database (the default: never overwrite by accident)
    SKIP = "skip"  # leave it as it is (a one-shot loader run again on every `compose up`)
    REPLACE = "replace"  # drop the reference tables and load afresh


class DatabaseNotEmpty(RuntimeError):
    pass


def company_url(template: str, code: int) -> sa.URL:
    """``template`` with ``{code}`` replaced by the company code (in the database name, usually)."""
    if "{code}" not in template:
        raise ValueError("the URL names one database per company: put {code} in it "
                         "(e.g. mssql+pymssql://sa:...@mssql:1433/Tadbir{code})")
    return sa.make_url(template.replace("{code}", str(int(code))))


def create_database_statement(dialect: sa.Dialect, name: str) -> sa.TextClause:
    """The statement that creates database ``name`` on the server when it is missing (run on the admin database,
    outside a transaction)."""
    if dialect.name == "mssql":
        quoted = dialect.identifier_preparer.quote_identifier(name)
        literal = name.replace("'", "''")
        return sa.text(f"IF DB_ID(N'{literal}') IS NULL CREATE DATABASE {quoted} COLLATE {MSSQL_COLLATION}")
    if dialect.name == "postgresql":
        return sa.text(f"CREATE DATABASE {dialect.identifier_preparer.quote_identifier(name)} ENCODING 'UTF8' "
                       "TEMPLATE template0")
    raise ValueError(f"creating a database on {dialect.name} is not supported")


def ensure_database(url: sa.URL) -> bool:
    """Create the database ``url`` names when the server lacks it; True when it was created."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        if url.database:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        return False
    if backend not in _ADMIN_DATABASE or not url.database:
        raise ValueError(f"cannot create a database from the URL {url.render_as_string(hide_password=True)}")
    admin = sa.create_engine(url.set(database=_ADMIN_DATABASE[backend]), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if backend == "postgresql":
                exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                      {"name": url.database}).first()
                if exists:
                    return False
            else:
                exists = conn.execute(sa.text("SELECT DB_ID(:name)"), {"name": url.database}).scalar()
                if exists is not None:
                    return False
            conn.execute(create_database_statement(admin.dialect, url.database))
            return True
    finally:
        admin.dispose()


def has_demo(engine: sa.Engine) -> bool:
    """Whether the database already holds a Tadbir (its fiscal period table has rows)."""
    if not sa.inspect(engine).has_table(schema.fiscal_period.name):
        return False
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(schema.fiscal_period)).scalar_one() > 0


def engine_for(url: sa.URL) -> sa.Engine:
    """The loader's engine: on SQL Server every date parameter goes out in a form no login language misreads."""
    engine = sa.create_engine(url)
    mssql_params.install(engine)
    return engine


def load_company(url: sa.URL, code: int, *, existing: Existing = Existing.FAIL, seed: int = DEFAULT_SEED,
                 scale: int = 1, fiscal_years: Iterable[int] = DEFAULT_FISCAL_YEARS) -> dict:
    """Fill company ``code``'s database at ``url`` with the demo Tadbir; returns its summary, or
    ``{"skipped": ...}`` when it already held one and ``existing`` is SKIP."""
    where = url.render_as_string(hide_password=True)
    engine = engine_for(url)
    try:
        if has_demo(engine):
            if existing is Existing.FAIL:
                raise DatabaseNotEmpty(f"company {code}: {where} already holds a Tadbir (__FiscalPeriod__ has rows); "
                                       "--existing skip leaves it, --existing replace loads it afresh")
            if existing is Existing.SKIP:
                return {"company_code": int(code), "database": where, "skipped": "already loaded"}
            schema.metadata.drop_all(engine)
        summary = fill_company(engine, code, seed=seed, scale=scale, fiscal_years=fiscal_years)
    finally:
        engine.dispose()
    return {"database": where, **summary}
