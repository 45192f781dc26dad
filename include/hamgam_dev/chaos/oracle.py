"""What the chaos suite asserts, and whom it blames.

A world's end state (``Snapshot``): the ledger's records and queue per company and entity, the webhook
events still pending, the CRM's live records (the sandbox's admin view) and Tadbir's row counts.

- ``invariants(world)``: valid Tadbir keys = CRM records = ledger ``synced`` (each synced record's number
  is held by exactly one CRM record, whose id the ledger has; each CRM record is a synced ledger record);
  nothing queued, ``failed`` or pending; every set-aside record (invalid, rejected, skipped) has a reason.
- ``against_baseline(base, chaos)``: the same data run without faults is the oracle of what is valid:
  every key synced there is synced here, no other; the same CRM numbers; the same Tadbir row counts;
  the CRM user's customers and quotes brought into Tadbir as there.

A problem is *lost* (a valid record missing, unlinked or set aside for no reason), *doubled* (a CRM number
held twice, a CRM record no synced ledger record names, a record or Tadbir row the baseline does not have)
or *stuck* (still queued, ``failed``, or a webhook event still pending). Each is traced, through the proxy's
call log, to the faults injected into the calls about that record (and to kills and sandbox crashes near
those calls).
"""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hamgam_dev.chaos.proxy import EVENTS, MODES, Call
from hamgam_dev.chaos.world import ENTITIES

if TYPE_CHECKING:
    from hamgam_dev.chaos.world import HarnessEvent, World

CRM_KINDS = {"identities": ("person", "organization"), "products": ("product",), "quotes": ("quote",),
             "sales_invoices": ("sales_invoice",), "sales_returns": ("sales_return",), "receipts": ("receipt",),
             "payments": ("payment",)}
ENTITY_OF_KIND = {kind: entity for entity, kinds in CRM_KINDS.items() for kind in kinds}
REVERSE_ENTITIES = {"crm_identities": "identities", "crm_quotes": "quotes"}
CATEGORIES = ("lost", "doubled", "stuck")
UNTRACED = "(no fault on its calls)"
TADBIR_COUNTS = {
    "__Customer__": "SELECT FPId, '', COUNT(*) FROM __Customer__ GROUP BY FPId",
    "__DetailAcc__": "SELECT 0, '', COUNT(*) FROM __DetailAcc__",
    "__SPFactor__": "SELECT FPId, FactorType, COUNT(*) FROM __SPFactor__ GROUP BY FPId, FactorType",
    "__SPArticle__": "SELECT FPId, '', COUNT(*) FROM __SPArticle__ GROUP BY FPId",
    "__PayReceive__": "SELECT FPId, Type, COUNT(*) FROM __PayReceive__ GROUP BY FPId, Type",
}


def crm_number(record: dict[str, Any]) -> str | None:
    value = record.get("customerNumber") or record.get("code") or record.get("number")
    return str(value) if value else None


@dataclass
class Snapshot:
    records: dict[tuple[int, str], dict[str, Any]]  # (company, entity) -> key -> RecordState
    queued: dict[tuple[int, str], list[str]]
    events: list[Any]  # pending webhook events (EventRow)
    crm: list[dict[str, Any]]
    tadbir: dict[tuple[int, str, int, str], int]  # (company, table, FPId, type) -> rows
    made: dict[str, str]  # CRM user: number -> CRM id
    runs: dict[tuple[int, str], Any] = field(default_factory=dict)  # (company, entity) -> its latest RunRow

    def crm_index(self) -> dict[tuple[str, str], list[dict[str, Any]]]:
        index: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for record in self.crm:
            entity, number = ENTITY_OF_KIND.get(record.get("kind", "")), crm_number(record)
            if entity and number:
                index[(entity, number)].append(record)
        return index


def take_snapshot(world: World, made: dict[str, str]) -> Snapshot:
    ledger = world.ledger
    records, queued, runs = {}, {}, {}
    for company in world.companies():
        for entity in (*ENTITIES, *REVERSE_ENTITIES):
            records[(company, entity)] = ledger.records(company, entity)
            queued[(company, entity)] = [p.tadbir_key for p in ledger.pending(company, entity, limit=100_000)]
            runs[(company, entity)] = ledger.latest_run(company, entity)
    events = [e for source in ("customer", "salequote") for e in ledger.pending_events(source, limit=100_000)]
    tadbir = {}
    for company in world.companies():
        with sqlite3.connect(world.demo / f"tadbir_{company}.sqlite") as db:
            for table, sql in TADBIR_COUNTS.items():
                for period, kind, count in db.execute(sql):
                    tadbir[(company, table, int(period), str(kind))] = count
    return Snapshot(records, queued, events, world.sandbox.records(), tadbir, dict(made), runs)


@dataclass
class Problem:
    category: str  # lost | doubled | stuck
    entity: str
    company: int | None
    ident: str  # the record, as people name it: its CRM number, else its Tadbir key
    reasons: list[str] = field(default_factory=list)
    idents: set[str] = field(default_factory=set)  # everything the proxy's log may name it by
    faults: set[str] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)  # the faulted calls, for the report

    def line(self) -> str:
        where = f"company {self.company} " if self.company else ""
        blame = ", ".join(sorted(self.faults)) or UNTRACED
        return (f"{self.category.upper():7} {self.entity} {where}{self.ident}: {'; '.join(self.reasons)}"
                f"  [faults: {blame}{' — ' + ', '.join(self.calls[:4]) if self.calls else ''}]")


class Problems:
    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str, int | None, str], Problem] = {}

    def add(self, category: str, entity: str, company: int | None, ident: str, reason: str, *idents: Any) -> None:
        key = (category, entity, company, ident)
        problem = self._by_key.setdefault(key, Problem(category, entity, company, ident))
        if reason not in problem.reasons:
            problem.reasons.append(reason)
        problem.idents |= {str(i) for i in (ident, *idents) if i}

    def __iter__(self):
        return iter(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)

    def counts(self) -> dict[str, int]:
        counts = Counter(p.category for p in self)
        return {c: counts[c] for c in CATEGORIES}


def _short(text: Any, width: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[:width - 1] + "…"


def invariants(snap: Snapshot, *, events: bool = True) -> Problems:
    """The world's own consistency: ledger ↔ CRM, nothing stuck, every set-aside record with a reason
    (``events``: and no webhook event pending)."""
    problems = Problems()
    index = snap.crm_index()
    synced_numbers: dict[str, set[str]] = defaultdict(set)
    for (company, entity), states in snap.records.items():
        if entity in REVERSE_ENTITIES:
            for key, state in states.items():
                if state.status == "failed":
                    problems.add("stuck", entity, company, key, f"failed: {_short(state.last_error)}", state.crm_id)
            continue
        for key, state in states.items():
            number = state.crm_number
            if state.status == "synced":
                synced_numbers[entity].add(number or "")
                holders = index.get((entity, number or ""), [])
                if not holders:
                    problems.add("lost", entity, company, number or key,
                                 f"the ledger has it synced (key {key}, CRM id {_short(state.crm_id, 60)}) but no CRM "
                                 "record holds its number", key, state.crm_id)
                elif state.crm_id not in {h.get("crmId") for h in holders}:
                    problems.add("lost", entity, company, number or key,
                                 f"the ledger's CRM id {_short(state.crm_id, 70)!r} is not the id of the CRM record "
                                 f"holding its number ({', '.join(h.get('crmId', '?') for h in holders)})",
                                 key, state.crm_id, *(h.get("crmId") for h in holders))
            elif state.status in ("invalid", "rejected", "skipped") and not (state.last_error or "").strip():
                problems.add("lost", entity, company, number or key, f"set aside as {state.status} with no reason",
                             key, state.crm_id)
            elif state.status == "failed":
                problems.add("stuck", entity, company, number or key,
                             f"failed (key {key}): {_short(state.last_error)}", key, state.crm_id)
        run = snap.runs.get((company, entity))
        last_run = (f"; the last run of {entity} company {company} ended {run.state}: {_short(run.message)}"
                    if run is not None and run.state != "success" else "")
        for key in snap.queued.get((company, entity), []):
            state = states.get(key)
            problems.add("stuck", entity, company, (state.crm_number if state else None) or key,
                         f"still queued (key {key}; ledger: "
                         f"{f'{state.status} {_short(state.last_error, 80)}' if state else 'no record'}){last_run}",
                         key)
    for (entity, number), holders in index.items():
        company = _company_of(number)
        ids = [h.get("crmId") for h in holders]
        if len(holders) > 1:
            problems.add("doubled", entity, company, number, f"{len(holders)} CRM records hold this number", *ids)
        if number not in synced_numbers[entity]:
            states = snap.records.get((company, entity), {}) if company else {}
            named = [f"{k}: {s.status}" for k, s in states.items() if s.crm_number == number or s.crm_id in ids]
            problems.add("doubled", entity, company, number, "in the CRM, but no synced ledger record names it"
                         + (f" (ledger {', '.join(named)})" if named else ""), *ids)
    for event in snap.events if events else ():
        problems.add("stuck", REVERSE_ENTITIES["crm_identities" if event.source == "customer" else "crm_quotes"],
                     None, event.crm_id, f"webhook event {event.id} ({event.event}) still pending: "
                     f"{_short(event.message or 'never processed')}", event.crm_id)
    return problems


def against_baseline(base: Snapshot, chaos: Snapshot) -> Problems:
    """What the chaos world did differently from the same data without faults."""
    problems = Problems()
    for (company, entity), base_states in base.records.items():
        if entity in REVERSE_ENTITIES:
            continue
        base_states = _by_record(base_states, base.made)
        states = _by_record(chaos.records.get((company, entity), {}), chaos.made)
        for key, before in base_states.items():
            now = states.get(key)
            if before.status == "synced" and (now is None or now.status != "synced"):
                what = f"{now.status}: {_short(now.last_error)}" if now else "not in the ledger"
                problems.add("lost", entity, company, before.crm_number or key,
                             f"synced in the baseline; in the chaos run {what}", key, now.crm_id if now else None)
        for key, now in states.items():
            before = base_states.get(key)
            if now.status == "synced" and (before is None or before.status != "synced"):
                problems.add("doubled", entity, company, now.crm_number or key,
                             f"synced in the chaos run only (baseline: {before.status if before else 'no record'})",
                             key, now.crm_id)
    base_index, index = base.crm_index(), chaos.crm_index()
    for entity, number in base_index:
        if (entity, number) not in index:
            problems.add("lost", entity, _company_of(number), number, "in the baseline's CRM, not in the chaos "
                         "run's")
    for (entity, number), holders in index.items():
        if (entity, number) not in base_index:
            problems.add("doubled", entity, _company_of(number), number, "in the chaos run's CRM only",
                         *(h.get("crmId") for h in holders))
    for number in sorted(base.made):
        reverse = "crm_quotes" if "/" in number else "crm_identities"
        company = _company_of(number)
        before = base.records.get((company, reverse), {}).get(base.made[number])
        crm_id = chaos.made.get(number)
        now = chaos.records.get((company, reverse), {}).get(crm_id) if crm_id else None
        if crm_id is None:
            problems.add("lost", REVERSE_ENTITIES[reverse], company, number,
                         "the CRM user could not make it (what it needs never reached the CRM)")
        elif before is not None and before.status == "synced" and (now is None or now.status != "synced"):
            what = f"{now.status}: {_short(now.last_error)}" if now else "never applied"
            problems.add("lost", REVERSE_ENTITIES[reverse], company, number,
                         f"made in the CRM; brought into Tadbir in the baseline, in the chaos run {what}", crm_id)
    for key in sorted(set(base.tadbir) | set(chaos.tadbir)):
        before, now = base.tadbir.get(key, 0), chaos.tadbir.get(key, 0)
        if before != now:
            company, table, period, kind = key
            problems.add("doubled" if now > before else "lost", f"tadbir {table}", company,
                         f"FPId {period}{f' type {kind}' if kind != '' else ''}",
                         f"{now} rows, the baseline has {before} (the reverse flow wrote "
                         f"{'more' if now > before else 'fewer'})")
    return problems


def _by_record(states: dict[str, Any], made: dict[str, str]) -> dict[str, Any]:
    """Ledger records by Tadbir key, except those of the CRM user's records, by their CRM number: the Tadbir
    number the reverse flow gives a CRM quote is the next free one when it is written, which depends on
    when (faults can delay it past finance's deletes), not on what."""
    return {(s.crm_number if s.crm_number in made else key): s for key, s in states.items()}


def _company_of(number: str | None) -> int | None:
    head = (number or "").split("-", 1)[0]
    return int(head) if head.isdigit() else None


def merge(*groups: Problems) -> list[Problem]:
    """One problem per (category, entity, company, record), reasons joined."""
    merged = Problems()
    for group in groups:
        for problem in group:
            for reason in problem.reasons:
                merged.add(problem.category, problem.entity, problem.company, problem.ident, reason, *problem.idents)
    return list(merged)


def attribute(problems: list[Problem], calls: list[Call], events: list[HarnessEvent]) -> None:
    """Blame each problem on the faults injected into the calls about its record, the token revocations
    those calls met (401), and the kills and sandbox crashes that happened while they were made."""
    by_subject: dict[str, list[Call]] = defaultdict(list)
    for call in calls:
        if call.subject:
            by_subject[call.subject].append(call)
    for problem in problems:
        entity = REVERSE_ENTITIES.get(problem.entity, problem.entity)
        mine = [c for ident in problem.idents for c in by_subject.get(ident, [])
                if c.entity in (None, entity) or problem.entity.startswith("tadbir")]
        for call in mine:
            blamed = set()
            if call.fault:
                blamed.add(call.fault)
            if call.event in EVENTS:
                blamed.add(call.event)
            if call.upstream_status == 401:
                blamed.add("token-revoked")
            for event in events:
                if event.kind == "kill-load" and event.at - 3.0 <= call.started <= event.at + 0.5:
                    blamed.add("kill-load")
                if event.kind == "sandbox-restart" and (
                        event.at - 1.0 <= call.started <= (event.until or event.at + 60) + 1.0
                        or call.event == "upstream-down"):
                    blamed.add("sandbox-restart")
            if blamed:
                problem.faults |= blamed
                problem.calls.append(f"{'+'.join(sorted(blamed))} on {call.operation} ({call.phase})")
        problem.calls = list(dict.fromkeys(problem.calls))


def table(problems: list[Problem], injected: Counter[str]) -> list[str]:
    """Per fault: how many were injected, and the problems traced to it (a problem can have several)."""
    rows = [*MODES, *EVENTS, UNTRACED]
    per: dict[str, Counter[str]] = {row: Counter() for row in rows}
    for problem in problems:
        for fault in problem.faults or {UNTRACED}:
            per.setdefault(fault, Counter())[problem.category] += 1
    width = max(len(r) for r in rows)
    lines = [f"{'fault':{width}}  {'injected':>8}  {'lost':>5}  {'doubled':>7}  {'stuck':>5}"]
    for row in rows:
        shown = "-" if row == UNTRACED else str(injected.get(row, 0))
        lines.append(f"{row:{width}}  {shown:>8}  {per[row]['lost']:>5}  {per[row]['doubled']:>7}  "
                     f"{per[row]['stuck']:>5}")
    return lines
