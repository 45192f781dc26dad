"""The generic pipeline with the document specs (quotes, sales invoices, sales returns, receipts,
payments), without Airflow: a hand-made Tadbir database, the real sandbox over HTTP and a SQLite ledger.
Each test states one rule of the sync; every rejection names the document."""

from __future__ import annotations

from datetime import datetime

import pytest
from document_world import (
    ALL,
    DOCUMENTS,
    LABEL,
    PAY_TYPE,
    add,
    add_document,
    add_entry,
    assert_set_aside,
    config_with,
    crm_records,
    line,
    number,
    outcome,
    sync,
    update_header,
)

from hamgam import pipeline
from hamgam.entities import SPECS
from hamgam.entities.base import SyncContext
from hamgam.tadbir import schema

# -- validation, per document entity ---------------------------------------------------------------

@pytest.mark.parametrize("entity", DOCUMENTS)
def test_a_negative_amount_or_quantity_makes_the_document_invalid(tadbir, ledger, crm, sandbox, entity):
    add_document(tadbir, entity, 1)
    bad = {2: add_document(tadbir, entity, 2, lines=[line(product=2), line(qty=-2)]),
           3: add_document(tadbir, entity, 3, lines=[line(price=-100_000)]),
           4: add_document(tadbir, entity, 4, lines=[line(discount=-1000)]),
           5: add_document(tadbir, entity, 5, lines=[line(vat=-50)]),
           6: add_document(tadbir, entity, 6, Expense=-300_000)}
    counts = sync(entity, tadbir, ledger, crm)
    assert (counts["created"], counts["invalid"]) == (1, 5)
    assert set(crm_records(sandbox, entity)) == {number(entity, 1)}
    for tadbir_no, row_id in bad.items():
        assert_set_aside(ledger, sandbox, entity, tadbir_no, row_id, "invalid", "an amount or quantity is negative")
    assert "negative (-300000)" in outcome(ledger, entity, 6).last_error


@pytest.mark.parametrize("entity", tuple(PAY_TYPE))
def test_a_negative_receipt_or_payment_is_invalid(tadbir, ledger, crm, sandbox, entity):
    add_entry(tadbir, entity, 1)
    bad = add_entry(tadbir, entity, 2, amount=-3_500_000)
    assert sync(entity, tadbir, ledger, crm)["created"] == 1
    assert_set_aside(ledger, sandbox, entity, 2, bad, "invalid", "amount is negative (-3500000)")


@pytest.mark.parametrize("entity", tuple(PAY_TYPE))
def test_a_cheque_needs_its_number(tadbir, ledger, crm, sandbox, entity):
    add_entry(tadbir, entity, 1, Kind=1, ChequeNo="1234567890123456", ChequeDate=datetime(2025, 7, 1))
    bad = add_entry(tadbir, entity, 2, Kind=1, ChequeNo="", ChequeDate=datetime(2025, 7, 1))
    assert sync(entity, tadbir, ledger, crm)["created"] == 1
    assert crm_records(sandbox, entity)[number(entity, 1)]["chequeNo"] == "1234567890123456"
    assert_set_aside(ledger, sandbox, entity, 2, bad, "invalid", "a cheque has no cheque number")


@pytest.mark.parametrize("entity", DOCUMENTS)
def test_a_line_whose_net_price_does_not_add_up_makes_the_document_invalid(tadbir, ledger, crm, sandbox, entity):
    # 2 × 100,000 − 10,000 + 17,100 + 5,700 = 212,800; within 10 Rial passes, 1,000 off does not
    add_document(tadbir, entity, 1, lines=[line(discount=10_000, vat=17_100, toll=5_700, NetPrice=212_805)])
    bad = add_document(tadbir, entity, 2, lines=[line(discount=10_000, vat=17_100, toll=5_700, NetPrice=213_800)])
    counts = sync(entity, tadbir, ledger, crm)
    assert (counts["created"], counts["invalid"]) == (1, 1)
    assert_set_aside(ledger, sandbox, entity, 2, bad, "invalid", "a line's amounts do not add up",
                     "net price 213800 ≠ 200000 − 10000 + 17100 + 5700")


@pytest.mark.parametrize("entity", DOCUMENTS)
def test_a_line_discount_above_its_total_makes_the_document_invalid(tadbir, ledger, crm, sandbox, entity):
    bad = add_document(tadbir, entity, 1, lines=[line(discount=250_000, NetPrice=0)])
    sync(entity, tadbir, ledger, crm)
    assert_set_aside(ledger, sandbox, entity, 1, bad, "invalid", "discount 250000 exceeds its total 200000")


@pytest.mark.parametrize("entity", DOCUMENTS)
def test_header_totals_must_match_the_lines_within_the_rounding_tolerance(tadbir, ledger, crm, sandbox, entity):
    lines = [line(qty=3, price=333_333), line(product=2, qty=1, price=250_000, discount=5_000)]
    exact = 3 * 333_333 + 250_000
    add_document(tadbir, entity, 1, lines=lines, Total=exact + 5)  # a rounding difference
    off = add_document(tadbir, entity, 2, lines=lines, Total=exact + 1_000_000)
    bad_discount = add_document(tadbir, entity, 3, lines=lines, Discount=50_000)
    counts = sync(entity, tadbir, ledger, crm)
    assert (counts["created"], counts["invalid"]) == (1, 2)
    assert crm_records(sandbox, entity)[number(entity, 1)]["totalValue"] == exact + 5
    assert_set_aside(ledger, sandbox, entity, 2, off, "invalid", "header totals differ from the sum of the lines",
                     f"Total {exact + 1_000_000} ≠ Σ lines {exact}")
    assert_set_aside(ledger, sandbox, entity, 3, bad_discount, "invalid", "Discount 50000 ≠ Σ line discounts 5000")


def test_the_tolerance_is_a_setting(tadbir, ledger, crm, sandbox):
    row_id = add_document(tadbir, "sales_invoices", 1, Total=200_005)
    sync("sales_invoices", tadbir, ledger, crm, config=config_with(sync={"amount_tolerance_rial": 0}))
    assert_set_aside(ledger, sandbox, "sales_invoices", 1, row_id, "invalid", "Total 200005 ≠ Σ lines 200000")


@pytest.mark.parametrize("entity", ALL)
def test_the_date_must_lie_inside_the_fiscal_year(tadbir, ledger, crm, sandbox, entity):
    date_column = "Date" if entity in PAY_TYPE else "SPDate"
    add(tadbir, entity, 1, **{date_column: datetime(2026, 3, 20)})  # the last day of 1404
    before = add(tadbir, entity, 2, **{date_column: datetime(2025, 3, 20)})  # the last day of 1403
    after = add(tadbir, entity, 3, **{date_column: datetime(2026, 3, 21)})
    counts = sync(entity, tadbir, ledger, crm)
    assert (counts["created"], counts["invalid"]) == (1, 2)
    for tadbir_no, row_id, day in ((2, before, "2025-03-20"), (3, after, "2026-03-21")):
        assert_set_aside(ledger, sandbox, entity, tadbir_no, row_id, "invalid", "date is outside its fiscal year",
                         day)


@pytest.mark.parametrize("entity", ALL)
def test_a_customer_missing_from_tadbir_makes_the_document_invalid(tadbir, ledger, crm, sandbox, entity):
    row_id = add(tadbir, entity, 1, customer=77)
    sync(entity, tadbir, ledger, crm)
    assert_set_aside(ledger, sandbox, entity, 1, row_id, "invalid", "customer not found in Tadbir (77)")
    assert sandbox.records("person", "organization") == []


@pytest.mark.parametrize("entity", ALL)
def test_a_customer_the_crm_cannot_take_rejects_the_document_naming_the_customer(tadbir, ledger, crm, sandbox,
                                                                                    entity):
    add(tadbir, entity, 1, customer=2)
    add(tadbir, entity, 2, customer=3)  # customer 503: its national code fails the checksum
    counts = sync(entity, tadbir, ledger, crm)
    assert (counts["created"], counts["rejected"]) == (1, 1)
    assert_set_aside(ledger, sandbox, entity, 2, 0, "rejected", "customer 503 is not in the CRM",
                     "invalid there: customer 503 (Id 3): national code (10 digits) or national id (11 digits) "
                     "fails its checksum")
    assert ledger.get(100, "identities", "503").status == "invalid"
    assert [r["customerNumber"] for r in sandbox.records("person", "organization")] == ["100-502"]


@pytest.mark.parametrize("entity", DOCUMENTS)
def test_a_line_whose_product_is_missing_from_tadbir_makes_the_document_invalid(tadbir, ledger, crm, sandbox,
                                                                                  entity):
    row_id = add_document(tadbir, entity, 1, lines=[line(product=1), line(product=99)])
    sync(entity, tadbir, ledger, crm)
    assert_set_aside(ledger, sandbox, entity, 1, row_id, "invalid", "a line's product is not in Tadbir (99)")


# -- scope: skipped, cancelled, fiscal years -------------------------------------------------------

@pytest.mark.parametrize("entity", DOCUMENTS)
def test_a_document_without_lines_is_skipped_and_a_cancelled_one_leaves_the_crm(tadbir, ledger, crm, sandbox, entity):
    add_document(tadbir, entity, 1, lines=[])
    cancelled = add_document(tadbir, entity, 2)
    assert sync(entity, tadbir, ledger, crm)["created"] == 1
    assert outcome(ledger, entity, 1).status == "skipped"
    assert outcome(ledger, entity, 1).last_error == f"{LABEL[entity]} 100-1404/1: has no lines"

    update_header(tadbir, entity, cancelled, Cancelled=1)
    counts = sync(entity, tadbir, ledger, crm)
    assert (counts["deleted"], counts["queued"]) == (1, 1)
    assert crm_records(sandbox, entity) == {}
    assert outcome(ledger, entity, 2).status == "deleted"
    sandbox.reset_stats()
    assert sync(entity, tadbir, ledger, crm)["queued"] == 0  # nothing left to do in the CRM
    assert sandbox.stats()["writes"] == 0


@pytest.mark.parametrize("entity", tuple(PAY_TYPE))
def test_a_receipt_or_payment_not_linked_to_a_customer_is_skipped(tadbir, ledger, crm, sandbox, entity):
    add_entry(tadbir, entity, 1, customer=0)
    counts = sync(entity, tadbir, ledger, crm)
    assert (counts["skipped"], counts["queued"]) == (1, 0)
    assert outcome(ledger, entity, 1).status == "skipped"
    assert outcome(ledger, entity, 1).last_error == f"{LABEL[entity]} {number(entity, 1)}: is not linked to a customer"
    assert sandbox.records() == []
    assert sync(entity, tadbir, ledger, crm)["unchanged"] == 1  # recorded once, not again each run


@pytest.mark.parametrize("entity", ALL)
def test_documents_before_sync_from_fiscal_year_are_not_read(tadbir, ledger, crm, sandbox, entity):
    add(tadbir, entity, 1, year=1403)
    add(tadbir, entity, 2, year=1403, customer=77)  # dirty, and still not looked at
    add(tadbir, entity, 1)
    counts = sync(entity, tadbir, ledger, crm, config=config_with(company={"sync_from_fiscal_year": 1404}))
    assert (counts["rows_read"], counts["created"], counts["invalid"]) == (1, 1, 0)
    assert set(ledger.records(100, entity)) == {"1404/1"}
    assert set(crm_records(sandbox, entity)) == {number(entity, 1)}


@pytest.mark.parametrize("entity", ["quotes", "receipts"])
def test_a_backfill_of_one_fiscal_year_touches_only_that_year(tadbir, ledger, crm, sandbox, entity):
    old = add(tadbir, entity, 1, year=1403)
    kept = add(tadbir, entity, 1)
    gone = add(tadbir, entity, 2)
    assert sync(entity, tadbir, ledger, crm)["created"] == 3
    text = "Description" if entity in PAY_TYPE else "SPDesc"
    update_header(tadbir, entity, old, year=1403, **{text: "ویرایش ۱۴۰۳"})
    update_header(tadbir, entity, kept, **{text: "ویرایش ۱۴۰۴"})
    table = schema.pay_receive if entity in PAY_TYPE else schema.sp_factor
    with tadbir.begin() as conn:
        conn.execute(table.delete().where(table.c.Id == gone, table.c.FPId == 2))
    config = config_with()
    ctx = SyncContext(config, config.company(100))
    # an ordinary run's detection has queued the 1404 work; the backfill of 1403 must not drop it
    pipeline.detect(SPECS[entity], ctx, engine=tadbir, ledger=ledger, run_id="ordinary")
    assert ledger.pending_count(100, entity) == 3

    counts = sync(entity, tadbir, ledger, crm, fiscal_year=1403)
    assert (counts["rows_read"], counts["to_delete"]) == (1, 0)
    assert (counts["updated"], counts["deleted"]) == (2, 1)  # its own 1403 edit, and the 1404 work still queued
    records = crm_records(sandbox, entity)
    assert records[number(entity, 1, 1403)]["description"] == "ویرایش ۱۴۰۳"

    # a backfill detection alone: the 1404 keys are neither re-queued nor deleted
    pipeline.detect(SPECS[entity], ctx, engine=tadbir, ledger=ledger, run_id="backfill", fiscal_year=1403)
    assert ledger.pending_count(100, entity) == 0
    assert outcome(ledger, entity, 1).status == "synced" and outcome(ledger, entity, 2).status == "deleted"


@pytest.mark.parametrize("entity", ["quotes", "sales_invoices"])
def test_a_backfill_never_deletes_the_records_of_other_years(tadbir, ledger, crm, sandbox, entity):
    add_document(tadbir, entity, 1, year=1403)
    for n in range(1, 4):
        add_document(tadbir, entity, n)
    sync(entity, tadbir, ledger, crm)
    counts = sync(entity, tadbir, ledger, crm, fiscal_year=1403)
    assert (counts["rows_read"], counts["queued"], counts["unchanged"]) == (1, 0, 1)
    assert len(crm_records(sandbox, entity)) == 4
    assert all(s.status == "synced" for s in ledger.records(100, entity).values())


# -- numbering ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("entity", ALL)
def test_a_changed_numbering_template_renumbers_without_duplicates(tadbir, ledger, crm, sandbox, entity):
    for n in (1, 2):
        add(tadbir, entity, n)
    sync(entity, tadbir, ledger, crm)
    assert set(crm_records(sandbox, entity)) == {number(entity, 1), number(entity, 2)}
    old_ids = {r["crmId"] for r in crm_records(sandbox, entity).values()}

    template = "{companyCode}-{____(SHYY)}/{*(FP:7)}-{*(AN)}" if entity in PAY_TYPE else "{companyCode}-Q{____(SHYY)}-{*(AN)}"
    renumbered = config_with(**{entity: {"type_code": LABEL[entity], "number_template": template}})
    sandbox.reset_stats()
    counts = sync(entity, tadbir, ledger, crm, config=renumbered)
    assert counts["queued"] == 2 and counts["invalid"] == counts["rejected"] == 0
    new = {"100-1404/7-1", "100-1404/7-2"} if entity in PAY_TYPE else {"100-Q1404-1", "100-Q1404-2"}
    records = crm_records(sandbox, entity)
    assert set(records) == new
    assert not old_ids & {r["crmId"] for r in records.values()}
    assert {s.crm_number for s in ledger.records(100, entity).values()} == new
    assert sync(entity, tadbir, ledger, crm, config=renumbered)["queued"] == 0


@pytest.mark.parametrize("entity", DOCUMENTS)
def test_a_number_the_template_cannot_write_makes_the_document_invalid(tadbir, ledger, crm, sandbox, entity):
    config = config_with(**{entity: {"type_code": LABEL[entity], "number_template": "{companyCode}-{____(SHYY)}/{__(AN)}"}})
    add_document(tadbir, entity, 7)
    row_id = add_document(tadbir, entity, 123)  # three digits do not fit {__(AN)}
    counts = sync(entity, tadbir, ledger, crm, config=config)
    assert (counts["created"], counts["invalid"]) == (1, 1)
    state = outcome(ledger, entity, 123)
    assert state.status == "invalid"
    assert state.last_error.startswith(f"{LABEL[entity]} 1404/123 (Id {row_id}): the number does not fit")
    assert set(crm_records(sandbox, entity)) == {"100-1404/07"}


# -- sales returns and their invoices ---------------------------------------------------------------

def test_a_sales_return_names_the_invoice_it_returns(tadbir, ledger, crm, sandbox):
    invoice = add_document(tadbir, "sales_invoices", 5, lines=[line(qty=4), line(product=2, qty=1, price=250_000)])
    add_document(tadbir, "sales_returns", 1, lines=[line(qty=1), line(product=2, qty=1, price=250_000)],
                 SPReference=invoice)
    add_document(tadbir, "sales_returns", 2, lines=[line(qty=1)])  # names no invoice
    sync("sales_invoices", tadbir, ledger, crm)
    assert sync("sales_returns", tadbir, ledger, crm)["created"] == 2

    returns = crm_records(sandbox, "sales_returns")
    invoice_record = crm_records(sandbox, "sales_invoices")["100-1404/5"]
    links = [link["relatedInvoiceInfo"] for d in returns["100-1404/1"]["details"] for link in d["relatedInvoices"]]
    assert links == [{"relatedInvoiceId": invoice_record["crmId"], "relatedInvoiceNumber": "100-1404/5",
                      "relatedInvoiceTypeCode": "sales_invoice"}] * 2
    assert [d["relatedInvoices"] for d in returns["100-1404/2"]["details"]] == [None]


def test_a_return_whose_invoice_is_not_yet_in_the_crm_syncs_the_invoice_first(tadbir, ledger, crm, sandbox):
    invoice = add_document(tadbir, "sales_invoices", 5, customer=2, lines=[line(qty=4)])
    add_document(tadbir, "sales_invoices", 6)  # not returned: stays out of this run
    add_document(tadbir, "sales_returns", 1, customer=2, lines=[line(qty=1)], SPReference=invoice)
    counts = sync("sales_returns", tadbir, ledger, crm)
    assert counts["created"] == 1
    assert set(crm_records(sandbox, "sales_invoices")) == {"100-1404/5"}
    assert outcome(ledger, "sales_invoices", 5).status == "synced"
    related = crm_records(sandbox, "sales_returns")["100-1404/1"]["details"][0]["relatedInvoices"]
    assert related[0]["relatedInvoiceInfo"]["relatedInvoiceNumber"] == "100-1404/5"
    # the invoices' own run later finds it in step, and adds only the other one
    counts = sync("sales_invoices", tadbir, ledger, crm)
    assert (counts["created"], counts["unchanged"]) == (1, 1)


def test_a_return_whose_invoice_is_invalid_is_rejected_naming_the_invoice(tadbir, ledger, crm, sandbox):
    invoice = add_document(tadbir, "sales_invoices", 5, Total=9_999_999)
    add_document(tadbir, "sales_returns", 1, SPReference=invoice)
    counts = sync("sales_returns", tadbir, ledger, crm)
    assert counts["rejected"] == 1
    assert_set_aside(ledger, sandbox, "sales_returns", 1, 0, "rejected",
                     "sales invoice 1404/5 is not in the CRM (invalid there: sales_invoice 100-1404/5 (Id 1): "
                     "header totals differ")


def test_a_return_naming_a_document_that_is_no_sales_invoice_is_invalid(tadbir, ledger, crm, sandbox):
    quote = add_document(tadbir, "quotes", 5)
    row_id = add_document(tadbir, "sales_returns", 1, SPReference=quote)
    sync("sales_returns", tadbir, ledger, crm)
    assert_set_aside(ledger, sandbox, "sales_returns", 1, row_id, "invalid",
                     "the returned sales invoice is not in Tadbir")


# -- change detection ---------------------------------------------------------------------------------

@pytest.mark.parametrize("entity", DOCUMENTS)
def test_an_edit_is_sent_once_whether_or_not_the_document_has_a_seller(tadbir, ledger, crm, sandbox, entity):
    """What load records must be what the next detection computes, for a document read alone (an edit)
    as for one read among others whose broker, warehouse or texts are filled."""
    with tadbir.begin() as conn:
        conn.execute(schema.stock_room.insert(), [{"Id": 1, "FPId": 2, "Code": 1, "Name": "انبار مرکزی"}])
    add_document(tadbir, entity, 1, BrokerId=1, SPDesc="ارسال فوری", lines=[line(StockRoomId=1, SPADesc="رنگ آبی")])
    lone = add_document(tadbir, entity, 2)
    sync(entity, tadbir, ledger, crm)
    update_header(tadbir, entity, lone, Expense=100_000)
    assert sync(entity, tadbir, ledger, crm)["updated"] == 1
    sandbox.reset_stats()
    counts = sync(entity, tadbir, ledger, crm)
    assert (counts["queued"], sandbox.stats()["writes"]) == (0, 0)


@pytest.mark.parametrize("entity", tuple(PAY_TYPE))
def test_an_edit_of_a_receipt_or_payment_is_sent_once(tadbir, ledger, crm, sandbox, entity):
    add_entry(tadbir, entity, 1, Kind=1, ChequeNo="1234567890123456", ChequeDate=datetime(2025, 7, 1),
              Description="بابت فاکتور ۵")
    lone = add_entry(tadbir, entity, 2, Description=None, ChequeNo=None)
    sync(entity, tadbir, ledger, crm)
    update_header(tadbir, entity, lone, Amount=7_000_000)
    assert sync(entity, tadbir, ledger, crm)["updated"] == 1
    assert crm_records(sandbox, entity)[number(entity, 2)]["finalValue"] == 7_000_000
    sandbox.reset_stats()
    counts = sync(entity, tadbir, ledger, crm)
    assert (counts["queued"], sandbox.stats()["writes"]) == (0, 0)


def test_a_renumbered_invoice_is_named_anew_by_its_returns(tadbir, ledger, crm, sandbox):
    invoice = add_document(tadbir, "sales_invoices", 5, lines=[line(qty=4)])
    add_document(tadbir, "sales_returns", 1, lines=[line(qty=1)], SPReference=invoice)
    sync("sales_returns", tadbir, ledger, crm)
    renumbered = config_with(sales_invoices={"type_code": "sales_invoice",
                                             "number_template": "{companyCode}-F{____(SHYY)}-{*(AN)}"})
    sync("sales_invoices", tadbir, ledger, crm, config=renumbered)
    sync("sales_returns", tadbir, ledger, crm, config=renumbered)
    invoice_record = crm_records(sandbox, "sales_invoices")["100-F1404-5"]
    related = crm_records(sandbox, "sales_returns")["100-1404/1"]["details"][0]["relatedInvoices"][0]
    assert related["relatedInvoiceInfo"] == {"relatedInvoiceId": invoice_record["crmId"],
                                             "relatedInvoiceNumber": "100-F1404-5",
                                             "relatedInvoiceTypeCode": "sales_invoice"}
