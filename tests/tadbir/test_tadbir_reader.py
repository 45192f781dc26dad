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
