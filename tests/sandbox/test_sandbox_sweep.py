"""The reads a sweep uses to catch webhooks that never arrived: REST find on ModifyDate (compared as
moments, not text) with paging, and SOAP IInvoice SearchQuote(typeKey, query)."""

import time
import uuid
from datetime import datetime, timedelta
from xml.sax.saxutils import escape

import pytest
from sandbox_helpers import organization, person
from soap_helpers import DESERIALIZATION_FAILED, envelope, invoice, line, result, unique_code

from pg_sandbox import find, soap_search
from pg_sandbox.soap_ops import INVOICE_FIELDS
from vendor_wsdl import require_wsdl, wsdl_dir

GE, GT, LT, EQ, NE = 2, 1, 4, 0, 6  # FilterOperators


def modified(api, kind: str, crm_id: str) -> str:
    return api.get(kind, crm_id)["modifyDate"]


def same_moment_spellings(text: str) -> list[str]:
    """One CRM date (Tehran wall time, trimmed fraction) written the ways clients may write it."""
    moment = datetime.fromisoformat(text)
    utc = moment - timedelta(hours=3, minutes=30)
    return [
        text,
        moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0",  # .NET: 7 digits
        moment.isoformat(timespec="microseconds") + "+03:30",
        utc.isoformat(timespec="milliseconds") + "Z",
        moment.isoformat(sep=" ", timespec="milliseconds"),
    ]


def ids(found: dict) -> list[str]:
    return [row["crmId"] for row in found["data"]]


# ---- REST find on ModifyDate ---------------------------------------------------------------------

def test_find_modify_date_compares_moments_not_text(api):
    older = api.create("person", person())
    time.sleep(0.02)
    newer = api.create("person", person())
    since = modified(api, "person", newer)
    for spelling in same_moment_spellings(since):
        found = [i for i in ids(api.find("person", ("ModifyDate", GE, spelling))) if i in (older, newer)]
        assert found == [newer], spelling
        assert newer not in ids(api.find("person", ("ModifyDate", GT, spelling))), spelling
        assert older in ids(api.find("person", ("modifyDate", LT, spelling))), spelling
        assert ids(api.find("person", ("ModifyDate", EQ, spelling), ("crmId", EQ, newer))) == [newer], spelling


def test_find_modify_date_in_whole_seconds_takes_the_whole_second(api):
    crm_id = api.create("organization", organization())
    stamp = modified(api, "organization", crm_id)
    second = stamp[:19]  # "2026-11-28T17:00:00", as a sweep sends it
    assert crm_id in ids(api.find("organization", ("ModifyDate", GE, second)))
    later = (datetime.fromisoformat(second) + timedelta(seconds=1)).isoformat()
    assert crm_id not in ids(api.find("organization", ("ModifyDate", GE, later)))


def test_find_modified_since_pages_through_every_match(api):
    created = []
    for n in range(5):
        created.append(api.create("person", person(lastName=f"صفحه {n}")))
        time.sleep(0.002)
    since = modified(api, "person", created[0])
    pages = [api.find("person", ("ModifyDate", GE, since), pageNumber=n, pageSize=2,
                      orders=[{"field": "CreatDate", "order": 0}]) for n in (1, 2, 3, 4)]
    assert [len(p["data"]) for p in pages] == [2, 2, 1, 0]
    assert {p["total"] for p in pages} == {5}
    assert [i for p in pages for i in ids(p)] == created


def test_an_update_brings_an_old_record_into_the_window(api):
    old = api.create("person", person())
    time.sleep(0.02)
    marker = api.create("person", person())
    since = modified(api, "person", marker)
    assert old not in ids(api.find("person", ("ModifyDate", GE, since)))
    api.ok("crmobject/person/update", {"crmId": old, "lastName": "ویرایش شده"})
    assert old in ids(api.find("person", ("ModifyDate", GE, since)))


@pytest.mark.parametrize("actual, operator, expected, result", [
    ("2026-11-28T17:00:00.5", GE, "2026-11-28T17:00:00.50", True),  # text would say ".5" < ".50"
    ("2026-11-28T17:00:00.5", EQ, "2026-11-28T17:00:00.5000000", True),
    ("2026-11-28T17:00:00", GE, "2026-11-28T13:30:00Z", True),
    ("2026-11-28T17:00:00", GT, "2026-11-28T13:30:00+00:00", False),
    ("2026-11-28T17:00:00", EQ, "2026-11-28T17:00:00.000+03:30", True),
    ("2026-11-28T17:00:00.999", LT, "2026-11-28 17:00:01", True),
    ("2026-11-28T00:00:00", EQ, "2026-11-28", True),
    ("2026-11-28T17:00:00.1234567", NE, "2026-11-28T17:00:00.123456", False),  # 7th digit: beyond Python
    ("2026-11-29T09:00:00", GE, "2026-11-28T17:00:00", True),
    ("100-5", EQ, "100-5", True),  # not dates: text, ignoring case
    ("ABC", EQ, "abc", True),
    ("10", GT, "9", True),  # numbers as numbers
    ("2026-11-28", GT, "not a date", False),  # mixed: text ("2" < "n")
])
def test_compare(actual, operator, expected, result):
    assert find.compare(actual, operator, expected) is result


# ---- SOAP SearchQuote ------------------------------------------------------------------------------

@pytest.fixture
def type_code() -> str:
    """A subtype code of this test's own, so the session's other quotes stay out of the results."""
    return f"PQ_{uuid.uuid4().hex[:8]}"


def save(soap, identity: str, product_code: str, type_code: str, *, number: str | None = None,
         invoice_type: str = "Quote") -> tuple[str, str]:
    """Save a quote (or invoice); return its CrmId and ModifyDate."""
    number = number or unique_code("Q")
    saved = soap.call("IInvoice", "SaveInvoice", invoice(identity, number, [line(product_code)],
                                                         invoice_type=invoice_type, type_code=type_code))
    assert saved["Success"] == "true", saved
    operation, param = ("FindQuoteById", "quoteId") if invoice_type == "Quote" else ("FindInvoiceById", "invoiceId")
    found = soap.call("IInvoice", operation, f"<{param}>{saved['CrmId']}</{param}>")
    return saved["CrmId"], found["InvoiceInfo"]["ModifyDate"]


def search_body(query: str | None, type_key: str | None) -> str:
    key = '<typeKey i:nil="true"/>' if type_key is None else f"<typeKey>{escape(type_key)}</typeKey>"
    text = '<query i:nil="true"/>' if query is None else f"<query>{escape(query)}</query>"
    return envelope("SearchQuote", key + text)


def search(soap, query: str | None, type_key: str | None) -> dict:
    response = soap.post("IInvoice", "SearchQuote", search_body(query, type_key))
    assert response.status_code == 200, response.text
    return result(response, "SearchQuote")


def found_ids(answer: dict) -> list[str]:
    return [info["CrmId"] for info in answer.get("InvoiceInfoList") or []]


def test_search_quote_finds_what_was_modified_since_and_not_older(soap, identity, product_code, type_code):
    older, _ = save(soap, identity, product_code, type_code)
    time.sleep(0.02)
    newer, stamp = save(soap, identity, product_code, type_code)
    for spelling in same_moment_spellings(stamp):
        answer = search(soap, f'ModifyDate >= "{spelling}"', type_code)
        assert answer["Success"] == "true" and found_ids(answer) == [newer], spelling
        assert answer["InvoiceInfo"]["CrmId"] == newer and answer["InvoiceInfo"]["InvoiceType"] == "Quote"
    assert newer in found_ids(search(soap, f'ModifyDate >= "{stamp[:19]}"', type_code))  # the whole second
    assert found_ids(search(soap, f'ModifyDate < "{stamp}"', type_code)) == [older]


def test_search_quote_by_number_and_combined_conditions(soap, identity, product_code, type_code):
    number = unique_code("Qn")
    wanted, stamp = save(soap, identity, product_code, type_code, number=number)
    other, _ = save(soap, identity, product_code, type_code)
    assert found_ids(search(soap, f'Number == "{number}"', type_code)) == [wanted]
    assert found_ids(search(soap, f'number=="{number.lower()}"', type_code)) == [wanted]  # ignores case
    assert found_ids(search(soap, f'Number = "{number}"', type_code)) == [wanted]  # single '=' (OMID)
    assert found_ids(search(soap, f'Number != "{number}"', type_code)) == [other]
    assert found_ids(search(soap, f'IdentityId == "{identity}" & Number == "{number}"', type_code)) == [wanted]
    assert found_ids(search(soap, f'ModifyDate >= "{stamp}" && Number == "{number}"', type_code)) == [wanted]
    assert search(soap, f'Number == "{number}" & Number == "{unique_code()}"', type_code)["Success"] == "false"


def test_search_quote_type_key_empty_or_nil_means_every_subtype(soap, identity, product_code, type_code):
    number = unique_code("Qt")
    mine, _ = save(soap, identity, product_code, type_code, number=number)
    theirs, _ = save(soap, identity, product_code, type_code + "_other", number=number)
    assert found_ids(search(soap, f'Number == "{number}"', type_code)) == [mine]
    assert found_ids(search(soap, f'Number == "{number}"', type_code.upper())) == [mine]  # codes ignore case
    assert found_ids(search(soap, f'Number == "{number}"', "")) == [mine, theirs]
    assert found_ids(search(soap, f'Number == "{number}"', None)) == [mine, theirs]


def test_search_quote_empty_query_is_every_quote_of_the_subtype(soap, identity, product_code, type_code):
    quotes = [save(soap, identity, product_code, type_code)[0] for _ in range(3)]
    assert found_ids(search(soap, "", type_code)) == quotes
    assert found_ids(search(soap, None, type_code)) == quotes
    assert found_ids(search(soap, "   ", type_code)) == quotes


def test_search_quote_leaves_out_sales_invoices_and_deleted_quotes(soap, identity, product_code, type_code):
    kept, _ = save(soap, identity, product_code, type_code)
    gone, _ = save(soap, identity, product_code, type_code)
    save(soap, identity, product_code, type_code, invoice_type="Invoice")
    assert soap.call("IInvoice", "DeleteInvoiceById", f"<invoiceId>{gone}</invoiceId>"
                     "<deleteOption>DeleteWithHistory</deleteOption>")["Success"] == "true"
    assert found_ids(search(soap, "", type_code)) == [kept]


def test_search_quote_with_no_match_answers_not_found(soap, type_code):
    answer = search(soap, 'Number == "nothing-like-this"', type_code)
    assert answer["Success"] == "false" and answer["Message"] == "not found"
    assert answer["InvoiceInfo"] is None and answer["InvoiceInfoList"] is None


def test_search_quote_is_a_counted_read(pg, soap, type_code):
    before = pg.stats()
    search(soap, "", type_code)
    after = pg.stats()
    assert after["calls"]["IInvoice/SearchQuote"] == before["calls"].get("IInvoice/SearchQuote", 0) + 1
    assert after["writes"] == before["writes"]


@pytest.mark.parametrize("query, mentions", [
    ('Number ~ "x"', "position 7: expected one of == = != > >= < <="),
    ('Number == "x" | Number == "y"', "position 14: expected & between conditions"),
    ('(Number == "x")', "position 0: expected a field name"),
    ('Number == "x', 'position 10: expected a "quoted value" or a bare word'),
    ('Frobnicate == "x"', "position 0: unknown field 'Frobnicate'"),
    ('Number == "x" &', "a condition must follow &"),
    ("Number", "position 6"),
])
def test_a_query_the_sandbox_cannot_read_is_a_client_fault(soap, query, mentions):
    code, text = soap.fault("IInvoice", "SearchQuote", search_body(query, ""))
    assert code == "s:Client" and mentions in text and "The query is not valid" in text


# ---- SearchQuote envelope strictness -------------------------------------------------------------

@pytest.mark.parametrize("params, mentions", [
    ('<query>Number == "1"</query><typeKey>PI_5</typeKey>', "out of order"),
    ("<typeKey>PI_5</typeKey><typeKey>PI_6</typeKey>", "more than once"),
    ("<typeKeys>PI_5</typeKeys>", "typeKeys"),
    ("<a:typeKey>PI_5</a:typeKey>", "namespace"),
    ("<typeKey><a:Code>x</a:Code></typeKey>", "cannot contain elements"),
    ('<typeKey>PI_5</typeKey><query>Number == "1"</query><number>1</number>', "number"),
])
def test_a_bad_search_quote_envelope_is_deserialization_failed(pg, soap, params, mentions):
    code, text = soap.fault("IInvoice", "SearchQuote", envelope("SearchQuote", params))
    assert code == DESERIALIZATION_FAILED and mentions in text


def test_search_quote_checks_credentials_and_its_service(soap):
    code, text = soap.fault("IInvoice", "SearchQuote", envelope("SearchQuote", "<typeKey/><query/>", password="x"))
    assert code == "s:Client" and text == "The user name or password is incorrect."
    code, _ = soap.fault("IProduct", "SearchQuote", envelope("SearchQuote", "<typeKey/><query/>"),
                         action="http://tempuri.org/IProduct/SearchQuote")
    assert code == "a:ActionNotSupported"


def test_the_search_quote_envelope_validates_against_the_vendor_xsd():
    require_wsdl()
    xmlschema = pytest.importorskip("xmlschema")
    from xml.etree import ElementTree as ET

    schema = xmlschema.XMLSchema(str(wsdl_dir() / "IInvoice.xsd"))
    body = ET.fromstring(search_body('ModifyDate >= "2026-11-28T17:00:00" & Number == "1"', ""))
    [wrapper] = list(body[0])
    schema.validate(wrapper)
    with pytest.raises(xmlschema.XMLSchemaValidationError):  # and the order counts
        wrapper[2], wrapper[3] = wrapper[3], wrapper[2]
        schema.validate(wrapper)


# ---- the query grammar ---------------------------------------------------------------------------

def test_parse_reads_the_forms_clients_send():
    fields = INVOICE_FIELDS
    assert soap_search.parse('ModifyDate >= "2026-11-28T17:00:00"', fields) == [
        soap_search.Condition("ModifyDate", GE, "2026-11-28T17:00:00")]
    assert soap_search.parse('IdentityId=="g" & Number=="X"', fields) == [
        soap_search.Condition("IdentityId", EQ, "g"), soap_search.Condition("Number", EQ, "X")]
    assert soap_search.parse("finalvalue > 100", fields) == [soap_search.Condition("FinalValue", GT, "100")]
    assert soap_search.parse(r'Subject == "say \"hi\" & go"', fields) == [
        soap_search.Condition("Subject", EQ, 'say "hi" & go')]
    assert soap_search.parse("", fields) == soap_search.parse(None, fields) == []
