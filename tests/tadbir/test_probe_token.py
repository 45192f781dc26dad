"""The probe token: one cheap database-computed value that changes with any row of an entity's scope."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from change_world import (
    add_document,
    context,
    delete_document,
    move_document,
    tadbir_engine,
    update,
)

from hamgam.entities import SPECS
from hamgam.tadbir import schema
from hamgam.tadbir.changes import probe_token
from throwaway_pg import BACKENDS


@pytest.fixture(params=BACKENDS)
def tadbir(request, tmp_path):
    with tadbir_engine(request.param, tmp_path) as engine:
        yield engine


def test_the_token_moves_with_every_kind_of_change_to_headers_and_lines(tadbir):
    spec, ctx = SPECS["sales_invoices"], context()
    doc = add_document(tadbir, "sales_invoices", 1, lines=2)
    add_document(tadbir, "sales_invoices", 2)
    seen = [probe_token(tadbir, spec, ctx)]
    assert probe_token(tadbir, spec, ctx) == seen[-1]  # stable while nothing changes

    def changed() -> None:
        token = probe_token(tadbir, spec, ctx)
        assert token not in seen
        seen.append(token)

    line = sa.select(sa.func.min(schema.sp_article.c.Id)).where(schema.sp_article.c.SPId == doc)
    with tadbir.connect() as conn:
        line_id = conn.execute(line).scalar_one()
    update(tadbir, schema.sp_article, line_id, 2, SPADesc="یک توضیح")  # a line edit, the header unchanged
    changed()
    update(tadbir, schema.sp_factor, doc, 2, SPDesc="سرفصل")  # a header edit
    changed()
    with tadbir.begin() as conn:  # a line deleted
        conn.execute(schema.sp_article.delete().where(schema.sp_article.c.Id == line_id))
    changed()
    add_document(tadbir, "sales_invoices", 3)  # an insert
    changed()
    doc = move_document(tadbir, doc, 2, 1, new_id=doc)  # a fiscal-period move of a header and its lines
    changed()
    delete_document(tadbir, doc, 1)  # a document deleted
    changed()
    update(tadbir, schema.customer, 1, 2, SubscriptionNo="777")  # a joined value the documents carry
    changed()


def test_another_entitys_rows_leave_the_token_alone(tadbir):
    """Quotes and invoices share the header and line tables: a quote's line edit is not an invoice change."""
    add_document(tadbir, "sales_invoices", 1)
    quote = add_document(tadbir, "quotes", 1)
    ctx = context()
    before = probe_token(tadbir, SPECS["sales_invoices"], ctx)
    quote_before = probe_token(tadbir, SPECS["quotes"], ctx)
    with tadbir.begin() as conn:
        conn.execute(schema.sp_article.update().where(schema.sp_article.c.SPId == quote).values(Amount=5))
    assert probe_token(tadbir, SPECS["sales_invoices"], ctx) == before
    assert probe_token(tadbir, SPECS["quotes"], ctx) != quote_before


def test_master_data_and_out_of_scope_years(tadbir):
    ctx = context()
    token = probe_token(tadbir, SPECS["identities"], ctx)
    update(tadbir, schema.customer, 2, 2, Name="نام تازه")
    assert probe_token(tadbir, SPECS["identities"], ctx) != token
    # a company synced from 1404 on: an edit in 1403 is outside its scope
    from1404 = context().config.model_copy(update={"companies": [
        context().company.model_copy(update={"sync_from_fiscal_year": 1404})]})
    from hamgam.entities.base import SyncContext

    ctx1404 = SyncContext(from1404, from1404.company(100))
    token = probe_token(tadbir, SPECS["identities"], ctx1404)
    update(tadbir, schema.customer, 2, 1, Name="سال گذشته")
    assert probe_token(tadbir, SPECS["identities"], ctx1404) == token
    update(tadbir, schema.customer, 2, 2, Name="امسال")
    assert probe_token(tadbir, SPECS["identities"], ctx1404) != token


def test_the_probe_is_one_statement_that_sql_server_parses():
    import sqlglot
    from sqlalchemy.dialects import mssql

    from hamgam.tadbir.changes import probe_statement

    for name in ("identities", "products", "sales_invoices", "receipts"):
        sql = str(probe_statement(SPECS[name], context()).compile(dialect=mssql.dialect(),
                                                                   compile_kwargs={"literal_binds": True}))
        assert "CHECKSUM_AGG(BINARY_CHECKSUM(" in sql
        sqlglot.parse_one(sql, read="tsql")


def test_an_unchanged_settled_sqlite_file_is_answered_from_memory(tmp_path, monkeypatch):
    """The demo's SQLite Tadbir: a probe of a file nobody wrote to since the last probe costs a stat, not a
    checksum of every row; any write (or a file written within two seconds) makes it ask the database."""
    import os

    from hamgam.tadbir import changes

    with tadbir_engine("sqlite", tmp_path) as tadbir:
        add_document(tadbir, "sales_invoices", 1)
        spec, ctx = SPECS["sales_invoices"], context()
        path = tadbir.url.database
        old = os.stat(path).st_mtime_ns - 10_000_000_000
        os.utime(path, ns=(old, old))
        token = probe_token(tadbir, spec, ctx)
        asked = []
        real = changes.probe_statement
        monkeypatch.setattr(changes, "probe_statement", lambda *a: asked.append(1) or real(*a))
        assert probe_token(tadbir, spec, ctx) == token and asked == []
        add_document(tadbir, "sales_invoices", 2)
        assert probe_token(tadbir, spec, ctx) != token and asked == [1]
