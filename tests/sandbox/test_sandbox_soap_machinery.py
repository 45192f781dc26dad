"""SOAP calls go through the same machinery as REST: counters, injected faults, records, page, reset."""

import time

import requests
from soap_helpers import envelope, invoice, line, payment, product, read_fault, result, unique_code


def save_product(soap, code):
    return soap.post("IProduct", "SaveProduct", envelope("SaveProduct", product(code)))


def find_product(soap, code):
    return soap.call("IProduct", "FindProductByCode", f"<code>{code}</code><groupName/>")


def test_counters_per_operation_and_committed_writes(pg, api, soap, identity):
    code = unique_code()
    pg.reset_stats()

    soap.call("IProduct", "SaveProduct", product(code))
    soap.call("IProduct", "SaveProduct", product(code))  # duplicate code: refused, nothing written
    find_product(soap, code)
    soap.fault("IProduct", "SaveProduct", envelope("SaveProduct", product(code, price="x")))  # fault: nothing written
    soap.call("IInvoice", "SaveInvoice", invoice(identity, unique_code("INV"), [line(code)]))
    soap.call("IPayment", "SavePayment", payment(identity, unique_code("RCV")))
    soap.call("IProduct", "DeleteProductByCode", f"<code>{code}</code><groupName/>")
    api.ok("crmobject/invoice/sales/find", {})

    stats = pg.stats()

    assert stats["calls"] == {"IProduct/SaveProduct": 3, "IProduct/FindProductByCode": 1,
                              "IInvoice/SaveInvoice": 1, "IPayment/SavePayment": 1,
                              "IProduct/DeleteProductByCode": 1, "invoice/sales/find": 1}
    assert stats["writes"] == 4  # the product, the invoice, the receipt, the delete
    assert stats["statuses"] == {"200": 7, "500": 1}


def test_injected_error_is_a_soap_fault_and_writes_nothing(pg, soap):
    code = unique_code()
    pg.set_faults(error_rate=1.0)

    response = save_product(soap, code)

    fault_code, text = read_fault(response)
    assert fault_code == "a:InternalServiceFault" and "internal error" in text
    pg.set_faults(error_rate=0.0)
    assert find_product(soap, code)["Success"] == "false"
    assert pg.stats()["faults"]["error"] >= 1


def test_rate_limit_is_429_with_retry_after_and_a_fault_body(pg, soap):
    pg.set_faults(rate_limit_rate=1.0, retry_after_seconds=4)

    response = save_product(soap, unique_code())

    assert response.headers["Retry-After"] == "4"
    assert read_fault(response, status=429)[0] == "s:Server"


def test_error_after_commit_keeps_the_write(pg, soap):
    code = unique_code()
    pg.set_faults(error_after_commit_rate=1.0)

    response = save_product(soap, code)

    assert read_fault(response)[0] == "a:InternalServiceFault"
    assert find_product(soap, code)["Success"] == "true"  # reads are not affected; the product is there
    retried = result(save_product(soap, code), "SaveProduct")  # refused: no commit, so no injected 500
    assert retried["Success"] == "false" and "duplicate code" in retried["Message"]


def test_latency_applies_to_soap(pg, soap):
    pg.set_faults(latency_ms=250)
    started = time.monotonic()
    find_product(soap, "any")
    assert time.monotonic() - started >= 0.25


def test_records_carry_their_kind_and_can_be_filtered(pg, soap, identity, product_code):
    number = unique_code("Q")
    soap.call("IInvoice", "SaveInvoice", invoice(identity, number, [line(product_code)], invoice_type="Quote"))
    soap.call("IPayment", "SavePayment", payment(identity, unique_code("PAY"), type_code="payment"))

    records = pg.records()
    kinds = {r["kind"] for r in records}
    [quote] = [r for r in pg.records("quote") if r["number"] == number]

    assert {"person", "product", "quote", "payment"} <= kinds
    assert quote["identityId"] == identity and quote["details"][0]["productCode"] == product_code
    assert quote["invoiceType"] == "Quote" and quote["crmObjectTypeIndex"] == 8
    assert all(r["kind"] in ("product", "payment") for r in pg.records("product", "payment"))
    assert [r["code"] for r in pg.records("product") if r["code"] == product_code] == [product_code]


def test_html_page_lists_documents(pg, soap, identity):
    code = unique_code()
    soap.call("IProduct", "SaveProduct", product(code, name="پیچ و مهره", price="2500000"))
    number = unique_code("INV")
    soap.call("IInvoice", "SaveInvoice", invoice(identity, number, [line(code)]))

    html = requests.get(f"{pg.base_url}/_sandbox/", timeout=5).content.decode("utf-8")

    assert "پیچ و مهره" in html and code in html and "2,500,000" in html
    assert number in html and "فاکتور فروش (sales invoice)" in html and "علی رضایی" in html


def test_reset_wipes_documents_too(pg, soap, product_code):
    pg.reset()
    assert pg.records() == []
    assert find_product(soap, product_code)["Success"] == "false"
