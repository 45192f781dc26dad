"""The sandbox's SOAP contract table (pg_sandbox.soap_contract) against the vendor's XSDs and WSDLs.

The XSDs are not part of the project: these tests run where the reference set exists
(see tests/vendor_wsdl.py) and skip elsewhere, unless
HAMGAM_REQUIRE_WSDL=1 makes a missing set a failure. The consistency checks at the end
need no XSD.

Besides the table itself, the envelopes the sandbox writes and the ones the tests write by
hand are validated against the XSDs.
"""

from xml.etree import ElementTree as ET

import pytest
from soap_helpers import envelope, invoice, line, payment, product, return_invoice, return_line

from pg_sandbox.casing import camel
from pg_sandbox.soap_codec import complete, read_request, response_envelope
from pg_sandbox.soap_contract import (
    COMPLEX,
    ENUMS,
    OPERATIONS,
    SERVICES,
    SIMPLE,
    SOAP_ENV,
    TEMPURI,
    members,
    type_namespace,
)
from vendor_wsdl import require_wsdl, wsdl_dir

WSDL_DIR = wsdl_dir()
GUID = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"


def require_reference() -> None:
    require_wsdl()


@pytest.fixture(scope="module")
def schemas() -> dict:
    require_reference()
    xmlschema = pytest.importorskip("xmlschema")
    return {service: xmlschema.XMLSchema(str(WSDL_DIR / f"{service}.xsd")) for service in SERVICES}


def qname(namespace: str, local: str) -> str:
    return f"{{{namespace}}}{local}"


def described(element) -> tuple:
    """(name, type QName, nillable, repeated) of an xmlschema element."""
    return (element.local_name, element.type.name, element.nillable, element.max_occurs is None)


def ours(spec) -> tuple:
    return (spec.name, qname(type_namespace(spec.type), spec.type), spec.nillable, spec.repeated)


# ---- the table against the XSDs ---------------------------------------------------------------

@pytest.mark.parametrize("service", SERVICES)
def test_operations_parameters_in_order(schemas, service):
    schema = schemas[service]
    for operation in OPERATIONS[service].values():
        request = schema.elements[operation.name]
        assert [described(e) for e in request.type.content.iter_elements()] == \
               [ours(p) for p in operation.wrapper], operation.name
        [answer] = schema.elements[f"{operation.name}Response"].type.content.iter_elements()
        assert described(answer) == (f"{operation.name}Result", qname(type_namespace(operation.result),
                                                                    operation.result), True, False)


@pytest.mark.parametrize("service", SERVICES)
def test_soap_actions_match_the_wsdl(service):
    require_reference()
    [wsdl] = [p for p in WSDL_DIR.iterdir() if p.name.lower() == f"{service.lower()}_1.wsdl"]
    soap_ns = "http://schemas.xmlsoap.org/wsdl/soap/"
    wsdl_ns = "http://schemas.xmlsoap.org/wsdl/"
    actions = {op.get("name"): op.find(f"{{{soap_ns}}}operation").get("soapAction")
               for op in ET.parse(wsdl).getroot().iter(f"{{{wsdl_ns}}}operation")
               if op.find(f"{{{soap_ns}}}operation") is not None}
    for operation in OPERATIONS[service].values():
        assert actions[operation.name] == operation.action


def test_data_contracts_in_wire_order(schemas):
    for name, contract in COMPLEX.items():
        found = [s.maps.types[qname(contract.namespace, name)] for s in schemas.values()
                 if qname(contract.namespace, name) in s.maps.types]
        assert found, f"{name} is in no XSD"
        for xsd_type in found:  # the same type in every service that declares it
            flattened = [described(e) for e in xsd_type.content.iter_elements()]
            assert flattened == [ours(m) for m in members(name)], name
            base = xsd_type.base_type.local_name if xsd_type.derivation == "extension" else None
            assert base == contract.base, name


def test_enumerations(schemas):
    for name, enum in ENUMS.items():
        xsd_type = next(s.maps.types[qname(enum.namespace, name)] for s in schemas.values()
                        if qname(enum.namespace, name) in s.maps.types)
        assert xsd_type.is_list() == enum.is_list, name
        values = xsd_type.item_type.enumeration if enum.is_list else xsd_type.enumeration
        assert tuple(values) == enum.members, name


# ---- envelopes against the XSDs ------------------------------------------------------------------

def _body_child(xml: bytes | str) -> ET.Element:
    root = ET.fromstring(xml)
    return list(root.find(f"{{{SOAP_ENV}}}Body"))[0]


def _sample(type_name: str, depth: int = 0) -> dict:
    """A data contract with every member filled, arrays with one item (two levels deep)."""
    values = {"string": "x", "boolean": True, "decimal": 1234.5, "int": 7, "long": 2**40,
              "dateTime": "2025-03-21T10:30:00.173",
              "guid": GUID}
    sample = {}
    for spec in members(type_name):
        if spec.type in SIMPLE:
            sample[camel(spec.name)] = values[spec.type]
        elif spec.type in ENUMS:
            sample[camel(spec.name)] = ENUMS[spec.type].members[-1]
        elif depth < 3:
            item = COMPLEX[spec.type].item
            if item is None:
                sample[camel(spec.name)] = _sample(spec.type, depth + 1)
            elif item.type in SIMPLE:
                sample[camel(spec.name)] = ["a", None]
            else:
                sample[camel(spec.name)] = [_sample(item.type, depth + 1)]
    return sample


@pytest.mark.parametrize("service, operation", [(s, o) for s in SERVICES for o in OPERATIONS[s]])
def test_responses_the_sandbox_writes_are_valid(schemas, service, operation):
    op = OPERATIONS[service][operation]
    full = _body_child(response_envelope(op, _sample(op.result)))
    empty = _body_child(response_envelope(op, {"message": "not found", "success": False}))
    schemas[service].validate(full)
    schemas[service].validate(empty)


HAND_WRITTEN = [
    ("IProduct", "SaveProduct", product("P-1", unit="عدد", product_id=GUID)),
    ("IProduct", "FindProductByCode", "<code>P-1</code><groupName/>"),
    ("IInvoice", "SaveInvoice", invoice(GUID, "1", [line("P-1"), line(product_id=GUID)], crm_id=GUID)),
    ("IInvoice", "SaveReturnInvoice", return_invoice(GUID, "R1", [return_line("P-1", invoice_number="1"),
                                                                  return_line("P-1", invoice_id=GUID)])),
    ("IInvoice", "DeleteInvoiceByNumber", "<number>1</number><invoiceType>Quote</invoiceType><typeCode/>"
                                          "<deleteOption>DeleteChildren DeleteWithHistory</deleteOption>"),
    ("IInvoice", "SaveReturnInvoice", return_invoice(GUID, "100-1403/7", [return_line("P-1", invoice_id=GUID)],
                                                      type_code="purchase_return", index=16)),
    ("IInvoice", "SearchReturnPurchaseInvoice", '<typeKey>purchase_return</typeKey><query>Number == "100-1403/7"'
                                                "</query>"),
    ("IInvoice", "FindReturnPurchaseInvoiceById", f"<retPurchInvoiceId>{GUID}</retPurchInvoiceId>"),
    ("IInvoice", "DeleteReturnInvoiceByNumber", "<number>100-1403/7</number><typeCode>purchase_return</typeCode>"
                                                "<deleteOption>DeleteWithHistory</deleteOption>"),
    ("IPayment", "SavePayment", payment(GUID, "9", invoice_number="1", crm_id=GUID)),
]


@pytest.mark.parametrize("service, operation, params", HAND_WRITTEN, ids=[o for _, o, _ in HAND_WRITTEN])
def test_the_tests_envelopes_are_valid(schemas, service, operation, params):
    body = envelope(operation, params)
    schemas[service].validate(_body_child(body))
    read_request(body.encode(), OPERATIONS[service][operation])  # and the sandbox reads them


# ---- consistency of the table (no XSD needed) -------------------------------------------------

def test_every_referenced_type_is_defined():
    for name in COMPLEX:
        for spec in members(name):
            assert spec.type in SIMPLE or spec.type in ENUMS or spec.type in COMPLEX, (name, spec)
    for service_ops in OPERATIONS.values():
        for op in service_ops.values():
            assert op.result in COMPLEX
            for spec in op.wrapper:
                assert spec.type in SIMPLE or spec.type in ENUMS or spec.type in COMPLEX, (op.name, spec)


def test_members_are_in_ordinal_order_within_each_class():
    for name, contract in COMPLEX.items():
        own = [spec.name for spec in contract.own]
        assert own == sorted(own, key=lambda n: n.encode()) or name.startswith("ArrayOf"), name


def test_read_then_write_round_trips_an_invoice():
    body = envelope("SaveInvoice", invoice(GUID, "1", [line("P-1")]))
    info = read_request(body.encode(), OPERATIONS["IInvoice"]["SaveInvoice"])["invoiceInfo"]
    completed = complete("InvoiceInfo", info)
    assert completed["number"] == "1" and completed["tags"] == ["tadbir"] and completed["toll"] == 0
    assert completed["details"][0]["productCode"] == "P-1" and completed["details"][0]["id"] == 0
    written = response_envelope(OPERATIONS["IInvoice"]["FindInvoiceById"],
                                {"success": True, "invoiceInfo": completed, "invoiceInfoList": [completed]})
    assert written.count(b"<a:Number>1</a:Number>") == 2 and TEMPURI.encode() in written
