"""What both reverse flows share: routing a CRM number to a company and fiscal year, recording a Tadbir
write in the ledger with the forward flow's own content hash (so it is not sent back), and telling a CRM
copy of something deleted in Tadbir (which the forward flow is removing) from a CRM change to bring over."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hamgam.entities.base import CONTENT_HASH, KEY, SyncContext, records_of
from hamgam.transform.numbering import COMPANY_CODE, NumberMismatch, Template

if TYPE_CHECKING:
    import sqlalchemy as sa

    from hamgam.entities.base import LoadItem
    from hamgam.ledger.store import Ledger, RecordState
    from hamgam.settings import CompanyConfig, HamgamConfig
    from hamgam.tadbir.reader import FiscalPeriod


class Rejected(ValueError):
    """A CRM item that cannot be written into Tadbir; the message names it and says why."""


@dataclass(frozen=True)
class Routed:
    company: CompanyConfig
    # the template's tokens read from the number: the years (SHYY, MIYY) as full years (ints), every other
    # token (AN: a customer code, a document number) as the digits written, leading zeros kept
    parts: dict[str, Any]


_YEAR_TOKENS = ("SHYY", "MIYY")


def _parts(template: Template, number: str) -> dict[str, Any]:
    """The number's tokens: codes are text (``100-0777`` → AN ``"0777"``, never 777); only the years are
    numbers (a two-digit year expanded). Raises NumberMismatch."""
    digits = template.parse_number(number, as_text=True)
    typed = template.parse_number(number)
    return {name: typed[name] if name in _YEAR_TOKENS else value for name, value in digits.items()}


def _without_company(template: Template) -> Template | None:
    """The template with its company-code token and the literal right after it removed: how a CRM number
    of the default company looks when it names no company."""
    parts = list(template.parts)
    for i, part in enumerate(parts):
        if not isinstance(part, str) and part.name == COMPANY_CODE:
            rest = parts[i + 1:]
            if rest and isinstance(rest[0], str):
                rest = rest[1:]
            text = "".join(p if isinstance(p, str) else _token_text(p) for p in parts[:i] + rest)
            return Template.parse(text) if text else None
    return None


def _token_text(token: Any) -> str:
    width = "*" if token.width is None else "_" * token.width
    default = f":{token.default}" if token.default is not None else ""
    return f"{{{width}({token.name}{default})}}"


def route_number(config: HamgamConfig, number: str, template_text: str, label: str) -> Routed:
    """The company (by the number's company code; the default company when it names none) and the
    template's parts of a CRM number; raises Rejected naming the item when it fits neither form."""
    template = Template.parse(template_text)
    try:
        parts = _parts(template, number)
    except NumberMismatch:
        bare = _without_company(template)
        try:
            bare_parts = _parts(bare, number) if bare is not None else None
        except NumberMismatch:
            bare_parts = None
        if bare_parts is None:
            raise Rejected(f"{label}: the number does not fit the numbering template {template_text!r}") from None
        return Routed(config.default_company(), bare_parts)
    code = int(parts.pop(COMPANY_CODE)) if COMPANY_CODE in parts else None
    if code is None:
        return Routed(config.default_company(), parts)
    known = {c.code: c for c in config.companies}
    if code not in known:
        raise Rejected(f"{label}: the number names company {code}, which is not configured "
                       f"(known: {', '.join(map(str, known))})")
    return Routed(known[code], parts)


def number_parts(template_text: str, number: str) -> dict[str, Any] | None:
    """The template's parts of CRM number ``number`` (the company code under ``COMPANY_CODE`` when the number
    names one), whether or not it names the company; None when it fits neither form."""
    template = Template.parse(template_text)
    for candidate in (template, _without_company(template)):
        if candidate is None:
            continue
        try:
            return _parts(candidate, number)
        except NumberMismatch:
            continue
    return None


def current_period(engine: sa.Engine, company: CompanyConfig) -> FiscalPeriod:
    from hamgam.tadbir import reader

    periods = reader.fiscal_periods(engine)
    if not periods:
        raise Rejected(f"company {company.code}: its Tadbir database has no fiscal period")
    return periods[-1]


def forward_items(entity: str, ctx: SyncContext, engine: sa.Engine, row_ids: list[int]) -> list[LoadItem]:
    """What the forward flow would send for these rows of ``ctx.period`` (references as the ledger has them)."""
    from hamgam import pipeline
    from hamgam.entities import SPECS
    from hamgam.tadbir import reader

    spec = SPECS[entity]
    assert ctx.period is not None, "the reverse flow writes into one fiscal period"
    prepared = pipeline.prepare_rows(spec, ctx, engine, reader.read_rows(engine, spec.source, ctx.period.id, row_ids))
    return [spec.item(row, ctx, {}) for row in records_of(prepared)]


def record_forward_hash(entity: str, ctx: SyncContext, engine: sa.Engine, ledger: Ledger, *, key: str,
                        row_id: int, crm_id: str | None, crm_number: str, crm_kind: str | None, origin: str) -> None:
    """Record a row the reverse flow wrote as synced, with the hash the forward flow will compute for it."""
    from hamgam import pipeline
    from hamgam.entities import SPECS
    from hamgam.tadbir import reader

    spec = SPECS[entity]
    assert ctx.period is not None, "the reverse flow writes into one fiscal period"
    prepared = pipeline.prepare_rows(spec, ctx, engine, reader.read_rows(engine, spec.source, ctx.period.id, [row_id]))
    prepared = prepared[prepared[KEY] == key]
    digests = list(prepared[CONTENT_HASH])
    ledger.record_outcome(ctx.company.code, entity, key, status="synced", crm_id=crm_id, crm_number=crm_number,
                          crm_kind=crm_kind, origin=origin,
                          content_hash=pipeline.key_digest(digests) if digests else None)
    # checksum change capture: the row's range holds this key from now on (else a delete of it before the
    # next detect would leave the range's checksum as stored, and the CRM copy would stay)
    from hamgam.ledger.detect_state import DetectState

    DetectState(ledger).place(ctx.company.code, entity, ctx.period.id, row_id // ctx.config.sync.checksum_range_size,
                              key, [row_id])


def delete_queued(ledger: Ledger, company: int, entity: str, key: str) -> bool:
    """Is a delete of ``key`` waiting in the forward flow's change queue?"""
    from sqlalchemy import select

    from hamgam.ledger.models import PendingChange

    query = select(PendingChange.action).where(PendingChange.company == company, PendingChange.entity == entity,
                                               PendingChange.tadbir_key == key)
    with ledger.engine.connect() as conn:
        return conn.execute(query).scalar_one_or_none() == "delete"


def deleted_in_tadbir(ledger: Ledger, company: int, entity: str, state: RecordState | None, *,
                      crm_id: str | None, in_tadbir: Callable[[], bool]) -> bool:
    """Is the CRM item the copy of a forward ledger record (``state``) that was deleted in Tadbir?

    Then the forward flow is removing (or will remove) the CRM copy, and the reverse flow must not bring
    it back. Yes when the forward queue holds a delete of the key; when the ledger says deleted (of a
    record made in Tadbir, or of this very CRM item: a new CRM item may reuse a CRM-made number); or
    when ``in_tadbir()`` (called only then) no longer finds the row, before the forward flow has looked.
    """
    if state is None:
        return False
    if delete_queued(ledger, company, entity, state.tadbir_key):
        return True
    if state.status == "deleted":
        return state.origin == "tadbir" or (crm_id is not None and state.crm_id == crm_id)
    return not in_tadbir()


def removal_message(what: str) -> str:
    return f"{what} was deleted in Tadbir; its CRM copy is being removed, not brought back"
