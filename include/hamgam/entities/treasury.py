"""Receipts and payments (hamgam's assumed ``__PayReceive__`` table → CRM PaymentInfo over SOAP IPayment).

The table and its columns are an assumption: each company's Tadbir may name them its own way
(``companies[].assumed_tables.pay_receive``, today's names by default); the spec reads from there
(``EntitySpec.for_company``).

No legacy treasury table is public (tadbir-schema.md §1.4, §7): hamgam's reference schema models one
on Tadbir NG's CashFlow.PayReceive — Type 0 receipt / 1 payment, Kind 0 cash / 1 cheque, Status
0 registered / 1 settled / 2 bounced. Vendor rules: only those linked to a customer; cheque and cash
with number, date, amount, cheque number and status; edits and deletes propagate; the destination
accounts are not carried. Numbers follow ``{company}-{____(SHYY)}/{*(FP:6)}-{*(AN)}``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

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
    Payload,
    Reference,
    Refs,
    SyncContext,
    crm_id_of,
    records_of,
)
from hamgam.entities.documents import Cells, DocumentSettings, SoapDocumentTarget, document_number, settings
from hamgam.payamgostar import documents as crm
from hamgam.settings import CompanyConfig, PayReceiveTable
from hamgam.tadbir import schema
from hamgam.tadbir.reader import QueryRef
from hamgam.transform.limits import too_long, truncate
from hamgam.transform.numbering import Template
from hamgam.validate import Check

if TYPE_CHECKING:
    import pandas as pd

RECEIPT, PAYMENT = 0, 1
CASH, CHEQUE = 0, 1
SETTLED = 1
TREASURY_NUMBER_TEMPLATE = "{companyCode}-{____(SHYY)}/{*(FP:6)}-{*(AN)}"


# the assumed table's columns the entities read, by hamgam's names (the query labels the site's columns so)
READ = ("Id", "FPId", "No", "Date", "CustomerId", "Amount", "Kind", "ChequeNo", "ChequeDate", "Status",
        "Description")


def _query(kind: int, names: PayReceiveTable) -> sa.Subquery:
    columns = names.columns.model_dump()
    p = schema.named_as(schema.pay_receive, names.table, columns).alias("p")
    c = schema.customer.alias("c")

    def col(name: str) -> sa.ColumnClause:
        return p.c[columns[name]]

    joined = p.outerjoin(c, (c.c.Id == col("CustomerId")) & (c.c.FPId == col("FPId")))
    return (sa.select(*(col(name).label(name) for name in READ), c.c.Id.label("CustomerRowId"),
                      c.c.SubscriptionNo.label("CustomerCode"))
            .select_from(joined).where(col("Type") == kind).subquery(f"pay_receive_{kind}"))


@functools.cache
def source(kind: int, names: PayReceiveTable) -> QueryRef:
    """Receipts (``kind`` 0) or payments (1) read from the treasury table as ``names`` calls it (one source per
    kind and names: a source's statement is built once)."""
    return QueryRef(names.table, functools.partial(_query, kind, names))


def _source_for(kind: int) -> Callable[[CompanyConfig], QueryRef]:
    return lambda company: source(kind, company.assumed_tables.pay_receive)


CHECKS = (
    *ROW_CHECKS,
    Check("ExpectColumnValuesToBeInSet", "customer_ok", "customer not found in Tadbir",
          {"value_set": [True]}, value_column="customer_id"),
    Check("ExpectColumnValuesToBeBetween", "amount", "amount is negative", {"min_value": 0}),
    Check("ExpectColumnValuesToBeInSet", "cheque_ok", "a cheque has no cheque number",
          {"value_set": [True]}, value_column="kind"),
    Check("ExpectColumnValuesToBeInSet", "date_ok", "date is outside its fiscal year",
          {"value_set": [True]}, value_column="doc_date"),
    Check("ExpectColumnValuesToBeInSet", "number_ok", "the number does not fit the numbering template",
          {"value_set": [True]}, value_column="tadbir_no"),
)

HASH_COLUMNS = ("number", "doc_date", "customer_code", "amount", "kind", "cheque_no", "cheque_date", "status",
                "description")


def make_prepare(name: str):
    def prepare(raw: pd.DataFrame, ctx: SyncContext, lines: pd.DataFrame | None = None) -> pd.DataFrame:
        import pandas as pd

        from hamgam.transform.text import normalize_code, normalize_name

        assert ctx.period is not None
        period = ctx.period
        limits = ctx.config.limits
        template = Template.parse(settings(ctx.config, name).number_template)
        records = []
        for row in records_of(raw):  # NULLs as None, never NaN (truthy): a row read alone hashes as among others
            cells = Cells(row)
            row_id = int(row["Id"])
            tadbir_no = cells.whole("No")  # None: unreadable, the key then names the row
            customer_id = cells.amount("CustomerId")
            found = row["CustomerRowId"] is not None and row["CustomerRowId"] == row["CustomerRowId"]
            customer_code = normalize_code(row["CustomerCode"]) if found else None
            # the customer as the identities spec keys it: its code, or its row when it has none
            customer_key = (customer_code or f"{NO_CODE}{int(row['CustomerRowId'])}") if found else None
            number = document_number(ctx, template, tadbir_no) if tadbir_no is not None else None
            (doc_date, date_text), (cheque_date, cheque_text) = cells.date("Date"), cells.date("ChequeDate")
            kind = "cheque" if cells.amount("Kind") == CHEQUE else "cash"
            cheque_no = normalize_code(row["ChequeNo"]) if row["ChequeNo"] else None
            shown_no = tadbir_no if tadbir_no is not None else str(row["No"]).strip()
            records.append({
                ROW_ID: row_id,
                KEY: f"{period.year}/{tadbir_no}" if tadbir_no is not None else f"{period.year}/{NO_CODE}{row_id}",
                DISPLAY: number or f"{period.year}/{shown_no}",
                SKIP: None if customer_id else "is not linked to a customer",
                UNREADABLE: "; ".join(cells.problems) or None,
                TOO_LONG: too_long([("number", number, limits.code), ("ChequeNo", cheque_no, limits.code)]),
                "tadbir_no": tadbir_no,
                "number": number, "number_ok": number is not None if tadbir_no is not None else None,
                "doc_date": doc_date.isoformat() if doc_date else date_text,
                "date_ok": doc_date is not None and period.start <= doc_date <= period.end
                if date_text is None else None,
                "customer_id": customer_id, "customer_code": customer_code,
                "customer_ok": customer_code is not None if customer_id else None,
                "amount": cells.amount("Amount"),
                "kind": kind, "cheque_ok": bool(cheque_no) if kind == "cheque" else None,
                "cheque_no": cheque_no,
                "cheque_date": cheque_date.isoformat() if cheque_date else cheque_text,
                "status": cells.amount("Status"),
                "description": truncate(normalize_name(row["Description"]), limits.free_text,
                                        limits.truncation_marker) if row["Description"] else None,
                "ref_customer": [customer_key] if customer_key else [],
            })
        return pd.DataFrame.from_records(records, index=raw.index) if records else pd.DataFrame(
            columns=[ROW_ID, KEY, DISPLAY, SKIP, UNREADABLE, TOO_LONG])

    return prepare


def _payment_info(doc: dict[str, Any], ctx: SyncContext, refs: Refs, name: str, subject: str) -> dict[str, Any]:
    cheque = doc["kind"] == "cheque"
    info = {
        "CrmObjectTypeCode": settings(ctx.config, name).type_code,
        "RefId": f"tadbir:{ctx.company.code}:{name}:{doc[KEY]}",
        "Description": doc["description"],
        "IdentityId": crm_id_of(refs, "identities", doc["ref_customer"][0] if doc["ref_customer"] else None,
                                "customer"),
        "Subject": f"{subject} {doc['number']}",
        "FinalValue": doc["amount"],
        "Number": doc["number"],
        "ChequeNo": doc["cheque_no"] if cheque else None,
        "IsPayed": doc["status"] == SETTLED,  # the "financial status": settled or not
        "PayDate": f"{doc['doc_date']}T00:00:00" if doc["doc_date"] else None,
        "PaymentType": "Cheque" if cheque else "Cash",
        "SettledDate": f"{doc['cheque_date']}T00:00:00" if cheque and doc["cheque_date"] else None,
    }
    return {k: v for k, v in info.items() if v is not None}


def make_spec(name: str, label: str, kind: int, subject: str, target: SoapDocumentTarget) -> EntitySpec:
    def payload(doc: dict[str, Any], ctx: SyncContext, refs: Refs) -> Payload:
        return Payload(f"{label} {doc['number']}", name, doc["number"],
                       {"soap": _payment_info(doc, ctx, refs, name, subject)})

    spec = EntitySpec(
        name=name, label=label, source=source(kind, PayReceiveTable()), source_for=_source_for(kind),
        hash_columns=HASH_COLUMNS, checks=CHECKS, prepare=make_prepare(name), payload=payload,
        target=target, scope="fiscal_years", references=(Reference("identities", "ref_customer", "customer"),),
        settings=DocumentSettings(type_code=label, number_template=TREASURY_NUMBER_TEMPLATE),
    )
    return spec


RECEIPTS = make_spec("receipts", "receipt", RECEIPT, "دریافت", SoapDocumentTarget(crm.RECEIPT))
PAYMENTS = make_spec("payments", "payment", PAYMENT, "پرداخت", SoapDocumentTarget(crm.PAYMENT))
