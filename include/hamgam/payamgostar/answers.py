"""The shapes of the CRM's answers: each check turns a parsed answer into what the call returns, or raises
``BadShape`` (the client raises it as UnexpectedAnswer: retriable, never stored as an id). Shared by the
client's transports and the typed document operations (``documents``)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from hamgam.payamgostar import soap
from hamgam.payamgostar.errors import RecordRejected

log = logging.getLogger("hamgam.payamgostar.client")
# CRM ids are GUID strings (§3.0; guid in the XSDs), in the canonical 8-4-4-4-12 form the CRM writes
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class BadShape(Exception):
    """An answer parsed but is not what the call answers; the client raises it as UnexpectedAnswer."""


def crm_id_of(value: Any, what: str = "id") -> str:
    """``value`` when it is a plausible CRM id (a GUID string, not the empty GUID), else BadShape.

    Every id the client hands out (created, saved, updated, found) passes here once, so an HTML page, a
    cut-off body or an error text can never be stored as a record's id."""
    if isinstance(value, str) and _GUID.fullmatch(value) and value != soap.ZERO_GUID:
        return value
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:60] + "…"
    raise BadShape(f"{what} is not a CRM id: {shown}")


def object_answer(answer: Any, what: str = "answer") -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise BadShape(f"the {what} is {json_kind(answer)}, not a JSON object")
    return answer


def json_kind(value: Any) -> str:
    if value is None:
        return "empty"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(type(value), "a number")


def created_id(answer: Any) -> str:
    """A REST create's answer, ``{"crmId": "<guid>"}`` (§3.2), or the bare id as a JSON string."""
    if isinstance(answer, str):
        return crm_id_of(answer)
    return crm_id_of(object_answer(answer).get("crmId"), "crmId")


def updated_id(crm_id: str) -> Callable[[Any], str]:
    """A REST update answers ``{crmId}`` or nothing; either way the id is the one updated."""
    def check(answer: Any) -> str:
        if answer is None or answer == "":
            return crm_id
        if isinstance(answer, str):
            return crm_id_of(answer)
        found = object_answer(answer).get("crmId")
        return crm_id if found is None else crm_id_of(found, "crmId")
    return check


def found_rows(answer: Any) -> list[dict[str, Any]]:
    """A REST find's ``{"total": n, "data": [...]}`` (§3.2): the rows, each an object with a CRM id."""
    body = object_answer(answer)
    if "data" not in body:
        raise BadShape(f"no 'data' in the find answer (keys: {', '.join(sorted(map(str, body))) or 'none'})")
    rows = body["data"]
    if rows is None:
        return []
    if not isinstance(rows, list):
        raise BadShape(f"'data' is {json_kind(rows)}, not a list")
    out = []
    for n, row in enumerate(rows):
        if row is None:
            continue
        object_answer(row, f"row {n}")
        crm_id_of(row.get("crmId"), f"row {n}'s crmId")
        out.append(row)
    total = body.get("total")
    if total is not None and (not isinstance(total, int) or isinstance(total, bool)):
        raise BadShape(f"'total' is {json_kind(total)}, not an integer")
    return out


def found_page(answer: Any) -> tuple[list[dict[str, Any]], int | None]:
    rows = found_rows(answer)
    return rows, answer.get("total")


def listed(answer: Any) -> list[dict[str, Any]]:
    """identity/search answers a list of objects (§3.5)."""
    if answer is None:
        return []
    if not isinstance(answer, list):
        raise BadShape(f"the answer is {json_kind(answer)}, not a list")
    for n, row in enumerate(answer):
        object_answer(row, f"row {n}")
    return answer




def with_type(info: dict[str, Any], invoice_type: str | None, *, index: int) -> dict[str, Any]:
    """A copy with InvoiceType and CrmObjectTypeIndex filled in where the caller left them out."""
    if invoice_type and info.get("InvoiceType") not in (None, invoice_type):
        raise ValueError(f"InvoiceType must be {invoice_type!r} here, not {info['InvoiceType']!r}")
    out = {**info}
    if invoice_type:
        out["InvoiceType"] = invoice_type
    out.setdefault("CrmObjectTypeIndex", index)
    return out


def saved_id(endpoint: str, record: str | None) -> Callable[[dict[str, Any]], str]:
    """``expect`` of a Save*: the SaveCrmObjectResult's id. Success=false is the CRM refusing the record
    (RecordRejected, with its message); success without a plausible id is no answer (BadShape: the save
    may have landed)."""
    def check(result: dict[str, Any]) -> str:
        message = result.get("Message")
        if not result.get("Success"):
            raise RecordRejected(f"the CRM refused it: {message or 'no reason given'}", record=record,
                                 endpoint=endpoint, body=message)
        return crm_id_of(result.get("CrmId"), "CrmId of a successful save")
    return check


def infos(result: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The single ``<X>Info`` and the ``<X>InfoList`` of an *InfoResult, as one list."""
    single = result.get(key)  # the first of the list when both are given: not a second match
    return [item for item in result.get(f"{key}List") or [] if item] or ([single] if single else [])


def found_info(key: str, number: str | None, record: str | None) -> Callable[[dict[str, Any]], dict | None]:
    """``expect`` of a Find*ByNumber / Find*ById: the ``<key>`` with this Number, its CrmId checked."""
    return lambda result: only(infos(result, key), "Number" if number is not None else "CrmId", number, "CrmId",
                                record)


def searched_quotes(result: dict[str, Any]) -> dict[str, Any]:
    for row in infos(result, "InvoiceInfo") if result.get("Success") else []:
        crm_id_of(row.get("CrmId"), "a found quote's CrmId")
    return result


def only(rows: list[dict[str, Any]], field: str, value: str | None, id_field: str,
          record: str | None) -> dict | None:
    """The row whose ``field`` equals ``value`` exactly (a server that matched loosely must not make us
    adopt the wrong record), its ``id_field`` checked to be a CRM id; Success=false finds come here with no
    rows and read as "not found"."""
    matches = [row for row in rows if value is None or row.get(field) == value]
    if len(matches) > 1:
        log.warning("%s: the CRM holds %d records with %s %s; using the first", record or value, len(matches),
                    field, value)
    if not matches:
        return None
    crm_id_of(matches[0].get(id_field), f"the found record's {id_field}")
    return matches[0]
