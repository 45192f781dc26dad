"""The Alembic migrations build exactly the models' schema, idempotently, also under concurrency."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from ledger_workers import run_parallel, upgrade_worker
from sqlalchemy import inspect, text

from hamgam.ledger import Base, make_engine, normalize_url, upgrade
from hamgam.ledger.migrate import alembic_config

LEDGER_TABLES = {"sync_record", "pending_change", "sync_cursor", "sync_run", "sync_lease", "webhook_event",
                 "sync_outcome", "detect_range", "detect_key", "crm_send_mark", "drift_report"}
HEAD = "0006"


def schema_differences(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                             "compare_server_default": True})
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def version(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    finally:
        engine.dispose()


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_head_matches_the_models(fresh_db_url):
    upgrade(fresh_db_url)

    assert set(Base.metadata.tables) == LEDGER_TABLES
    assert tables(fresh_db_url) == LEDGER_TABLES | {"alembic_version"}
    assert schema_differences(fresh_db_url) == []


def test_upgrade_is_idempotent(fresh_db_url):
    upgrade(fresh_db_url)
    upgrade(fresh_db_url)

    assert version(fresh_db_url) == [HEAD]
    assert schema_differences(fresh_db_url) == []


def test_downgrade_to_base_and_up_again(fresh_db_url):
    upgrade(fresh_db_url)
    command.downgrade(alembic_config(fresh_db_url), "base")
    assert tables(fresh_db_url) == {"alembic_version"}

    upgrade(fresh_db_url)
    assert schema_differences(fresh_db_url) == []


def test_concurrent_upgrades_of_a_fresh_database_all_succeed(new_database):
    urls = [new_database() for _ in range(4)]  # four races: one alone rarely hits the window
    processes = 2 if urls[0].startswith("sqlite") else 4

    assert run_parallel(upgrade_worker, [(urls,)] * processes) == [len(urls)] * processes

    for url in urls:
        assert version(url) == [HEAD]
        assert schema_differences(url) == []


def test_upgrade_from_0002_keeps_the_run_history(fresh_db_url):
    """0003 adds the outcome log and the runs' stage; runs recorded before it were loads."""
    command.upgrade(alembic_config(fresh_db_url), "0002")
    engine = make_engine(fresh_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO sync_run (dag_id, run_id, company, entity, started_at, state) "
                              "VALUES ('dag', 'run', 100, 'identities', '2025-03-21 08:30:00', 'success')"))
    finally:
        engine.dispose()

    upgrade(fresh_db_url)

    assert version(fresh_db_url) == [HEAD]
    assert schema_differences(fresh_db_url) == []
    from hamgam.ledger import Ledger

    with Ledger.connect(fresh_db_url) as ledger:
        old = ledger.find_run("dag", "run", 100, "identities")
        assert (old.stage, old.state) == ("load", "success")
        assert ledger.outcome_log(company=100) == []
    command.downgrade(alembic_config(fresh_db_url), "0002")
    assert "sync_outcome" not in tables(fresh_db_url)


@pytest.mark.parametrize(("given", "expected"), [
    ("postgres://u:p@db/ledger", "postgresql+psycopg://u:p@db/ledger"),
    ("postgresql://u:p@db/ledger", "postgresql+psycopg://u:p@db/ledger"),
    ("postgresql+psycopg://u:p@db/ledger", "postgresql+psycopg://u:p@db/ledger"),
    ("sqlite:////data/ledger.db", "sqlite:////data/ledger.db"),
])
def test_urls_are_normalised(given, expected):
    assert normalize_url(given).render_as_string(hide_password=False) == expected


def test_alembic_config_keeps_percent_encoded_passwords():
    url = "postgresql+psycopg://hamgam:p%40ss%25w@db:5432/ledger"

    assert alembic_config(url).get_main_option("sqlalchemy.url") == url


def test_other_databases_are_refused():
    with pytest.raises(ValueError, match="SQLite or PostgreSQL"):
        make_engine("mysql://u:p@db/ledger")
