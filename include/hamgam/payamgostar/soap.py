"""A small SOAP 1.1 codec for the CRM's WCF services (IProduct, IInvoice, IPayment, ICrmObjectType).

Why our own and not zeep: the services are plain document/literal with a handful of contracts, and
what matters (element order, namespaces, enum names, no xsi:nil on value types) is easier to pin
down in one table (contracts.py) than to coax out of a generic client. No new dependency, no WSDL
fetched at run time. Wire rules: payamgostar-api.md §4.1 (transport, namespaces), §4.3 (operations).

- ``build_request`` writes an envelope from plain dicts keyed by the XSD's element names. A key that
  is None or missing is left out (every element is minOccurs=0; we never send xsi:nil). A key the
  contract does not have is a ValueError naming the contract: typos fail here, not as silently
  dropped elements on the server.
- ``parse_response`` reads ``<Op>Result`` back into dicts: nested contracts → dicts, arrays →
  lists, decimal → Decimal, bool → bool, int → int, dateTime → datetime, guid → str, xsi:nil →
  None. Elements the table does not know (a newer server) are skipped.

SOAP faults become typed errors (WCF answers them with HTTP 500):

- ``Client``/``Sender`` and WCF's ``DeserializationFailed``: the envelope's data was refused →
  RecordRejected (fix the record, do not retry).
- ``VersionMismatch``, ``MustUnderstand``, ``ActionNotSupported``, ``ContractFilter``: our wiring is
  wrong, whatever the record → PayamgostarError (fails the task loudly).
- ``Server``, WCF's ``InternalServiceFault`` and anything else: the service broke while handling
  it, like an HTTP 5xx → RetriableError (retried; a create's retry is guarded by ``recover``). An
  ``InternalServiceFault`` is a ServiceFault: when it persists for one record while the CRM answers
  other calls, the client makes it that record's rejection (``PayamgostarClient.internal_fault_rejects``).

An answer that is no readable ``<Op>Response`` envelope (an HTML page, a cut-off or garbled body,
values of the wrong type) → UnexpectedAnswer, a RetriableError: for a save it is ambiguous, so the
client looks a create up before sending it again.
"""

from __future__ import annotations

import difflib
import logging
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from hamgam.payamgostar.contracts import (
    CONTRACTS,
    ENUMS,
    FLAG_ENUMS,
    OPERATIONS,
    SCALARS,
    Contract,
    Member,
    Operation,
)
from hamgam.payamgostar.errors import (
    PayamgostarError,
    RecordRejected,
    RetriableError,
    ServiceFault,
    UnexpectedAnswer,
)

log = logging.getLogger(__name__)

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
TEMPURI = "http://tempuri.org/"
DATA_CONTRACTS = "http://schemas.datacontract.org/2004/07/Septa.PayamGostar.ServiceLayer.Contract.PGContracts.DataContracts"
ARRAYS = "http://schemas.microsoft.com/2003/10/Serialization/Arrays"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
CRM_TIMEZONE = ZoneInfo("Asia/Tehran")  # the CRM keeps local wall time without an offset (§3.0)
ZERO_GUID = "00000000-0000-0000-0000-000000000000"
SERVICES = ("IProduct", "IInvoice", "IPayment", "ICrmObjectType")
INT32 = range(-(2**31), 2**31)

for _prefix, _uri in (("s", SOAP_ENV), ("tns", TEMPURI), ("pg", DATA_CONTRACTS), ("arr", ARRAYS)):
    ET.register_namespace(_prefix, _uri)  # readable prefixes in logs; any prefix is valid on the wire

_NOT_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # XML 1.0 cannot carry these
_CLIENT_FAULTS = {"Client", "Sender", "DeserializationFailed"}
_WIRING_FAULTS = {"VersionMismatch", "MustUnderstand", "ActionNotSupported", "ContractFilter"}


def service_path(service: str) -> str:
    return f"Services/API/{service}.svc"


def soap_action(service: str, operation: str) -> str:
    return f'"{TEMPURI}{service}/{operation}"'


def operation_of(service: str | None, operation: str) -> Operation:
    op = OPERATIONS.get(operation)
    if op is None:
        raise ValueError(f"unknown CRM SOAP operation {operation!r}; known: {', '.join(sorted(OPERATIONS))}")
    if service is not None and op.service != service:
        raise ValueError(f"{operation} belongs to {op.service}, not {service}")
    return op


# -- writing ------------------------------------------------------------------------------------
def build_request(service: str, operation: str, username: str, password: str,
                  **params: Any) -> tuple[dict[str, str], bytes]:
    """Headers and body of a POST to ``{base}/Services/API/<service>.svc`` calling ``operation``."""
    op = operation_of(service, operation)
    names = [m.name for m in op.params]
    for key in params:
        if key not in names:
            raise ValueError(f"{service}.{operation} has no parameter {key!r}{_hint(key, names)}; "
                             f"it takes {', '.join(names)}")
    envelope = ET.Element(f"{{{SOAP_ENV}}}Envelope")
    wrapper = ET.SubElement(ET.SubElement(envelope, f"{{{SOAP_ENV}}}Body"), f"{{{TEMPURI}}}{operation}")
    for element, credential in ((op.user_element, username), ("password", password)):
        if credential is not None:
            ET.SubElement(wrapper, f"{{{TEMPURI}}}{element}").text = _clean(str(credential))
    for member in op.params:
        value = params.get(member.name)
        if value is None:
            if not member.nillable:
                raise ValueError(f"{service}.{operation} needs {member.name}")
            continue
        _write(wrapper, TEMPURI, member, value, member.name)
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": soap_action(service, operation),
               "Accept": "text/xml"}
    return headers, ET.tostring(envelope, encoding="utf-8", xml_declaration=True)


def _write(parent: ET.Element, namespace: str, member: Member, value: Any, path: str) -> None:
    element = ET.SubElement(parent, f"{{{namespace}}}{member.name}")
    if member.is_array:
        if isinstance(value, str | bytes | Mapping) or not hasattr(value, "__iter__"):
            raise ValueError(f"{path} must be a list, not {type(value).__name__}")
        item = Member(member.item_type, member.item_type)
        item_namespace = ARRAYS if member.item_type in SCALARS else DATA_CONTRACTS
        for n, item_value in enumerate(value):
            if item_value is None:
                raise ValueError(f"{path}[{n}] is None")
            _write(element, item_namespace, item, item_value, f"{path}[{n}]")
    elif member.type in CONTRACTS:
        _write_contract(element, CONTRACTS[member.type], value, path)
    else:
        element.text = _scalar(member.type, value, path)


def _write_contract(element: ET.Element, contract: Contract, value: Any, path: str) -> None:
    if not isinstance(value, Mapping):
        raise ValueError(f"{path} ({contract.name}) must be a dict, not {type(value).__name__}")
    for key in value:
        if contract.member(key) is None:
            names = [m.name for m in contract.members]
            raise ValueError(f"{contract.name} has no member {key!r}{_hint(key, names)} (at {path})")
    for member in contract.members:
        member_value = value.get(member.name)
        if member_value is not None:
            _write(element, DATA_CONTRACTS, member, member_value, f"{path}.{member.name}")


def _scalar(type_: str, value: Any, path: str) -> str:
    try:
        if type_ == "string":
            if isinstance(value, str | int | Decimal) and not isinstance(value, bool):
                return _clean(str(value))
        elif type_ == "decimal":
            return _decimal(value)
        elif type_ == "int":
            if isinstance(value, int) and not isinstance(value, bool) and value in INT32:
                return str(value)
        elif type_ == "bool":
            if isinstance(value, bool):
                return "true" if value else "false"
        elif type_ == "dateTime":
            return _datetime(value)
        elif type_ == "guid":
            if isinstance(value, str | uuid.UUID):
                return str(uuid.UUID(str(value)))
        elif type_ in ENUMS:
            names = value.split() if isinstance(value, str) else []
            one_or_flags = len(names) == 1 or (names and type_ in FLAG_ENUMS)
            if one_or_flags and all(name in ENUMS[type_] for name in names):
                return " ".join(names)
        else:
            raise ValueError(f"unknown type {type_}")
    except (ValueError, TypeError, InvalidOperation) as exc:
        raise ValueError(f"{path}: {value!r} is not a valid {type_} ({exc})") from None
    allowed = f" (one of {', '.join(ENUMS[type_])})" if type_ in ENUMS else ""
    raise ValueError(f"{path}: {value!r} is not a valid {type_}{allowed}")


def _decimal(value: Any) -> str:
    if isinstance(value, bool):
        raise ValueError("a bool is not a number")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        value = Decimal(repr(value))
    elif isinstance(value, str):
        value = Decimal(value.strip())
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError("not a finite number")
    return format(value, "f")  # never an exponent: xs:decimal has none


def _datetime(value: Any) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(CRM_TIMEZONE).replace(tzinfo=None)
        return value.strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(value, date):
        return f"{value.isoformat()}T00:00:00"
    raise ValueError("not a date or datetime")


def _clean(text: str) -> str:
    return _NOT_XML_CHARS.sub("", text)


def _hint(key: str, names: list[str]) -> str:
    close = difflib.get_close_matches(key, names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# -- reading ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fault:
    code: str  # local part of faultcode, e.g. "Client", "Server", "InternalServiceFault"
    message: str
    detail: str = ""


def fault_of(body: bytes) -> Fault | None:
    """The SOAP Fault in ``body``, or None when there is none (or it is not XML)."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    soap_body = _child(root, "Body")
    return _fault_in(soap_body) if soap_body is not None else None


def _fault_in(soap_body: ET.Element) -> Fault | None:
    fault = _child(soap_body, "Fault")
    if fault is None:
        return None
    code = (_child_text(fault, "faultcode") or "").rpartition(":")[2] or "Server"
    detail = _child(fault, "detail")
    detail_text = " ".join(t.strip() for t in detail.itertext() if t.strip())[:300] if detail is not None else ""
    return Fault(code, (_child_text(fault, "faultstring") or "").strip(), detail_text)


def fault_error(fault: Fault, *, endpoint: str, record: str | None = None,
                status: int | None = None) -> PayamgostarError:
    text = f"SOAP fault {fault.code}: {fault.message or 'no reason given'}"
    kwargs: dict[str, Any] = {"record": record, "endpoint": endpoint, "status": status,
                              "body": fault.detail or fault.message}
    if fault.code in _CLIENT_FAULTS:
        return RecordRejected(f"the CRM rejected it ({text})", **kwargs)
    if fault.code in _WIRING_FAULTS:
        return PayamgostarError(f"the CRM cannot take this call ({text})", **kwargs)
    if fault.code == "InternalServiceFault":
        return ServiceFault(f"the CRM failed ({text})", **kwargs)
    return RetriableError(f"the CRM failed ({text})", **kwargs)


def parse_response(operation: str, body: bytes, *, record: str | None = None, status: int | None = None,
                   content_type: str | None = None) -> dict[str, Any]:
    """``<Op>Result`` of a response envelope as a dict keyed by the XSD's element names.

    A fault is raised as its typed error (fault_error). An answer that is not a readable envelope
    with ``<Op>Response`` (an HTML page, a cut-off or garbled body, values of the wrong type) is an
    UnexpectedAnswer: retriable, and for a save ambiguous (it may have been saved), never a result."""
    op = operation_of(None, operation)
    endpoint = f"{op.service}/{op.name}"

    def unexpected(what: str) -> UnexpectedAnswer:
        return UnexpectedAnswer(endpoint, what, record=record, status=status, content_type=content_type, body=body)

    try:
        root = ET.fromstring(body)
    except (ET.ParseError, ValueError) as exc:
        raise unexpected(f"not XML, {exc}") from None
    soap_body = _child(root, "Body") if _local(root.tag) == "Envelope" else None
    if soap_body is None:
        raise unexpected("not a SOAP envelope")
    fault = _fault_in(soap_body)
    if fault is not None:
        raise fault_error(fault, endpoint=endpoint, record=record, status=status)
    response = _child(soap_body, f"{operation}Response")
    result = _child(response, f"{operation}Result") if response is not None else None
    if response is None:
        raise unexpected(f"no {operation}Response in the envelope")
    if result is None or _is_nil(result):
        return {}
    try:
        return _read_contract(CONTRACTS[op.result], result, f"{operation}Result")
    except (ValueError, TypeError) as exc:
        raise unexpected(f"cannot read {operation}Result: {exc}") from None


def _read(member: Member, element: ET.Element, path: str) -> Any:
    if _is_nil(element):
        return None
    if member.is_array:
        item = Member(member.item_type, member.item_type)
        return [_read(item, child, f"{path}[{n}]") for n, child in enumerate(element)]
    if member.type in CONTRACTS:
        return _read_contract(CONTRACTS[member.type], element, path)
    text = (element.text or "").strip() if member.type != "string" else (element.text or "")
    try:
        if member.type == "decimal":
            return Decimal(text)
        if member.type == "int":
            return int(text)
        if member.type == "bool":
            if text not in ("true", "false", "1", "0"):
                raise ValueError("not a bool")
            return text in ("true", "1")
        if member.type == "dateTime":
            return _read_datetime(text)
    except (ValueError, InvalidOperation):
        raise ValueError(f"{path}: {text!r} is not a {member.type}") from None
    return text  # string, guid, enum names


def _read_contract(contract: Contract, element: ET.Element, path: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for child in element:
        name = _local(child.tag)
        member = contract.member(name)
        if member is None:
            log.debug("%s: skipping %s, which %s does not define", path, name, contract.name)
            continue
        values[name] = _read(member, child, f"{path}.{name}")
    return values


def _read_datetime(text: str) -> datetime:
    # WCF writes up to 7 fractional digits and "Z" or an offset for UTC/local kinds
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    return datetime.fromisoformat(text)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _child(element: ET.Element, local: str) -> ET.Element | None:
    return next((child for child in element if _local(child.tag) == local), None)


def _child_text(element: ET.Element, local: str) -> str | None:
    child = _child(element, local)
    return child.text if child is not None else None


def _is_nil(element: ET.Element) -> bool:
    return element.get(f"{{{XSI}}}nil") in ("true", "1")
