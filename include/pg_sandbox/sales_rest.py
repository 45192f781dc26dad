"""REST v2 invoices and quotes: /api/v2/crmobject/invoice/{sales,purchase}/{create,get,update,delete,find}
and /api/v2/crmobject/quote/sales/get (§3.1-§3.4, §3.6).

One InvoiceApi per kind (REST_KINDS: `invoice/sales` stores sales invoices, `invoice/purchase`
purchase invoices): same models, verbs and checks; each sees only its own kind, and each kind
has its own number space. Bodies bind strictly (models.*_INVOICE_*), then go through the same
Invoices verbs as SOAP SaveInvoice, so both surfaces share one store, one number index and one
set of referential checks. Refusals are 400 `{error: <reason>}` (duplicate_number,
identity_not_found, product_not_found, quote_not_found, unknown_type, required, ...), 404 for
an unknown id. `update` replaces the keys sent and keeps the others (`details`, when sent,
replaces all lines).
"""

from collections.abc import Callable
from typing import Any

from pg_sandbox import find as finder
from pg_sandbox import models
from pg_sandbox.documents import NOUN, Rejected
from pg_sandbox.errors import ApiError, bad_request, not_found
from pg_sandbox.identities import display_name
from pg_sandbox.invoice_views import invoice_view, quote_view
from pg_sandbox.invoices import Invoices
from pg_sandbox.settings import SandboxSettings
from pg_sandbox.store import Store

VERBS = ("create", "get", "update", "delete", "find")
# REST path prefix (after /api/v2/crmobject/) -> the kind stored; each has its own create/update models
REST_KINDS = {"invoice/sales": "sales_invoice", "invoice/purchase": "purchase_invoice"}
_MODELS = {"sales_invoice": (models.SALES_INVOICE_CREATE, models.SALES_INVOICE_UPDATE),
           "purchase_invoice": (models.PURCHASE_INVOICE_CREATE, models.PURCHASE_INVOICE_UPDATE)}
# REST model key -> InvoiceInfo key, where they differ
_RENAMED = {"relatedQuoteId": "quoteId", "assignedToUserName": "assignedTo"}


class InvoiceApi:
    """The REST verbs of one invoice kind (sales_invoice or purchase_invoice)."""

    def __init__(self, invoices: Invoices, store: Store, settings: Callable[[], SandboxSettings],
                 kind: str = "sales_invoice") -> None:
        self._invoices = invoices
        self._store = store
        self._settings = settings
        self._kind = kind
        self._create_model, self._update_model = _MODELS[kind]

    def create(self, body: Any) -> dict[str, str]:
        fields = models.bind(self._create_model, body)
        return {"crmId": self._save(None, _info(fields))}

    def get(self, body: Any) -> dict[str, Any]:
        crm_id = _required(models.bind(models.GET, body), "id")
        return invoice_view(self._doc(crm_id, self._kind))

    def update(self, body: Any) -> dict[str, str]:
        fields = models.bind(self._update_model, body)
        crm_id = _required(fields, "crmId")
        del fields["crmId"]
        previous = self._doc(crm_id, self._kind)
        self._save(crm_id, {**previous, **_info(fields)})
        return {"crmId": crm_id}

    def delete(self, body: Any) -> None:
        fields = models.bind(models.DELETE, body)
        crm_id = _required(fields, "id")
        option = fields.get("option")
        if option is not None and option not in range(1, 6):  # CrmObjectDeleteOption, §5.4
            raise bad_request("invalid_option", f"The field 'option' has an unknown value {option}.")
        try:
            self._invoices.delete_by_id(crm_id, (self._kind,))
        except Rejected as exc:
            raise not_found(NOUN[self._kind], crm_id) from exc

    def find(self, body: Any) -> dict[str, Any]:
        model = models.bind(models.FIND, body)
        queries = model.get("queries") or []
        finder.check(queries)
        number = finder.indexed_equals(queries, ("number",)).get("number")
        docs = (self._invoices.by_number(self._kind, number, None) if number
                else self._invoices.all(self._kind))
        views = [invoice_view(doc) for doc in docs]
        type_key = (model.get("typeKey") or "").casefold()
        if type_key:
            views = [v for v in views if (v.get("crmObjectTypeCode") or "").casefold() == type_key]
        views = finder.sort([v for v in views if finder.matches(v, queries)], model.get("orders") or [])
        selected = finder.page(views, model.get("pageNumber"), model.get("pageSize"))
        select_fields = model.get("selectFields") or []
        data = [{**view, "includedFields": finder.included_fields(view, select_fields)} for view in selected]
        return {"total": len(views), "data": data}

    def quote_get(self, body: Any) -> dict[str, Any]:
        """quote/sales/get (served by the sales invoices' API only)."""
        crm_id = _required(models.bind(models.GET, body), "id")
        doc = self._doc(crm_id, "quote")
        identity = self._store.get(doc["identityId"]) if doc["identityId"] else None
        return quote_view(doc, display_name(identity) if identity else None, self._settings().username)

    def _doc(self, crm_id: str, kind: str) -> dict[str, Any]:
        found = self._invoices.by_id(crm_id, (kind,))
        if not found:
            raise not_found(NOUN[kind], crm_id)
        return found[0]

    def _save(self, crm_id: str | None, info: dict[str, Any]) -> str:
        try:
            return self._invoices.save_as(self._kind, info, crm_id)
        except Rejected as exc:
            raise _api_error(exc, NOUN[self._kind], crm_id) from exc


def _info(fields: dict[str, Any]) -> dict[str, Any]:
    return {_RENAMED.get(key, key): value for key, value in fields.items()}


def _required(fields: dict[str, Any], name: str) -> str:
    if not fields.get(name):
        raise bad_request("required", f"The field '{name}' is required.")
    return fields[name]


def _api_error(exc: Rejected, noun: str, crm_id: str | None) -> ApiError:
    if exc.reason == "not_found":
        return not_found(noun, crm_id or "")
    return bad_request(exc.reason, exc.message[:1].upper() + exc.message[1:] + ".")
