"""Payamgostar identities → Tadbir customers (the reverse flow's identity rules).

Vendor rules (vendor-sync-spec.md, identity rules): the customer number ``{company}-{AN}`` routes the
identity to a company's Tadbir database (the default company when it names none) and gives the customer
code; the system of record decides who may create and who may edit; deleting in the CRM never touches
Tadbir; a person/organization change made in the CRM reaches Tadbir through the register code (legacy
``__Customer__`` has no kind column: a 10-digit national code means a person, an 11-digit national id or
a registration number an organization). Nothing is written when Tadbir already holds the same values —
that is what keeps the forward flow's own writes, coming back as webhooks, from echoing. And a delete in
Tadbir is never undone: the CRM copy of a customer deleted in Tadbir, still there until the forward
flow's delete reaches it, is ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from hamgam.entities.base import SyncContext
from hamgam.entities.identities import settings as identity_settings
from hamgam.reverse.common import (
    Rejected,
    Routed,
    current_period,
    deleted_in_tadbir,
    forward_items,
    record_forward_hash,
    removal_message,
    route_number,
)
from hamgam.tadbir import reader, schema
from hamgam.tadbir.write_tables import reflect
from hamgam.tadbir.writer import TadbirWriter
from hamgam.transform.phones import FAX, MOBILE
from hamgam.transform.text import to_tadbir_legacy_text

if TYPE_CHECKING:
    from hamgam.ledger.store import Ledger
    from hamgam.payamgostar.client import PayamgostarClient
    from hamgam.settings import CompanyConfig, HamgamConfig
    from hamgam.tadbir.reader import FiscalPeriod

log = logging.getLogger(__name__)
ENTITY = "identities"
CRM_ENTITY = "crm_identities"  # the reverse flow's own record per CRM identity id (what it did and why)
PERSON_HINT, ORGANIZATION_HINT = "حقیقی", "حقوقی"


@dataclass(frozen=True)
class Applied:
    action: str  # created | updated | unchanged | skipped | ignored (deleted in Tadbir)
    company: int
    customer_code: str
    customer_id: int | None
    message: str = ""


def kind_hint(subtype: str | None) -> tuple[str, ...]:
    """Which identity kind to try first: the vendor's own sync reads حقیقی / حقوقی in the subtype name."""
    text = subtype or ""
    if text in ("person", "organization"):  # the sweep knows the kind already
        return (text, "organization" if text == "person" else "person")
    if PERSON_HINT in text:
        return ("person", "organization")
    if ORGANIZATION_HINT in text:
        return ("organization", "person")
    return ("person", "organization")


def fetch_identity(client: PayamgostarClient, crm_id: str, subtype: str | None = None) -> tuple[str, dict] | None:
    from hamgam.payamgostar.errors import NotFound

    for kind in kind_hint(subtype):
        try:
            return kind, client.get_identity(kind, crm_id, record=f"identity {crm_id}")
        except NotFound:
            continue
    return None


def _text(value: Any) -> str:
    from hamgam.transform.text import normalize_name

    return normalize_name(value) if value else ""


def _code(value: Any) -> str:
    from hamgam.transform.text import normalize_code

    return normalize_code(value) if value else ""


def _extended(record: dict, key: str) -> str | None:
    for prop in record.get("extendedProperties") or []:
        if (prop.get("userKey") or prop.get("UserKey")) == key:
            return prop.get("value") if "value" in prop else prop.get("Value")
    return None


def tadbir_values(kind: str, record: dict) -> dict[str, Any]:
    """The ``__Customer__`` columns an identity maps to (text normalised the way Tadbir compares it)."""
    phones = record.get("phoneContacts") or []

    def numbers(types: set[str] | None, exclude: AbstractSet[str] = frozenset()) -> str:
        picked = [_code(p.get("phoneNumber")) for p in phones
                  if (types is None or p.get("phoneType") in types) and p.get("phoneType") not in exclude]
        return " , ".join(n for n in picked if n)

    address = next((a for a in record.get("addressContacts") or [] if a.get("default")),
                   (record.get("addressContacts") or [None])[0]) or {}
    if kind == "person":
        name = " ".join(p for p in (_text(record.get("firstName")), _text(record.get("lastName"))) if p)
        register = _code(record.get("nationalCode"))
    else:
        name = _text(record.get("nickName"))
        register = _code(record.get("nationalCode")) or _code(record.get("registerNumber"))
    return {
        "Name": name or _text(record.get("nickName")),
        "RegisterCode": register,
        "EcCode": _code(record.get("economicCode")),
        "PhoneNo": numbers(None, exclude={MOBILE, FAX}),
        "MobileNo": numbers({MOBILE}),
        "FaxNo": numbers({FAX}),
        "Email": (record.get("email") or "").strip().lower(),
        "Address": _text(address.get("address")),
        "PostalCode": _code(address.get("zipCode")),
        "Province": _text(address.get("state")),
        "City": _text(address.get("city")),
        "CDesc": _text(record.get("description")),
    }


def find_customer(engine: sa.Engine, period_id: int, customer_code: str) -> dict | None:
    """The customer whose (normalised) code is ``customer_code`` in one fiscal period.

    Codes are stored as typed (ASCII, Persian or Saman-font digits): first ask for the likely spellings
    (Saman: how hamgam writes them into a code-page column), and only when none matches compare every code
    of the period after normalising it. Reads the site's own ``__Customer__`` (reflected), whatever columns
    it lacks beyond those hamgam writes."""
    c = reflect(engine)[schema.customer.name]
    row = [column.label(column.key) for column in c.columns]  # hamgam's spelling of each name
    spellings = {customer_code, customer_code.translate(_PERSIAN_DIGITS), customer_code.translate(_ARABIC_DIGITS),
                 to_tadbir_legacy_text(customer_code)}
    with engine.connect() as conn:
        rows = conn.execute(sa.select(*row).where(c.c.FPId == period_id, c.c.SubscriptionNo.in_(spellings))
                            ).mappings().all()
        if not rows:
            rows = conn.execute(sa.select(*row).where(c.c.FPId == period_id)).mappings().all()
    matches = [dict(r) for r in rows if _code(r["SubscriptionNo"]) == customer_code]
    return matches[0] if matches else None


_PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
_ARABIC_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def may(config: HamgamConfig, action: str, record: dict, tadbir_origin: str | None) -> tuple[bool, str]:
    """Does the system of record let the CRM ``create`` or ``edit`` this customer in Tadbir?"""
    settings = config.reverse.identities
    mode = settings.system_of_record
    if mode == "tadbir":
        return False, "Tadbir is the system of record for identities"
    if mode == "crm":
        return True, ""
    reference = (_extended(record, settings.reference_key) or "").strip().lower()
    allow = (_extended(record, settings.allow_update_key) or "").strip().lower()
    if reference in ("tadbir", "financial", "تدبیر"):
        return False, "the identity's reference is Tadbir"
    if action == "create":
        return True, ""
    if allow in ("false", "0", "no"):
        return False, "the identity does not allow updates"
    if reference in ("crm", "payamgostar", "پیام گستر", "پیام‌گستر"):
        return True, ""
    if tadbir_origin == "crm":
        return True, ""
    return False, "the customer was created in Tadbir, which therefore owns its edits"


def apply_identity(config: HamgamConfig, kind: str, record: dict, *, engines: dict[int, sa.Engine],
                   ledger: Ledger, period: FiscalPeriod | None = None) -> Applied:
    """Write one CRM identity into the Tadbir database of its company, by the rules; raises Rejected.

    ``period``: the fiscal period to write into (a quote's, when its customer is brought over first);
    by default the company's current one, where master data lives."""
    number = (record.get("customerNumber") or "").strip()
    label = f"identity {number or record.get('crmId')}"
    if not number:
        raise Rejected(f"{label}: the customer number is empty")
    routed: Routed = route_number(config, number, identity_settings(config).customer_number_template, label)
    code = routed.parts["AN"]  # the customer code, as text: "100-0777" → "0777"
    company = routed.company
    values = tadbir_values(kind, record)
    _check_codes(label, kind, values)
    engine = engines[company.code]
    period = period or current_period(engine, company)
    existing = find_customer(engine, period.id, code)
    state = ledger.get(company.code, ENTITY, code)
    # deleted in Tadbir, its CRM copy not yet removed by the forward flow: never bring it back (whatever
    # the system of record says). One made in Tadbir is gone when the forward flow's period (the newest
    # holding customers) lacks it; one the reverse flow made counts as gone only when no fiscal period
    # holds it (a quote of an older open year may have brought it into that year alone).
    def in_tadbir() -> bool:
        made_in_tadbir = state is not None and state.origin == "tadbir"
        periods = _forward_scope(config, company, engine) if made_in_tadbir else reader.fiscal_periods(engine)
        return _in_periods(engine, periods, code, period, existing)

    if deleted_in_tadbir(ledger, company.code, ENTITY, state, crm_id=record.get("crmId"), in_tadbir=in_tadbir):
        return Applied("ignored", company.code, code, existing["Id"] if existing else None,
                       removal_message(f"customer {number}"))
    action = "edit" if existing is not None else "create"
    allowed, why = may(config, action, record, state.origin if state else None)
    if not allowed:
        return Applied("skipped", company.code, code, existing["Id"] if existing else None, why)
    writer = TadbirWriter(engine, text=config.reverse.tadbir_text)
    if existing is None:
        customer_id = writer.insert_customer(period.id, {
            **values, "SubscriptionNo": code, "Type": config.reverse.identities.customer_type,
            "LRes": config.reverse.identities.price_level,
        }, detail_chain=config.reverse.identities.detail_account_chain,
            receivables_account=config.reverse.identities.receivables_account)
        result = Applied("created", company.code, code, customer_id)
    else:
        # what the CRM would hold if it had exactly Tadbir's row: equal means nothing to bring back (this
        # is also how the forward flow's own writes, returning as webhooks, are recognised)
        ctx = SyncContext(config, company, period)
        items = [i for i in forward_items(ENTITY, ctx, engine, [existing["Id"]]) if i.key == code]
        expected = tadbir_values(kind, items[0].payloads[kind]) if items else {}
        changed = {k: v for k, v in values.items() if expected.get(k) != v}
        if not changed:
            return Applied("unchanged", company.code, code, existing["Id"])
        writer.update_customer(period.id, existing["Id"], changed)
        result = Applied("updated", company.code, code, existing["Id"], ", ".join(sorted(changed)))
    # what we wrote is already in step with the CRM: the forward flow must not send it back
    assert result.customer_id is not None, "created and updated customers have their row"
    record_forward_hash(ENTITY, SyncContext(config, company, period), engine, ledger, key=code,
                        row_id=result.customer_id, crm_id=record.get("crmId"), crm_number=number, crm_kind=kind,
                        origin="crm" if state is None else state.origin)
    return result


def _forward_scope(config: HamgamConfig, company: CompanyConfig, engine: sa.Engine) -> list[FiscalPeriod]:
    """Where the forward flow looks for customers: the newest fiscal period holding any."""
    from hamgam import pipeline
    from hamgam.entities import SPECS

    return pipeline.scope_periods(engine, SPECS[ENTITY], SyncContext(config, company))


def _in_periods(engine: sa.Engine, periods: list[FiscalPeriod], code: str, period: FiscalPeriod,
                existing: dict | None) -> bool:
    """Does one of ``periods`` hold the customer? (``existing``: what ``period`` holds, already looked up.)"""
    return any(existing is not None if p.id == period.id else find_customer(engine, p.id, code) is not None
               for p in periods)


def _check_codes(label: str, kind: str, values: dict[str, Any]) -> None:
    from hamgam.transform.codes import is_valid_national_code, is_valid_national_id

    code = values["RegisterCode"]
    if kind == "person" and code and not (len(code) == 10 and is_valid_national_code(code)):
        raise Rejected(f"{label}: the national code fails its checksum")
    if kind == "organization" and code and len(code) == 11 and not is_valid_national_id(code):
        raise Rejected(f"{label}: the national id fails its checksum")
    if not values["Name"]:
        raise Rejected(f"{label}: the name is empty")
