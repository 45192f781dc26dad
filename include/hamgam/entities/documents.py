"""Quotes, sales invoices, sales returns, purchase invoices and purchase returns (Tadbir ``__SPFactor__`` +
``__SPArticle__`` → CRM).

One module, five specs: they share the header and line tables and differ in ``FactorType`` (4 quote,
1 sales invoice, 3 sales return, 0 purchase invoice, 2 purchase return) and in how the CRM takes them —
invoices over REST v2 (the reference confirms ``invoice/sales/*`` and ``invoice/purchase/*``), quotes and
returns over SOAP IInvoice (no REST write is known). Purchase documents are like sales ones without a
seller (vendor-sync-spec.md); a purchase return is saved by ``SaveReturnInvoice`` as a ReturnPurchaseInvoice
(CrmObjectTypeIndex 16) and looked up by ``SearchReturnPurchaseInvoice`` (IInvoice has no
``FindReturnPurchaseInvoiceByNumber``) — both readings of the contract (§4, §5.1) no CRM has yet confirmed.

Rules (vendor-sync-spec.md): only documents with at least one line are synced (the others are recorded
as skipped, with the reason); a cancelled document is removed from the CRM; the CRM number comes from
the numbering template (``100-1403/123``); a sales return names the invoice it returns when Tadbir's
``SPReference`` does. Line amounts are hamgam's reading of the legacy columns (tadbir-schema.md §1.3):
total = Amount × UnitPrice, discount = Remainder, VAT = T1, toll = T2; header additions = Expense.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pydantic import field_validator

from hamgam.entities.base import (
    DISPLAY,
    KEY,
    NO_CODE,
    ROW_CHECKS,
    ROW_ID,
    SKIP,
    TOO_LONG,
    UNREADABLE,
    EntitySpec,
    Lines,
    LoadItem,
    Outcome,
    Payload,
    Reference,
    Refs,
    SyncContext,
    crm_id_of,
    records_of,
    stored_in_crm,
)
from hamgam.entities.products import crm_product_code
from hamgam.payamgostar import documents as crm
from hamgam.payamgostar.errors import NotFound, RecordRejected
from hamgam.settings import EntitySettings, HamgamConfig
from hamgam.tadbir import schema
from hamgam.tadbir.reader import QueryRef
from hamgam.transform.cells import Unreadable, tadbir_date, tadbir_number, tadbir_whole_number
from hamgam.transform.limits import too_long, truncate
from hamgam.transform.numbering import Template, TemplateError
from hamgam.validate import Check

if TYPE_CHECKING:
    import pandas as pd

    from hamgam.ledger.store import RecordState
    from hamgam.payamgostar.client import PayamgostarClient

QUOTE, SALES_INVOICE, SALES_RETURN, PURCHASE_INVOICE, PURCHASE_RETURN = 4, 1, 3, 0, 2
SELLER_PROPERTY = "SellerName"  # the CRM extended property (user key) that carries the Tadbir seller
DOCUMENT_NUMBER_TEMPLATE = "{companyCode}-{____(SHYY)}/{*(AN)}"  # the vendor's Tadbir template


class DocumentSettings(EntitySettings):
    """A document entity's section of the settings file (``sales_invoices: {type_code: ...}``)."""

    number_template: str = DOCUMENT_NUMBER_TEMPLATE
    type_code: str  # the CRM subtype (user key) documents are created under

    @field_validator("number_template")
    @classmethod
    def _valid_template(cls, value: str) -> str:
        from hamgam.transform.numbering import TemplateError

        try:
            template = Template.parse(value)
        except TemplateError as exc:
            raise ValueError(str(exc)) from exc
        if "AN" not in template.names:
            raise ValueError("a document number template needs an {*(AN)} token for the Tadbir number")
        return value


def settings(config: HamgamConfig, entity: str) -> DocumentSettings:
    """The settings of document entity ``entity`` (quotes, sales_invoices, receipts ...)."""
    return config.entity_settings(entity, DocumentSettings)


@dataclass(frozen=True)
class Origin:
    """What a return names through Tadbir's ``SPReference``: a document of ``entity`` (``FactorType``)."""

    entity: str
    factor_type: int
    label: str  # "sales invoice" in messages


# documents that return nothing still read the sales invoice ``SPReference`` may name: its key and number
# have always been part of their content hash
NO_ORIGIN = Origin("sales_invoices", SALES_INVOICE, "sales invoice")


def _header_query(factor_type: int, origin_type: int) -> sa.Subquery:
    f, c, b = schema.sp_factor.alias("f"), schema.customer.alias("c"), schema.broker.alias("b")
    origin = schema.sp_factor.alias("origin")  # the invoice a return names
    joined = (f.outerjoin(c, (c.c.Id == f.c.CustomerId) & (c.c.FPId == f.c.FPId))
              .outerjoin(b, (b.c.Id == f.c.BrokerId) & (b.c.FPId == f.c.FPId))
              .outerjoin(origin, (origin.c.Id == f.c.SPReference) & (origin.c.FPId == f.c.FPId)
                         & (origin.c.FactorType == origin_type)))
    return (sa.select(f.c.Id, f.c.FPId, f.c.FactorNo, f.c.SPDate, f.c.Cancelled, f.c.CustomerId, f.c.BrokerId,
                      f.c.SPReference, f.c.Total, f.c.Discount, f.c.Expense, f.c.SPDesc,
                      c.c.Id.label("CustomerRowId"), c.c.SubscriptionNo.label("CustomerCode"),
                      b.c.Name.label("BrokerName"), origin.c.FactorNo.label("OriginNo"))
            .select_from(joined).where(f.c.FactorType == factor_type).subquery(f"sp_factor_{factor_type}"))


def _lines_query() -> sa.Subquery:
    a, m = schema.sp_article.alias("a"), schema.merchandise.alias("m")
    s, u = schema.stock_room.alias("s"), schema.unit.alias("u")
    joined = (a.outerjoin(m, (m.c.Id == a.c.MerchandiseId) & (m.c.FPId == a.c.FPId))
              .outerjoin(s, (s.c.Id == a.c.StockRoomId) & (s.c.FPId == a.c.FPId))
              .outerjoin(u, (u.c.Id == a.c.UnitId) & (u.c.FPId == a.c.FPId)))
    return (sa.select(a.c.Id, a.c.SPId, a.c.FPId, a.c.MerchandiseId, a.c.Amount, a.c.UnitPrice, a.c.Remainder,
                      a.c.T1, a.c.T2, a.c.NetPrice, a.c.SPADesc, m.c.Code.label("ProductCode"),
                      m.c.Name.label("ProductName"), m.c.MType, s.c.Code.label("StockRoomCode"),
                      s.c.Name.label("StockRoomName"), u.c.Name.label("UnitName"))
            .select_from(joined).subquery("sp_article"))


LINES = Lines(QueryRef("__SPArticle__", _lines_query), parent_column="SPId")


def _checks(origin: Origin | None) -> tuple[Check, ...]:
    checks = [
        *ROW_CHECKS,
        Check("ExpectColumnValuesToBeInSet", "customer_ok", "customer not found in Tadbir",
              {"value_set": [True]}, value_column="customer_id"),
        Check("ExpectColumnValuesToBeInSet", "products_ok", "a line's product is not in Tadbir",
              {"value_set": [True]}, value_column="missing_products"),
        Check("ExpectColumnValuesToBeBetween", "min_amount", "an amount or quantity is negative",
              {"min_value": 0}),
        Check("ExpectColumnValuesToBeInSet", "lines_ok", "a line's amounts do not add up",
              {"value_set": [True]}, value_column="line_problem"),
        Check("ExpectColumnValuesToBeInSet", "totals_ok", "header totals differ from the sum of the lines",
              {"value_set": [True]}, value_column="totals_gap"),
        Check("ExpectColumnValuesToBeInSet", "date_ok", "document date is outside its fiscal year",
              {"value_set": [True]}, value_column="doc_date"),
        Check("ExpectColumnValuesToBeInSet", "number_ok", "the number does not fit the numbering template",
              {"value_set": [True]}, value_column="factor_no"),
    ]
    if origin is not None:
        checks.append(Check("ExpectColumnValuesToBeInSet", "origin_ok",
                            f"the returned {origin.label} is not in Tadbir", {"value_set": [True]},
                            value_column="origin_id"))
    return tuple(checks)


HASH_COLUMNS = ("number", "doc_date", "customer_code", "seller", "description", "total", "discount",
                "additions", "lines_json", "origin_key", "origin_number")


class Cells:
    """Reads one Tadbir row's values. What a legacy client left that is not what its column means (a number
    with letters, a date ``0000/00/00``) does not raise: it becomes one of the row's ``problems`` (named by
    its column, shown as stored) and a neutral value, and validation makes the record invalid."""

    def __init__(self, row: dict[str, Any], where: str = "") -> None:
        self.row, self.where = row, where
        self.problems: list[str] = []

    def _unreadable(self, column: str, error: Unreadable) -> None:
        self.problems.append(f"{self.where}{column} {error}")

    def quantity(self, column: str) -> Decimal:
        try:
            value = tadbir_number(self.row[column])
        except Unreadable as error:
            self._unreadable(column, error)
            return Decimal(0)
        return Decimal(0) if value is None else Decimal(str(value)).quantize(Decimal("0.0001")).normalize()

    def amount(self, column: str) -> int:
        """Integer Rial (or an id, a flag): NULL is 0, as Tadbir's clients write it."""
        try:
            value = tadbir_number(self.row[column])
        except Unreadable as error:
            self._unreadable(column, error)
            return 0
        return 0 if value is None else int(round(float(value)))

    def whole(self, column: str) -> int | None:
        """A document number: NULL is 0; None when it cannot be read (the row's key then uses its Id)."""
        try:
            value = tadbir_whole_number(self.row[column])
        except Unreadable as error:
            self._unreadable(column, error)
            return None
        return 0 if value is None else value

    def date(self, column: str) -> tuple[date | None, str | None]:
        """The date, and the stored text when it cannot be read (the date is then None)."""
        try:
            return tadbir_date(self.row[column]), None
        except Unreadable as error:
            self._unreadable(column, error)
            return None, str(self.row[column])


def document_number(ctx: SyncContext, template: Template, tadbir_number: Any) -> str | None:
    """The CRM number of Tadbir document ``tadbir_number`` of ``ctx.period`` (None if it cannot be written)."""
    assert ctx.period is not None
    try:
        return template.format(company_code=ctx.company.code, AN=int(tadbir_number), SHYY=ctx.period.year,
                               MIYY=ctx.period.start.year)
    except (TemplateError, TypeError, ValueError):
        return None


@dataclass
class _LineNotes:
    """What a document's lines carry into validation besides the lines themselves (not hashed)."""

    unreadable: list[str]
    too_long: list[str]


def _lines_by_document(lines: pd.DataFrame | None, ctx: SyncContext, tolerance: int
                       ) -> tuple[dict[int, list[dict]], dict[int, _LineNotes]]:
    from hamgam.transform.text import normalize_code, normalize_name

    out: dict[int, list[dict]] = {}
    notes: dict[int, _LineNotes] = {}
    if lines is None or lines.empty:
        return out, notes
    limits = ctx.config.limits
    for row in records_of(lines):  # NULLs as None, never NaN (truthy): a row read alone hashes as among others
        cells = Cells(row, f"line {row['Id']}: ")
        code = normalize_code(row["ProductCode"]) if row["ProductCode"] is not None else ""
        qty, price = cells.quantity("Amount"), cells.amount("UnitPrice")
        total = int((qty * price).to_integral_value())
        discount, vat, toll = cells.amount("Remainder"), cells.amount("T1"), cells.amount("T2")
        final = total - discount + vat + toll
        net = cells.amount("NetPrice")
        problem = None
        if 0 <= total < discount:
            problem = f"line {row['Id']}: discount {discount} exceeds its total {total}"
        elif net and abs(net - final) > tolerance:
            problem = f"line {row['Id']}: net price {net} ≠ {total} − {discount} + {vat} + {toll}"
        warehouse = normalize_name(row["StockRoomName"]) if row["StockRoomName"] is not None else None
        unit = normalize_name(row["UnitName"]) if row["UnitName"] is not None else None
        parent = int(row["SPId"])
        out.setdefault(parent, []).append({
            "line_id": int(row["Id"]),
            "merchandise_id": cells.amount("MerchandiseId"),
            "product_code": code or None,
            "crm_product_code": crm_product_code(ctx.config, ctx.company.code, code) if code else None,
            "product_name": normalize_name(row["ProductName"]) if row["ProductName"] is not None else None,
            "is_service": cells.amount("MType") == 1,
            "quantity": str(qty), "unit_price": price, "total": total, "discount": discount, "vat": vat,
            "toll": toll, "final": final,
            "warehouse": warehouse,
            "warehouse_code": None if row["StockRoomCode"] is None else str(cells.amount("StockRoomCode")),
            "unit": unit,
            "description": truncate(normalize_name(row["SPADesc"]), limits.free_text, limits.truncation_marker)
            if row["SPADesc"] else None,
            "problem": problem,
            "negative": min(float(qty), price, discount, vat, toll) < 0,
        })
        note = notes.setdefault(parent, _LineNotes([], []))
        note.unreadable += cells.problems
        long = too_long([(f"line {row['Id']} StockRoomName", warehouse, limits.place),
                         (f"line {row['Id']} UnitName", unit, limits.place)])
        if long:
            note.too_long.append(long)
    return out, notes


def make_prepare(kind: Kind):
    origin = kind.origin or NO_ORIGIN

    def prepare(raw: pd.DataFrame, ctx: SyncContext, lines: pd.DataFrame | None = None) -> pd.DataFrame:
        import pandas as pd

        from hamgam.transform.text import normalize_code, normalize_name

        assert ctx.period is not None
        period = ctx.period
        limits = ctx.config.limits
        tolerance = ctx.config.sync.amount_tolerance_rial
        template = Template.parse(settings(ctx.config, kind.name).number_template)
        origin_template = Template.parse(settings(ctx.config, origin.entity).number_template)
        by_doc, line_notes = _lines_by_document(lines, ctx, tolerance)
        records = []
        for row in records_of(raw):  # NULLs as None, never NaN (truthy): a row read alone hashes as among others
            cells = Cells(row)
            row_id = int(row["Id"])
            doc_lines = by_doc.get(row_id, [])
            notes = line_notes.get(row_id, _LineNotes([], []))
            factor_no = cells.whole("FactorNo")  # None: unreadable, the key then names the row
            customer_id = cells.amount("CustomerId")
            found = row["CustomerRowId"] is not None and row["CustomerRowId"] == row["CustomerRowId"]
            customer_code = normalize_code(row["CustomerCode"]) if found else None
            # the customer as the identities spec keys it: its code, or its row when it has none
            customer_key = (customer_code or f"{NO_CODE}{int(row['CustomerRowId'])}") if found else None
            number = document_number(ctx, template, factor_no) if factor_no is not None else None
            total, discount, additions = cells.amount("Total"), cells.amount("Discount"), cells.amount("Expense")
            line_total = sum(li["total"] for li in doc_lines)
            line_discount = sum(li["discount"] for li in doc_lines)
            gaps = []
            if abs(total - line_total) > tolerance:
                gaps.append(f"Total {total} ≠ Σ lines {line_total}")
            if abs(discount - line_discount) > tolerance:
                gaps.append(f"Discount {discount} ≠ Σ line discounts {line_discount}")
            doc_date, date_text = cells.date("SPDate")
            origin_ref = cells.amount("SPReference")
            origin_key = origin_number = None
            if origin_ref and row.get("OriginNo") is not None:
                try:  # the returned invoice's key, as that invoice's own row makes it
                    origin_no = tadbir_whole_number(row["OriginNo"])
                except Unreadable:
                    origin_key = f"{period.year}/{NO_CODE}{origin_ref}"
                else:
                    origin_key = f"{period.year}/{origin_no or 0}"
                    # its CRM number: a new invoice numbering template re-sends the return too
                    origin_number = document_number(ctx, origin_template, origin_no or 0)
            skip = None
            if cells.amount("Cancelled"):
                skip = "cancelled in Tadbir"
            elif not doc_lines:
                skip = "has no lines"
            elif not customer_id:
                skip = "has no customer"
            missing = [str(li["merchandise_id"]) for li in doc_lines if not li["product_code"]]
            line_problems = [li["problem"] for li in doc_lines if li["problem"]]
            seller = normalize_name(row["BrokerName"]) if kind.seller and row["BrokerName"] else None
            shown_no = factor_no if factor_no is not None else str(row["FactorNo"]).strip()
            records.append({
                ROW_ID: row_id,
                KEY: f"{period.year}/{factor_no}" if factor_no is not None else f"{period.year}/{NO_CODE}{row_id}",
                DISPLAY: number or f"{period.year}/{shown_no}",
                SKIP: skip,
                UNREADABLE: "; ".join(cells.problems + notes.unreadable) or None,
                TOO_LONG: "; ".join(filter(None, [too_long([("number", number, limits.code),
                                                            ("BrokerName", seller, limits.name)]),
                                                  *notes.too_long])) or None,
                "factor_no": factor_no,
                "number": number,
                "number_ok": number is not None if factor_no is not None else None,
                "doc_date": doc_date.isoformat() if doc_date else date_text,
                "date_ok": doc_date is not None and period.start <= doc_date <= period.end
                if date_text is None else None,
                "customer_id": customer_id,
                "customer_code": customer_code,
                "customer_ok": customer_code is not None if customer_id else None,
                "seller": seller,
                "description": truncate(normalize_name(row["SPDesc"]), limits.free_text, limits.truncation_marker)
                if row["SPDesc"] else None,
                "total": total, "discount": discount, "additions": additions,
                "vat": sum(li["vat"] for li in doc_lines), "toll": sum(li["toll"] for li in doc_lines),
                "min_amount": min([total, discount, additions,
                                   *(-1 if li["negative"] else 0 for li in doc_lines)]),
                "lines_ok": not line_problems, "line_problem": "; ".join(line_problems) or None,
                "totals_ok": not gaps, "totals_gap": "; ".join(gaps) or None,
                "products_ok": not missing, "missing_products": ", ".join(missing) or None,
                "origin_id": origin_ref or None,
                "origin_ok": (origin_key is not None) if origin_ref else None,
                "origin_key": origin_key,
                "origin_number": origin_number,
                "lines": doc_lines,
                "lines_json": json.dumps(doc_lines, ensure_ascii=False, sort_keys=True),
                "ref_customer": [customer_key] if customer_key else [],
                "ref_products": sorted({li["product_code"] for li in doc_lines if li["product_code"]}),
                "ref_origin": [origin_key] if origin_key else [],
            })
        return pd.DataFrame.from_records(records, index=raw.index) if records else pd.DataFrame(
            columns=[ROW_ID, KEY, DISPLAY, SKIP, UNREADABLE, TOO_LONG])

    return prepare


# -- payloads ---------------------------------------------------------------------------------------

# (document, ctx, resolved references, kind) -> its CRM payload, in the shape its target's protocol takes
PayloadBuilder = Callable[[dict, SyncContext, Refs, "Kind"], dict[str, Any]]


@dataclass(frozen=True)
class Kind:
    """One document type: what tells it apart in Tadbir (``FactorType``) and how the CRM takes it."""

    name: str  # entity name
    label: str  # in messages: "sales_invoice 100-1403/123"
    factor_type: int
    subject: str  # the CRM item's subject prefix
    payload: PayloadBuilder
    origin: Origin | None = None  # a return: the document it names, which must be in the CRM first
    seller: bool = True  # Tadbir's seller (broker) goes to the CRM's SellerName property


def _percent(part: int, whole: int) -> int:
    return int(round(part * 100 / whole)) if whole > 0 else 0


def _iso(day: str | None) -> str | None:
    return f"{day}T00:00:00" if day else None


def _customer_id(doc: dict, refs: Refs) -> str:
    """The CRM id of the document's customer, looked up by the key its reference resolved."""
    return crm_id_of(refs, "identities", doc["ref_customer"][0] if doc["ref_customer"] else None, "customer")


def _product_id(line: dict, refs: Refs) -> str:
    return crm_id_of(refs, "products", line["product_code"], "product")


def rest_invoice(doc: dict, ctx: SyncContext, refs: Refs, kind: Kind) -> dict[str, Any]:
    """An invoice over REST v2 (sales and purchase invoices share the create model, §3.3)."""
    net = doc["total"] - doc["discount"]
    return {
        "crmObjectTypeCode": settings(ctx.config, kind.name).type_code,
        "identityId": _customer_id(doc, refs),
        "number": doc["number"],
        "subject": f"{kind.subject} {doc['number']}",
        "description": doc["description"],
        "refId": f"tadbir:{ctx.company.code}:{kind.name}:{doc[KEY]}",
        "invoiceDate": _iso(doc["doc_date"]),
        "discount": doc["discount"], "vat": doc["vat"], "toll": doc["toll"], "additionalCosts": doc["additions"],
        "totalValue": doc["total"], "vatPercent": _percent(doc["vat"], net), "tollPercent": _percent(doc["toll"], net),
        "totalDiscountPercent": round(doc["discount"] * 100 / doc["total"], 2) if doc["total"] else 0,
        "finalValue": _final_value(doc),
        "details": [{
            "productCode": li["crm_product_code"], "productId": _product_id(li, refs),
            "productName": li["product_name"], "isService": li["is_service"],
            "baseUnitPrice": li["unit_price"], "count": float(li["quantity"]), "returnedCount": 0,
            "totalUnitPrice": li["total"], "totalDiscount": li["discount"], "totalVat": li["vat"],
            "totalToll": li["toll"], "finalUnitPrice": li["final"], "detailDescription": li["description"],
            "inventoryName": li["warehouse"], "inventoryCode": li["warehouse_code"],
            "productUnitTypeName": li["unit"],
        } for li in doc["lines"]],
        "extendedProperties": [{"userKey": SELLER_PROPERTY, "value": doc["seller"]}] if doc["seller"] else [],
    }


def _final_value(doc: dict) -> int:
    return doc["total"] - doc["discount"] + doc["vat"] + doc["toll"] + doc["additions"]


def _soap_header(doc: dict, ctx: SyncContext, refs: Refs, kind: Kind) -> dict[str, Any]:
    return {
        "CrmObjectTypeCode": settings(ctx.config, kind.name).type_code,
        "ExtendedProperties": [{"UserKey": SELLER_PROPERTY, "Value": doc["seller"]}] if doc["seller"] else None,
        "RefId": f"tadbir:{ctx.company.code}:{kind.name}:{doc[KEY]}",
        "Description": doc["description"],
        "IdentityId": _customer_id(doc, refs),
        "Subject": f"{kind.subject} {doc['number']}",
        "FinalValue": _final_value(doc),
        "Number": doc["number"],
    }


def soap_quote(doc: dict, ctx: SyncContext, refs: Refs, kind: Kind) -> dict[str, Any]:
    net = doc["total"] - doc["discount"]
    return {
        **_soap_header(doc, ctx, refs, kind),
        "AdditionalCosts": doc["additions"],
        "Details": [{
            "BaseUnitPrice": li["unit_price"], "Count": Decimal(li["quantity"]),
            "DetailDescription": li["description"], "FinalUnitPrice": li["final"], "Id": 0,
            "InventoryCode": li["warehouse_code"], "InventoryName": li["warehouse"], "IsService": li["is_service"],
            "ProductCode": li["crm_product_code"], "ProductId": _product_id(li, refs),
            "ProductName": li["product_name"], "ProductUnitTypeName": li["unit"], "ReturnedCount": 0,
            "TotalDiscount": li["discount"], "TotalToll": li["toll"], "TotalUnitPrice": li["total"],
            "TotalVat": li["vat"],
        } for li in doc["lines"]],
        "Discount": doc["discount"],
        "InvoiceDate": _iso(doc["doc_date"]),
        "InvoiceType": "Quote",
        "Toll": doc["toll"], "TollPercent": _percent(doc["toll"], net),
        "TotalDiscountPercent": round(Decimal(doc["discount"] * 100) / doc["total"], 2) if doc["total"] else 0,
        "TotalValue": doc["total"], "Vat": doc["vat"], "VatPercent": _percent(doc["vat"], net),
    }


def soap_return(doc: dict, ctx: SyncContext, refs: Refs, kind: Kind) -> dict[str, Any]:
    """A return over SOAP ``SaveReturnInvoice`` (ReturnInvoiceInfo), naming the document it returns."""
    net = doc["total"] - doc["discount"]
    named = kind.origin or NO_ORIGIN
    origin = refs.get(named.entity, {}).get(doc["origin_key"]) if doc["origin_key"] else None
    related = None
    if origin is not None:
        related = {"RelatedInvoiceId": origin.crm_id, "RelatedInvoiceNumber": origin.crm_number,
                   "RelatedInvoiceTypeCode": settings(ctx.config, named.entity).type_code}
    return {
        **_soap_header(doc, ctx, refs, kind),
        "AdditionalCosts": doc["additions"],
        "Details": [{
            "BaseUnitPrice": li["unit_price"], "Count": Decimal(li["quantity"]),
            "DetailDescription": li["description"], "FinalUnitPrice": li["final"], "Id": 0,
            "ProductCode": li["crm_product_code"], "ProductName": li["product_name"],
            "RelatedInvoices": [{"RelatedInvoiceInfo": related, "ReturnedCount": Decimal(li["quantity"])}]
            if related else None,
            "TotalDiscount": li["discount"], "TotalToll": li["toll"], "TotalUnitPrice": li["total"],
            "TotalVat": li["vat"],
        } for li in doc["lines"]],
        "Discount": doc["discount"],
        "InvoiceDate": _iso(doc["doc_date"]),
        "Toll": doc["toll"], "TollPercent": _percent(doc["toll"], net),
        "TotalValue": doc["total"], "Vat": doc["vat"], "VatPercent": _percent(doc["vat"], net),
    }


def make_payload(kind: Kind, protocol: str) -> Callable[[dict[str, Any], SyncContext, Refs], Payload]:
    def payload(doc: dict[str, Any], ctx: SyncContext, refs: Refs) -> Payload:
        return Payload(f"{kind.label} {doc['number']}", kind.name, doc["number"],
                       {protocol: kind.payload(doc, ctx, refs, kind)})

    return payload


# -- targets ----------------------------------------------------------------------------------------

class RestInvoiceTarget:
    """Invoices over REST v2: known id → update; else adopt the invoice with that number; else create."""

    protocol = "rest"  # the payload it sends (LoadItem.payloads)

    def __init__(self, api: crm.RestBillable, label: str) -> None:
        self.api, self.label = api, label

    def upsert(self, client: PayamgostarClient, item: LoadItem, known: RecordState | None, *,
               look_first: bool = True) -> Outcome:
        payload = item.payloads[self.protocol]
        type_code = payload["crmObjectTypeCode"]
        look_first = _retire_renumbered(known, item, lambda old: self.delete(client, old)) or look_first
        if stored_in_crm(known, item):
            try:
                self.api.update(client, known.crm_id, payload, record=item.label)
                return Outcome("updated", known.crm_id, type_code)
            except NotFound:
                look_first = True  # deleted in the CRM meanwhile: adopt or create below
        if not look_first:
            try:
                return Outcome("created", self.api.create(client, payload, record=item.label), type_code)
            except RecordRejected:  # the CRM may hold the number already (typed in by hand): adopt that one
                found = self.api.find_by_number(client, item.number, type_code, record=item.label)
                if found is None:
                    raise
        else:
            found = self.api.find_by_number(client, item.number, type_code, record=item.label)
        if found is not None:
            crm_id = found.get("crmId") or found["CrmId"]
            self.api.update(client, crm_id, payload, record=item.label)
            return Outcome("adopted", crm_id, type_code)
        return Outcome("created", self.api.create(client, payload, record=item.label), type_code)

    def delete(self, client: PayamgostarClient, known: RecordState) -> Outcome:
        if not known.crm_id:
            return Outcome("gone", None, known.crm_kind)
        try:
            self.api.delete(client, known.crm_id, record=f"{self.label} {known.crm_number}")
        except NotFound:
            return Outcome("gone", known.crm_id, known.crm_kind)
        return Outcome("deleted", known.crm_id, known.crm_kind)


def _retire_renumbered(known: RecordState | None, item: LoadItem, delete: Callable[[RecordState], Outcome]) -> bool:
    """A changed numbering template renumbers a document: the CRM keeps numbers, so the old one goes (True:
    the new number is looked for before it is created, as a retry after a crash would find it there)."""
    if known is not None and known.status == "synced" and known.crm_number and known.crm_number != item.number:
        delete(known)
        return True
    return False


class SoapDocumentTarget:
    """Quotes, returns, receipts and payments over SOAP: ``Save*`` updates when ``CrmId`` is set and
    creates otherwise. A known document is saved under its stored id (one call); a save the CRM refuses is
    looked up by that id: still there → the refusal stands, gone from the CRM → adopt by number or create.
    A new one is created, after a look for its number with ``look_first``. A known document is deleted by its
    id. Numbers serve adoption only: the CRM's numbering template may blank or rewrite the one we sent."""

    protocol = "soap"  # the payload it sends (LoadItem.payloads)

    def __init__(self, api: crm.SoapDocument) -> None:
        self.api = api

    def upsert(self, client: PayamgostarClient, item: LoadItem, known: RecordState | None, *,
               look_first: bool = True) -> Outcome:
        info = dict(item.payloads[self.protocol])
        type_code = info["CrmObjectTypeCode"]
        look_first = _retire_renumbered(known, item, lambda old: self.delete(client, old)) or look_first
        api = self.api
        if stored_in_crm(known, item):
            try:
                api.save(client, {**info, "CrmId": known.crm_id}, record=item.label)
                return Outcome("updated", known.crm_id, type_code)
            except RecordRejected:
                if api.find_by_id(client, known.crm_id, record=item.label) is not None:
                    raise  # the CRM holds it and refused the edit
                found = api.find_by_number(client, item.number, type_code, record=item.label)
        else:
            found = api.find_by_number(client, item.number, type_code, record=item.label) if look_first else None
        if found is not None:
            api.save(client, {**info, "CrmId": found["CrmId"]}, record=item.label)
            return Outcome("adopted", found["CrmId"], type_code)
        return Outcome("created", api.save(client, info, record=item.label), type_code)


    def delete(self, client: PayamgostarClient, known: RecordState) -> Outcome:
        if not known.crm_id:
            return Outcome("gone", known.crm_id, known.crm_kind)
        removed = self.api.delete_by_id(client, known.crm_id, record=f"{known.crm_kind} {known.crm_number}")
        return Outcome("deleted" if removed else "gone", known.crm_id, known.crm_kind)


def created_in_crm(ctx: SyncContext, state: RecordState | None) -> str | None:
    """A quote made in the CRM is edited there only (an edit propagates from the side that created it)."""
    return "created in the CRM, which owns its edits" if state is not None and state.origin == "crm" else None


def make_spec(kind: Kind, target: RestInvoiceTarget | SoapDocumentTarget, *,
              admit: Callable[[SyncContext, RecordState | None], str | None] | None = None,
              settings_default: DocumentSettings, assumption: str | None = None) -> EntitySpec:
    references = [Reference("identities", "ref_customer", "customer"),
                  Reference("products", "ref_products", "product")]
    if kind.origin is not None:
        references.append(Reference(kind.origin.entity, "ref_origin", kind.origin.label))
    origin_type = (kind.origin or NO_ORIGIN).factor_type
    return EntitySpec(
        name=kind.name, label=kind.label,
        source=QueryRef("__SPFactor__", lambda: _header_query(kind.factor_type, origin_type)),
        hash_columns=HASH_COLUMNS, checks=_checks(kind.origin), prepare=make_prepare(kind),
        payload=make_payload(kind, target.protocol), target=target, scope="fiscal_years", lines=LINES,
        references=tuple(references), admit=admit, settings=settings_default, assumption=assumption,
    )


QUOTES = make_spec(Kind("quotes", "quote", QUOTE, "پیش‌فاکتور", soap_quote), SoapDocumentTarget(crm.QUOTE),
                   admit=created_in_crm, settings_default=DocumentSettings(type_code="quote"))
SALES_INVOICES = make_spec(Kind("sales_invoices", "sales_invoice", SALES_INVOICE, "فاکتور فروش", rest_invoice),
                           RestInvoiceTarget(crm.SALES_INVOICE, "sales_invoice"),
                           settings_default=DocumentSettings(type_code="sales_invoice"))
SALES_RETURNS = make_spec(Kind("sales_returns", "sales_return", SALES_RETURN, "برگشت از فروش", soap_return,
                               origin=NO_ORIGIN),
                          SoapDocumentTarget(crm.SALES_RETURN), settings_default=DocumentSettings(type_code="sales_return"))
PURCHASE_INVOICES = make_spec(Kind("purchase_invoices", "purchase_invoice", PURCHASE_INVOICE, "فاکتور خرید",
                                   rest_invoice, seller=False),
                              RestInvoiceTarget(crm.RestBillable("crmobject/invoice/purchase"), "purchase_invoice"),
                              settings_default=DocumentSettings(type_code="purchase_invoice"))
PURCHASE_RETURNS = make_spec(Kind("purchase_returns", "purchase_return", PURCHASE_RETURN, "برگشت از خرید",
                                  soap_return, origin=Origin("purchase_invoices", PURCHASE_INVOICE, "purchase invoice"),
                                  seller=False),
                             SoapDocumentTarget(crm.SoapBillable(
                                 "IInvoice", "SaveReturnInvoice", "returnInvoiceInfo",
                                 crm.SearchByNumber("IInvoice", "SearchReturnPurchaseInvoice"),
                                 "DeleteReturnInvoiceByNumber",
                                 crm.FindById("IInvoice", "FindReturnPurchaseInvoiceById", "retPurchInvoiceId"),
                                 type_index=16)),  # ReturnPurchaseInvoice (§5.1)
                             settings_default=DocumentSettings(type_code="purchase_return"),
                             assumption="SaveReturnInvoice with CrmObjectTypeIndex 16 saves a purchase return, "
                                        'SearchReturnPurchaseInvoice finds one by the query Number == "<number>" '
                                        "and DeleteReturnInvoiceByNumber deletes one by the number and type code "
                                        "FindReturnPurchaseInvoiceById reads")
