"""ICrmObjectType (§4.3 Helpers): the CRM object subtypes this sandbox knows, and the check that a Save*'s
CrmObjectTypeId names one of the record's own index.

A subtype is listed per CrmObjectTypes index from the settings: identities (persons, organizations), quotes, sales invoices and sales returns from
`*_type_codes`, receipts, payments and purchase documents from their one code each. Its `Id` is the
CrmObjectTypeId the sandbox writes on records of that code (documents.type_id), its `UserKey` the code, its
`Name` the code too (the real CRM's display names are installation-specific).
"""

from typing import Any

from pg_sandbox.documents import NOUN, TYPE_INDEX, Rejected, given_id, type_id
from pg_sandbox.settings import SandboxSettings
from pg_sandbox.soap_contract import ENUMS

INDEX_NAMES = ENUMS["CrmObjectTypes"].members  # index n is INDEX_NAMES[n - 1]
NOT_FOUND = "not found"


def index_name(kind: str) -> str:
    """The CrmObjectTypes name of a record kind ("quote" -> "Quote")."""
    return INDEX_NAMES[TYPE_INDEX[kind] - 1]


def subtype_codes(settings: SandboxSettings) -> dict[str, tuple[str, ...]]:
    """CrmObjectTypes name -> the subtype codes listed under it."""
    return {
        "Identity": settings.identity_type_codes,
        "Quote": settings.quote_type_codes,
        "Invoice": settings.sales_invoice_type_codes,
        "ReturnSaleInvoice": settings.sales_return_type_codes,
        "PurchaseInvoice": (settings.purchase_invoice_type_code,),
        "ReturnPurchaseInvoice": (settings.purchase_return_type_code,),
        "Receipt": (settings.receipt_type_code,),
        "Payment": (settings.payment_type_code,),
    }


def _basic(index: str, code: str) -> dict[str, Any]:
    return {"createByCustomer": False, "crmObjectType": index, "id": type_id(code), "isAbstract": False,
            "isActive": True, "isUnderProcess": False, "name": code, "ownerId": None, "parentId": None,
            "showToCustomer": False, "userKey": code}


def listed(settings: SandboxSettings, index: str | None) -> list[dict[str, Any]]:
    """CrmObjectTypeBasicInfo of every subtype of `index` (None or empty: of every index)."""
    wanted = set((index or "").split())
    return [_basic(name, code) for name, codes in subtype_codes(settings).items()
            if not wanted or name in wanted for code in codes]


def type_list(settings: SandboxSettings, params: dict[str, Any]) -> dict[str, Any]:
    """GetCrmObjectTypeList(crmObjectTypeIndex): CrmObjectTypeListInfo, Success=true even when none is listed."""
    return {"message": None, "success": True, "crmObjectTypeList": listed(settings, params.get("crmObjectTypeIndex"))}


def type_info(settings: SandboxSettings, params: dict[str, Any]) -> dict[str, Any]:
    """GetCrmObjectTypeInfo(typeKeyOrId): the subtype with that code (ignoring case) or id; no property groups."""
    key = (params.get("typeKeyOrId") or "").strip().casefold()
    for info in listed(settings, None):
        if key in (info["userKey"].casefold(), info["id"]):
            return {**info, "message": None, "success": True, "propertyGroups": []}
    return {"message": NOT_FOUND, "success": False}


def check_type_id(settings: SandboxSettings, kind: str, info: dict[str, Any], type_code: str) -> None:
    """A given CrmObjectTypeId must be a listed subtype of the record's index, the one its code names. The id
    the sandbox writes on records of an unlisted code (a REST update sends back what it read) passes too."""
    given = given_id(info.get("crmObjectTypeId"))
    if given is None:
        return
    found = next((t for t in listed(settings, None) if t["id"] == given), None)
    if found is None and given == type_id(type_code):
        return
    if found is None:
        raise Rejected("unknown_type", f"CrmObjectTypeId {given} is no subtype of this CRM")
    if found["crmObjectType"] != index_name(kind):
        raise Rejected("unknown_type", f"CrmObjectTypeId {given} is the {found['crmObjectType']} subtype"
                                       f" '{found['userKey']}', not a {NOUN[kind]} ({index_name(kind)}) subtype")
    if found["userKey"].casefold() != type_code.casefold():
        raise Rejected("unknown_type", f"CrmObjectTypeId {given} is the subtype '{found['userKey']}', but"
                                       f" CrmObjectTypeCode says '{type_code}'")
