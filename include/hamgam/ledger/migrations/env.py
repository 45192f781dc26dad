"""Alembic environment of the ledger; run through ``hamgam.ledger.migrate.upgrade(url)``.

The URL comes from the config's ``sqlalchemy.url`` (set in code, no alembic.ini). The whole upgrade
runs in one transaction that first takes a lock, so concurrent upgrades queue and the later ones find
the schema at head: PostgreSQL takes a transaction-scoped advisory lock, SQLite ``BEGIN IMMEDIATE``
(its DDL is transactional once SQLAlchemy, not the sqlite3 driver, emits BEGIN).
"""

from __future__ import annotations

from typing import cast

from alembic import context
from sqlalchemy import text
from sqlalchemy.pool import NullPool

from hamgam.ledger.db import SQLITE_BEGIN, make_engine
from hamgam.ledger.models import Base

# Any 64-bit number that no other user of the database takes as an advisory lock ("hamgam" in ASCII).
MIGRATION_LOCK_KEY = 0x68616D67616D

config = context.config
# never None: ``hamgam.ledger.migrate.alembic_config`` always sets it
url = cast(str, config.get_main_option("sqlalchemy.url"))


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True,
                      render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(url, poolclass=NullPool).execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=Base.metadata,
                              render_as_batch=connection.dialect.name == "sqlite",
                              transactional_ddl=True)
            with context.begin_transaction():
                if connection.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                       {"key": MIGRATION_LOCK_KEY})
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
