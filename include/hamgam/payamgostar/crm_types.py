"""The CRM's object subtypes (ICrmObjectType, §4.3 Helpers, §5.1): listed once per client and index, and the
CrmObjectTypeId a Save* carries, looked up by its type code.

Why send the id: the vendor's clients (PRESS) send CrmObjectTypeCode, CrmObjectTypeId and CrmObjectTypeIndex
on every Save*; whether the server resolves a missing id from the code is not known (§7). Assumed, not
observed on a real CRM: a subtype's ``UserKey`` is the code the settings name (``type_code``), compared
ignoring case as the CRM compares codes elsewhere. ``resolve_type_ids=False`` on the client sends the code
alone, as before.

The list is also the client's cheap authenticated probe (``credentials_refused``): a CRM that will not list
subtypes refuses the credentials or the permission, whatever it answered another call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from hamgam.payamgostar.answers import BadShape, crm_id_of
from hamgam.payamgostar.contracts import ENUMS, TYPE_INDEX_NAMES
from hamgam.payamgostar.errors import AuthError, RecordRejected, UnknownCrmObjectType

LIST_ENDPOINT = "ICrmObjectType/GetCrmObjectTypeList"
PROBE_INDEX = "Quote"  # any index will do: the probe asks whether the CRM answers at all


class CrmObjectTypes:
    """Subtype look-ups of a client (a base of ``PayamgostarClient``, which provides ``soap_call``)."""

    resolve_type_ids: bool
    soap_call: Callable[..., Any]

    def _init_types(self, resolve_type_ids: bool) -> None:
        self.resolve_type_ids = resolve_type_ids
        self._types: dict[str, list[dict[str, Any]] | AuthError] = {}  # a refusal is kept too: asked once
        self._types_lock = threading.Lock()

    def crm_object_types(self, index_name: str) -> list[dict[str, Any]]:
        """The subtypes of CrmObjectTypes ``index_name`` ("Quote", "Receipt" ... §5.1) as the CRM lists them:
        CrmObjectTypeBasicInfo dicts keyed as the XSD (``Id``, ``UserKey``, ``Name``, ``IsActive``,
        ``IsAbstract``, ``CrmObjectType``, ``ParentId`` ...). Asked once per client and index.

        Raises ValueError for an index name the contract does not have, AuthError when the CRM refuses the
        call (a fault naming the request's data, or Success=false: credentials or permission)."""
        if index_name not in ENUMS["CrmObjectTypes"]:
            raise ValueError(f"{index_name!r} is not a CrmObjectTypes name; known: {', '.join(ENUMS['CrmObjectTypes'])}")
        with self._types_lock:  # one call per index, even when many workers ask at once
            if index_name not in self._types:
                try:
                    self._types[index_name] = self._fetch_types(index_name)
                except AuthError as refused:
                    self._types[index_name] = refused
            known = self._types[index_name]
        if isinstance(known, AuthError):
            raise known
        return known

    def _fetch_types(self, index_name: str) -> list[dict[str, Any]]:
        record = f"{index_name} subtypes"
        try:
            result = self.soap_call("ICrmObjectType", "GetCrmObjectTypeList", crmObjectTypeIndex=index_name,
                                    record=record, expect=_type_list)
        except RecordRejected as refused:
            raise AuthError(f"the CRM refused to list its subtypes: {refused.reason} (wrong credentials, or the"
                            " user may not read CRM object types?)", record=record, endpoint=LIST_ENDPOINT,
                            body=refused.body) from refused
        if not result.get("Success"):
            message = result.get("Message") or "no reason given"
            raise AuthError(f"the CRM refused to list its subtypes: {message} (wrong credentials, or the user may"
                            " not read CRM object types?)", record=record, endpoint=LIST_ENDPOINT, body=message)
        return [row for row in result.get("CrmObjectTypeList") or [] if row]

    def crm_object_type_id(self, index: int, type_code: str, *, record: str | None = None) -> str | None:
        """The CrmObjectTypeId of subtype ``type_code`` of CrmObjectTypeIndex ``index``; None for an index the
        contract does not name. UnknownCrmObjectType when the CRM lists no such subtype."""
        index_name = TYPE_INDEX_NAMES.get(index)
        if index_name is None:
            return None
        types = self.crm_object_types(index_name)
        matches = [t for t in types if (t.get("UserKey") or "").casefold() == type_code.casefold()]
        best = [t for t in matches if t.get("UserKey") == type_code] or matches
        if not best:
            listed = ", ".join(str(t.get("UserKey")) for t in types) or "none"
            raise UnknownCrmObjectType(f"the CRM has no {index_name} subtype with the type code {type_code!r}"
                                       f" (its {index_name} subtypes: {listed}); check the type_code setting",
                                       record=record, endpoint=LIST_ENDPOINT)
        return best[0]["Id"]

    def with_type_id(self, info: dict[str, Any], record: str | None) -> dict[str, Any]:
        """``info`` with the CrmObjectTypeId of its CrmObjectTypeCode and CrmObjectTypeIndex, when both are
        there and the id is not (and the client resolves ids at all)."""
        code, index = info.get("CrmObjectTypeCode"), info.get("CrmObjectTypeIndex")
        if not self.resolve_type_ids or info.get("CrmObjectTypeId") or not code or not isinstance(index, int):
            return info
        type_id = self.crm_object_type_id(index, code, record=record)
        return info if type_id is None else {**info, "CrmObjectTypeId": type_id}

    def credentials_refused(self) -> bool:
        """The cheap authenticated probe: True when the CRM will not list subtypes (cached with the list)."""
        try:
            self.crm_object_types(PROBE_INDEX)
        except AuthError:
            return True
        return False


def _type_list(result: dict[str, Any]) -> dict[str, Any]:
    """``expect`` of GetCrmObjectTypeList: every listed subtype has an id and a user key."""
    for n, row in enumerate(result.get("CrmObjectTypeList") or [] if result.get("Success") else []):
        if row:
            crm_id_of(row.get("Id"), f"subtype {n}'s Id")
            if not isinstance(row.get("UserKey"), str | None):
                raise BadShape(f"subtype {n}'s UserKey is not a string")
    return result
