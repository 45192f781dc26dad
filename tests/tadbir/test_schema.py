"""The Tadbir reference schema compiles for SQL Server and creates on SQLite."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mssql
from sqlalchemy.schema import CreateIndex, CreateTable

from hamgam.tadbir import schema

EXPECTED_TABLES = {
    "__FiscalPeriod__", "__Customer__", "__DetailAcc__", "__Broker__", "__Merchandise__", "__Unit__",
    "__SalesPrice__", "__MerchTax__", "__StockRoom__", "__SPFactor__", "__SPArticle__", "__SPTax__",
    "__PayReceive__", "__MerchStockQty__", "__Transaction__", "__Article__",
}

# Reference section 1.1, in the reference's order.
CUSTOMER_COLUMNS = (
    "Id Type AccId FAccId PrePayAccId PreRcvAccId PrePayDepr PreRcvDepr Credit Name PhoneNo FaxNo "
    "Email EcCode Address CDesc CurrencyVal CurrencyId ZipCode InitBal UserId SecId ETime EDate LRes "
    "DRes TRes FPId Discount1 Discount2 GroupName Province City Zone SubscriptionNo CCId PrjId "
    "PrePayFAccId PrePayCCId PrePayPrjId PreRcvFAccId PreRcvCCId PreRcvPrjId TownShip PostalCode "
    "RegisterCode Active MashmoolMaliat MobileNo MohlatePardakht"
).split()

PRIMARY_KEYS = {
    "__FiscalPeriod__": ("Id",),
    "__Customer__": ("Id", "FPId"),
    "__DetailAcc__": ("Id", "FPId"),
    "__Broker__": ("Id", "FPId"),
    "__Merchandise__": ("Id", "FPId"),
    "__Unit__": ("Id", "FPId"),
    "__SalesPrice__": ("MerchId", "Type", "FPId"),
    "__MerchTax__": ("Id", "MerchId", "FPId"),
    "__StockRoom__": ("Id", "FPId"),
    "__SPFactor__": ("Id", "FPId"),
    "__SPArticle__": ("Id", "FPId"),
    "__SPTax__": ("Id", "FPId"),
    "__PayReceive__": ("Id", "FPId"),
    "__Transaction__": ("Id", "FPId"),
    "__Article__": ("Id", "FPId"),
    "__MerchStockQty__": ("MerchId", "StockRoomId", "FPId"),
}

MODULE_NAMES = {
    "fiscal_period": "__FiscalPeriod__", "customer": "__Customer__", "detail_acc": "__DetailAcc__",
    "broker": "__Broker__", "merchandise": "__Merchandise__", "unit": "__Unit__",
    "sales_price": "__SalesPrice__", "merch_tax": "__MerchTax__", "stock_room": "__StockRoom__",
    "sp_factor": "__SPFactor__", "sp_article": "__SPArticle__", "sp_tax": "__SPTax__",
    "pay_receive": "__PayReceive__", "merch_stock_qty": "__MerchStockQty__",
    "voucher": "__Transaction__", "article": "__Article__",
}


def _unique_sets(table: sa.Table) -> set[tuple[str, ...]]:
    return {
        tuple(c.name for c in con.columns)
        for con in table.constraints
        if isinstance(con, sa.UniqueConstraint)
    }


def test_exactly_the_reference_tables_schema_less():
    assert set(schema.metadata.tables) == EXPECTED_TABLES
    assert set(schema.TABLE_NAMES) == EXPECTED_TABLES
    assert all(t.schema is None for t in schema.metadata.tables.values())


@pytest.mark.parametrize("attr,name", sorted(MODULE_NAMES.items()))
def test_module_level_table_names(attr, name):
    assert getattr(schema, attr) is schema.metadata.tables[name]


def test_customer_has_the_50_reference_columns():
    assert [c.name for c in schema.customer.columns] == CUSTOMER_COLUMNS
    assert len(CUSTOMER_COLUMNS) == 50


@pytest.mark.parametrize("name,key", sorted(PRIMARY_KEYS.items()))
def test_primary_keys(name, key):
    table = schema.metadata.tables[name]
    assert tuple(c.name for c in table.primary_key.columns) == key
    assert all(not c.nullable for c in table.primary_key.columns)


def test_documented_unique_keys():
    assert ("FPId", "FactorType", "FactorNo") in _unique_sets(schema.sp_factor)
    assert ("FPId", "Type", "No") in _unique_sets(schema.pay_receive)
    assert ("Id", "FPId", "Code", "UnitId") in _unique_sets(schema.merchandise)
    assert ("Id", "FPId", "Name") in _unique_sets(schema.unit)
    assert ("Id", "FPId", "Code", "Name") in _unique_sets(schema.stock_room)


def test_pay_receive_columns():
    assert [c.name for c in schema.pay_receive.columns] == [
        "Id", "FPId", "Type", "No", "Date", "CustomerId", "Amount", "Kind", "ChequeNo", "ChequeDate",
        "Status", "Description", "EDate", "ETime",
    ]
    assert [c.name for c in schema.merch_stock_qty.columns] == ["MerchId", "StockRoomId", "FPId", "Qty"]


def test_type_choices():
    c = schema.customer.c
    assert isinstance(c.Name.type, sa.Unicode) and c.Name.type.length
    assert isinstance(c.Credit.type, sa.BigInteger)
    assert isinstance(c.EDate.type, sa.DateTime)
    assert isinstance(schema.merch_stock_qty.c.Qty.type, sa.Numeric)
    assert (schema.merch_stock_qty.c.Qty.type.precision, schema.merch_stock_qty.c.Qty.type.scale) == (18, 4)
    assert isinstance(schema.sp_factor.c.Total.type, sa.BigInteger)
    assert isinstance(schema.fiscal_period.c.StartDate.type, sa.DateTime)
    for table in schema.metadata.tables.values():
        for column in table.columns:
            if isinstance(column.type, sa.String):
                assert isinstance(column.type, sa.Unicode), f"{table.name}.{column.name}"
                assert column.type.length, f"{table.name}.{column.name} needs a length"


@pytest.mark.parametrize("name", sorted(EXPECTED_TABLES))
def test_create_table_compiles_for_mssql(name):
    table = schema.metadata.tables[name]
    ddl = str(CreateTable(table).compile(dialect=mssql.dialect()))
    assert f"CREATE TABLE [{name}]" in ddl
    assert "IDENTITY" not in ddl  # Tadbir assigns the ids
    assert "PRIMARY KEY" in ddl
    if any(isinstance(c.type, sa.Unicode) for c in table.columns):
        assert "NVARCHAR(" in ddl
    for index in table.indexes:
        assert "CREATE INDEX" in str(CreateIndex(index).compile(dialect=mssql.dialect()))


def test_mssql_ddl_details():
    ddl = str(CreateTable(schema.customer).compile(dialect=mssql.dialect()))
    assert "[SubscriptionNo] NVARCHAR(32)" in ddl
    assert "[Credit] BIGINT" in ddl
    assert "[ETime] DATETIME" in ddl
    assert "CONSTRAINT [PK_Customer] PRIMARY KEY ([Id], [FPId])" in ddl
    ddl = str(CreateTable(schema.sp_factor).compile(dialect=mssql.dialect()))
    assert "UNIQUE ([FPId], [FactorType], [FactorNo])" in ddl
    ddl = str(CreateTable(schema.sp_article).compile(dialect=mssql.dialect()))
    assert "REFERENCES [__SPFactor__] ([Id], [FPId]) ON DELETE CASCADE" in ddl


def test_constraint_names_are_unique_across_the_database():
    names = [
        con.name
        for table in schema.metadata.tables.values()
        for con in (*table.constraints, *table.indexes)
    ]
    names = [str(n) for n in names if n]
    assert len(names) == len(set(names))


def test_create_all_on_sqlite_and_defaults():
    engine = sa.create_engine("sqlite://")
    schema.create_all(engine)
    schema.create_all(engine)  # idempotent
    inspector = sa.inspect(engine)
    assert set(inspector.get_table_names()) == EXPECTED_TABLES
    assert [c["name"] for c in inspector.get_columns("__Customer__")] == CUSTOMER_COLUMNS
    with engine.begin() as conn:
        conn.execute(schema.customer.insert(), [{"Id": 1, "FPId": 1, "Name": "علی"}])  # Python defaults
        conn.exec_driver_sql('INSERT INTO "__Customer__" ("Id", "FPId") VALUES (2, 1)')  # server defaults
        rows = conn.execute(sa.select(schema.customer).order_by(schema.customer.c.Id)).mappings().all()
    for row in rows:
        assert row["AccId"] == "0" and row["FAccId"] == 0 and row["SubscriptionNo"] == ""
        assert row["ZipCode"] == "0" and row["ETime"] is None
    assert rows[0]["Name"] == "علی"
