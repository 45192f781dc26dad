"""The writer inserts only the columns hamgam sets, into the tables as the site has them; a table that cannot
take them is refused when the writer starts, naming table and column, before anything is written."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from writer_workers import build_tadbir, count, drop_column, executed, header, lines

from hamgam.tadbir import schema
from hamgam.tadbir.write_errors import TadbirSchemaMismatch
from hamgam.tadbir.write_tables import WRITTEN
from hamgam.tadbir.writer import TadbirWriter

CUSTOMER = {"Name": "شرکت نو", "SubscriptionNo": "99001", "MobileNo": "09121234567", "Email": "a@b.ir"}


def _write_one_of_each(writer: TadbirWriter) -> None:
    writer.write_quote(header(2), lines(), number=None)
    writer.insert_customer(2, CUSTOMER, detail_chain=["1"], receivables_account="1103")


def _inserted_columns(sql: str) -> tuple[str, set[str]]:
    table, columns = re.match(r'\s*INSERT INTO "?(\w+)"? \(([^)]*)\)', sql).groups()
    return table, {c.strip().strip('"') for c in columns.split(",")}


def test_an_insert_names_exactly_the_columns_hamgam_sets(tadbir):
    writer = TadbirWriter(tadbir)
    with executed(tadbir) as seen:
        _write_one_of_each(writer)
    inserts = dict(_inserted_columns(sql) for _, sql in seen if sql.lstrip().upper().startswith("INSERT"))
    assert set(inserts) == set(WRITTEN)
    header_columns = WRITTEN["__SPFactor__"]
    assert inserts["__SPFactor__"] == header_columns and len(header_columns) < len(schema.sp_factor.c)
    assert inserts["__SPArticle__"] == WRITTEN["__SPArticle__"]
    assert inserts["__DetailAcc__"] == WRITTEN["__DetailAcc__"]
    assert inserts["__Customer__"] == {"Id", "FPId", "FAccId", "AccId", "EDate", "ETime", "Active",
                                       "MashmoolMaliat", *CUSTOMER}


def test_a_tadbir_without_columns_hamgam_does_not_set_still_takes_its_writes(tadbir):
    for table, column in [("__Customer__", "TownShip"), ("__SPFactor__", "SvcDesc"), ("__SPArticle__", "SerialNo2")]:
        drop_column(tadbir, table, column)
    before = (count(tadbir, schema.sp_factor), count(tadbir, schema.customer))
    _write_one_of_each(TadbirWriter(tadbir))
    assert (count(tadbir, schema.sp_factor), count(tadbir, schema.customer)) == (before[0] + 1, before[1] + 1)
    with tadbir.connect() as conn:  # the site's own server default filled in what hamgam left out
        assert conn.execute(sa.text('SELECT "PrePayAccId" FROM "__Customer__" WHERE "SubscriptionNo" = \'99001\''
                                    )).scalar_one() == "0"


def test_a_tadbir_without_a_column_hamgam_sets_is_refused_naming_it_before_anything_is_written(tadbir):
    drop_column(tadbir, "__Customer__", "MobileNo")
    before = count(tadbir, schema.sp_factor)
    with pytest.raises(TadbirSchemaMismatch, match=r"table __Customer__ has no column MobileNo, which hamgam writes"):
        TadbirWriter(tadbir)
    assert count(tadbir, schema.sp_factor) == before


def _quotes_need_an_approver(metadata: sa.MetaData) -> None:
    metadata.tables["__SPFactor__"].append_column(sa.Column("ApproverId", sa.Integer, nullable=False))


def test_a_tadbir_demanding_a_value_hamgam_does_not_write_is_refused_naming_the_column(empty_url):
    engine = build_tadbir(empty_url, _quotes_need_an_approver, fill=False)
    with pytest.raises(TadbirSchemaMismatch, match=r"table __SPFactor__ requires column ApproverId \(NOT NULL, no "
                                                   r"default\), which hamgam does not write"):
        TadbirWriter(engine)
    engine.dispose()


def test_column_names_are_matched_whatever_their_case_on_the_site(empty_url):
    def shouting(metadata: sa.MetaData) -> None:
        metadata.tables["__SPArticle__"].c.SPADesc.name = "SPADESC"

    engine = build_tadbir(empty_url, shouting, fill=False)
    with engine.begin() as conn:
        conn.execute(schema.fiscal_period.insert().values(Id=2, StartDate=header(2).date, EndDate=header(2).date))
    TadbirWriter(engine).write_quote(header(2), lines(1), number=None)
    with engine.connect() as conn:
        assert conn.execute(sa.text('SELECT "SPADESC" FROM "__SPArticle__"')).scalar_one() == "line 0"
    engine.dispose()
