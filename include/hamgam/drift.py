"""The drift report: per company, entity and fiscal year, Tadbir against the ledger and the CRM.

For each it counts the records and sums their amounts (documents: the total; receipts and payments: the
amount; master data has no amount and one row, fiscal year ``None``, its current state) in

- Tadbir: the records in scope (what should be in the CRM; out-of-scope rows are left out),
- the ledger: the records it holds as synced (it keeps hashes, not amounts: its sum is Tadbir's amounts
  of those keys),
- the CRM: read back through its API (``hamgam.drift_crm``),

and lists the keys that differ each way: in Tadbir and not in the CRM, in the CRM and not in Tadbir (or
gone from it), in Tadbir and not synced in the ledger, synced in the ledger and gone from Tadbir, and
amounts that differ. A difference is *explained* when the ledger says why: the record was set aside
(invalid, rejected, skipped, with its reason) or is queued for the next run. Anything else is unexplained:
the report is stored all the same, and the DAG's task fails naming company, entity, year and keys.

``latest_drift_report(ledger)`` gives the newest report as plain data (the hamgam page shows it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from hamgam.drift_crm import CrmRecord, Wanted, listed, lists_everything, looked_up
from hamgam.entities.base import DISPLAY, KEY, SKIP
from hamgam.ledger.models import DriftReport, utcnow
from hamgam.pipeline import key_year

if TYPE_CHECKING:
    from hamgam.config import HamgamConfig
    from hamgam.entities.base import EntitySpec, SyncContext
    from hamgam.ledger.store import Ledger, RecordState
    from hamgam.payamgostar.client import PayamgostarClient

log = logging.getLogger(__name__)

NUMBER_COLUMNS = ("customer_number", "crm_code", "number")  # where a prepared frame keeps the CRM number
AMOUNT_COLUMNS = ("total", "amount")  # documents, then receipts and payments
DIRECTIONS = ("missing_in_crm", "extra_in_crm", "missing_in_ledger", "extra_in_ledger", "amount_differs")
KEYS_SHOWN = 100  # keys listed per direction and row (counts are complete)
QUEUED = "queued for the next run"


@dataclass
class TadbirRecord:
    key: str
    number: str
    year: int | None
    amount: int | None


@dataclass
class Row:
    """One company + entity + fiscal year of the report."""

    company: int
    entity: str
    fiscal_year: int | None
    tadbir: list[TadbirRecord] = field(default_factory=list)
    ledger: list[str] = field(default_factory=list)
    differences: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {d: [] for d in DIRECTIONS})


def _column_of(prepared: Any, names: Iterable[str]) -> str | None:
    return next((name for name in names if name in prepared.columns), None)


def tadbir_records(spec: EntitySpec, ctx: SyncContext, engine: sa.Engine) -> dict[str, TadbirRecord]:
    """The records of the scope that belong in the CRM (rows out of scope left out), by key."""
    from hamgam.entities.base import SyncContext
    from hamgam.pipeline import prepare_rows, scope_periods
    from hamgam.tadbir import reader

    found: dict[str, TadbirRecord] = {}
    for period in scope_periods(engine, spec, ctx):
        pctx = SyncContext(ctx.config, ctx.company, period)
        for chunk in reader.read_period(engine, spec.source, period.id, ctx.config.sync.chunk_size):
            prepared = prepare_rows(spec, pctx, engine, chunk)
            if SKIP in prepared.columns:
                prepared = prepared[prepared[SKIP].isna()]
            number = _column_of(prepared, NUMBER_COLUMNS) or (DISPLAY if DISPLAY in prepared.columns else KEY)
            amount = _column_of(prepared, AMOUNT_COLUMNS)
            amounts = prepared[amount].tolist() if amount else [None] * len(prepared)
            year = period.year if spec.scope == "fiscal_years" else None
            for key, shown, value in zip(prepared[KEY], prepared[number], amounts, strict=True):
                found.setdefault(key, TadbirRecord(key, str(shown or key), year,
                                                   None if value is None or value != value else int(value)))
    return found


def _explanation(state: RecordState | None, queued: set[str], key: str) -> str | None:
    if key in queued:
        return QUEUED
    if state is not None and state.status in ("invalid", "rejected", "skipped"):
        return f"{state.status}: {state.last_error or 'no reason recorded'}"
    return None


def compare(spec: EntitySpec, company: int, tadbir: dict[str, TadbirRecord], states: dict[str, RecordState],
            queued: set[str], crm: dict[str, CrmRecord]) -> list[dict[str, Any]]:
    """The report's rows for one company + entity (``crm``: what the CRM holds, by key)."""
    rows: dict[int | None, Row] = {}

    def row(year: int | None) -> Row:
        return rows.setdefault(year, Row(company, spec.name, year))

    def year_of(key: str) -> int | None:
        return key_year(key) if spec.scope == "fiscal_years" else None

    def differ(direction: str, key: str, number: str, **more: Any) -> None:
        why = _explanation(states.get(key), queued, key)
        row(year_of(key)).differences[direction].append({"key": key, "number": number, "explained": why, **more})

    synced = {k for k, s in states.items() if s.status == "synced"}
    for record in tadbir.values():
        row(record.year).tadbir.append(record)
        if record.key not in crm:
            differ("missing_in_crm", record.key, record.number)
        elif record.amount is not None and crm[record.key].amount is not None \
                and crm[record.key].amount != record.amount:
            differ("amount_differs", record.key, record.number, tadbir=record.amount, crm=crm[record.key].amount)
        if record.key not in synced:
            differ("missing_in_ledger", record.key, record.number)
    for key in sorted(synced):
        row(year_of(key)).ledger.append(key)
        if key not in tadbir:
            differ("extra_in_ledger", key, states[key].crm_number or key)
    for key, held in crm.items():
        if key not in tadbir:
            differ("extra_in_crm", key, held.number)

    out = []
    for year, r in sorted(rows.items(), key=lambda item: (item[0] is None, item[0] or 0)):
        amounts = {t.key: t.amount for t in tadbir.values()}
        in_crm = [held for key, held in crm.items() if year_of(key) == year]
        unexplained = sorted({d["key"] for ds in r.differences.values() for d in ds if d["explained"] is None})
        out.append({
            "company": company, "entity": spec.name, "fiscal_year": year,
            "tadbir": {"count": len(r.tadbir), "amount": _sum(t.amount for t in r.tadbir)},
            "ledger": {"count": len(r.ledger), "amount": _sum(amounts.get(k) for k in r.ledger)},
            "crm": {"count": len(in_crm), "amount": _sum(h.amount for h in in_crm)},
            "differences": {d: ds[:KEYS_SHOWN] for d, ds in r.differences.items()},
            "difference_counts": {d: len(ds) for d, ds in r.differences.items()},
            "unexplained": unexplained,
        })
    return out


def _sum(values: Iterable[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def crm_records(spec: EntitySpec, config: HamgamConfig, client: PayamgostarClient, company: int,
                tadbir: dict[str, TadbirRecord], states: dict[str, RecordState]) -> dict[str, CrmRecord]:
    """What the CRM holds of this company's records, by key (a CRM record no key names: by its number)."""
    wanted = {r.key: Wanted(r.key, r.number, None) for r in tadbir.values()}
    for key, state in states.items():
        if state.status == "synced" or key in wanted:
            wanted[key] = Wanted(key, state.crm_number or wanted.get(key, Wanted(key, key, None)).number,
                                 state.crm_id)
    if not lists_everything(spec):
        return looked_up(spec, config, client, wanted.values())
    by_number = {w.number: w.key for w in wanted.values()}
    prefix = f"{company}-"
    return {by_number.get(number, number): held for number, held in listed(spec, config, client).items()
            if number in by_number or number.startswith(prefix)}


def entity_rows(spec: EntitySpec, ctx: SyncContext, *, engine: sa.Engine, ledger: Ledger,
                client: PayamgostarClient) -> list[dict[str, Any]]:
    company = ctx.company.code
    tadbir = tadbir_records(spec, ctx, engine)
    states = ledger.records(company, spec.name)
    queued = {p.tadbir_key for p in ledger.pending(company, spec.name, limit=10**9)}
    crm = crm_records(spec, ctx.config, client, company, tadbir, states)
    return compare(spec, company, tadbir, states, queued, crm)


def save(ledger: Ledger, *, dag_id: str, run_id: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Store the report in the ledger; returns it as ``latest_drift_report`` would."""
    unexplained = sum(len(r["unexplained"]) for r in rows)
    with ledger.engine.begin() as conn:
        conn.execute(sa.insert(DriftReport).values(dag_id=dag_id, run_id=run_id, unexplained=unexplained,
                                                   created_at=utcnow(), report=rows))
    latest = latest_drift_report(ledger)
    assert latest is not None
    return latest


def latest_drift_report(ledger: Ledger) -> dict[str, Any] | None:
    """The newest drift report, as plain data, or None when there is none::

        {"id", "dag_id", "run_id", "created_at" (ISO 8601, UTC), "unexplained" (how many keys),
         "rows": [{"company", "entity", "fiscal_year" (None: master data),
                   "tadbir" | "ledger" | "crm": {"count", "amount" (None: no amounts)},
                   "differences": {direction: [{"key", "number", "explained" (None or why), ...}]},
                   "difference_counts": {direction: n}, "unexplained": [key, ...]}]}

    Directions: missing_in_crm, extra_in_crm, missing_in_ledger, extra_in_ledger, amount_differs (with
    "tadbir" and "crm" amounts)."""
    query = sa.select(DriftReport).order_by(DriftReport.created_at.desc(), DriftReport.id.desc()).limit(1)
    with ledger.engine.connect() as conn:
        found = conn.execute(query).first()
    if found is None:
        return None
    return {"id": found.id, "dag_id": found.dag_id, "run_id": found.run_id,
            "created_at": found.created_at.isoformat(), "unexplained": found.unexplained, "rows": found.report}


def unexplained_text(rows: list[dict[str, Any]]) -> str:
    """One line per row with unexplained differences: company, entity, year, and the keys each way."""
    lines = []
    for r in rows:
        if not r["unexplained"]:
            continue
        year = r["fiscal_year"] if r["fiscal_year"] is not None else "current"
        ways = "; ".join(
            f"{direction.replace('_', ' ')}: " + ", ".join(f"{d['number']} (key {d['key']})" for d in ds
                                                          if d["explained"] is None)
            for direction, ds in r["differences"].items() if any(d["explained"] is None for d in ds))
        lines.append(f"company {r['company']} {r['entity']} fiscal year {year}: {ways}")
    return "\n".join(lines)


def report_text(rows: list[dict[str, Any]]) -> str:
    """The report as the task logs it: one line per company, entity and year."""
    def shown(side: dict[str, Any]) -> str:
        return f"{side['count']}" + (f" / Σ {side['amount']:,}" if side["amount"] is not None else "")

    lines = ["company entity year: Tadbir | ledger | CRM (count / Σ amount); differences"]
    for r in rows:
        year = r["fiscal_year"] if r["fiscal_year"] is not None else "current"
        diffs = ", ".join(f"{d} {n}" for d, n in r["difference_counts"].items() if n) or "none"
        lines.append(f"{r['company']} {r['entity']} {year}: {shown(r['tadbir'])} | {shown(r['ledger'])} | "
                     f"{shown(r['crm'])}; {diffs}; unexplained {len(r['unexplained'])}")
    return "\n".join(lines)
