"""``hamgam check`` with company 100's demo Tadbir on PostgreSQL (a throwaway database at 127.0.0.1:5432;
skipped when no server answers, required with HAMGAM_REQUIRE_POSTGRES=1)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tadbir_demo import fill_company
from throwaway_pg import pg_database

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_world(world) -> Iterator[tuple[object, sa.Engine]]:
    with pg_database("hamgam_check_test") as url:
        engine = sa.create_engine(url)
        fill_company(engine, 100)
        parsed = sa.make_url(url)
        world.connection("tadbir_default", conn_type="postgres", host=parsed.host, port=parsed.port,
                         schema=parsed.database, login=parsed.username)
        try:
            yield world, engine
        finally:
            engine.dispose()
            from hamgam import connections

            for cached in [u for u in connections._engines if parsed.database and parsed.database in u]:
                connections._engines.pop(cached).dispose()


def test_the_demo_tadbir_on_postgresql_passes(pg_world):
    world, _ = pg_world
    result = world.run("--json")
    assert result.code == 0, result.rows("fail")
    assert result.row("tadbir: connect (tadbir_default)")["found"].startswith("postgresql, database hamgam_check_test_")
    assert result.row("tadbir: server version")["found"].startswith("postgresql ")
    assert result.row("tadbir: table __SPFactor__")["status"] == "ok"
    assert result.row("tadbir: permissions")["found"] == "n/a (postgresql)"


def test_a_missing_column_and_a_wrong_type_on_postgresql_fail(pg_world):
    world, engine = pg_world
    with engine.begin() as conn:
        conn.exec_driver_sql('ALTER TABLE "__SPArticle__" DROP COLUMN "T1"')
        conn.exec_driver_sql('ALTER TABLE "__SPFactor__" ALTER COLUMN "Total" DROP DEFAULT')
        conn.exec_driver_sql('ALTER TABLE "__SPFactor__" ALTER COLUMN "Total" TYPE TIMESTAMP USING NULL')
    result = world.run("--json")
    assert result.code == 1
    missing = result.row("tadbir: column __SPArticle__.T1")
    assert missing["found"].startswith("missing (used by quotes, sales_invoices")
    assert missing["fix"].startswith("add column T1 (BIGINT) to __SPArticle__ or set companies[0].entities.quotes")
    wrong = result.row("tadbir: column __SPFactor__.Total")
    assert wrong["found"] == "TIMESTAMP WITHOUT TIME ZONE: hamgam expects integer (BIGINT)"
    assert wrong["fix"].startswith("make __SPFactor__.Total a BIGINT column or set ")
