"""The one generic run every forward DAG calls with an entity spec: detect, then load.

detect: hash the current fiscal period's rows and diff them against the ledger; queue new, changed
        and deleted keys (with where to find each row) in the ledger's pending-change queue.
load:   take the queue in bounded chunks: extract those rows, validate (GX), transform (pandas),
        upsert or delete in the CRM on a bounded thread pool, and record every outcome in the ledger
        as it happens. A key leaves the queue only with a final outcome, so a crash or a retry
        repeats nothing that landed and loses nothing that did not.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from hamgam.entities.base import KEY, ROW_ID, EntitySpec, LoadItem, Outcome, SyncContext, content_hashes
from hamgam.payamgostar.errors import AuthError, PayamgostarError, RecordRejected
from hamgam.tadbir import reader
from hamgam.transform.codes import mask
from hamgam.validate import validate_frame

if TYPE_CHECKING:

    from hamgam.ledger.store import Ledger
    from hamgam.payamgostar.client import PayamgostarClient

log = logging.getLogger(__name__)

LOAD_COUNTS = ("created", "updated", "deleted", "invalid", "rejected", "failed", "skipped")  # detect counts the rest


class SyncError(RuntimeError):
    """A run could not finish its work; the message says which entity, company and why."""


class MostlyInvalid(SyncError):
    """Too large a share of a batch failed validation: a systemic problem, not a few bad rows."""


class MassDeleteRefused(SyncError):
    """Detection would delete a large share of the CRM's records at once: almost always a wrong source."""


class SyncIncomplete(SyncError):
    """Some records could not reach the CRM after all retries; they stay queued for the next try."""


@dataclass(frozen=True)
class Change:
    key: str
    action: str  # "upsert" | "delete"
    content_hash: str | None
    locator: dict[str, Any] | None  # {"period": FPId, "ids": [Id, ...]} for upserts


def key_digest(row_digests: list[str]) -> str:
    """The content hash of one key: its row's hash, or all of them when codes collide."""
    return row_digests[0] if len(row_digests) == 1 else "|".join(sorted(row_digests))


def current_period(engine: sa.Engine, spec: EntitySpec, ctx: SyncContext) -> reader.FiscalPeriod | None:
    """The newest fiscal period (≥ the company's start year) that holds rows of this entity.

    Master data is copied into every fiscal period; older copies are history, so the current
    period's rows say what exists — a customer removed there is deleted in the CRM.
    """
    periods = [p for p in reader.fiscal_periods(engine)
               if ctx.company.sync_from_fiscal_year is None or p.year >= ctx.company.sync_from_fiscal_year]
    if not periods:
        return None
    filled = reader.periods_with_rows(engine, spec.source, [p.id for p in periods])
    candidates = [p for p in periods if p.id in filled]
    return candidates[-1] if candidates else None


def detect(spec: EntitySpec, ctx: SyncContext, *, engine: sa.Engine, ledger: Ledger, run_id: str,
           full_resync: bool = False, allow_mass_delete: bool = False) -> dict[str, int]:
    """Diff Tadbir against the ledger and queue the differences; returns counts (XCom-sized)."""
    company = ctx.company.code
    period = current_period(engine, spec, ctx)
    known = ledger.records(company, spec.name)
    seen: dict[str, tuple[list[int], list[str]]] = {}
    rows_read = 0
    if period is not None:
        ctx = SyncContext(ctx.config, ctx.company, period)
        salt = spec.fingerprint(ctx)
        for chunk in reader.read_period(engine, spec.source, period.id, ctx.config.sync.chunk_size):
            prepared = spec.prepare(chunk, ctx)
            hashes = content_hashes(prepared, spec.hash_columns, salt)
            for key, row_id, digest in zip(prepared[KEY], prepared[ROW_ID], hashes, strict=True):
                ids, digests = seen.setdefault(key, ([], []))
                ids.append(int(row_id))
                digests.append(digest)
            rows_read += len(chunk)

    changes: list[Change] = []
    unchanged = 0
    for key, (ids, digests) in seen.items():
        digest = key_digest(digests)
        state = known.get(key)
        final = state is not None and state.status in ("synced", "invalid", "rejected")
        if not full_resync and final and state.content_hash == digest:
            unchanged += 1
            continue
        changes.append(Change(key, "upsert", digest, {"period": period.id, "ids": ids}))
    for key, state in known.items():
        if key not in seen and state.status != "deleted" and state.origin == "tadbir":
            changes.append(Change(key, "delete", None, None))

    _refuse_mass_delete(spec, company, changes, known, period, allow=allow_mass_delete,
                        max_share=ctx.config.sync.max_delete_share)
    # the fresh diff replaces whatever an older run queued, but never under a load that is working it
    with ledger.lease(company, spec.name, holder=run_id, ttl_seconds=ctx.config.sync.lease_ttl_seconds):
        ledger.clear_pending(company, spec.name)
        ledger.queue_changes(company, spec.name,
                             [(c.key, c.action, c.content_hash, c.locator) for c in changes], run_id)
    counts = {"rows_read": rows_read, "queued": len(changes), "unchanged": unchanged,
              "to_delete": sum(c.action == "delete" for c in changes)}
    log.info("%s company %s: fiscal period %s, %d rows read, %d queued (%d deletes), %d unchanged",
             spec.name, company, period.year if period else "-", rows_read, counts["queued"],
             counts["to_delete"], unchanged)
    return counts


def _refuse_mass_delete(spec: EntitySpec, company: int, changes: list[Change], known: dict, period: Any, *,
                        allow: bool, max_share: float) -> None:
    """An empty or wrong Tadbir database must not empty the CRM: stop before queueing mass deletes."""
    live = sum(1 for state in known.values() if state.status == "synced")
    deletes = sum(1 for c in changes if c.action == "delete" and known[c.key].status == "synced")
    if allow or live < 10 or deletes <= max_share * live:
        return
    where = f"fiscal period {period.year}" if period is not None else "no fiscal period with data"
    raise MassDeleteRefused(
        f"{spec.name} company {company}: {deletes} of {live} synced {spec.label}s are missing from Tadbir "
        f"({where}); refusing to delete them from the CRM. Check the Tadbir connection and "
        f"sync_from_fiscal_year; if the deletes are intended, trigger the DAG with "
        f'{{"allow_mass_delete": true}}.')


def load(spec: EntitySpec, ctx: SyncContext, *, engine: sa.Engine, ledger: Ledger, client: PayamgostarClient,
         run_id: str) -> dict[str, int]:
    """Work the pending queue of one company and entity to the CRM; returns counts."""
    company = ctx.company.code
    counts: Counter[str] = Counter()
    with ledger.lease(company, spec.name, holder=run_id, ttl_seconds=ctx.config.sync.lease_ttl_seconds):
        after: str | None = None
        while True:
            batch = ledger.pending(company, spec.name, limit=ctx.config.sync.chunk_size, after_key=after)
            if not batch:
                break
            after = batch[-1].tadbir_key
            if not ledger.acquire_lease(company, spec.name, run_id, ctx.config.sync.lease_ttl_seconds):
                raise SyncError(f"{spec.name} company {company}: another run took over the lease; stopping")
            _load_deletes(spec, ctx, [p for p in batch if p.action == "delete"], ledger, client, counts)
            _load_upserts(spec, ctx, [p for p in batch if p.action == "upsert"], engine, ledger, client, counts)
            log.info("%s company %s: %s so far", spec.name, company, dict(counts))
    if counts["failed"]:
        raise SyncIncomplete(f"{spec.name} company {company}: {counts['failed']} record(s) could not reach the "
                             f"CRM and stay queued for the next try; see the ledger's last_error")
    return {name: counts[name] for name in LOAD_COUNTS}


def _load_deletes(spec: EntitySpec, ctx: SyncContext, pending: list, ledger: Ledger,
                  client: PayamgostarClient, counts: Counter[str]) -> None:
    company = ctx.company.code
    if not pending:
        return
    states = {p.tadbir_key: ledger.get(company, spec.name, p.tadbir_key) for p in pending}
    ledger.dequeue(company, spec.name, [k for k, s in states.items() if s is None])  # nothing to delete
    work = [s for s in states.values() if s is not None]
    for state, outcome, error in client.map_concurrent(lambda s: spec.target.delete(client, s), work):
        if error is not None:
            _handle_error(spec, ledger, company, state.tadbir_key, error, counts, content_hash=state.content_hash)
            continue
        ledger.record_outcome(company, spec.name, state.tadbir_key, status="deleted", crm_id=outcome.crm_id,
                crm_kind=outcome.crm_kind, content_hash=None)
        ledger.dequeue(company, spec.name, [state.tadbir_key])
        counts["deleted" if outcome.action == "deleted" else "skipped"] += 1


def _load_upserts(spec: EntitySpec, ctx: SyncContext, pending: list, engine: sa.Engine, ledger: Ledger,
                  client: PayamgostarClient, counts: Counter[str]) -> None:
    import pandas as pd

    company = ctx.company.code
    if not pending:
        return
    by_period: dict[int, list[int]] = {}
    for p in pending:
        by_period.setdefault(int(p.locator["period"]), []).extend(int(i) for i in p.locator["ids"])
    frames = []
    for period_id, ids in by_period.items():
        raw = reader.read_rows(engine, spec.source, period_id, ids)
        if not raw.empty:
            frames.append(spec.prepare(raw, ctx))
    prepared = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[KEY, ROW_ID])
    wanted = {p.tadbir_key for p in pending}
    prepared = prepared[prepared[KEY].isin(wanted)].reset_index(drop=True)
    vanished = wanted - set(prepared[KEY])
    if vanished:  # edited or removed since detection: the next detection sees the new state
        ledger.dequeue(company, spec.name, sorted(vanished))
        counts["skipped"] += len(vanished)

    outcome = validate_frame(prepared, spec.checks, suite_name=spec.name)
    bad = prepared.loc[outcome.failed_index()]
    salt = spec.fingerprint(ctx)
    bad_hashes = content_hashes(bad, spec.hash_columns, salt)
    for key, group in bad.groupby(KEY, sort=False):
        failures = [f for index in group.index for f in outcome.failures[index]]
        details = [_masked(f.as_dict(), spec) | {"row_id": int(prepared.at[i, ROW_ID])}
                   for i in group.index for f in outcome.failures[i]]
        reasons = "; ".join(dict.fromkeys(f.reason for f in failures))
        ids = ", ".join(f"Id {int(i)}" for i in group[ROW_ID])
        digest = key_digest(list(bad_hashes[group.index]))
        ledger.record_outcome(company, spec.name, key, status="invalid", content_hash=digest,
                error=f"{spec.label} {key} ({ids}): {reasons}", error_details=details)
        counts["invalid"] += 1
    ledger.dequeue(company, spec.name, list(bad[KEY].unique()))

    rows = len(prepared)
    bad_share = bad[KEY].nunique() / max(prepared[KEY].nunique(), 1)
    if rows >= ctx.config.sync.min_batch_for_bad_share and bad_share > ctx.config.sync.max_bad_share:
        top = Counter(f.reason for fs in outcome.failures.values() for f in fs).most_common(3)
        raise MostlyInvalid(
            f"{spec.name} company {company}: {bad[KEY].nunique()} of {prepared[KEY].nunique()} records in a batch "
            f"failed validation (more than {ctx.config.sync.max_bad_share:.0%}); the batch was not loaded. "
            f"Most common: " + "; ".join(f"{reason} ×{n}" for reason, n in top))

    valid = prepared.drop(index=outcome.failed_index())
    items = spec.build_items(valid, ctx)
    known = {item.key: ledger.get(company, spec.name, item.key) for item in items}

    def upsert(item: LoadItem) -> Outcome:
        return spec.target.upsert(client, item, known[item.key])

    for item, result, error in client.map_concurrent(upsert, items):
        if error is not None:
            _handle_error(spec, ledger, company, item.key, error, counts, content_hash=item.content_hash,
                          crm_number=item.number)
            continue
        ledger.record_outcome(company, spec.name, item.key, status="synced", crm_id=result.crm_id, crm_kind=result.crm_kind,
                crm_number=item.number, content_hash=item.content_hash)
        ledger.dequeue(company, spec.name, [item.key])
        counts["created" if result.action == "created" else "updated"] += 1


def _handle_error(spec: EntitySpec, ledger: Ledger, company: int, key: str, error: PayamgostarError,
                  counts: Counter[str], **fields: Any) -> None:
    if isinstance(error, AuthError):
        raise error  # every other record would fail the same way
    if isinstance(error, RecordRejected):
        ledger.record_outcome(company, spec.name, key, status="rejected", error=str(error), **fields)
        ledger.dequeue(company, spec.name, [key])
        counts["rejected"] += 1
    else:  # retriable and exhausted: stays queued, the task fails and Airflow retries it
        ledger.record_outcome(company, spec.name, key, status="failed", error=str(error), **fields)
        counts["failed"] += 1
        log.warning("%s", error)


def _masked(detail: dict[str, Any], spec: EntitySpec) -> dict[str, Any]:
    if detail["column"] in spec.sensitive_columns and detail["value"] is not None:
        return {**detail, "value": mask(detail["value"])}
    return detail
