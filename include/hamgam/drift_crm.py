"""The CRM side of the drift report: what the CRM holds of one company's records of an entity, read back
through its API.

Where the API lists an entity page by page (identities: REST ``person|organization/find``; sales and
purchase invoices: REST ``invoice/<kind>/find`` by subtype) the whole list is read, so records the CRM
holds and nobody else knows are found too. The contract lists no products, returns, quotes by subtype
with paging, receipts or payments: those are looked up one by one (``find by id`` where the ledger has the
CRM id, else by number), for every key Tadbir or the ledger names.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from hamgam.payamgostar.answers import found_page
from hamgam.payamgostar.client import IDENTITY_KINDS

if TYPE_CHECKING:
    from hamgam.config import HamgamConfig
    from hamgam.entities.base import EntitySpec
    from hamgam.payamgostar.client import PayamgostarClient

PAGE_SIZE = 200
AMOUNT_FIELDS = ("totalValue", "TotalValue", "FinalValue")  # documents (REST, SOAP), then receipts and payments


@dataclass(frozen=True)
class CrmRecord:
    number: str
    crm_id: str | None
    amount: int | None


@dataclass(frozen=True)
class Wanted:
    """A record the drift report asks the CRM about: its key, its CRM number, and its CRM id if known."""

    key: str
    number: str
    crm_id: str | None


def amount_of(row: dict[str, Any]) -> int | None:
    for name in AMOUNT_FIELDS:
        value = row.get(name)
        if value not in (None, ""):
            try:
                return int(Decimal(str(value)))
            except (InvalidOperation, ValueError):
                return None
    return None


def lists_everything(spec: EntitySpec) -> bool:
    """Whether the CRM's API lists this entity page by page (else: one look-up per record)."""
    from hamgam.entities.documents import RestInvoiceTarget
    from hamgam.entities.identities import IdentityTarget

    return isinstance(spec.target, IdentityTarget | RestInvoiceTarget)


def _paged(client: PayamgostarClient, path: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    page = 1
    while True:
        rows, total = client.call(path, {**body, "pageNumber": page, "pageSize": PAGE_SIZE},
                                  record=f"drift report {path}", expect=found_page)
        yield from rows
        if len(rows) < PAGE_SIZE or (isinstance(total, int) and page * PAGE_SIZE >= total):
            return
        page += 1


def listed(spec: EntitySpec, config: HamgamConfig, client: PayamgostarClient) -> dict[str, CrmRecord]:
    """Every record of ``spec``'s entity in the CRM (``lists_everything``), by CRM number."""
    from hamgam.entities.documents import RestInvoiceTarget, settings

    found: dict[str, CrmRecord] = {}
    if isinstance(spec.target, RestInvoiceTarget):
        type_code = settings(config, spec.name).type_code
        for row in _paged(client, f"{spec.target.api.path}/find", {"typeKey": type_code, "queries": []}):
            if row.get("number"):
                found[str(row["number"])] = CrmRecord(str(row["number"]), row.get("crmId"), amount_of(row))
        return found
    for kind in IDENTITY_KINDS:
        body = {"queries": [], "orders": [{"field": "CreatDate", "order": 0}]}
        for row in _paged(client, f"crmobject/{kind}/find", body):
            if row.get("customerNumber"):
                found[str(row["customerNumber"])] = CrmRecord(str(row["customerNumber"]), row.get("crmId"), None)
    return found


def looked_up(spec: EntitySpec, config: HamgamConfig, client: PayamgostarClient,
              wanted: Iterable[Wanted]) -> dict[str, CrmRecord]:
    """The records of ``wanted`` the CRM holds, by key: one look-up each, on the client's pool."""
    from hamgam.entities.products import ProductTarget

    def find(want: Wanted) -> dict[str, Any] | None:
        record = f"drift report {spec.label} {want.number}"
        if isinstance(spec.target, ProductTarget):
            return client.find_product_by_code(want.number, record=record)
        api = spec.target.api  # type: ignore[attr-defined]  # SoapDocumentTarget
        if want.crm_id:
            return api.find_by_id(client, want.crm_id, record=record)
        from hamgam.entities.documents import settings

        return api.find_by_number(client, want.number, settings(config, spec.name).type_code, record=record)

    found: dict[str, CrmRecord] = {}
    for want, row, error in client.map_concurrent(find, list(wanted)):
        if error is not None:
            raise error
        if row is not None:
            crm_id = row.get("CrmId") or row.get("Id") or want.crm_id
            found[want.key] = CrmRecord(str(row.get("Number") or row.get("Code") or want.number),
                                        str(crm_id) if crm_id else None, amount_of(row))
    return found
