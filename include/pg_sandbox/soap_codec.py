"""SOAP 1.1 envelopes: strict reading of requests against soap_contract, WCF-style answers and faults.

Reading is stricter than WCF, on purpose, so a client's mistake shows at once instead of
arriving as a silent null (§2.3, §4.1): an unknown element, an element in the wrong
namespace, elements out of XSD order or repeated, a value that does not parse as its XSD
type (decimal, int, boolean, dateTime, guid, enum member), `xsi:nil` on a non-nillable
element, and a missing non-nillable operation parameter are all `a:DeserializationFailed`
faults naming the element. A non-nillable member *inside* a data contract may be left out
(every element is `minOccurs=0`; the vendor's own examples omit `Tollable`): it takes its
.NET default, as the DataContractSerializer does (`complete()`).

Values come out as JSON-ready Python: strings, bools, numbers (decimals as int when whole,
else float), dates as Tehran local time text, guids lower-case, arrays as lists, data
contracts as dicts with camelCase keys (`CrmId` -> `crmId`).
"""

import re
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

from pg_sandbox.casing import camel
from pg_sandbox.dates import local_text, parse_client_date
from pg_sandbox.soap_contract import (
    ARRAYS,
    COMPLEX,
    DC,
    ENUMS,
    SOAP12_ENV,
    SOAP_ENV,
    TEMPURI,
    XSI,
    ZERO_GUID,
    Element,
    Operation,
    members,
)

DISPATCHER = "http://schemas.microsoft.com/net/2005/12/windowscommunicationfoundation/dispatcher"
ADDRESSING_NONE = "http://schemas.microsoft.com/ws/2005/05/addressing/none"
CONTENT_TYPE = "text/xml; charset=utf-8"
_PREFIX = {DC: "a:", ARRAYS: "b:"}
_DOTNET = {"boolean": "Boolean", "decimal": "Decimal", "int": "Int32", "long": "Int64", "dateTime": "DateTime",
           "guid": "Guid"}
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_INT = re.compile(r"[+-]?\d+")
_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?P<fraction>\.\d+)?(Z|[+-]\d\d:\d\d)?")
_GUID = re.compile(r"[\da-fA-F]{8}-[\da-fA-F]{4}-[\da-fA-F]{4}-[\da-fA-F]{4}-[\da-fA-F]{12}")
_BOOLEAN = {"true": True, "1": True, "false": False, "0": False}
_DEFAULTS = {"boolean": False, "decimal": 0, "int": 0, "long": 0, "guid": ZERO_GUID, "dateTime": "0001-01-01T00:00:00"}


class SoapFault(Exception):
    """A SOAP 1.1 Fault: `code` is a QName, `code_ns` the namespace of its `a:` prefix."""

    def __init__(self, code: str, message: str, code_ns: str | None = None, status: int = 500) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.code_ns = code_ns
        self.status = status

    def envelope(self) -> bytes:
        declaration = f' xmlns:a="{self.code_ns}"' if self.code_ns else ""
        return (f'<s:Envelope xmlns:s="{SOAP_ENV}"><s:Body><s:Fault>'
                f"<faultcode{declaration}>{self.code}</faultcode>"
                f'<faultstring xml:lang="en-US">{escape(self.message)}</faultstring>'
                "</s:Fault></s:Body></s:Envelope>").encode()


def client_fault(message: str, status: int = 500) -> SoapFault:
    return SoapFault("s:Client", message, status=status)


def action_not_supported(action: str, served: tuple[str, ...]) -> SoapFault:
    return SoapFault("a:ActionNotSupported",
                     f"The message with Action '{action}' cannot be processed at the receiver, due to a"
                     " ContractFilter mismatch at the EndpointDispatcher. This may be because of either a"
                     " contract mismatch (mismatched Actions between sender and receiver) or a"
                     " binding/security mismatch between the sender and the receiver."
                     f" (pg_sandbox serves here: {', '.join(served)}.)", ADDRESSING_NONE)


def internal_fault() -> SoapFault:
    return SoapFault("a:InternalServiceFault",
                     "The server was unable to process the request due to an internal error."
                     " (Injected fault, pg_sandbox.)", DISPATCHER)


class _Invalid(Exception):
    def __init__(self, path: str, problem: str) -> None:
        super().__init__(problem)
        self.path = path
        self.problem = problem


# ---- reading ---------------------------------------------------------------------------------

def read_request(raw: bytes, operation: Operation) -> dict[str, Any]:
    """The operation's parameters by name (camelCase), or raise SoapFault."""
    wrapper = _body_child(_parse(raw))
    expected = f"{{{TEMPURI}}}{operation.name}"
    if wrapper.tag != expected:
        namespace, local = _split(wrapper.tag)
        raise _deserialization_failed(
            operation, None,
            "OperationFormatter encountered an invalid Message body. Expected to find node type 'Element'"
            f" with name '{operation.name}' and namespace '{TEMPURI}'. Found node type 'Element' with name"
            f" '{local}' and namespace '{namespace}'")
    try:
        values = _read_members(wrapper, operation.wrapper, TEMPURI, "", operation.name)
        for spec in operation.wrapper:
            if not spec.nillable and spec.name not in values:
                raise _Invalid(spec.name, f"the parameter '{spec.name}' ({spec.type}) is missing; it is not nillable")
    except _Invalid as exc:
        raise _deserialization_failed(operation, exc.path, f"Element {exc.path}: {exc.problem}") from exc
    return values


def _deserialization_failed(operation: Operation, path: str | None, detail: str) -> SoapFault:
    parameter = (path or "").split("/")[0]
    if parameter and "/" in (path or ""):
        message = ("The formatter threw an exception while trying to deserialize the message: There was an error"
                   f" while trying to deserialize parameter {TEMPURI}:{parameter}. The InnerException message was"
                   f" '{detail}'. Please see InnerException for more details.")
    else:
        message = f"Error in deserializing body of request message for operation '{operation.name}'. {detail}"
    return SoapFault("a:DeserializationFailed", message, DISPATCHER)


def _parse(raw: bytes) -> ET.Element:
    if b"<!DOCTYPE" in raw:
        raise client_fault("DTD is prohibited in this XML document.", status=400)
    try:
        return ET.fromstring(raw)
    except ET.ParseError as exc:
        raise client_fault(f"The request body is not well-formed XML: {exc}.", status=400) from exc


def _body_child(root: ET.Element) -> ET.Element:
    if root.tag == f"{{{SOAP12_ENV}}}Envelope":
        raise SoapFault("s:VersionMismatch", "This endpoint speaks SOAP 1.1 (basicHttpBinding); the envelope is"
                        f" SOAP 1.2. Use the namespace {SOAP_ENV}.")
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise client_fault(f"The root element must be Envelope in namespace {SOAP_ENV}, not {root.tag}.")
    parts = list(root)
    if parts and parts[0].tag == f"{{{SOAP_ENV}}}Header":
        for header in parts.pop(0):
            if header.get(f"{{{SOAP_ENV}}}mustUnderstand", "0").strip() in ("1", "true"):
                raise SoapFault("s:MustUnderstand", f"The header '{header.tag}' was not understood.")
    if len(parts) != 1 or parts[0].tag != f"{{{SOAP_ENV}}}Body":
        raise client_fault("The envelope must hold one Body (after an optional Header) and nothing else.")
    children = list(parts[0])
    if len(children) != 1:
        raise client_fault(f"The SOAP Body must hold exactly one operation element, found {len(children)}.")
    return children[0]


def _split(tag: str) -> tuple[str, str]:
    namespace, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
    return namespace, local


def _read_members(element: ET.Element, specs: tuple[Element, ...], namespace: str, path: str,
                  owner: str) -> dict[str, Any]:
    _no_text(element, path)
    by_name = {spec.name: (i, spec) for i, spec in enumerate(specs)}
    values: dict[str, Any] = {}
    last = -1
    for child in element:
        _no_text_after(child, path)
        child_namespace, local = _split(child.tag)
        here = f"{path}/{local}" if path else local
        if local not in by_name:
            raise _Invalid(here, f"element '{local}' from namespace '{child_namespace}' is not expected:"
                                 f" {owner} has no member '{local}'.")
        index, spec = by_name[local]
        if child_namespace != namespace:
            raise _Invalid(here, f"element '{local}' is in namespace '{child_namespace}' but {owner} members"
                                 f" are in namespace '{namespace}'.")
        if index == last and not spec.repeated:
            raise _Invalid(here, f"element '{local}' appears more than once.")
        if index < last:
            raise _Invalid(here, f"element '{local}' is out of order: it must come before"
                                 f" '{specs[last].name}' (the XSD sequence of {owner}).")
        last = index
        value = _read_value(child, spec, here)
        if spec.repeated:
            values.setdefault(camel(local), []).append(value)
        else:
            values[camel(local)] = value
    return values


def _no_text(element: ET.Element, path: str) -> None:
    if (element.text or "").strip():
        raise _Invalid(path or element.tag, f"unexpected text '{element.text.strip()[:40]}' where elements belong.")


def _no_text_after(child: ET.Element, path: str) -> None:
    if (child.tail or "").strip():
        raise _Invalid(path or child.tag, f"unexpected text '{child.tail.strip()[:40]}' between elements.")


def _read_value(element: ET.Element, spec: Element, path: str) -> Any:
    nil = element.get(f"{{{XSI}}}nil")
    if nil is not None and nil.strip() not in _BOOLEAN:
        raise _Invalid(path, f"the xsi:nil value '{nil}' is not a boolean.")
    if nil is not None and _BOOLEAN[nil.strip()]:
        if not spec.nillable:
            raise _Invalid(path, f"element '{spec.name}' is not nillable: it cannot be null (xsi:nil).")
        if len(element) or (element.text or "").strip():
            raise _Invalid(path, f"element '{spec.name}' has xsi:nil='true' and must then be empty.")
        return None
    declared = element.get(f"{{{XSI}}}type")
    if declared is not None and declared.rpartition(":")[2] != spec.type:
        raise _Invalid(path, f"xsi:type '{declared}' is not a known subtype of {spec.type}.")
    if spec.type in COMPLEX:
        contract = COMPLEX[spec.type]
        values = _read_members(element, members(spec.type), contract.namespace, path, spec.type)
        return values.get(camel(contract.item.name), []) if contract.item else values
    if len(element):
        raise _Invalid(path, f"element '{spec.name}' of type {spec.type} cannot contain elements.")
    return _simple(spec, element.text or "", path)


def _simple(spec: Element, text: str, path: str) -> Any:
    kind, value = spec.type, text.strip()
    if kind == "string":
        return text
    if kind in ENUMS:
        enum = ENUMS[kind]
        names = value.split() if enum.is_list else [value]
        if not names or any(name not in enum.members for name in names):
            raise _Invalid(path, f"the value '{text}' is not a valid {kind}; expected one of"
                                 f" {', '.join(enum.members)}.")
        return value
    parsed = _parse_simple(kind, value)
    if parsed is None:
        raise _Invalid(path, f"the value '{text}' cannot be parsed as the type '{_DOTNET[kind]}'.")
    return parsed


def _parse_simple(kind: str, value: str) -> Any:
    if kind == "boolean":
        return _BOOLEAN.get(value)
    if kind == "decimal" and _DECIMAL.fullmatch(value):
        return json_number(Decimal(value))
    if kind == "int" and _INT.fullmatch(value) and -2**31 <= int(value) < 2**31:
        return int(value)
    if kind == "long" and _INT.fullmatch(value) and -2**63 <= int(value) < 2**63:
        return int(value)
    if kind == "guid" and _GUID.fullmatch(value):
        return value.lower()
    if kind == "dateTime":
        match = _DATETIME.fullmatch(value)
        if match:
            if match.group("fraction"):  # Python takes at most 6 fraction digits; .NET writes 7
                value = value[:match.start("fraction")] + match.group("fraction")[:7] + value[match.end("fraction"):]
            try:
                return local_text(parse_client_date(value))
            except ValueError:
                return None
    return None


def json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


# ---- the WCF view of an object -----------------------------------------------------------------

def default(type_name: str) -> Any:
    """The .NET default of a non-nillable member."""
    if type_name in ENUMS:
        return ENUMS[type_name].members[0]
    return _DEFAULTS.get(type_name)


def complete(type_name: str, values: dict[str, Any] | None) -> dict[str, Any]:
    """Every member of a data contract (camelCase keys): the values given, else nil or the .NET default."""
    values = values or {}
    result: dict[str, Any] = {}
    for spec in members(type_name):
        key = camel(spec.name)
        value = values.get(key)
        if value is None:
            result[key] = None if spec.nillable else default(spec.type)
        elif spec.type in COMPLEX:
            item = COMPLEX[spec.type].item
            if item is None:
                result[key] = complete(spec.type, value)
            else:
                result[key] = [complete(item.type, v) if item.type in COMPLEX and v is not None else v
                               for v in value]
        else:
            result[key] = value
    return result


# ---- writing -----------------------------------------------------------------------------------

def response_envelope(operation: Operation, result: dict[str, Any]) -> bytes:
    """`<Op>Response><Op>Result>` with every member of the result type, as WCF writes it."""
    members_xml = _members_xml(operation.result, result)
    return (f'<s:Envelope xmlns:s="{SOAP_ENV}"><s:Body>'
            f'<{operation.name}Response xmlns="{TEMPURI}">'
            f'<{operation.name}Result xmlns:a="{DC}" xmlns:i="{XSI}" xmlns:b="{ARRAYS}">{members_xml}'
            f"</{operation.name}Result></{operation.name}Response></s:Body></s:Envelope>").encode()


def _members_xml(type_name: str, value: dict[str, Any]) -> str:
    prefix = _PREFIX[COMPLEX[type_name].namespace]
    return "".join(_element_xml(prefix + spec.name, spec, value.get(camel(spec.name)))
                   for spec in members(type_name))


def _element_xml(tag: str, spec: Element, value: Any) -> str:
    if value is None:
        if spec.nillable:
            return f'<{tag} i:nil="true"/>'
        value = default(spec.type)
    if spec.type in COMPLEX:
        contract = COMPLEX[spec.type]
        if contract.item:
            item_tag = _PREFIX[contract.namespace] + contract.item.name
            inner = "".join(_element_xml(item_tag, contract.item, item) for item in value)
        else:
            inner = _members_xml(spec.type, value)
        return f"<{tag}>{inner}</{tag}>"
    return f"<{tag}>{escape(_text(spec.type, value))}</{tag}>"


def _text(kind: str, value: Any) -> str:
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "decimal":
        return format(Decimal(str(value)), "f")
    if kind in ("int", "long"):
        return str(int(value))
    return str(value)
