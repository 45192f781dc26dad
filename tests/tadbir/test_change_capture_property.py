"""Property: whatever happens in Tadbir — inserts, edits of headers and of lines alone, deletes, fiscal-period
moves, cancellations, duplicate numbers, renamed customers — ``checksum`` (and ``change_tracking``, on the fake
provider) queue exactly what ``scan``, the ground truth, queues, step after step.

Two ledgers follow one Tadbir: one detected by the fast source, one by ``scan``. After each step both queues must
be equal (key, action, content hash, where the rows are); then both are "loaded" (every queued change recorded
as its outcome, as a successful load would) so the next step starts from the same ledger state.
"""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa
from change_world import (
    FACTOR_TYPE,
    PERIOD,
    FakeChangeTracking,
    add_document,
    context,
    delete_document,
    fill_base,
    install_fake_change_tracking,
    move_document,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hamgam import pipeline
from hamgam.entities import SPECS
from hamgam.ledger import Ledger
from hamgam.tadbir import changes, schema
from throwaway_pg import pg_database

pytestmark = pytest.mark.slow  # a long search for a counterexample: make test-slow

ENTITIES = ("sales_invoices", "quotes", "identities")
RANGE = 10  # small ranges: a handful of documents spans several


# -- what can happen in Tadbir -------------------------------------------------------------------------

def _doc_ids(conn, fp: int | None = None, factor_type: int | None = None) -> list[tuple[int, int]]:
    f = schema.sp_factor
    q = sa.select(f.c.Id, f.c.FPId).order_by(f.c.FPId, f.c.Id)
    if fp is not None:
        q = q.where(f.c.FPId == fp)
    if factor_type is not None:
        q = q.where(f.c.FactorType == factor_type)
    return [tuple(r) for r in conn.execute(q)]


def _pick(items: list, n: int):
    return items[n % len(items)] if items else None


def _free_number(conn, fp: int, factor_type: int, wanted: int) -> int:
    """``wanted`` unless the fiscal period has it already for this kind (numbers are unique there)."""
    f = schema.sp_factor
    used = set(conn.execute(sa.select(f.c.FactorNo).where(f.c.FPId == fp, f.c.FactorType == factor_type)).scalars())
    return wanted if wanted not in used else max(used) + 1


def op_insert(engine, n: int, m: int) -> None:
    entity = ("sales_invoices", "quotes")[m % 2]
    year = (1403, 1404)[m % 3 != 0]
    with engine.connect() as conn:
        number = _free_number(conn, PERIOD[year], FACTOR_TYPE[entity], 1 + n % 7)
    add_document(engine, entity, number=number, year=year, lines=1 + n % 3, qty=1 + m % 4,
                 row_id=None if n % 4 else 1 + n % 40)  # sometimes a chosen Id: ranges fill unevenly


def op_edit_header(engine, n: int, m: int) -> None:
    with engine.begin() as conn:
        doc = _pick(_doc_ids(conn), n)
        if doc:
            f = schema.sp_factor
            kind = conn.execute(sa.select(f.c.FactorType).where(f.c.Id == doc[0], f.c.FPId == doc[1])).scalar()
            values = ({"SPDesc": f"شرح {m}"}, {"Total": m * 1000},
                      {"FactorNo": _free_number(conn, doc[1], kind, 1 + m % 9)},
                      {"CustomerId": 1 + m % 4}, {"Cancelled": m % 2})[n % 5]
            conn.execute(f.update().where(f.c.Id == doc[0], f.c.FPId == doc[1]).values(**values))


def op_edit_line(engine, n: int, m: int) -> None:
    """A line edit that leaves its header as it is."""
    a = schema.sp_article
    with engine.begin() as conn:
        lines = [tuple(r) for r in conn.execute(sa.select(a.c.Id, a.c.FPId).order_by(a.c.FPId, a.c.Id))]
        line = _pick(lines, n)
        if line:
            values = ({"Amount": 1 + m % 5}, {"SPADesc": f"خط {m}"}, {"MerchandiseId": 1 + m % 3})[n % 3]
            conn.execute(a.update().where(a.c.Id == line[0], a.c.FPId == line[1]).values(**values))


def op_delete_line(engine, n: int, m: int) -> None:
    a = schema.sp_article
    with engine.begin() as conn:
        line = _pick([tuple(r) for r in conn.execute(sa.select(a.c.Id, a.c.FPId).order_by(a.c.FPId, a.c.Id))], n)
        if line:
            conn.execute(a.delete().where(a.c.Id == line[0], a.c.FPId == line[1]))


def op_add_line(engine, n: int, m: int) -> None:
    a = schema.sp_article
    with engine.begin() as conn:
        doc = _pick(_doc_ids(conn), n)
        if doc:
            new_id = (conn.execute(sa.select(sa.func.max(a.c.Id)).where(a.c.FPId == doc[1])).scalar() or 0) + 1
            conn.execute(a.insert(), [{"Id": new_id, "SPId": doc[0], "FPId": doc[1], "MerchandiseId": 2,
                                       "Amount": 1, "UnitPrice": 250_000, "NetPrice": 250_000}])


def op_delete(engine, n: int, m: int) -> None:
    with engine.connect() as conn:
        doc = _pick(_doc_ids(conn), n)
    if doc:
        delete_document(engine, *doc)


def op_move(engine, n: int, m: int) -> None:
    """A fiscal-period move: the document leaves its year for the other one."""
    f = schema.sp_factor
    with engine.begin() as conn:
        doc = _pick(_doc_ids(conn), n)
        if doc:
            kind, no = conn.execute(sa.select(f.c.FactorType, f.c.FactorNo)
                                    .where(f.c.Id == doc[0], f.c.FPId == doc[1])).one()
            free = _free_number(conn, 3 - doc[1], kind, no)
            conn.execute(f.update().where(f.c.Id == doc[0], f.c.FPId == doc[1]).values(FactorNo=free))
    if doc:
        move_document(engine, doc[0], doc[1], 3 - doc[1])


def op_customer(engine, n: int, m: int) -> None:
    """Master data: a customer renamed, recoded (its documents carry the code), added or removed."""
    c = schema.customer
    fp = PERIOD[1404] if m % 3 else PERIOD[1403]
    with engine.begin() as conn:
        kind = n % 4
        if kind == 0:
            conn.execute(c.update().where(c.c.Id == 1 + m % 3, c.c.FPId == fp).values(Name=f"نام {m}"))
        elif kind == 1:
            conn.execute(c.update().where(c.c.Id == 1 + m % 3, c.c.FPId == fp)
                         .values(SubscriptionNo=str(500 + m % 5)))  # codes may collide
        elif kind == 2:
            new_id = (conn.execute(sa.select(sa.func.max(c.c.Id)).where(c.c.FPId == fp)).scalar() or 0) + 1
            conn.execute(c.insert(), [{"Id": new_id + (m % 2) * 10, "FPId": fp, "SubscriptionNo": str(600 + m % 4),
                                       "Name": f"تازه {m}", "RegisterCode": ""}])
        else:
            used = set(conn.execute(sa.select(schema.sp_factor.c.CustomerId)).scalars())
            ids = [i for i in conn.execute(sa.select(c.c.Id).where(c.c.FPId == fp).order_by(c.c.Id)).scalars()
                   if i not in used or engine.dialect.name == "sqlite"]
            victim = _pick(ids, m)
            if victim is not None and engine.dialect.name == "sqlite":
                conn.execute(c.delete().where(c.c.Id == victim, c.c.FPId == fp))


OPS = [op_insert, op_edit_header, op_edit_line, op_delete_line, op_add_line, op_delete, op_move, op_customer]
operation = st.tuples(st.sampled_from(OPS), st.integers(0, 50), st.integers(0, 50))
steps = st.lists(st.lists(operation, min_size=1, max_size=4), min_size=1, max_size=6)


# -- the two ledgers -----------------------------------------------------------------------------------

def queue_of(ledger: Ledger, entity: str) -> list[tuple]:
    out = []
    after = None
    while batch := ledger.pending(100, entity, limit=1000, after_key=after):
        out += [(p.tadbir_key, p.action, p.content_hash, _ids(p.locator)) for p in batch]
        after = batch[-1].tadbir_key
    return out


def _ids(locator) -> tuple | None:
    return None if locator is None else (locator["period"], tuple(sorted(locator["ids"])))


def records_of(ledger: Ledger, entity: str) -> dict[str, tuple]:
    return {k: (s.status, s.content_hash) for k, s in ledger.records(100, entity).items()}


def load_all(ledger: Ledger, entity: str) -> None:
    """What a load that succeeds for every record leaves in the ledger."""
    for key, action, digest, _ in queue_of(ledger, entity):
        if action == "upsert":
            ledger.record_outcome(100, entity, key, status="synced", crm_id=f"crm-{key}", content_hash=digest)
        else:
            ledger.record_outcome(100, entity, key, status="deleted")
        ledger.dequeue(100, entity, [key])


def run_steps(engine: sa.Engine, fast: Ledger, truth: Ledger, batches, capture: str, provider=None) -> int:
    ctx = context(checksum_range_size=RANGE, max_delete_share=1.0)
    ranges_read = 0
    for step, batch in enumerate([[]] + list(batches)):
        for op, n, m in batch:
            op(engine, n, m)
        for entity in ENTITIES:
            spec = SPECS[entity]
            if capture == "change_tracking":
                got = changes.detect_changes(spec, ctx, engine=engine, ledger=fast, run_id=f"f{step}",
                                             capture=capture, provider=provider)
            else:
                got = pipeline.detect(spec, ctx, engine=engine, ledger=fast, run_id=f"f{step}", capture=capture)
            pipeline.detect(spec, ctx, engine=engine, ledger=truth, run_id=f"t{step}", capture="scan")
            ranges_read += got["ranges_read"]
            assert queue_of(fast, entity) == queue_of(truth, entity), (step, entity, batch)
            assert records_of(fast, entity) == records_of(truth, entity), (step, entity, batch)
            load_all(fast, entity)
            load_all(truth, entity)
    return ranges_read


def _empty_tadbir(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(schema.metadata.sorted_tables):
            conn.execute(table.delete())


# found by this test once: a line deleted leaves an invoice without lines (deleted in the CRM, then skipped)
EMPTIED = [[(op_insert, 0, 35)], [(op_insert, 47, 34), (op_insert, 21, 2)],
           [(op_insert, 29, 39), (op_insert, 44, 41), (op_delete_line, 40, 0), (op_insert, 0, 0)],
           [(op_insert, 0, 0)]]

PROPERTY = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                             HealthCheck.too_slow])
_counter = itertools.count()


@PROPERTY
@given(batches=steps)
@example(batches=EMPTIED)
def test_checksum_finds_exactly_what_scan_finds_on_sqlite(tmp_path_factory, batches):
    path = tmp_path_factory.mktemp("prop")
    engine = sa.create_engine(f"sqlite:///{path / 'tadbir.sqlite'}")
    fill_base(engine)
    with Ledger.connect(f"sqlite:///{path / 'fast.sqlite'}") as fast, \
            Ledger.connect(f"sqlite:///{path / 'truth.sqlite'}") as truth:
        run_steps(engine, fast, truth, batches, "checksum")
    engine.dispose()


@PROPERTY
@given(batches=steps)
@example(batches=EMPTIED)
def test_change_tracking_finds_exactly_what_scan_finds_on_the_fake_provider(tmp_path_factory, batches):
    path = tmp_path_factory.mktemp("prop")
    engine = sa.create_engine(f"sqlite:///{path / 'tadbir.sqlite'}")
    fill_base(engine)
    install_fake_change_tracking(engine)
    provider = FakeChangeTracking()
    with Ledger.connect(f"sqlite:///{path / 'fast.sqlite'}") as fast, \
            Ledger.connect(f"sqlite:///{path / 'truth.sqlite'}") as truth:
        run_steps(engine, fast, truth, batches, "change_tracking", provider)
    engine.dispose()


@pytest.fixture(scope="module")
def pg_tadbir():
    with pg_database("hamgam_change_capture") as url:
        engine = sa.create_engine(url)
        schema.create_all(engine)
        yield engine
        engine.dispose()


@pytest.mark.postgres
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(batches=steps)
@example(batches=EMPTIED)
def test_checksum_finds_exactly_what_scan_finds_on_postgresql(pg_tadbir, tmp_path_factory, batches):
    _empty_tadbir(pg_tadbir)
    fill_base(pg_tadbir)
    path = tmp_path_factory.mktemp("prop")
    with Ledger.connect(f"sqlite:///{path / 'fast.sqlite'}") as fast, \
            Ledger.connect(f"sqlite:///{path / 'truth.sqlite'}") as truth:
        run_steps(pg_tadbir, fast, truth, batches, "checksum")
