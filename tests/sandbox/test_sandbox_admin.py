"""The /_sandbox admin surface: health, records, reset and the readable HTML page."""

import requests
from sandbox_helpers import person


def test_health(pg):
    # instance: the nonce run_sandbox started it with (how it knows the answer is its own sandbox's)
    assert requests.get(f"{pg.base_url}/_sandbox/health", timeout=5).json() == {"status": "ok",
                                                                              "instance": pg.instance}


def test_records_lists_live_identities_with_their_kind(pg, api):
    kept = api.create("person", person())
    gone = api.create("person", person())
    api.post("crmobject/person/delete", {"id": gone})

    records = {r["crmId"]: r for r in pg.records()}

    assert records[kept]["kind"] == "person"
    assert gone not in records


def test_html_page_lists_a_persian_name_in_utf8(pg, api):
    api.create("person", person(firstName="زهرا", lastName="کریمی‌نژاد", nationalCode="0087654321",
                                phoneContacts=[{"phoneType": "موبایل", "phoneNumber": "09127654321", "default": True}]))
    api.create("person", person(lastName="<script>alert(1)</script>"))

    response = requests.get(f"{pg.base_url}/_sandbox/", timeout=5)

    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    html = response.content.decode("utf-8")
    assert 'dir="rtl"' in html and '<meta charset="utf-8">' in html
    assert "زهرا کریمی‌نژاد" in html and "0087654321" in html and "09127654321" in html
    assert "<script>alert" not in html and "&lt;script&gt;" in html


def test_reset_wipes_records(pg, api):
    api.create("person", person())
    pg.reset()
    assert pg.records() == []


def test_renumber_rewrites_a_number_as_the_crms_numbering_template_would(pg, soap, identity):
    from soap_helpers import payment, unique_code

    number = unique_code("R")
    saved = soap.call("IPayment", "SavePayment", payment(identity, number))
    crm_id = saved["CrmId"]

    pg.renumber(crm_id, "CRM-17")
    again = soap.call("IPayment", "SavePayment", payment(identity, number, crm_id=crm_id, amount="5"))

    [record] = [r for r in pg.records("receipt") if r["crmId"] == crm_id]
    assert again["Success"] == "true" and record["finalValue"] == 5
    assert record["number"] == "CRM-17"  # the CRM keeps the number it gave, whatever a later save sends
    found = soap.call("IPayment", "FindReceiptByNumber", f"<number>{number}</number><crmObjectTypeCode/>")
    assert found["Success"] == "false"
    pg.renumber(crm_id, "")  # a template that blanks it
    assert [r["number"] for r in pg.records("receipt") if r["crmId"] == crm_id] == [""]
    missing = requests.post(f"{pg.base_url}/_sandbox/records/{crm_id[:-1]}0/number", json={"number": "x"}, timeout=5)
    assert missing.status_code == 404
