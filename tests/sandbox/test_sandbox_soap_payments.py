"""IPayment over SOAP (§4.3, §4.4): receipts and payments share PaymentInfo; the type code decides."""

import pytest
from soap_helpers import ZERO_GUID, invoice, line, payment, unique_code


def save(soap, info: str) -> dict:
    return soap.call("IPayment", "SavePayment", info)


def find(soap, operation, number, type_code=""):
    return soap.call("IPayment", operation, f"<number>{number}</number><crmObjectTypeCode>{type_code}</crmObjectTypeCode>")


def test_receipt_round_trip(soap, identity):
    number = unique_code("RCV")
    saved = save(soap, payment(identity, number, amount="2500000"))

    found = find(soap, "FindReceiptByNumber", number, "receipt")
    by_id = soap.call("IPayment", "FindReceiptById", f"<receiptId>{saved['CrmId']}</receiptId>")

    assert saved["Success"] == "true"
    info = found["PaymentInfo"]
    assert found["PaymentInfoList"] == [info] and by_id["PaymentInfo"] == info
    assert info["CrmId"] == saved["CrmId"] and info["CrmObjectTypeIndex"] == "9" and info["Number"] == number
    assert info["FinalValue"] == "2500000" and info["IdentityId"] == identity and info["IsPayed"] == "true"
    assert info["PayDate"] == "2025-04-02T12:00:00"  # +03:30 is Tehran: stored as local time
    assert info["PaymentType"] == "نقدی" and info["RefNo"] == f"TRK-{number}"
    assert info["RelatedInvoiceNumber"] is None
    assert find(soap, "FindPaymentByNumber", number)["Success"] == "false"  # not a payment


def test_payment_by_its_type_code(soap, identity):
    number = unique_code("PAY")
    saved = save(soap, payment(identity, number, type_code="Payment"))  # codes compare ignoring case

    found = find(soap, "FindPaymentByNumber", number)

    assert found["PaymentInfo"]["CrmObjectTypeIndex"] == "23" and found["PaymentInfo"]["CrmId"] == saved["CrmId"]
    assert soap.call("IPayment", "FindPaymentById", f"<paymentId>{saved['CrmId']}</paymentId>")["Success"] == "true"
    assert find(soap, "FindReceiptByNumber", number)["Success"] == "false"


def test_an_unknown_type_code_is_refused(soap, identity):
    saved = save(soap, payment(identity, unique_code("X"), type_code="voucher"))
    assert saved["Success"] == "false" and saved["CrmId"] == ZERO_GUID
    assert "voucher" in saved["Message"] and "receipt" in saved["Message"] and "payment" in saved["Message"]


def test_type_codes_are_settings(pg, soap, identity):
    pg.set_faults(receipt_type_code="Receipt_5", payment_type_code="Payment_7")

    assert save(soap, payment(identity, unique_code("R"), type_code="Receipt_5"))["Success"] == "true"
    assert save(soap, payment(identity, unique_code("R"), type_code="receipt"))["Success"] == "false"


def test_receipt_number_is_unique_among_receipts(soap, identity):
    number = unique_code("RCV")
    assert save(soap, payment(identity, number))["Success"] == "true"

    duplicate = save(soap, payment(identity, number))
    as_payment = save(soap, payment(identity, number, type_code="payment"))

    assert duplicate["Success"] == "false" and "duplicate number" in duplicate["Message"]
    assert as_payment["Success"] == "true"


def test_crm_id_updates_the_receipt(soap, identity):
    number = unique_code("RCV")
    crm_id = save(soap, payment(identity, number))["CrmId"]

    again = save(soap, payment(identity, number, amount="999", crm_id=crm_id))

    assert again["CrmId"] == crm_id
    assert find(soap, "FindReceiptByNumber", number)["PaymentInfo"]["FinalValue"] == "999"
    # the type code decides the kind: the receipt's id is no payment
    other = save(soap, payment(identity, number, type_code="payment", crm_id=crm_id))
    assert other["Success"] == "false" and "not found" in other["Message"]


def test_related_invoice_is_resolved_or_refused(pg, soap, identity, product_code):
    sold = unique_code("INV")
    sale_id = soap.call("IInvoice", "SaveInvoice", invoice(identity, sold, [line(product_code)]))["CrmId"]

    linked = save(soap, payment(identity, unique_code("RCV"), invoice_number=sold))
    missing = save(soap, payment(identity, unique_code("RCV"), invoice_number="NO-SUCH-INVOICE"))

    assert linked["Success"] == "true"
    info = soap.call("IPayment", "FindReceiptById", f"<receiptId>{linked['CrmId']}</receiptId>")["PaymentInfo"]
    assert info["RelatedInvoiceNumber"] == {"RelatedInvoiceId": sale_id, "RelatedInvoiceNumber": sold,
                                            "RelatedInvoiceTypeCode": "Invoice1"}
    assert missing["Success"] == "false" and "NO-SUCH-INVOICE" in missing["Message"]


def test_identity_must_exist(soap):
    saved = save(soap, payment("11111111-2222-3333-4444-555555555555", unique_code("RCV")))
    assert saved["Success"] == "false" and "identity" in saved["Message"] and "not found" in saved["Message"]


@pytest.mark.parametrize("kind, operation, other", [("receipt", "DeleteReceiptByNumber", "DeletePaymentByNumber"),
                                                     ("payment", "DeletePaymentByNumber", "DeleteReceiptByNumber")])
def test_delete_by_number(soap, identity, kind, operation, other):
    number = unique_code(kind)
    crm_id = save(soap, payment(identity, number, type_code=kind))["CrmId"]
    params = f"<number>{number}</number><deleteOption>DeleteWithHistory</deleteOption>"

    wrong_kind = soap.call("IPayment", other, params)
    deleted = soap.call("IPayment", operation, params)
    again = soap.call("IPayment", operation, params)

    assert wrong_kind["Success"] == "false"
    assert deleted == {"Message": None, "Success": "true", "CrmId": crm_id}
    assert again["Success"] == "false" and again["CrmId"] == ZERO_GUID
    assert save(soap, payment(identity, number, type_code=kind))["Success"] == "true"  # number free again


def test_delete_payment_by_id_takes_receipts_too(soap, identity):
    crm_id = save(soap, payment(identity, unique_code("RCV")))["CrmId"]
    params = f"<crmId>{crm_id}</crmId><deleteOption>Nothing</deleteOption>"

    assert soap.call("IPayment", "DeletePaymentById", params)["Success"] == "true"
    assert soap.call("IPayment", "FindReceiptById", f"<receiptId>{crm_id}</receiptId>")["Success"] == "false"
