"""Reading Tadbir: fiscal periods carry their Jalali year; chunked and keyed reads return every row once."""

from datetime import datetime

import pytest
import sqlalchemy as sa

from hamgam.tadbir import reader, schema


@pytest.fixture
def engine(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'tadbir.sqlite'}")
    schema.create_all(engine)
    with engine.begin() as conn:
        conn.execute(schema.fiscal_period.insert(), [
            {"Id": 2, "FPNo": 1403, "Name": "1403", "StartDate": datetime(2024, 3, 20), "EndDate": datetime(2025, 3, 20)},
            {"Id": 1, "FPNo": 1402, "Name": "1402", "StartDate": datetime(2023, 3, 21), "EndDate": datetime(2024, 3, 19)},
            {"Id": 0, "FPNo": 0, "Name": "none", "StartDate": datetime(2000, 1, 1), "EndDate": datetime(2000, 1, 2)},
        ])
        conn.execute(schema.customer.insert(), [{"Id": i, "FPId": 2, "Name": f"c{i}"} for i in range(1, 26)])
    return engine


def test_fiscal_periods_are_ordered_with_their_jalali_year_and_skip_the_zero_sentinel(engine):
    periods = reader.fiscal_periods(engine)
    assert [(p.id, p.year) for p in periods] == [(1, 1402), (2, 1403)]


REF = reader.TableRef("__Customer__", ("Name",))


def test_a_period_is_read_in_bounded_chunks_with_every_row_once(engine):
    chunks = list(reader.read_period(engine, REF, 2, chunk_size=10))
    assert [len(c) for c in chunks] == [10, 10, 5]
    assert sorted(i for c in chunks for i in c["Id"]) == list(range(1, 26))


def test_rows_are_read_by_id_within_their_period(engine):
    rows = reader.read_rows(engine, REF, 2, [3, 5, 5, 99])
    assert sorted(rows["Id"]) == [3, 5]
    assert reader.read_rows(engine, REF, 1, [3]).empty
    assert reader.periods_with_rows(engine, REF, [1, 2]) == {2}


def test_legacy_values_are_read_as_stored_and_never_fail_the_read(engine):
    """A date column holding '0000/00/00' or a Jalali date as text, a quantity holding letters: the read
    returns them as they are (the entity makes each its row's problem) instead of failing every row."""
    from hamgam.entities.documents import LINES, SALES_INVOICES

    with engine.begin() as conn:
        conn.execute(schema.sp_factor.insert(), [
            {"Id": i, "FPId": 2, "FactorType": 1, "FactorNo": i, "SPDate": datetime(2024, 6, 1)} for i in (1, 2, 3)])
        conn.execute(schema.sp_article.insert(), [{"Id": 1, "SPId": 1, "FPId": 2, "Amount": 2, "UnitPrice": 5}])
        conn.execute(sa.text("UPDATE __SPFactor__ SET SPDate = '0000/00/00', FactorNo = '12A' WHERE Id = 2"))
        conn.execute(sa.text("UPDATE __SPFactor__ SET SPDate = '1403/03/12' WHERE Id = 3"))
        conn.execute(sa.text("UPDATE __SPArticle__ SET Amount = 'دو' WHERE Id = 1"))
    [chunk] = reader.read_period(engine, SALES_INVOICES.source, 2, chunk_size=10)
    assert list(chunk["SPDate"])[1:] == ["0000/00/00", "1403/03/12"]
    assert list(chunk["FactorNo"]) == [1, "12A", 3]
    assert reader.read_rows(engine, SALES_INVOICES.source, 2, [2])["SPDate"].tolist() == ["0000/00/00"]
    lines = reader.read_children(engine, LINES.source, "SPId", 2, [1])
    assert lines["Amount"].tolist() == ["دو"]
