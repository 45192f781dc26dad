"""Persons and organizations: the behaviour behind /api/v2/crmobject/{person,organization}/* and
/api/v2/crmobject/identity/search.

Each method takes the request body (a JSON value with camelCase keys) and returns the
response body, or raises ApiError. Stored documents are complete get results (§3.4), so
`get` returns them as they are.
"""

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from pg_sandbox import find as finder
from pg_sandbox import models
from pg_sandbox.dates import local_text, now_utc
from pg_sandbox.errors import bad_request, not_found
from pg_sandbox.store import DuplicateCustomerNumber, Store

KINDS = ("person", "organization")
CREATE = {"person": models.PERSON_CREATE, "organization": models.ORGANIZATION_CREATE}
UPDATE = {"person": models.PERSON_UPDATE, "organization": models.ORGANIZATION_UPDATE}
IDENTITY_TYPE_INDEX = 24  # CrmObjectTypes.Identity (§5.1)
IDENTITY_TYPE = {"person": 2, "organization": 1}  # §5.2 recommendation
TYPE_NAME = {"person": "مخاطب حقیقی", "organization": "مخاطب حقوقی"}  # as in webhook `subtype`
IDENTITY_TYPE_NAME = {"person": "Person", "organization": "Organization"}


class Identities:
    def __init__(self, store: Store, clock: Callable[[], datetime] = now_utc) -> None:
        self._store = store
        self._clock = clock

    # ---- verbs -----------------------------------------------------------------------

    def create(self, kind: str, body: Any) -> dict[str, str]:
        fields = models.bind(CREATE[kind], body)
        crm_id = str(uuid.uuid4())
        stamp = self._stamp()
        doc = self._document(kind, crm_id, {}, fields, created=stamp, modified=stamp)
        _require(kind, doc)
        with _unique_customer_number(doc):
            self._store.insert(crm_id, kind, doc, stamp)
        return {"crmId": crm_id}

    def get(self, kind: str, body: Any) -> dict[str, Any]:
        crm_id = _required_id(models.bind(models.GET, body), "id")
        doc = self._store.get(crm_id, kind)
        if doc is None:
            raise not_found(kind, crm_id)
        return doc

    def update(self, kind: str, body: Any) -> dict[str, str]:
        fields = models.bind(UPDATE[kind], body)
        crm_id = _required_id(fields, "crmId")
        del fields["crmId"]
        with self._store.atomic():
            previous = self._store.get(crm_id, kind)
            if previous is None:
                raise not_found(kind, crm_id)
            stamp = self._stamp()
            # replace semantics for the keys sent; keys not sent keep their values
            doc = self._document(kind, crm_id, previous, fields, created=previous["creatDate"], modified=stamp)
            _require(kind, doc)
            with _unique_customer_number(doc):
                self._store.replace(crm_id, doc, stamp)
        return {"crmId": crm_id}

    def delete(self, kind: str, body: Any) -> None:
        fields = models.bind(models.DELETE, body)
        crm_id = _required_id(fields, "id")
        option = fields.get("option")
        if option is not None and option not in range(1, 6):  # CrmObjectDeleteOption, §5.4
            raise bad_request("invalid_option", f"The field 'option' has an unknown value {option}.")
        if not self._store.mark_deleted(crm_id, kind, self._stamp()):
            raise not_found(kind, crm_id)

    def find(self, kind: str, body: Any) -> dict[str, Any]:
        model = models.bind(models.FIND, body)
        queries = model.get("queries") or []
        finder.check(queries)
        docs = [doc for _, doc in self._store.live(kind, finder.indexed_equals(queries))]
        type_key = (model.get("typeKey") or "").casefold()
        if type_key:
            docs = [d for d in docs if (d.get("crmObjectTypeCode") or "").casefold() == type_key]
        docs = finder.sort([d for d in docs if finder.matches(d, queries)], model.get("orders") or [])
        selected = finder.page(docs, model.get("pageNumber"), model.get("pageSize"))
        select_fields = model.get("selectFields") or []
        data = [{**doc, "includedFields": finder.included_fields(doc, select_fields)} for doc in selected]
        return {"total": len(docs), "data": data}

    def search(self, body: Any) -> list[dict[str, str]]:
        """identity/search: a 0-based page of `{identityId, nickName, customerNo}`."""
        query = models.bind(models.IDENTITY_SEARCH, body)
        number, size = query.get("pageNumber") or 0, query.get("pageSize")
        if number < 0 or (size or 0) < 0:
            raise bad_request("invalid_paging", "pageNumber and pageSize must not be negative.")
        size = size or finder.DEFAULT_PAGE_SIZE
        term = (query.get("searchTerm") or "").strip().casefold()
        wanted = {v: k for k, v in IDENTITY_TYPE.items()}.get(query.get("identityType"))
        hits = [
            {"identityId": doc["crmId"], "nickName": display_name(doc), "customerNo": doc.get("customerNumber") or ""}
            for kind, doc in self._store.live(wanted)
            if not term or any(term in text.casefold() for text in _search_texts(doc))
        ]
        return hits[number * size:(number + 1) * size]

    def records(self) -> list[dict[str, Any]]:
        return [{"kind": kind, **doc} for kind, doc in self._store.live()]

    # ---- helpers ---------------------------------------------------------------------

    def _stamp(self) -> str:
        moment = self._clock()
        # the server stores datetime with millisecond precision
        return local_text(moment.replace(microsecond=moment.microsecond // 1000 * 1000))

    @staticmethod
    def _document(kind: str, crm_id: str, previous: dict[str, Any], fields: dict[str, Any], *,
                  created: str, modified: str) -> dict[str, Any]:
        """A complete get result: every model key, sub-items with ids, then the CRM block."""
        model = CREATE[kind]
        doc: dict[str, Any] = {}
        for spec in model.fields:
            value = fields[spec.name] if spec.name in fields else previous.get(spec.name)
            if spec.kind == "list":
                value = [_item(spec.model, item) for item in value or []]
            elif spec.kind == "strings":
                value = value or []
            doc[spec.name] = value
        for category in doc["categories"]:
            category.update(identityId=crm_id, name=category.get("key"), type=None)
        type_code = doc["crmObjectTypeCode"] or ""
        doc.update({
            "crmId": crm_id,
            "identityTypeName": IDENTITY_TYPE_NAME[kind],
            "sourceTypeName": None,
            "colorName": None,
            "classification": None,
            "crmObjectTypeName": TYPE_NAME[kind],
            "crmObjectTypeIndex": IDENTITY_TYPE_INDEX,
            "crmObjectTypeId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"pg-sandbox:type:{type_code.casefold()}")),
            "stage": None,
            "processLifePathIndex": None,
            "creatDate": created,
            "modifyDate": modified,
        })
        if kind == "person":
            doc["creditType"] = None
        return doc


@contextmanager
def _unique_customer_number(doc: dict[str, Any]) -> Iterator[None]:
    """Turn the store's unique-index violation into the CRM's 400."""
    try:
        yield
    except DuplicateCustomerNumber as exc:
        raise bad_request(
            "duplicate_customer_number",
            f"The field 'customerNumber': customer number '{doc.get('customerNumber')}' is already used"
            " by another identity.",
        ) from exc


def _item(model: models.Model, item: dict[str, Any]) -> dict[str, Any]:
    full = {spec.name: (False if spec.name == "default" else None) for spec in model.fields}
    full.update(item)
    if "id" in full and not full["id"]:
        full["id"] = str(uuid.uuid4())
    return full


def _require(kind: str, doc: dict[str, Any]) -> None:
    required = ["crmObjectTypeCode"]
    if kind == "organization":
        required.append("nickName")  # the organization's name
    elif not _filled(doc.get("lastName")) and not _filled(doc.get("nickName")):
        raise bad_request("required", "The field 'lastName' is required (or 'nickName').",
                          "A person needs a last name or a nick name.")
    for name in required:
        if not _filled(doc.get(name)):
            raise bad_request("required", f"The field '{name}' is required.")


def _required_id(fields: dict[str, Any], name: str) -> str:
    if not fields.get(name):
        raise bad_request("required", f"The field '{name}' is required.")
    return fields[name]


def _filled(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def display_name(doc: dict[str, Any]) -> str:
    if _filled(doc.get("nickName")):
        return doc["nickName"]
    return " ".join(p for p in (doc.get("firstName"), doc.get("lastName")) if _filled(p))


def _search_texts(doc: dict[str, Any]) -> list[str]:
    texts = [doc.get("customerNumber"), doc.get("nickName"), doc.get("firstName"), doc.get("lastName"),
             display_name(doc)]
    return [t for t in texts if t]
