"""Purchase invoices and purchase returns, the rules that are theirs (the rules every document follows run
for them too, in test_document_rules.py): a purchase return names the purchase invoice it returns, which
is synced first; no seller goes to the CRM; and purchase documents live beside sales documents of the same
number without one being taken for the other."""

from __future__ import annotations

from document_world import add_document, assert_set_aside, crm_records, line, outcome, sync

from hamgam.entities import SPECS, layers


def test_a_purchase_return_names_the_purchase_invoice_it_returns(tadbir, ledger, crm, sandbox):
    invoice = add_document(tadbir, "purchase_invoices", 5, lines=[line(qty=4), line(product=2, qty=1, price=250_000)])
    add_document(tadbir, "purchase_returns", 1, lines=[line(qty=1)], SPReference=invoice)
    add_document(tadbir, "purchase_returns", 2, lines=[line(qty=1)])  # names no invoice
    counts = sync("purchase_returns", tadbir, ledger, crm)  # the invoice is synced first, in the same run
    assert counts["created"] == 2
    assert outcome(ledger, "purchase_invoices", 5).status == "synced"

    returns = crm_records(sandbox, "purchase_returns")
    invoice_record = crm_records(sandbox, "purchase_invoices")["100-1404/5"]
    links = [link["relatedInvoiceInfo"] for d in returns["100-1404/1"]["details"] for link in d["relatedInvoices"]]
    assert links == [{"relatedInvoiceId": invoice_record["crmId"], "relatedInvoiceNumber": "100-1404/5",
                      "relatedInvoiceTypeCode": "purchase_invoice"}]
    assert [d["relatedInvoices"] for d in returns["100-1404/2"]["details"]] == [None]
    assert crm_records(sandbox, "sales_returns") == {}  # saved as purchase returns, not sales returns


def test_a_purchase_return_naming_a_sales_invoice_is_invalid(tadbir, ledger, crm, sandbox):
    sales = add_document(tadbir, "sales_invoices", 5)
    row_id = add_document(tadbir, "purchase_returns", 1, SPReference=sales)
    sync("purchase_returns", tadbir, ledger, crm)
    assert_set_aside(ledger, sandbox, "purchase_returns", 1, row_id, "invalid",
                     "the returned purchase invoice is not in Tadbir")


def test_no_seller_goes_to_the_crm_with_a_purchase_document(tadbir, ledger, crm, sandbox):
    for entity in ("sales_invoices", "purchase_invoices"):
        add_document(tadbir, entity, 1, BrokerId=1)
        sync(entity, tadbir, ledger, crm)
    sold = crm_records(sandbox, "sales_invoices")["100-1404/1"]
    bought = crm_records(sandbox, "purchase_invoices")["100-1404/1"]
    assert sold["extendedProperties"] and not bought["extendedProperties"]
    assert bought["subject"] == "فاکتور خرید 100-1404/1"


def test_a_purchase_and_a_sales_invoice_of_one_number_are_two_records(tadbir, ledger, crm, sandbox):
    add_document(tadbir, "sales_invoices", 7)
    add_document(tadbir, "purchase_invoices", 7, lines=[line(qty=9)])
    assert sync("sales_invoices", tadbir, ledger, crm)["created"] == 1
    assert sync("purchase_invoices", tadbir, ledger, crm)["created"] == 1  # not adopted from the sales one
    sold = crm_records(sandbox, "sales_invoices")["100-1404/7"]
    bought = crm_records(sandbox, "purchase_invoices")["100-1404/7"]
    assert sold["crmId"] != bought["crmId"]
    assert outcome(ledger, "purchase_invoices", 7).crm_id == bought["crmId"]


def test_purchase_returns_follow_purchase_invoices_in_the_backfill():
    order = [entity for layer in layers(SPECS) for entity in layer]
    assert order.index("purchase_returns") > order.index("purchase_invoices")


def test_purchase_returns_are_off_until_a_site_switches_them_on():
    """They rest on an unobserved reading of the CRM's SOAP contract (README); the demo switches them on."""
    from hamgam.config import load_config, parse_config

    assert SPECS["purchase_returns"].assumption and SPECS["purchase_invoices"].assumption is None
    config = parse_config("companies: [{code: 100}, {code: 200, entities: {purchase_returns: true}}]")
    assert config.companies_for("purchase_returns") == [200]
    assert config.companies_for("purchase_invoices") == [100, 200]
    assert load_config().companies_for("purchase_returns") == [100, 200]
