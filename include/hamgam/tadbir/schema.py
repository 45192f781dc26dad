"""hamgam's reference schema of the legacy Tadbir (SPPC) database.

Defined once with SQLAlchemy Core so the same ``metadata`` creates the tables on SQLite (demo) and
on SQL Server (dialect ``mssql``). Table and column names are the legacy ones, exactly as in
``/work/shared/reference/tadbir-schema.md``; tables are schema-less (``dbo`` on SQL Server).

Column types are hamgam's choice (reference section 7), since no legacy DDL is public:

* text: ``NVARCHAR(n)`` (``sa.Unicode``), default ``''``; account FullId strings default ``'0'``;
* ids, flags and enums: ``INT``, default ``0`` (``0`` means "none" for every reference);
* Rial amounts: ``BIGINT`` (exact integers on both dialects);
* quantities: ``DECIMAL(18,4)``; percentages: ``DECIMAL(9,4)``; currency values ``DECIMAL(18,4)``;
* the generic reserved double ``DRes`` and the merchandise ``ReservedDbl*``: ``FLOAT(53)``;
* dates and entry stamps (``EDate``/``ETime``): ``DATETIME``, nullable, no default.

Key columns are NOT NULL; every other column is nullable (legacy data is lax) but carries the
Tadbir client's default both as a Python-side and a server-side default. Ids never autoincrement:
Tadbir assigns them, and master data is copied per fiscal period under the key ``(Id, FPId)``.

``__PayReceive__`` and ``__MerchStockQty__`` (and the reading of ``__Article__`` as customer balances) are hamgam assumptions (reference section 7), not
vendor tables: a site's own names for them come from the settings (``companies[].assumed_tables``), and
``named_as`` gives the table as the site names it.
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Engine

__all__ = [
    "metadata",
    "create_all",
    "TABLE_NAMES",
    "fiscal_period",
    "customer",
    "detail_acc",
    "broker",
    "merchandise",
    "unit",
    "sales_price",
    "merch_tax",
    "stock_room",
    "sp_factor",
    "sp_article",
    "sp_tax",
    "pay_receive",
    "merch_stock_qty",
    "voucher",
    "article",
    "named_as",
]


def _bare_table_name(constraint, table) -> str:
    return table.name.strip("_")


def _fk_target(constraint, table) -> str:
    return constraint.elements[0].column.table.name.strip("_")


# Constraint/index names are global per database in SQLite and per schema in SQL Server, so every
# name carries the (underscore-stripped) table name.
metadata = sa.MetaData(
    naming_convention={
        "bare": _bare_table_name,
        "target": _fk_target,
        "pk": "PK_%(bare)s",
        "uq": "UQ_%(bare)s_%(column_0_N_name)s",
        "ix": "IX_%(bare)s_%(column_0_N_name)s",
        "fk": "FK_%(bare)s_%(target)s",
    }
)

# --------------------------------------------------------------------------------------------------
# Column helpers: one place for hamgam's type decisions.
# --------------------------------------------------------------------------------------------------


def _key(name: str) -> sa.Column:
    """An integer key column (part of a primary key); never IDENTITY/autoincrement."""
    return sa.Column(name, sa.Integer, nullable=False, autoincrement=False)


def _int(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer, default=0, server_default=sa.text("0"))


def _text(name: str, length: int) -> sa.Column:
    return sa.Column(name, sa.Unicode(length), default="", server_default=sa.text("''"))


def _acc(name: str) -> sa.Column:
    """An ``__Account__.FullId`` reference; ``'0'`` means none."""
    return sa.Column(name, sa.Unicode(32), default="0", server_default=sa.text("'0'"))


def _rial(name: str) -> sa.Column:
    return sa.Column(name, sa.BigInteger, default=0, server_default=sa.text("0"))


def _qty(name: str) -> sa.Column:
    return sa.Column(name, sa.Numeric(18, 4), default=0, server_default=sa.text("0"))


def _pct(name: str) -> sa.Column:
    return sa.Column(name, sa.Numeric(9, 4), default=0, server_default=sa.text("0"))


def _cur(name: str) -> sa.Column:
    """A foreign-currency value or rate."""
    return sa.Column(name, sa.Numeric(18, 4), default=0, server_default=sa.text("0"))


def _real(name: str) -> sa.Column:
    return sa.Column(name, sa.Float(53), default=0, server_default=sa.text("0"))


def _dt(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime, nullable=True)


def _reserved() -> list[sa.Column]:
    """The generic reserved slots LRes int / DRes double / TRes text."""
    return [_int("LRes"), _real("DRes"), _text("TRes", 256)]


# --------------------------------------------------------------------------------------------------
# 1.5 Fiscal periods (the only master table without FPId)
# --------------------------------------------------------------------------------------------------

fiscal_period = sa.Table(
    "__FiscalPeriod__",
    metadata,
    _key("Id"),
    _int("FPNo"),
    _text("Name", 64),
    sa.Column("StartDate", sa.DateTime, nullable=False),
    sa.Column("EndDate", sa.DateTime, nullable=False),
    _text("FPDesc", 512),
    _text("SType", 16),
    _text("LRes", 64),
    _text("DRes", 64),
    _text("TRes", 256),
    sa.PrimaryKeyConstraint("Id"),
)

# --------------------------------------------------------------------------------------------------
# 1.1 Customers, detail accounts, brokers
# --------------------------------------------------------------------------------------------------

customer = sa.Table(
    "__Customer__",
    metadata,
    _key("Id"),
    _int("Type"),  # 0 seller+buyer, 1 seller, 2 buyer
    _acc("AccId"),
    _int("FAccId"),  # -> __DetailAcc__.Id
    _acc("PrePayAccId"),
    _acc("PreRcvAccId"),
    _pct("PrePayDepr"),
    _pct("PreRcvDepr"),
    _rial("Credit"),
    _text("Name", 256),
    _text("PhoneNo", 128),
    _text("FaxNo", 64),
    _text("Email", 128),
    _text("EcCode", 32),
    _text("Address", 512),
    _text("CDesc", 1024),
    _cur("CurrencyVal"),
    _int("CurrencyId"),
    sa.Column("ZipCode", sa.Unicode(32), default="0", server_default=sa.text("'0'")),
    _rial("InitBal"),
    _int("UserId"),
    _int("SecId"),
    _dt("ETime"),
    _dt("EDate"),
    _int("LRes"),  # price/discount level: __SalesPrice__.Type
    _real("DRes"),
    _text("TRes", 256),
    _key("FPId"),
    _pct("Discount1"),
    _pct("Discount2"),
    _text("GroupName", 128),
    _text("Province", 64),
    _text("City", 64),
    _text("Zone", 64),
    _text("SubscriptionNo", 32),  # customer code: the sync identity
    _int("CCId"),
    _int("PrjId"),
    _int("PrePayFAccId"),
    _int("PrePayCCId"),
    _int("PrePayPrjId"),
    _int("PreRcvFAccId"),
    _int("PreRcvCCId"),
    _int("PreRcvPrjId"),
    _text("TownShip", 64),
    _text("PostalCode", 32),
    _text("RegisterCode", 32),  # national code (person) / national id (organization)
    _int("Active"),
    _int("MashmoolMaliat"),
    _text("MobileNo", 64),
    _int("MohlatePardakht"),
    sa.PrimaryKeyConstraint("Id", "FPId"),
    sa.Index(None, "SubscriptionNo"),
)

detail_acc = sa.Table(
    "__DetailAcc__",
    metadata,
    _key("Id"),
    _text("Name", 256),
    _int("AccLevel"),  # 4..7
    *[_text(f"T{i}", 16) for i in range(1, 9)],
    _rial("Debit"),
    _rial("Credit"),
    _rial("Budget"),
    _cur("CurrencyBudget"),
    _cur("CurrencyVal"),
    _int("CurrencyId"),
    _text("AccDesc", 1024),
    *_reserved(),
    _key("FPId"),
    sa.PrimaryKeyConstraint("Id", "FPId"),
)

broker = sa.Table(
    "__Broker__",
    metadata,
    _key("Id"),
    _text("Name", 256),
    _text("PhoneNo", 128),
    _text("FaxNo", 64),
    _text("Email", 128),
    _text("EcCode", 32),
    _text("Address", 512),
    sa.Column("ZipCode", sa.Unicode(32), default="0", server_default=sa.text("'0'")),
    _text("BDesc", 1024),
    _acc("AccId"),
    _int("FAccId"),
    _acc("CostAccId"),
    _int("CostFAccId"),
    _acc("IncomeAccId"),
    _int("IncomeFAccId"),
    _pct("CommissionPercent"),
    _rial("CommissionAmount"),
    _cur("CurrencyVal"),
    _int("CurrencyId"),
    _rial("InitBal"),
    _int("UserId"),
    _int("SecId"),
    _int("Type"),
    *_reserved(),
    _key("FPId"),
    _int("CCId"),
    _int("PrjId"),
    _int("CostCCId"),
    _int("CostPrjId"),
    _int("IncomeCCId"),
    _int("IncomePrjId"),
    sa.PrimaryKeyConstraint("Id", "FPId"),
)

# --------------------------------------------------------------------------------------------------
# 1.2 Products, units, prices, tax, warehouses, stock
# --------------------------------------------------------------------------------------------------

merchandise = sa.Table(
    "__Merchandise__",
    metadata,
    _key("Id"),
    _text("Code", 32),  # product code: the sync identity
    _text("Name", 256),
    _int("UnitId"),
    _int("MType"),
    _int("ValuationId"),
    _qty("Inventory"),
    _qty("MaxInventory"),
    _qty("MinInventory"),
    _qty("OrderLimit"),
    _rial("UnitPrice"),
    _rial("MaxPrice"),
    _rial("MinPrice"),
    _text("BarCode", 64),
    _text("MDesc", 1024),
    _text("MPicture", 256),
    *_reserved(),
    _acc("AccountId"),
    _int("MLevel"),
    _int("IsGroup"),  # 1 = group node (not a sellable item)
    *[_text(f"G{i}", 32) for i in range(1, 8)],
    _key("FPId"),
    _text("PartNo", 64),
    _text("SpecNo", 64),
    _text("Model", 64),
    _text("ExType", 64),
    _int("ManufactYear"),
    _text("OpCond", 256),
    _text("ReservedTxt1", 256),
    _text("ReservedTxt2", 256),
    _text("ReservedTxt3", 256),
    _real("ReservedDbl1"),
    _real("ReservedDbl2"),
    _dt("ReservedDT1"),
    sa.PrimaryKeyConstraint("Id", "FPId"),
    sa.UniqueConstraint("Id", "FPId", "Code", "UnitId"),
    sa.Index(None, "Code"),
)

unit = sa.Table(
    "__Unit__",
    metadata,
    _key("Id"),
    _text("Name", 64),
    _text("UDesc", 256),
    *_reserved(),
    _key("FPId"),
    sa.PrimaryKeyConstraint("Id", "FPId"),
    sa.UniqueConstraint("Id", "FPId", "Name"),
)

sales_price = sa.Table(
    "__SalesPrice__",
    metadata,
    _int("Id"),
    _key("MerchId"),
    _rial("Val1"),
    _rial("Val2"),  # the price the client uses
    _key("Type"),  # price level = __Customer__.LRes
    *_reserved(),
    _key("FPId"),
    sa.PrimaryKeyConstraint("MerchId", "Type", "FPId"),
)

merch_tax = sa.Table(
    "__MerchTax__",
    metadata,
    _key("Id"),
    _key("MerchId"),
    _pct("TaxPercent"),
    _pct("AvarezPercent"),
    _key("FPId"),
    _dt("EffectDate"),  # the latest row with EffectDate <= document date applies
    sa.PrimaryKeyConstraint("Id", "MerchId", "FPId"),
)

stock_room = sa.Table(
    "__StockRoom__",
    metadata,
    _key("Id"),
    _int("Code"),
    _text("Name", 128),
    _text("ManagerName", 128),
    _text("SRDesc", 1024),
    *_reserved(),
    _acc("AccountId"),
    _key("FPId"),
    _int("FAccId"),
    _int("CCId"),
    _int("PrjId"),
    sa.PrimaryKeyConstraint("Id", "FPId"),
    sa.UniqueConstraint("Id", "FPId", "Code", "Name"),
)

# hamgam assumption: Tadbir computes stock with a server function; the demo keeps quantities here.
merch_stock_qty = sa.Table(
    "__MerchStockQty__",
    metadata,
    _key("MerchId"),
    _key("StockRoomId"),
    _key("FPId"),
    _qty("Qty"),
    sa.PrimaryKeyConstraint("MerchId", "StockRoomId", "FPId"),
)

# --------------------------------------------------------------------------------------------------
# 1.3 Invoices (FactorType: 0 purchase, 1 sales, 2 purchase return, 3 sales return, 4 quote, 5 service)
# --------------------------------------------------------------------------------------------------

sp_factor = sa.Table(
    "__SPFactor__",
    metadata,
    _key("Id"),
    _int("FactorNo"),
    _dt("SPDate"),
    _int("FactorType"),
    _int("Committed"),
    _int("SPReference"),
    _acc("AccountId"),
    _acc("SPAccountId"),
    _int("CustomerId"),
    _int("FAccId"),
    _acc("PreAccId"),
    _pct("PreAccPercent"),
    _rial("Total"),
    _rial("Discount"),
    _rial("Expense"),
    _text("SPDesc", 1024),
    _text("CustomerName", 256),
    _text("CustomerPhoneNo", 128),
    _text("CustomerEcCode", 32),
    _text("CustomerAddress", 512),
    _int("BrokerId"),
    _rial("BrokerShare"),
    _pct("BrokerPercent"),
    _cur("CurrencyVal"),
    _int("CurrencyId"),
    *_reserved(),
    _int("UserId"),
    _int("SecId"),
    _dt("ETime"),
    _dt("EDate"),
    _key("FPId"),
    _int("CCId"),
    _int("PrjId"),
    _int("SPFAccId"),
    _int("SPCCId"),
    _int("SPPrjId"),
    _int("RONo"),
    _text("SPRefNo", 64),
    _text("ContractNo", 64),
    _text("ShipmentNo", 64),
    _int("Cancelled"),  # <> 0: void
    _int("SvcJobNo"),
    _text("SvcDesc", 1024),
    _pct("SvcCommPercent"),
    _rial("SvcCommAmount"),
    _int("PreFAccId"),
    _int("PreCCId"),
    _int("PrePrjId"),
    _int("PRetFAccId"),
    _int("PRetCCId"),
    _int("PRetPrjId"),
    _int("TEnable"),
    _cur("TValue"),  # meaning unknown (tax related): wide enough for a percent or an amount
    _int("TRS"),
    sa.PrimaryKeyConstraint("Id", "FPId"),
    sa.UniqueConstraint("FPId", "FactorType", "FactorNo"),
    sa.Index(None, "CustomerId"),
)

sp_article = sa.Table(
    "__SPArticle__",
    metadata,
    _key("Id"),
    _key("SPId"),
    _int("MerchandiseId"),
    _qty("Amount"),
    _int("StockRoomId"),
    _int("UnitId"),
    _rial("UnitPrice"),
    _text("SPADesc", 1024),
    _int("SPARes1"),
    _int("SPARes2"),
    _int("CommissionType"),
    _cur("CommissionVal"),
    _cur("CurrencyVal"),
    _int("CurrencyId"),
    *_reserved(),
    _rial("Remainder"),  # line discount amount
    _key("FPId"),
    _qty("Amount1"),
    _qty("Amount2"),
    _text("SerialNo1", 64),
    _text("SerialNo2", 64),
    _acc("RowAccId"),
    _int("RowFAccId"),
    _int("RowCCId"),
    _int("RowPrjId"),
    _int("HasGuaranty"),
    _int("CabinetId"),
    _acc("StockAccId"),
    _int("StockFAccId"),
    _int("StockCCId"),
    _int("StockPrjId"),
    _rial("NetPrice"),
    _rial("T1"),
    _rial("T2"),
    sa.PrimaryKeyConstraint("Id", "FPId"),
    sa.ForeignKeyConstraint(
        ["SPId", "FPId"], ["__SPFactor__.Id", "__SPFactor__.FPId"], ondelete="CASCADE"
    ),
    sa.Index(None, "SPId", "FPId"),
)

sp_tax = sa.Table(
    "__SPTax__",
    metadata,
    _key("Id"),
    _key("SPId"),
    _acc("TaxAccount"),
    _int("TaxFAccId"),
    _int("TaxCCId"),
    _int("TaxPrjId"),
    _rial("TaxAmount"),
    _text("SPTaxDesc", 1024),
    _key("FPId"),
    sa.PrimaryKeyConstraint("Id", "FPId"),
    sa.ForeignKeyConstraint(
        ["SPId", "FPId"], ["__SPFactor__.Id", "__SPFactor__.FPId"], ondelete="CASCADE"
    ),
    sa.Index(None, "SPId", "FPId"),
)

# --------------------------------------------------------------------------------------------------
# Treasury (hamgam assumption, modelled on Tadbir NG CashFlow.PayReceive; reference section 7)
# --------------------------------------------------------------------------------------------------

pay_receive = sa.Table(
    "__PayReceive__",
    metadata,
    _key("Id"),
    _key("FPId"),
    _key("Type"),  # 0 receipt, 1 payment
    _key("No"),  # numbered per (FPId, Type)
    sa.Column("Date", sa.DateTime, nullable=False),
    _int("CustomerId"),  # -> __Customer__.Id (same FPId)
    _rial("Amount"),
    _int("Kind"),  # 0 cash, 1 cheque
    _text("ChequeNo", 32),
    _dt("ChequeDate"),
    _int("Status"),  # values set by the treasury generator / configuration
    _text("Description", 1024),
    _dt("EDate"),
    _dt("ETime"),
    sa.PrimaryKeyConstraint("Id", "FPId"),
    sa.UniqueConstraint("FPId", "Type", "No"),
    sa.Index(None, "CustomerId"),
)

# --------------------------------------------------------------------------------------------------
# 1.5 Journal vouchers (column names from NG's converter, reference section 1.5; types hamgam's choice).
# The live customer balance reads ``__Article__``: that a customer's balance is the sum of its detail
# account's debits less credits is hamgam's assumption (``companies[].assumed_tables.article``).
# --------------------------------------------------------------------------------------------------

voucher = sa.Table(
    "__Transaction__",
    metadata,
    _key("Id"),
    _key("FPId"),
    _int("SanadNo"),  # voucher number, per FPId
    _dt("TDate"),
    _text("TDesc", 512),
    _text("TRes", 256),
    _int("Balanced"),
    _int("SabtCount"),
    _text("UserName", 64),
    sa.PrimaryKeyConstraint("Id", "FPId"),
)

article = sa.Table(
    "__Article__",
    metadata,
    _key("Id"),
    _int("TransId"),  # -> __Transaction__.Id (same FPId)
    _key("FPId"),
    _int("ANo"),  # row number in the voucher
    _acc("AccountId"),
    _int("FAccId"),  # -> __DetailAcc__.Id: a customer's detail account
    _int("CostCenter"),
    _int("Project"),
    _int("CurrencyId"),
    _cur("CurrencyVal"),
    _rial("Debit"),
    _rial("Credit"),
    _text("ADesc", 512),
    _int("AMark"),
    _int("SAId"),
    sa.PrimaryKeyConstraint("Id", "FPId"),
    sa.Index(None, "FAccId", "FPId"),
)

TABLE_NAMES: tuple[str, ...] = tuple(metadata.tables)


def named_as(table: sa.Table, name: str, columns: Mapping[str, str]) -> sa.TableClause:
    """``table`` (an assumed one) as a site names it: table ``name``, and each column under the site's name
    (``columns``: hamgam's name → the site's; one left out keeps its name) with hamgam's type. Its columns are
    keyed by the site's names: ``t.c[columns["No"]]``."""
    return sa.table(name, *(sa.column(columns.get(c.name, c.name), c.type) for c in table.columns))


def create_all(engine: Engine, *, checkfirst: bool = True) -> None:
    """Create every reference table on ``engine`` (SQLite or SQL Server); existing ones are kept."""
    metadata.create_all(engine, checkfirst=checkfirst)
