"""Payamgostar quotes → Tadbir ``__SPFactor__`` (FactorType 4) and its ``__SPArticle__`` lines.

Vendor rules (vendor-sync-spec.md, quote rules and numbering): the CRM has no fiscal year — the quote's
number names it (``{company}-{____(SHYY)}/{*(AN)}``, or ``{MIYY}``) and its company (the default one when
it names none); customer and products must exist in Tadbir (a customer made in the CRM is brought over
first); "floating coding" on gives the quote the next Tadbir number of its year, off keeps the CRM's; an
edit propagates only from the side that created the quote, and a changed number is a new quote; a delete
in the CRM does not touch Tadbir. A delete in Tadbir is never undone: the CRM copy of a quote deleted in
Tadbir (until the forward flow's delete reaches it) is ignored, and a customer deleted in Tadbir is not
brought back for a quote. Whatever is wrong rejects the whole quote, naming it and the reason.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from hamgam.entities.base import SyncContext
from hamgam.entities.documents import settings as document_settings
from hamgam.entities.identities import settings as identity_settings
from hamgam.entities.products import settings as product_settings
from hamgam.reverse import identities as reverse_identities
from hamgam.reverse.common import (
    Rejected,
    deleted_in_tadbir,
    record_forward_hash,
    removal_message,
    route_number,
)
from hamgam.tadbir import clock, reader, schema
from hamgam.tadbir.writer import NumberTaken, QuoteHeader, QuoteLine, TadbirWriter

if TYPE_CHECKING:
    from hamgam.ledger.store import Ledger
    from hamgam.payamgostar.client import PayamgostarClient
    from hamgam.settings import CompanyConfig, HamgamConfig

log = logging.getLogger(__name__)
ENTITY = "quotes"
CRM_ENTITY = "crm_quotes"  # the reverse flow's own record per CRM quote id (last content applied, or why not)


@dataclass(frozen=True)
class Applied:
    action: str  # created | updated | unchanged | skipped | ignored (deleted in Tadbir)
    company: int
    key: str  # the Tadbir quote: "1404/31"
    message: str = ""


def content_digest(quote: dict) -> str:
    """What of a CRM quote reaches Tadbir: a change elsewhere (stage, colour) is not an edit."""
    essence = {k: quote.get(k) for k in ("number", "quoteDate", "identityId", "description", "additionalCosts")}
    essence["details"] = [{k: d.get(k) for k in ("productCode", "count", "baseUnitPrice", "totalDiscount",
                                                 "totalVat", "totalToll", "detailDescription")}
                          for d in quote.get("details") or []]
    return hashlib.sha1(json.dumps(essence, sort_keys=True, default=str).encode()).hexdigest()


def _period_of(engine: sa.Engine, config: HamgamConfig, company: CompanyConfig, parts: dict, label: str
               ) -> reader.FiscalPeriod:
    periods = reader.fiscal_periods(engine)
    if "SHYY" in parts:
        year = int(parts["SHYY"])
        matching = [p for p in periods if p.year == year]
    elif "MIYY" in parts:
        year = int(parts["MIYY"])
        matching = [p for p in periods if p.start.year == year]
    else:
        raise Rejected(f"{label}: the numbering template names no fiscal year ({{SHYY}} or {{MIYY}})")
    if not matching:
        raise Rejected(f"{label}: fiscal year {year} does not exist in the Tadbir database of company {company.code}")
    period = matching[-1]
    open_years = config.reverse.quotes.open_fiscal_years
    is_open = period.year in open_years if open_years is not None else period.id == periods[-1].id
    if not is_open:
        raise Rejected(f"{label}: fiscal year {period.year} of company {company.code} is closed")
    return period


def _product_code(config: HamgamConfig, company: int, crm_code: str) -> str:
    """The Tadbir product code inside a CRM product code (``100-1001`` → ``1001``, by products.code_format)."""
    from hamgam.transform.text import normalize_code, to_ascii_digits

    head, _, tail = product_settings(config).code_format.partition("{code}")
    head, tail = head.format(company=company), tail.format(company=company)
    text = to_ascii_digits(crm_code).strip()
    if text.startswith(head) and text.endswith(tail):
        text = text[len(head):len(text) - len(tail)]
    return normalize_code(text)


def _merchandise(engine: sa.Engine, period_id: int) -> dict[str, dict]:
    from hamgam.transform.text import normalize_code

    m = schema.merchandise
    with engine.connect() as conn:
        rows = conn.execute(sa.select(m.c.Id, m.c.Code, m.c.UnitId).where(
            m.c.FPId == period_id, sa.func.coalesce(m.c.IsGroup, 0) != 1)).mappings().all()
    return {normalize_code(r["Code"]): dict(r) for r in rows}


def _warehouse(engine: sa.Engine, period_id: int, code: int, label: str) -> int:
    s = schema.stock_room
    with engine.connect() as conn:
        found = conn.execute(sa.select(s.c.Id).where(s.c.FPId == period_id, s.c.Code == code)).scalar_one_or_none()
    if found is None:
        raise Rejected(f"{label}: the default warehouse (code {code}) is not in Tadbir")
    return int(found)


def _rial(value: Any) -> int:
    return int(round(float(value or 0)))


def _date(value: Any, zone: str, *, now: datetime | None = None) -> datetime:
    """The quote's date for Tadbir: the CRM's (Tehran wall time already), else today where Tadbir is."""
    if not value:
        return clock.tadbir_today(zone, now=now)
    moment = datetime.fromisoformat(str(value).replace("Z", "")[:19])
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _known_forward(ledger: Ledger, company: int, crm_id: str, number: str):
    """The forward ledger's record of the Tadbir quote this CRM quote is, if any: the one under its current
    number first (after a renumbering the older Tadbir quote keeps the old one)."""
    mine = [s for s in ledger.records(company, ENTITY).values() if s.crm_id == crm_id]
    return next((s for s in mine if s.crm_number == number), mine[0] if mine else None)


def apply_quote(config: HamgamConfig, quote: dict, *, client: PayamgostarClient, engines: dict[int, sa.Engine],
                ledger: Ledger) -> Applied:
    """Write one CRM quote into Tadbir by the rules above; raises Rejected (nothing written) when it cannot."""
    crm_id: str = quote.get("crmId")  # type: ignore[assignment]  # get_quote answers a quote, which has its id
    number = (quote.get("number") or "").strip()
    label = f"quote {number or crm_id}"
    if not number:
        raise Rejected(f"{label}: the quote has no number yet")
    routed = route_number(config, number, document_settings(config, "quotes").number_template, label)
    company = routed.company
    engine = engines[company.code]
    known = _known_forward(ledger, company.code, crm_id, number)
    # the Tadbir quote this one is a copy of (made in Tadbir, or in the CRM under this number) was deleted in
    # Tadbir: the forward flow is removing the CRM copy, which must not bring it back (a document's key
    # names its row, so a missing row is a deleted one, whichever side made it)
    if known is not None and (known.origin == "tadbir" or known.crm_number == number) and deleted_in_tadbir(
            ledger, company.code, ENTITY, known, crm_id=crm_id, in_tadbir=lambda: _in_tadbir(engine, known.tadbir_key)):
        return Applied("ignored", company.code, known.tadbir_key, removal_message(f"quote {known.crm_number or number}"))
    if known is not None and known.origin == "tadbir":  # ours, coming back: edits flow from Tadbir only
        return Applied("skipped", company.code, known.tadbir_key, "created in Tadbir: its edits come from there")
    digest = content_digest(quote)
    applied_before = ledger.get(company.code, CRM_ENTITY, crm_id)
    if known is not None and known.crm_number == number and applied_before is not None \
            and applied_before.status == "synced" and applied_before.content_hash == digest:
        return Applied("unchanged", company.code, known.tadbir_key)
    period = _period_of(engine, config, company, routed.parts, label)
    details = quote.get("details") or []
    if not details:
        raise Rejected(f"{label}: the quote has no lines")
    products = _merchandise(engine, period.id)
    warehouse = _warehouse(engine, period.id, config.reverse.quotes.default_warehouse_code, label)
    lines = []
    for n, d in enumerate(details, start=1):
        code = _product_code(config, company.code, d.get("productCode") or "")
        product = products.get(code)
        if product is None:
            raise Rejected(f"{label}: line {n}: product {d.get('productCode') or '(no code)'} is not in Tadbir "
                           f"(company {company.code}, fiscal year {period.year})")
        quantity = Decimal(str(d.get("count") or 0))
        lines.append(QuoteLine(merchandise_id=int(product["Id"]), unit_id=int(product["UnitId"] or 0),
                               stock_room_id=warehouse, quantity=quantity, unit_price=_rial(d.get("baseUnitPrice")),
                               discount=_rial(d.get("totalDiscount")), vat=_rial(d.get("totalVat")),
                               toll=_rial(d.get("totalToll")), description=d.get("detailDescription") or ""))
    # only now, with the quote known to be writable, may its customer be brought over
    customer = _customer(config, quote, company, period, client=client, engines=engines, ledger=ledger, label=label)
    total = sum(int((li.quantity * li.unit_price).to_integral_value()) for li in lines)
    header = QuoteHeader(
        period_id=period.id, date=_date(quote.get("quoteDate"), config.sync.tadbir_timezone), customer_id=int(customer["Id"]),
        customer_name=customer.get("Name") or "", customer_phone=customer.get("PhoneNo") or "",
        customer_ec_code=customer.get("EcCode") or "", customer_address=customer.get("Address") or "",
        total=total, discount=sum(li.discount for li in lines), additions=_rial(quote.get("additionalCosts")),
        description=quote.get("description") or "")
    writer = TadbirWriter(engine, text=config.reverse.tadbir_text)
    replace_id = None
    if known is not None and known.crm_number == number:  # an edit of a quote made in the CRM
        year, _, factor_no = known.tadbir_key.partition("/")
        replace_id = _quote_id(engine, period.id, int(factor_no))
    # a quote number is a number (FactorNo is an integer column); a code never is
    fixed = None if config.reverse.quotes.floating_coding else int(routed.parts["AN"])
    try:
        sp_id, factor_no = writer.write_quote(header, lines, number=fixed, replace_id=replace_id)
    except NumberTaken as exc:
        raise Rejected(f"{label}: {exc} (floating coding is off)") from exc
    key = f"{period.year}/{factor_no}"
    record_forward_hash(ENTITY, SyncContext(config, company, period), engine, ledger, key=key, row_id=sp_id,
                        crm_id=crm_id, crm_number=number, crm_kind=quote.get("crmObjectTypeCode"), origin="crm")
    ledger.record_outcome(company.code, CRM_ENTITY, crm_id, status="synced", crm_id=crm_id, crm_number=number,
                          content_hash=digest, origin="crm")
    return Applied("updated" if replace_id else "created", company.code, key)


def _in_tadbir(engine: sa.Engine, key: str) -> bool:
    """Is the Tadbir quote of a forward ledger key (``1404/31``) in Tadbir?"""
    year, _, factor_no = key.partition("/")
    if not (year.isdigit() and factor_no.isdigit()):
        return True  # not a key this flow can look up: never taken for deleted
    periods = [p for p in reader.fiscal_periods(engine) if p.year == int(year)]
    return any(_quote_id(engine, p.id, int(factor_no)) is not None for p in periods)


def _quote_id(engine: sa.Engine, period_id: int, factor_no: int) -> int | None:
    f = schema.sp_factor
    with engine.connect() as conn:
        return conn.execute(sa.select(f.c.Id).where(f.c.FPId == period_id, f.c.FactorType == 4,
                                                    f.c.FactorNo == factor_no)).scalar_one_or_none()


def _customer(config: HamgamConfig, quote: dict, company: CompanyConfig, period: reader.FiscalPeriod, *,
              client: PayamgostarClient, engines: dict[int, sa.Engine], ledger: Ledger, label: str) -> dict:
    """The quote's customer in Tadbir; one made in the CRM and missing from Tadbir is brought over first."""
    identity_id = quote.get("identityId")
    if not identity_id:
        raise Rejected(f"{label}: the quote names no customer")
    fetched = reverse_identities.fetch_identity(client, identity_id)
    if fetched is None:
        raise Rejected(f"{label}: its customer {identity_id} is not in the CRM")
    kind, record = fetched
    number = record.get("customerNumber") or ""
    routed = route_number(config, number, identity_settings(config).customer_number_template, f"{label}: customer {number}")
    if routed.company.code != company.code:
        raise Rejected(f"{label}: its customer {number} belongs to company {routed.company.code}, "
                       f"the quote to company {company.code}")
    code = routed.parts["AN"]  # the customer code, as text: "100-0777" → "0777"
    found = reverse_identities.find_customer(engines[company.code], period.id, code)
    if found is not None:
        return found
    try:
        applied = reverse_identities.apply_identity(config, kind, record, engines=engines, ledger=ledger,
                                                    period=period)
    except Rejected as exc:
        raise Rejected(f"{label}: its customer cannot be brought over: {exc}") from exc
    if applied.action == "ignored":  # deleted in Tadbir: not brought back, so the quote has no customer
        raise Rejected(f"{label}: its {applied.message}")
    found = reverse_identities.find_customer(engines[company.code], period.id, code)
    if found is None:
        raise Rejected(f"{label}: customer {number} is not in Tadbir's fiscal year {period.year} "
                       f"({applied.message or applied.action})")
    log.info("%s: customer %s brought over from the CRM first", label, number)
    return found
