"""Text is written the way Tadbir stores it: Persian as is into Unicode columns, Saman digits and Arabic kaf/yeh
into SQL Server's code-page (VARCHAR) columns, decided per column from the reflected type."""

from __future__ import annotations

import dataclasses

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mssql
from writer_workers import header, lines

from hamgam.reverse.identities import find_customer
from hamgam.tadbir import schema
from hamgam.tadbir.write_tables import WriteTable
from hamgam.tadbir.writer import TadbirWriter
from hamgam.transform.text import normalize_code, normalize_name, to_tadbir_legacy_text

NAME = "کیمیا یکتا ۱۲"  # Farsi keheh and yeh and Persian digits: none of ی or ۱۲ is in code page 1256
AS_TADBIR_STORES_IT = "كيميا يكتا ±‚"  # Arabic kaf and yeh, Saman digits


def test_legacy_text_is_code_page_1256_and_reads_back_as_the_same_text():
    assert to_tadbir_legacy_text(NAME) == AS_TADBIR_STORES_IT
    assert to_tadbir_legacy_text("پلاک 40، واحد ٥") == "پلاك „¹، واحد …"  # ASCII and Arabic-Indic digits too
    with pytest.raises(UnicodeEncodeError):
        NAME.encode("cp1256")
    AS_TADBIR_STORES_IT.encode("cp1256")
    assert normalize_name(AS_TADBIR_STORES_IT) == "کیمیا یکتا 12" and normalize_code("¹‡‡‡") == "0777"


def _customer(engine: sa.Engine, code: str) -> dict:
    c = schema.customer
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(c).where(c.c.FPId == 2, c.c.SubscriptionNo == code)).mappings().one())


def _write(writer: TadbirWriter) -> dict:
    writer.insert_customer(2, {"Name": NAME, "SubscriptionNo": "0777", "Email": "kimia12@example.ir",
                               "Address": "پلاک ۴۰"}, detail_chain=["1"], receivables_account="1103")
    quote = dataclasses.replace(header(2), customer_name=NAME, description="پیش‌فاکتور ۱۲")
    sp_id, _ = writer.write_quote(quote, lines(1), number=None)
    f = schema.sp_factor
    with writer.engine.connect() as conn:
        return dict(conn.execute(sa.select(f).where(f.c.Id == sp_id, f.c.FPId == 2)).mappings().one())


def test_unicode_columns_keep_persian_text_as_it_is(tadbir):
    quote = _write(TadbirWriter(tadbir))  # SQLite and PostgreSQL keep any Unicode text in any text column
    row = _customer(tadbir, "0777")
    assert (row["Name"], row["Address"], quote["CustomerName"]) == (NAME, "پلاک ۴۰", NAME)


def test_legacy_text_is_written_as_the_desktop_client_stores_it_and_found_again(tadbir):
    quote = _write(TadbirWriter(tadbir, text="legacy"))
    row = _customer(tadbir, "¹‡‡‡")
    assert (row["Name"], row["Address"]) == (AS_TADBIR_STORES_IT, "پلاك „¹")
    assert (quote["CustomerName"], quote["SPDesc"]) == (AS_TADBIR_STORES_IT, "پيش‌فاكتور ±‚")
    assert (row["Email"], row["AccId"]) == ("kimia12@example.ir", "1103")  # addresses and account codes: never
    assert find_customer(tadbir, 2, "0777")["Id"] == row["Id"]


def _as_sql_server_reflects_it() -> sa.Table:
    """``__Customer__`` on a SQL Server whose text columns differ: what reflection gives there."""
    return sa.Table("__Customer__", sa.MetaData(), sa.Column("Id", mssql.INTEGER),
                    sa.Column("Name", mssql.VARCHAR(256, collation="Arabic_CI_AS")),
                    sa.Column("Address", mssql.NVARCHAR(512, collation="Arabic_CI_AS")),
                    sa.Column("City", mssql.VARCHAR(64, collation="Persian_100_CI_AI_SC_UTF8")),
                    sa.Column("Email", mssql.VARCHAR(128, collation="Arabic_CI_AS")))


def test_on_sql_server_the_reflected_column_type_decides_each_columns_text():
    table = WriteTable.of(_as_sql_server_reflects_it(), "mssql", "auto")
    row = table.row({"Id": 1, "Name": NAME, "Address": NAME, "City": NAME, "Email": "kimia12@example.ir"})
    assert row == {"Id": 1, "Name": AS_TADBIR_STORES_IT, "Address": NAME, "City": NAME, "Email": "kimia12@example.ir"}
    statement = table.table.insert().values(row).compile(dialect=mssql.dialect())
    assert statement.params["Name"].encode("cp1256")
    assert WriteTable.of(_as_sql_server_reflects_it(), "mssql", "unicode").row({"Name": NAME}) == {"Name": NAME}
