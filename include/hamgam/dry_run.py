"""Dry run of a forward sync (trigger param ``dry_run``): what a real run would do, with nothing written.

The whole run — detection, validation, transformation, reference syncs, the finds that decide create,
update or adopt — works on a *shadow ledger*: a throwaway SQLite copy of the company's sync state
(records, queue, cursors, send marks, checksums), and talks to the CRM through ``DryRunClient``, which
sends reads and withholds writes. The real ledger is only read (to copy it); the CRM is only read. What the
shadow ledger holds afterwards, against what it held before, is the plan: the keys that would be created,
updated, deleted and set aside.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from hamgam.ledger.models import Base, Cursor, DetectKey, DetectRange, PendingChange, SendMark, SyncRecord

if TYPE_CHECKING:
    from hamgam.entities.base import EntitySpec, SyncContext
    from hamgam.ledger.store import Ledger, RecordState
    from hamgam.payamgostar.dry_run import DryRunClient

log = logging.getLogger(__name__)

# the ledger's sync state: what a dry run must not move, and what its shadow copies
SYNC_STATE = tuple(Base.metadata.tables[model.__tablename__] for model in (
    SyncRecord, PendingChange, Cursor, SendMark, DetectRange, DetectKey))
PLAN_KEYS_SHOWN = 200  # keys listed per kind of change (the counts are always complete)
SET_ASIDE = ("invalid", "rejected", "skipped")
_COPY_CHUNK = 5_000


@contextmanager
def shadow_ledger(ledger: Ledger, company: int) -> Iterator[Ledger]:
    """A throwaway ledger holding a copy of ``company``'s sync state (every entity: references are synced
    on demand), gone when the block ends."""
    from hamgam.ledger.store import Ledger

    with tempfile.TemporaryDirectory(prefix="hamgam-dry-run-") as folder:
        shadow = Ledger.connect(f"sqlite:///{Path(folder) / 'shadow.sqlite'}")
        try:
            with ledger.engine.connect() as source, shadow.engine.begin() as target:
                for table in SYNC_STATE:
                    rows = source.execute(sa.select(table).where(table.c.company == company))
                    while chunk := rows.fetchmany(_COPY_CHUNK):
                        target.execute(table.insert(), [row._asdict() for row in chunk])
            yield shadow
        finally:
            shadow.dispose()


def sync_state(ledger: Ledger) -> dict[str, list[tuple]]:
    """Every row of the ledger's sync state, table by table, in a stable order (tests compare two of them)."""
    with ledger.engine.connect() as conn:
        return {table.name: sorted((tuple(row) for row in conn.execute(sa.select(table))), key=repr)
                for table in SYNC_STATE}


def plan(spec: EntitySpec, before: dict[str, RecordState], after: dict[str, RecordState]) -> dict[str, Any]:
    """What the run would change, per kind: ``create``, ``update``, ``delete`` (keys) and ``set_aside``
    (key, status, reason), from the shadow ledger before and after the run."""
    kinds: dict[str, list[Any]] = {"create": [], "update": [], "delete": [], "set_aside": []}
    for key, state in sorted(after.items()):
        prior = before.get(key)
        if prior == state:
            continue
        if state.status == "synced":
            in_crm_before = prior is not None and prior.crm_id and prior.status != "deleted"
            kinds["update" if in_crm_before else "create"].append(key)
        elif state.status == "deleted" and prior is not None and prior.status != "deleted":
            kinds["delete"].append(key)
        elif state.status in SET_ASIDE:
            kinds["set_aside"].append({"key": key, "status": state.status, "reason": state.last_error})
    return {"counts": {kind: len(keys) for kind, keys in kinds.items()},
            **{kind: keys[:PLAN_KEYS_SHOWN] for kind, keys in kinds.items()}}


def dry_run(spec: EntitySpec, ctx: SyncContext, *, engine: sa.Engine, ledger: Ledger, client: DryRunClient,
            run_id: str, full_resync: bool = False, allow_mass_delete: bool = False,
            fiscal_year: int | None = None) -> dict[str, Any]:
    """Detect and load one company's ``spec`` records on a shadow ledger with ``client`` (writes withheld).
    Returns the run's counts (as a real run's report counts them), the plan (``plan``) and the number of
    CRM writes withheld."""
    from hamgam import pipeline

    company = ctx.company.code
    holder = f"{run_id}:dry-run"
    with shadow_ledger(ledger, company) as shadow:
        before = shadow.records(company, spec.name)
        detected = pipeline.detect(spec, ctx, engine=engine, ledger=shadow, run_id=run_id, holder=holder,
                                   full_resync=full_resync, allow_mass_delete=allow_mass_delete,
                                   fiscal_year=fiscal_year)
        loaded = pipeline.load(spec, ctx, engine=engine, ledger=shadow, client=client, run_id=run_id,
                               holder=holder)
        after = shadow.records(company, spec.name)
    counts = dict(loaded)
    counts["unchanged"] = int(detected.get("unchanged", 0))
    counts["skipped"] = counts.get("skipped", 0) + int(detected.get("skipped", 0))  # detect records skips
    result = {"company": company, "dry_run": True, "counts": counts, "plan": plan(spec, before, after),
              "crm_writes_withheld": client.writes_withheld()}
    log.info("%s company %s: dry run: %s; %d CRM write(s) withheld, none sent", spec.name, company, counts,
             result["crm_writes_withheld"])
    return result


def plan_text(entity: str, results: list[dict[str, Any]]) -> str:
    """The report of a dry run: per company its counts, then the keys each kind of change would touch."""
    lines = [f"{entity}: DRY RUN: nothing was written to the CRM and the ledger's sync state did not move"]
    for result in sorted(results, key=lambda r: r["company"]):
        counts = result["counts"]
        shown = ", ".join(f"{name} {counts.get(name, 0)}" for name in
                          ("created", "updated", "deleted", "unchanged", "invalid", "rejected", "skipped"))
        lines.append(f"  company {result['company']}: would be {shown}")
        steps = result["plan"]
        for kind, verb in (("create", "created"), ("update", "updated"), ("delete", "deleted")):
            if steps[kind]:
                more = " …" if steps["counts"][kind] > len(steps[kind]) else ""
                lines.append(f"    would be {verb} ({steps['counts'][kind]}): {', '.join(steps[kind])}{more}")
        for aside in steps["set_aside"]:
            lines.append(f"    would be set aside ({aside['status']}): {aside['reason'] or aside['key']}")
    return "\n".join(lines)
