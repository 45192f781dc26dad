"""The Tadbir tables and columns the check compares: derived from what runs (the specs' queries, the fiscal
periods, the stock read, the reverse flow's tables), for the entities a company syncs."""

from __future__ import annotations

import yaml
from check_world import demo_settings

from hamgam.check.tables import tables_used
from hamgam.config import parse_config


def _uses(**changes):
    settings = {**demo_settings(), **changes}
    config = parse_config(yaml.safe_dump(settings, allow_unicode=True))
    return {use.table: use for use in tables_used(config, config.companies[0])}


def test_every_column_a_query_names_counts_joins_and_filters_included():
    uses = _uses()
    customer = uses["__Customer__"]
    assert {"SubscriptionNo", "RegisterCode", "MobileNo"} <= set(customer.columns)
    assert customer.users_of("RegisterCode") == ("identities", "reverse identities")
    factor = uses["__SPFactor__"]
    assert {"FactorType", "SPReference", "CustomerId", "Cancelled"} <= set(factor.columns)  # filters and joins
    assert "IsGroup" in uses["__Merchandise__"].columns  # the products' WHERE
    assert uses["__FiscalPeriod__"].columns == ("EndDate", "Id", "Name", "StartDate")
    assert {u.table for u in uses.values() if u.assumed} == {"__PayReceive__", "__MerchStockQty__", "__Article__"}
    assert uses["__Article__"].used_by == ("web app balance read",)
    assert set(uses["__Article__"].columns) == {"FPId", "FAccId", "Debit", "Credit"}


def test_only_the_reverse_flows_tables_are_written_and_the_columns_its_inserts_name_count():
    from hamgam.tadbir import schema
    from hamgam.tadbir.write_tables import WRITTEN

    uses = _uses()
    assert {t for t, u in uses.items() if u.write} == {"__Customer__", "__DetailAcc__", "__SPFactor__",
                                                        "__SPArticle__"}
    assert set(uses["__DetailAcc__"].columns) == WRITTEN[schema.detail_acc.name]
    assert set(WRITTEN[schema.sp_factor.name]) <= set(uses["__SPFactor__"].columns)
    off = _uses(reverse={"identities": {"enabled": False}, "quotes": {"enabled": False}})
    assert not any(u.write for u in off.values())
    assert "__DetailAcc__" not in off
    assert len(off["__Customer__"].columns) < len(uses["__Customer__"].columns)


def test_an_entity_switched_off_takes_its_tables_with_it():
    base = demo_settings()
    base["companies"][0]["entities"] = {"receipts": False, "payments": False, "products": False}
    uses = _uses(companies=base["companies"])
    assert "__PayReceive__" not in uses
    assert "__SalesPrice__" not in uses and "__MerchTax__" not in uses
    assert "__Merchandise__" in uses  # the documents' lines still read it


def test_a_site_that_renamed_an_assumed_table_is_checked_under_its_own_names():
    base = demo_settings()
    base["companies"][0]["assumed_tables"] = {
        "pay_receive": {"table": "Treasury", "columns": {"ChequeNo": "ChqNo"}},
        "merch_stock_qty": {"table": "StockView"},
        "article": {"table": "VoucherLines", "columns": {"FAccId": "DetailAccountId"}}}
    uses = _uses(companies=base["companies"])
    assert "__PayReceive__" not in uses and "__MerchStockQty__" not in uses
    assert uses["Treasury"].assumed_as == "pay_receive" and uses["StockView"].assumed_as == "merch_stock_qty"
    assert "ChqNo" in uses["Treasury"].columns and "ChequeNo" not in uses["Treasury"].columns
    assert uses["Treasury"].used_by == ("receipts", "payments")
    assert "__Article__" not in uses and uses["VoucherLines"].assumed_as == "article"
    assert "DetailAccountId" in uses["VoucherLines"].columns
