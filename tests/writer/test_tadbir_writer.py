"""The reverse flow's Tadbir writer: one transaction per record, ids and numbers never collide, even with
two writers at once — on SQLite (the demo) and on PostgreSQL holding the same reference schema."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pytest
import sqlalchemy as sa
from writer_workers import header, lines, write_customers, write_quotes

from hamgam.tadbir import schema
from hamgam.tadbir.writer import NumberTaken, QuoteLine, TadbirWriter


def _count(engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()


def test_a_quote_gets_the_next_number_of_its_fiscal_period_and_its_lines(tadbir_url):
    engine = sa.create_engine(tadbir_url)
    f = schema.sp_factor
    with engine.connect() as conn:
        last = conn.execute(sa.select(sa.func.max(f.c.FactorNo)).where(f.c.FPId == 2, f.c.FactorType == 4)).scalar()
    sp_id, number = TadbirWriter(engine).write_quote(header(2), lines(3), number=None)
    assert number == last + 1
    assert _count(engine, schema.sp_article, schema.sp_article.c.SPId == sp_id, schema.sp_article.c.FPId == 2) == 3
    engine.dispose()


def test_a_fixed_number_that_is_taken_is_refused_and_nothing_is_written(tadbir_url):
    engine = sa.create_engine(tadbir_url)
    before = _count(engine, schema.sp_factor)
    with pytest.raises(NumberTaken):
        TadbirWriter(engine).write_quote(header(2), lines(), number=1)  # demo quote 1 of 1404 exists
    assert _count(engine, schema.sp_factor) == before
    engine.dispose()


def test_a_failure_in_the_middle_of_a_document_leaves_nothing_half_written(tadbir_url):
    engine = sa.create_engine(tadbir_url)
    before = (_count(engine, schema.sp_factor), _count(engine, schema.sp_article))
    # the second line cannot be written (no quantity): the header was already inserted by then
    broken = [*lines(1), QuoteLine(merchandise_id=5, unit_id=1, stock_room_id=1, quantity=None,
                                   unit_price=1000, discount=0, vat=0, toll=0, description="")]
    with pytest.raises(TypeError):
        TadbirWriter(engine).write_quote(header(2), broken, number=None)
    assert (_count(engine, schema.sp_factor), _count(engine, schema.sp_article)) == before
    engine.dispose()


def test_a_new_customer_gets_a_detail_account_under_the_configured_chain(tadbir_url):
    engine = sa.create_engine(tadbir_url)
    customer_id = TadbirWriter(engine).insert_customer(2, {"Name": "شرکت نو", "SubscriptionNo": "99001"},
                                                       detail_chain=["1"], receivables_account="1103")
    c, d = schema.customer, schema.detail_acc
    with engine.connect() as conn:
        row = conn.execute(sa.select(c).where(c.c.Id == customer_id, c.c.FPId == 2)).mappings().one()
        detail = conn.execute(sa.select(d).where(d.c.Id == row["FAccId"], d.c.FPId == 2)).mappings().one()
    assert row["AccId"] == "1103" and row["Active"] == 1
    assert detail["Name"] == "شرکت نو" and detail["T1"] == "1" and detail["AccLevel"] == 5 and detail["T2"]
    engine.dispose()


def _parallel(fn, calls):
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Manager().Barrier(len(calls))
    with ProcessPoolExecutor(len(calls), mp_context=ctx) as pool:
        return [f.result(timeout=300) for f in [pool.submit(fn, *args, barrier) for args in calls]]


def test_two_writers_at_once_never_share_an_id_or_a_number(tadbir_url):
    results = _parallel(write_quotes, [(tadbir_url, 2, 12), (tadbir_url, 2, 12)])
    written = [w for result in results for w in result]
    assert len({sp_id for sp_id, _ in written}) == 24
    assert len({number for _, number in written}) == 24
    engine = sa.create_engine(tadbir_url)
    a = schema.sp_article
    ids = [sp_id for sp_id, _ in written]
    assert _count(engine, a, a.c.FPId == 2, a.c.SPId.in_(ids)) == 48  # every quote has both its lines
    engine.dispose()


def test_two_writers_creating_customers_at_once_get_distinct_ids_and_detail_accounts(tadbir_url):
    results = _parallel(write_customers, [(tadbir_url, 2, "7", 10), (tadbir_url, 2, "8", 10)])
    ids = [i for result in results for i in result]
    assert len(set(ids)) == 20
    engine = sa.create_engine(tadbir_url)
    c = schema.customer
    with engine.connect() as conn:
        details = conn.execute(sa.select(c.c.FAccId).where(c.c.FPId == 2, c.c.Id.in_(ids))).scalars().all()
    assert len(set(details)) == 20
    engine.dispose()
