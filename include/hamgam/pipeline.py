"""The one generic run every forward DAG calls with an entity spec: detect, then load.

detect: find what changed in Tadbir through the company's change capture (``hamgam.tadbir.changes``: checksums
        per key range by default, SQL Server Change Tracking, or a full scan), hash those rows and diff them
        against the ledger; queue new, changed and deleted keys (with where to find each row) in the ledger's
        pending-change queue.
load:   take the queue in bounded chunks: extract those rows, validate (GX), transform (pandas),
        upsert or delete in the CRM on a bounded thread pool, one call per record once the CRM's existing
        records are adopted (``adoption``), and settle the outcomes in the ledger in batches
        (``hamgam.ledger.batch``). A key leaves the queue only with a final outcome, and a create sent
        without a look first is marked before it goes, so a crash or a retry repeats nothing that landed
        and loses nothing that did not.
"""

from __future__ import annotations

import gc
import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa

from hamgam.entities.base import (
    CONTENT_HASH,
    DISPLAY,
    KEY,
    ROW_ID,
    SKIP,
    EntitySpec,
    LoadItem,
    Outcome,
    PayloadError,
    Refs,
    SyncContext,
    content_hashes,
    in_crm,
    records_of,
    reference_name,
)
from hamgam.lane import Lane
from hamgam.ledger.batch import OutcomeBatch
from hamgam.ledger.store import Settlement
from hamgam.payamgostar.errors import AuthError, PayamgostarError, RecordRejected, UnknownCrmObjectType
from hamgam.preparer import Preparer
from hamgam.tadbir import reader
from hamgam.tadbir.reader import FiscalPeriod
from hamgam.transform.codes import mask
from hamgam.validate import ValidationOutcome, validate_frame

if TYPE_CHECKING:
    import pandas as pd

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


@dataclass(frozen=True)
class Unresolved:
    """A reference of a record that is not in the CRM, and whether that can pass without a Tadbir edit of the
    record: ``transient`` (an outage: it stays queued as ``failed``) or not (it is ``rejected``, and detection
    queues it again as soon as the reference is synced)."""

    entity: str
    key: str
    message: str
    transient: bool


REFERENCE_NOT_IN_CRM = " is not in the CRM ("  # how older releases recorded a rejection for a reference


@dataclass
class _Seen:
    """One key as detection found it in Tadbir."""

    period: int
    display: str
    skip: str | None
    ids: list[int] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)


def key_digest(row_digests: list[str]) -> str:
    """The content hash of one key: its row's hash, or all of them when codes collide."""
    return row_digests[0] if len(row_digests) == 1 else "|".join(sorted(row_digests))


def key_year(key: str) -> int | None:
    """The fiscal year a document key starts with (``1403/123`` → 1403)."""
    head = key.split("/", 1)[0]
    return int(head) if head.isdigit() else None


def scope_periods(engine: sa.Engine, spec: EntitySpec, ctx: SyncContext,
                  fiscal_year: int | None = None) -> list[reader.FiscalPeriod]:
    """The fiscal periods a run reads, oldest first (only those ≥ the company's start year).

    Master data ("current_period"): the newest period that holds rows of the entity. It is copied
    into every fiscal period; older copies are history, so the current period says what exists — a
    customer removed there is deleted in the CRM. Documents ("fiscal_years"): every period, or the
    one of ``fiscal_year`` (a backfill).
    """
    start = ctx.company.sync_from_fiscal_year
    periods = [p for p in reader.fiscal_periods(engine) if start is None or p.year >= start]
    if not periods:
        return []
    if spec.scope == "current_period":
        filled = reader.periods_with_rows(engine, spec.source, [p.id for p in periods])
        return [p for p in periods if p.id in filled][-1:]
    if fiscal_year is not None:
        periods = [p for p in periods if p.year == fiscal_year]
    return periods


def prepare_rows(spec: EntitySpec, ctx: SyncContext, engine: sa.Engine, raw: pd.DataFrame) -> pd.DataFrame:
    """Raw header rows of one fiscal period (``ctx.period``) → the spec's prepared frame, lines included, with
    each row's content hash (``CONTENT_HASH``: ``spec.hash_columns`` and the mapping settings)."""
    lines = None
    if spec.lines is not None:
        assert ctx.period is not None
        lines = reader.read_children(engine, spec.lines.source, spec.lines.parent_column, ctx.period.id,
                                     raw[spec.source.id_column].tolist())
    prepared = spec.prepare(raw, ctx, lines)
    prepared[CONTENT_HASH] = content_hashes(prepared, spec.hash_columns, spec.fingerprint(ctx))
    return prepared


def _column(prepared: pd.DataFrame, name: str, default: Any) -> list[Any]:
    if name in prepared.columns:
        return [None if v is None or v != v else v for v in prepared[name].tolist()]  # NaN → None
    return [default] * len(prepared)


def detect(spec: EntitySpec, ctx: SyncContext, *, engine: sa.Engine, ledger: Ledger, run_id: str,
           full_resync: bool = False, allow_mass_delete: bool = False,
           fiscal_year: int | None = None, holder: str | None = None,
           capture: str | None = None) -> dict[str, int]:
    """Find what changed in Tadbir since the ledger last looked and queue it; returns counts (XCom-sized).

    How is the company's change capture (``capture`` overrides it; ``hamgam.tadbir.changes``): ``checksum``
    (default) and ``change_tracking`` read only the key ranges that changed; ``scan`` — and every
    ``full_resync`` and fiscal-year backfill — reads the whole scope. Rows that are out of scope (a document
    with no lines, a cancelled one, a receipt with no customer) are recorded as ``skipped`` with the reason;
    if the CRM holds them, they are deleted.
    """
    from hamgam.tadbir import changes, sessions

    engine = sessions.read_engine(engine, sessions.settings_for(ctx))
    capture = capture or changes.capture_of(ctx)
    if capture != "scan" and not full_resync and fiscal_year is None:
        return changes.detect_changes(spec, ctx, engine=engine, ledger=ledger, run_id=run_id, holder=holder,
                                      allow_mass_delete=allow_mass_delete, capture=capture)
    return scan(spec, ctx, engine=engine, ledger=ledger, run_id=run_id, full_resync=full_resync,
                allow_mass_delete=allow_mass_delete, fiscal_year=fiscal_year, holder=holder)


@dataclass
class ScanDiff:
    """What a full scan found: the changes to queue, the skips to record, and what it read."""

    periods: list[reader.FiscalPeriod]
    changes: list[Change]
    skips: list[tuple[str, str, str]]
    unchanged: int
    rows_read: int
    known: dict


def judge(spec: EntitySpec, ctx: SyncContext, key: str, entry: _Seen, state: Any, *, retry: set[str],
          full_resync: bool = False) -> Change | tuple[str, str, str] | None:
    """One key as Tadbir has it now against what the ledger knows: a change to queue, a skip to record
    ``(key, digest, reason)``, or None (unchanged). The same rule for every change capture."""
    digest = key_digest(entry.digests)
    if entry.skip:
        if state is not None and state.status == "synced":
            return Change(key, "delete", None, None)  # in the CRM, now out of scope: remove it
        if state is not None and state.status == "skipped" and state.content_hash == digest:
            return None
        return (key, digest, f"{spec.label} {entry.display}: {entry.skip}")
    final = state is not None and state.status in ("synced", "invalid", "rejected") and key not in retry
    if not full_resync and final and state.content_hash == digest:
        return None
    refused = spec.admit(ctx, state) if spec.admit is not None else None
    if refused and state is not None and state.status != "skipped":
        return None  # the CRM owns this record's edits: keep what it has
    if refused:
        return (key, digest, f"{spec.label} {entry.display}: {refused}")
    return Change(key, "upsert", digest, {"period": entry.period, "ids": entry.ids})


def gone_from_tadbir(state: Any) -> bool:
    """A record no longer in Tadbir is deleted in the CRM too, whichever side created it (vendor rule)."""
    return state.status != "deleted" and (state.origin == "tadbir" or state.status == "synced")


def scan_diff(spec: EntitySpec, ctx: SyncContext, *, engine: sa.Engine, ledger: Ledger,
              full_resync: bool = False, fiscal_year: int | None = None) -> ScanDiff:
    """The full hash diff of the scope against the ledger (the ground truth), without writing anything."""
    company = ctx.company.code
    periods = scope_periods(engine, spec, ctx, fiscal_year)
    known = ledger.records(company, spec.name)
    seen: dict[str, _Seen] = {}
    rows_read = 0
    for period in periods:
        pctx = SyncContext(ctx.config, ctx.company, period)
        for chunk in reader.read_period(engine, spec.source, period.id, ctx.config.sync.chunk_size):
            rows_read += len(chunk)
            collect_seen(spec, pctx, engine, chunk, seen)

    if spec.scope == "fiscal_years":  # deletes only among the years this run read
        years = {p.year for p in periods}
        known = {k: s for k, s in known.items() if key_year(k) in years}
    changes: list[Change] = []
    skips: list[tuple[str, str, str]] = []
    unchanged = 0
    retry = rejections_to_retry(spec, company, ledger, known)
    for key, entry in seen.items():
        verdict = judge(spec, ctx, key, entry, known.get(key), retry=retry, full_resync=full_resync)
        if verdict is None:
            unchanged += 1
        elif isinstance(verdict, Change):
            changes.append(verdict)
        else:
            skips.append(verdict)
    for key, state in known.items():
        if key not in seen and gone_from_tadbir(state):
            changes.append(Change(key, "delete", None, None))
    return ScanDiff(periods, changes, skips, unchanged, rows_read, known)


def collect_seen(spec: EntitySpec, pctx: SyncContext, engine: sa.Engine, chunk: pd.DataFrame,
                 seen: dict[str, _Seen]) -> None:
    """Prepare and hash one chunk of header rows of ``pctx.period``; add each row to its key in ``seen``."""
    assert pctx.period is not None
    prepared = prepare_rows(spec, pctx, engine, chunk)
    hashes = prepared[CONTENT_HASH]
    for key, row_id, digest, skip, display in zip(
            prepared[KEY], prepared[ROW_ID], hashes, _column(prepared, SKIP, None),
            _column(prepared, DISPLAY, None), strict=True):
        entry = seen.setdefault(key, _Seen(pctx.period.id, display or key, skip))
        entry.ids.append(int(row_id))
        entry.digests.append(digest)


def scan(spec: EntitySpec, ctx: SyncContext, *, engine: sa.Engine, ledger: Ledger, run_id: str,
         full_resync: bool = False, allow_mass_delete: bool = False,
         fiscal_year: int | None = None, holder: str | None = None, diff: ScanDiff | None = None) -> dict[str, int]:
    """Change capture ``scan``: read every row of the scope, diff it all, and let the fresh diff replace the
    queue of the scope (one fiscal year's keys for a backfill). ``diff``: one already computed."""
    company = ctx.company.code
    diff = diff or scan_diff(spec, ctx, engine=engine, ledger=ledger, full_resync=full_resync,
                             fiscal_year=fiscal_year)
    changes, skips, known, periods = diff.changes, diff.skips, diff.known, diff.periods
    _refuse_mass_delete(spec, company, changes, known, periods, allow=allow_mass_delete,
                        max_share=ctx.config.sync.max_delete_share)
    # the fresh diff replaces whatever an older run queued, but never under a load that is working it
    prefix = f"{fiscal_year}/" if spec.scope == "fiscal_years" and fiscal_year is not None else None
    # holder: this try's lease holder (hamgam.ledger.try_holder); run_id alone is shared by all tries
    with ledger.lease(company, spec.name, holder=holder or run_id, ttl_seconds=ctx.config.sync.lease_ttl_seconds):
        ledger.clear_pending(company, spec.name, key_prefix=prefix)
        ledger.queue_changes(company, spec.name,
                             [(c.key, c.action, c.content_hash, c.locator) for c in changes], run_id)
        for key, digest, reason in skips:
            ledger.record_outcome(company, spec.name, key, status="skipped", content_hash=digest, error=reason)
    counts = {"rows_read": diff.rows_read, "queued": len(changes), "unchanged": diff.unchanged,
              "skipped": len(skips), "to_delete": sum(c.action == "delete" for c in changes)}
    log.info("%s company %s: scan of fiscal period(s) %s, %d rows read, %d queued (%d deletes), %d unchanged, "
             "%d skipped", spec.name, company, ", ".join(str(p.year) for p in periods) or "-", diff.rows_read,
             counts["queued"], counts["to_delete"], diff.unchanged, len(skips))
    return counts


def rejections_to_retry(spec: EntitySpec, company: int, ledger: Ledger, known: dict) -> set[str]:
    """Keys rejected because a record they name was not in the CRM, one of which is synced now: worth a new
    try, though Tadbir did not change them. (A rejection keeps the references it waited for; one recorded by
    an older release, without them, is tried once more.)"""
    if not spec.references or not any(state.status == "rejected" for state in known.values()):
        return set()
    waiting: dict[str, list[tuple[str, str]]] = {}
    retry: set[str] = set()
    for problem in ledger.problems(company, spec.name, statuses=("rejected",)):
        details = problem.error_details if isinstance(problem.error_details, dict) else {}
        references = details.get("references")
        if references:
            waiting[problem.tadbir_key] = [(r["entity"], r["key"]) for r in references]
        elif problem.error_details is None and REFERENCE_NOT_IN_CRM in (problem.last_error or ""):
            retry.add(problem.tadbir_key)
    ledgers = {entity: ledger.records(company, entity) for entity in {e for refs in waiting.values() for e, _ in refs}}
    for key, references in waiting.items():
        for entity, ref_key in references:
            state = ledgers[entity].get(ref_key)
            if state is not None and state.status == "synced" and state.crm_id:
                retry.add(key)
                break
    return retry & set(known)


def _refuse_mass_delete(spec: EntitySpec, company: int, changes: list[Change], known: dict,
                        periods: list[reader.FiscalPeriod], *, allow: bool, max_share: float) -> None:
    """An empty or wrong Tadbir database must not empty the CRM: stop before queueing mass deletes."""
    live = sum(1 for state in known.values() if state.status == "synced")
    deletes = sum(1 for c in changes if c.action == "delete" and known[c.key].status == "synced")
    refuse_mass_delete(spec, company, deletes, live, periods, allow=allow, max_share=max_share)


def refuse_mass_delete(spec: EntitySpec, company: int, deletes: int, live: int, periods: list[reader.FiscalPeriod],
                       *, allow: bool, max_share: float) -> None:
    """Raise ``MassDeleteRefused`` when ``deletes`` of the ``live`` synced records is more than the share allowed."""
    if allow or live < 10 or deletes <= max_share * live:
        return
    where = (f"fiscal period {', '.join(str(p.year) for p in periods)}" if periods
             else "no fiscal period with data")
    raise MassDeleteRefused(
        f"{spec.name} company {company}: {deletes} of {live} synced {spec.label}s are missing from Tadbir "
        f"({where}); refusing to delete them from the CRM. Check the Tadbir connection and "
        f"sync_from_fiscal_year; if the deletes are intended, trigger the DAG with "
        f'{{"allow_mass_delete": true}}.')


def load(spec: EntitySpec, ctx: SyncContext, *, engine: sa.Engine, ledger: Ledger, client: PayamgostarClient,
         run_id: str, holder: str | None = None) -> dict[str, int]:
    """Work the pending queue of one company and entity to the CRM; returns counts.

    ``holder``: this try's lease holder (``hamgam.ledger.try_holder``; default ``run_id``). The lease is
    renewed by a heartbeat and checked before each batch: a try whose lease was taken over stops."""
    from hamgam.tadbir import sessions

    company = ctx.company.code
    counts: Counter[str] = Counter()
    holder = holder or run_id
    engine = sessions.read_engine(engine, sessions.settings_for(ctx))  # lock timeout (and snapshot) on reads
    scopes: set[str] = set()

    def still_ours() -> None:
        if not ledger.holds_lease(company, spec.name, holder, ctx.config.sync.lease_ttl_seconds):
            raise SyncError(f"{spec.name} company {company}: another run took over the lease; stopping")

    with _heap_frozen(), \
            ledger.lease(company, spec.name, holder=holder, ttl_seconds=ctx.config.sync.lease_ttl_seconds), \
            _outcome_batch(ledger, ctx, spec) as settled, \
            Preparer(spec, ctx, engine, queued=ledger.pending_count(company, spec.name)) as preparer:
        # a chunk's calls run while the next chunk is prepared; answers are written as they come; chunks
        # overlap when a second process prepares them (this thread then settles answers as they come)
        lane = Lane(client, check=still_ours, flush=settled.flush_due, overlap=preparer.in_child)
        try:
            sizes = chunk_sizes(ctx.config.sync.chunk_size, client.max_workers)
            batch = ledger.pending(company, spec.name, limit=next(sizes))
            ahead = preparer.submit([p for p in batch if p.action == "upsert"], here=True)
            while batch:
                # the next chunk is read now: a preparing process works on it while this one is loaded
                following = ledger.pending(company, spec.name, limit=next(sizes), after_key=batch[-1].tadbir_key)
                following_ahead = preparer.submit([p for p in following if p.action == "upsert"])
                scopes.update(adoption_scope(spec, p.tadbir_key) for p in batch)
                still_ours()
                deletes = [p for p in batch if p.action == "delete"]
                if deletes:
                    lane.finish()
                    _load_deletes(spec, ctx, deletes, ledger, client, counts, settled)
                _load_upserts(spec, ctx, ahead(), engine, ledger, client, counts, holder, settled,
                              lane)  # references: under a lease derived from holder
                log.info("%s company %s: %s so far", spec.name, company, dict(counts))
                batch, ahead = following, following_ahead
        finally:
            lane.finish()  # what the CRM answered is settled, whatever stopped the load
        settled.flush()
        if not counts["failed"] and ledger.pending_count(company, spec.name) == 0:
            mark_adopted(ledger, company, spec, scopes)
    if counts["failed"]:
        raise SyncIncomplete(f"{spec.name} company {company}: {counts['failed']} record(s) could not reach the "
                             f"CRM and stay queued for the next try; see the ledger's last_error")
    return {name: counts[name] for name in LOAD_COUNTS}


@contextmanager
def _heap_frozen() -> Iterator[None]:
    """The objects alive when a load starts (GX, pandas, Airflow: ~330,000) left out of the garbage collector's
    full passes while it runs (``gc.freeze``). Each full pass over them holds the GIL ~0.2 s, stalling every
    CRM call in flight; a forked preparing process also leaves their pages shared. Given back to the
    collector after the load, unless someone had frozen objects before (then they stay as they found them)."""
    none_frozen_before = gc.get_freeze_count() == 0
    gc.freeze()
    try:
        yield
    finally:
        if none_frozen_before:
            gc.unfreeze()


def chunk_sizes(chunk_size: int, workers: int) -> Iterator[int]:
    """A load's chunk sizes: small first, so that the CRM is called soon after the load starts (a chunk is
    sent only once it is prepared), doubling up to ``chunk_size`` (a chunk's validation costs about the
    same whatever its size)."""
    size = min(chunk_size, max(4 * workers, 32))
    while True:
        yield size
        size = min(chunk_size, 2 * size)


def _load_deletes(spec: EntitySpec, ctx: SyncContext, pending: list, ledger: Ledger,
                  client: PayamgostarClient, counts: Counter[str], settled: OutcomeBatch) -> None:
    company = ctx.company.code
    if not pending:
        return
    states = ledger.states(company, spec.name, [p.tadbir_key for p in pending])
    ledger.dequeue(company, spec.name, [p.tadbir_key for p in pending if p.tadbir_key not in states])  # nothing there
    for state, outcome, error in client.map_concurrent(lambda s: spec.target.delete(client, s),
                                                       list(states.values())):
        if error is not None:
            # map_concurrent yields only a PayamgostarError as an item's error (any other is raised)
            settled.add(_error_outcome(spec, state.tadbir_key, cast(PayamgostarError, error), counts,
                                       content_hash=state.content_hash))
            continue
        assert outcome is not None  # a delete that raised nothing answered with its Outcome
        settled.add(Settlement(state.tadbir_key, "deleted", crm_id=outcome.crm_id, crm_kind=outcome.crm_kind,
                               dequeue=True))
        counts["deleted" if outcome.action == "deleted" else "skipped"] += 1


@dataclass
class PreparedChunk:
    """A chunk's upserts read from Tadbir, prepared and validated (``prepare_chunk``): ``whole`` holds the
    rows of every fiscal period in turn (``parts``: each period and its number of rows), ``outcome`` its
    validation; ``vanished``: keys whose rows are gone or cancelled since detection."""

    parts: list[tuple[FiscalPeriod, int]] = field(default_factory=list)
    whole: pd.DataFrame | None = None
    outcome: ValidationOutcome | None = None
    vanished: list[str] = field(default_factory=list)


def prepare_chunk(spec: EntitySpec, ctx: SyncContext, engine: sa.Engine, pending: list) -> PreparedChunk:
    """Read, prepare and validate the rows of ``pending`` upserts: Tadbir and CPU only, no ledger or CRM (so
    that a second process can do it, ``hamgam.preparer``)."""
    chunk = PreparedChunk()
    if not pending:
        return chunk
    periods = {p.id: p for p in reader.fiscal_periods(engine)}
    by_period: dict[int, list] = {}
    for p in pending:
        by_period.setdefault(int(p.locator["period"]), []).append(p)
    frames: list[pd.DataFrame] = []
    for period_id, changes in by_period.items():
        wanted = {p.tadbir_key for p in changes}
        period = periods.get(period_id)
        prepared = None
        if period is not None:
            pctx = SyncContext(ctx.config, ctx.company, period)
            ids = [int(i) for p in changes for i in p.locator["ids"]]
            prepared = prepare_rows(spec, pctx, engine, reader.read_rows(engine, spec.source, period_id, ids))
            prepared = prepared[prepared[KEY].isin(wanted)]
            if SKIP in prepared.columns:  # cancelled or emptied since detection: the next detection records it
                prepared = prepared[prepared[SKIP].isna()]
        # edited or removed since detection: the next detection sees the new state
        chunk.vanished += sorted(wanted - (set(prepared[KEY]) if prepared is not None else set()))
        if period is not None and prepared is not None and not prepared.empty:
            chunk.parts.append((period, len(prepared)))
            frames.append(prepared)
    if frames:
        # one validation for the whole chunk (GX's cost is mostly per run, not per row), then per fiscal period
        import pandas as pd

        chunk.whole = pd.concat(frames, ignore_index=True)
        chunk.outcome = validate_frame(chunk.whole, spec.checks, suite_name=spec.name)
    return chunk


def _load_upserts(spec: EntitySpec, ctx: SyncContext, prepared: PreparedChunk, engine: sa.Engine, ledger: Ledger,
                  client: PayamgostarClient, counts: Counter[str], run_id: str, settled: OutcomeBatch,
                  lane: Lane) -> None:
    company = ctx.company.code
    if prepared.vanished:
        ledger.dequeue(company, spec.name, prepared.vanished)
        counts["skipped"] += len(prepared.vanished)
    if prepared.whole is None or prepared.outcome is None:
        return
    whole, outcome = prepared.whole, prepared.outcome
    start = 0
    parts: list[tuple[SyncContext, pd.DataFrame, ValidationOutcome | None]] = []
    for period, rows in prepared.parts:
        part = whole.iloc[start:start + rows]
        start += rows
        parts.append((SyncContext(ctx.config, ctx.company, period), part, outcome.within(part.index)))
    work = _plan_upserts(spec, parts, engine=engine, ledger=ledger, client=client, counts=counts, run_id=run_id,
                         settled=settled)
    _send_upserts(spec, client, lane, work, settled, counts)  # the whole chunk at once: one tail, not one a year


def _display(prepared: pd.DataFrame, index: Any) -> str:
    if DISPLAY in prepared.columns and prepared.at[index, DISPLAY]:
        return str(prepared.at[index, DISPLAY])
    return str(prepared.at[index, KEY])


def upsert_prepared(spec: EntitySpec, ctx: SyncContext, prepared: pd.DataFrame, *, engine: sa.Engine,
                    ledger: Ledger, client: PayamgostarClient, counts: Counter[str], run_id: str) -> None:
    """Validate prepared rows, make sure what they reference is in the CRM, upsert them, record each outcome."""
    lane = Lane(client)
    with _outcome_batch(ledger, ctx, spec) as settled:
        try:
            work = _plan_upserts(spec, [(ctx, prepared, None)], engine=engine, ledger=ledger, client=client,
                                 counts=counts, run_id=run_id, settled=settled)
            _send_upserts(spec, client, lane, work, settled, counts)
        finally:
            lane.finish()


@dataclass(frozen=True)
class _Upsert:
    """One record's CRM write, ready to send: its payloads, what the ledger knows, whether to look first."""

    item: LoadItem
    known: Any
    look_first: bool


def _send_upserts(spec: EntitySpec, client: PayamgostarClient, lane: Lane, work: list[_Upsert],
                  settled: OutcomeBatch, counts: Counter[str]) -> None:
    """Send ``work`` on ``lane`` (the chunk before is finished first); outcomes are settled into ``settled``."""
    def upsert(w: _Upsert) -> Outcome:
        return spec.target.upsert(client, w.item, w.known, look_first=w.look_first)

    def settle(w: _Upsert, result: Outcome | None, error: Any) -> None:
        item = w.item
        if error is not None:
            settled.add(_error_outcome(spec, item.key, error, counts, content_hash=item.content_hash,
                                       crm_number=item.number))
            return
        assert result is not None  # an upsert that raised nothing answered with its Outcome
        settled.add(Settlement(item.key, "synced", crm_id=result.crm_id, crm_kind=result.crm_kind,
                               crm_number=item.number, content_hash=item.content_hash, dequeue=True))
        counts["created" if result.action == "created" else "updated"] += 1

    if work:
        lane.send(upsert, work, settle)


def _plan_upserts(spec: EntitySpec, parts: list[tuple[SyncContext, pd.DataFrame, ValidationOutcome | None]], *,
                  engine: sa.Engine, ledger: Ledger, client: PayamgostarClient, counts: Counter[str], run_id: str,
                  settled: OutcomeBatch) -> list[_Upsert]:
    """For each part (one fiscal period's rows, validated unless its outcome is given): set aside what is
    invalid; then, for all parts at once, resolve references, build the payloads (each part with its period)
    and mark the creates sent without a look; what is set aside goes to ``settled``, what is to be sent is
    returned. The ledger is asked once per chunk, not once per fiscal period."""
    valid_parts = [(ctx, _set_aside_invalid(spec, ctx, prepared, outcome, counts=counts, settled=settled))
                   for ctx, prepared, outcome in parts]
    valid_parts = [(ctx, valid) for ctx, valid in valid_parts if not valid.empty]
    if not valid_parts:
        return []
    import pandas as pd

    ctx = valid_parts[0][0]
    company = ctx.company.code
    whole = pd.concat([valid for _, valid in valid_parts])  # the parts' own index labels: none repeats
    refs, unresolved = resolve_references(spec, SyncContext(ctx.config, ctx.company), whole, engine=engine,
                                          ledger=ledger, client=client, run_id=run_id)
    items: list[LoadItem] = []
    for part_ctx, valid in valid_parts:
        waiting = valid[valid[KEY].isin(list(unresolved))]
        if not waiting.empty:
            for index in waiting.index:
                key = waiting.at[index, KEY]
                settled.add(_set_aside_for_references(spec, key, unresolved[key], counts,
                                                      display=_display(waiting, index),
                                                      content_hash=waiting.at[index, CONTENT_HASH]))
        items += _items_of(spec, part_ctx, valid[~valid[KEY].isin(list(unresolved))], refs, counts=counts,
                              settled=settled)
    known = ledger.states(company, spec.name, [item.key for item in items])
    look_first = keys_to_look_up(spec, ctx, ledger, [item.key for item in items], known)
    # a create sent without a look first is marked before it goes: the next try looks if it is unanswered
    ledger.mark_sent(company, spec.name, [item.key for item in items
                                          if item.key not in look_first and not in_crm(known.get(item.key))],
                     holder=run_id)
    return [_Upsert(item, known.get(item.key), item.key in look_first) for item in items]


def _set_aside_invalid(spec: EntitySpec, ctx: SyncContext, prepared: pd.DataFrame,
                       outcome: ValidationOutcome | None, *, counts: Counter[str], settled: OutcomeBatch
                       ) -> pd.DataFrame:
    """Validate (unless ``outcome`` is given) and set aside the invalid records, each with its reasons;
    refuse a batch that is mostly invalid. Returns the valid rows."""
    company = ctx.company.code
    if outcome is None:
        outcome = validate_frame(prepared, spec.checks, suite_name=spec.name)
    failed = outcome.failed_index()
    bad = prepared.loc[failed]
    rows_of: dict[str, list[Any]] = {}  # key → its failed rows' index labels, keys in order of appearance
    for index, key in zip(failed, bad[KEY].tolist(), strict=True):
        rows_of.setdefault(key, []).append(index)
    row_ids = dict(zip(failed, bad[ROW_ID].tolist(), strict=True))
    hashes = dict(zip(failed, bad[CONTENT_HASH].tolist(), strict=True))
    for key, indexes in rows_of.items():
        failures = [(i, f) for i in indexes for f in outcome.failures[i]]
        details = [_masked(f.as_dict(), spec) | {"row_id": int(row_ids[i])} for i, f in failures]
        reasons = "; ".join(dict.fromkeys(_reason(f, spec) for _, f in failures))
        ids = ", ".join(f"Id {int(row_ids[i])}" for i in indexes)
        settled.add(Settlement(key, "invalid", content_hash=key_digest([hashes[i] for i in indexes]), dequeue=True,
                               error=f"{spec.label} {_display(prepared, indexes[0])} ({ids}): {reasons}",
                               error_details=details))
        counts["invalid"] += 1

    rows = len(prepared)
    bad_share = len(rows_of) / max(prepared[KEY].nunique(), 1)
    if rows >= ctx.config.sync.min_batch_for_bad_share and bad_share > ctx.config.sync.max_bad_share:
        settled.flush()  # what is invalid is recorded before the batch is refused
        top = Counter(f.reason for fs in outcome.failures.values() for f in fs).most_common(3)
        raise MostlyInvalid(
            f"{spec.name} company {company}: {len(rows_of)} of {prepared[KEY].nunique()} records in a batch "
            f"failed validation (more than {ctx.config.sync.max_bad_share:.0%}); the batch was not loaded. "
            f"Most common: " + "; ".join(f"{reason} ×{n}" for reason, n in top))
    return prepared.drop(index=failed)


def _outcome_batch(ledger: Ledger, ctx: SyncContext, spec: EntitySpec) -> OutcomeBatch:
    return OutcomeBatch(ledger, ctx.company.code, spec.name, size=ctx.config.sync.settle_batch_size,
                        seconds=ctx.config.sync.settle_max_seconds)


# -- adoption: a new record looks for the CRM's record with its number only while the CRM may hold it --

ADOPTED = "adopted"  # the ledger cursor of a company + entity (+ ":<fiscal year>") whose adoption is done


def adoption_scope(spec: EntitySpec, key: str) -> str:
    """The cursor that says whether ``key``'s records were adopted: per fiscal year for documents."""
    if spec.scope == "fiscal_years":
        return f"{ADOPTED}:{key_year(key)}"
    return ADOPTED


def mark_adopted(ledger: Ledger, company: int, spec: EntitySpec, scopes: set[str]) -> None:
    """A load that emptied the queue without a failure: every record of those scopes that the CRM held is
    matched to its Tadbir record now (detection had queued every key of a scope the first time)."""
    for scope in sorted(scopes):
        if ledger.get_cursor(company, spec.name, scope) is None:
            ledger.set_cursor(company, spec.name, scope, "done")
            log.info("%s company %s: adoption of the CRM's existing records done (%s): new records are "
                     "created without a look first", spec.name, company, scope)


def keys_to_look_up(spec: EntitySpec, ctx: SyncContext, ledger: Ledger, keys: list[str],
                    known: dict[str, Any]) -> set[str]:
    """The keys whose create must look for the CRM's record with that number first: always with
    ``sync.adoption: always``; else while their scope's adoption is not done, when the ledger knows the key
    from before (rejected, failed, deleted ...), or when a create of it may have landed unanswered (a send
    mark). Records the CRM is known to hold are updated by their id and are not in the set."""
    company = ctx.company.code
    new = [k for k in keys if not in_crm(known.get(k))]
    if ctx.config.sync.adoption == "always" or not new:
        return set(new)
    adopted = {scope for scope in {adoption_scope(spec, k) for k in new}
               if ledger.get_cursor(company, spec.name, scope) is not None}
    marked = ledger.sent_marks(company, spec.name, new)
    return {k for k in new if k in known or k in marked or adoption_scope(spec, k) not in adopted}


def _set_aside_for_references(spec: EntitySpec, key: str, problems: list[Unresolved], counts: Counter[str], *,
                              content_hash: str, display: str) -> Settlement:
    """A record whose references are not in the CRM: ``failed`` and still queued while one of them only met an
    outage (never final: the task fails and Airflow retries); else ``rejected``, keeping the references it
    waits for, so detection queues it again once one of them is synced."""
    error = f"{spec.label} {display}: " + "; ".join(p.message for p in problems)
    details = {"references": [{"entity": p.entity, "key": p.key, "transient": p.transient} for p in problems]}
    if any(p.transient for p in problems):
        counts["failed"] += 1
        log.warning("%s (stays queued)", error)
        return Settlement(key, "failed", content_hash=content_hash, error=error, error_details=details)
    counts["rejected"] += 1
    return Settlement(key, "rejected", content_hash=content_hash, error=error, error_details=details, dequeue=True)


def _items_of(spec: EntitySpec, ctx: SyncContext, valid: pd.DataFrame, refs: Refs, *, counts: Counter[str],
                 settled: OutcomeBatch) -> list[LoadItem]:
    """The CRM payloads of ``valid``, row by row (``EntitySpec.payload``); a record whose payload cannot be built
    is set aside on its own (rejected when it names a record not in the CRM, else invalid), and the others go on."""
    items: list[LoadItem] = []
    for index, row in zip(valid.index, records_of(valid), strict=True):
        try:
            items.append(spec.item(row, ctx, refs))
            continue
        except PayloadError as error:
            settled.add(_set_aside_for_references(
                spec, row[KEY], [Unresolved(error.entity, error.key or "", str(error), transient=False)],
                counts, content_hash=row[CONTENT_HASH], display=_display(valid, index)))
            continue
        except (ArithmeticError, AttributeError, LookupError, TypeError, ValueError) as error:
            reason = f"its CRM payload cannot be built ({type(error).__name__}: {error})"
        settled.add(Settlement(row[KEY], "invalid", dequeue=True, content_hash=row[CONTENT_HASH],
                               error=f"{spec.label} {_display(valid, index)} (Id {int(row[ROW_ID])}): {reason}"))
        counts["invalid"] += 1
        log.warning("%s %s: %s", spec.label, _display(valid, index), reason)
    return items


def resolve_references(spec: EntitySpec, ctx: SyncContext, valid: pd.DataFrame, *, engine: sa.Engine,
                       ledger: Ledger, client: PayamgostarClient, run_id: str
                       ) -> tuple[Refs, dict[str, list[Unresolved]]]:
    """The CRM records ``valid`` rows point at (customers, products, invoices), syncing missing ones
    first, in this run. Returns them, and per row key what could not be resolved and why."""
    from hamgam.entities import SPECS

    company = ctx.company.code
    refs: Refs = {}
    unresolved: dict[str, list[Unresolved]] = {}
    for ref in spec.references:
        needed = {k for keys in valid[ref.column] for k in (keys or [])}
        if not needed:
            refs[ref.entity] = {}
            continue
        states = ledger.states(company, ref.entity, needed)
        missing = sorted(k for k in needed
                         if k not in states or states[k].status == "failed"
                         or (states[k].status == "synced" and not states[k].crm_id))
        if missing:
            ref_counts: Counter[str] = Counter()
            sync_keys(SPECS[ref.entity], SyncContext(ctx.config, ctx.company), missing, engine=engine,
                      ledger=ledger, client=client, run_id=run_id, counts=ref_counts)
            log.info("%s company %s: %d %s(s) referenced but not yet in the CRM were synced first: %s",
                     spec.name, company, len(missing), ref.label, dict(ref_counts))
            states.update({k: s for k in missing if (s := ledger.get(company, ref.entity, k)) is not None})
        refs[ref.entity] = {k: s for k, s in states.items() if s.status == "synced" and s.crm_id}
        for key, keys in zip(valid[KEY], valid[ref.column], strict=True):
            for k in dict.fromkeys(keys or []):
                if k in refs[ref.entity]:
                    continue
                state = states.get(k)
                transient = False
                if state is None:
                    why = "not found in Tadbir" + (" (current fiscal period)" if SPECS[ref.entity].scope
                                                   == "current_period" else "")
                elif state.status == "deleted":
                    why = "deleted in Tadbir"
                else:
                    why = f"{state.status} there: {state.last_error or 'no reason recorded'}"
                    # an outage, or a synced record without its CRM id: not the reference's own problem
                    transient = state.status not in ("invalid", "rejected", "skipped")
                unresolved.setdefault(key, []).append(Unresolved(
                    ref.entity, k, f"{reference_name(ref.label, k)} is not in the CRM ({why})", transient))
    return refs, unresolved


def sync_keys(spec: EntitySpec, ctx: SyncContext, keys: list[str], *, engine: sa.Engine, ledger: Ledger,
              client: PayamgostarClient, run_id: str, counts: Counter[str], holder: str | None = None) -> None:
    """Upsert these keys of ``spec`` now (references of a document), under that entity's lease."""
    company = ctx.company.code
    wanted = set(keys)
    years = {key_year(k) for k in wanted} if spec.scope == "fiscal_years" else None
    holder = f"{holder or run_id}:references"  # run_id here: the holder of the try whose load needs them
    with ledger.lease(company, spec.name, holder=holder, ttl_seconds=ctx.config.sync.lease_ttl_seconds,
                      wait_seconds=ctx.config.sync.reference_wait_seconds):
        for period in scope_periods(engine, spec, ctx):
            if years is not None and period.year not in years:
                continue
            pctx = SyncContext(ctx.config, ctx.company, period)
            for chunk in reader.read_period(engine, spec.source, period.id, ctx.config.sync.chunk_size):
                prepared = prepare_rows(spec, pctx, engine, chunk)
                hit = prepared[prepared[KEY].isin(wanted)]
                if SKIP in hit.columns:
                    hit = hit[hit[SKIP].isna()]
                if not hit.empty:
                    upsert_prepared(spec, pctx, hit.reset_index(drop=True), engine=engine, ledger=ledger,
                                    client=client, counts=counts, run_id=holder)


def _error_outcome(spec: EntitySpec, key: str, error: PayamgostarError, counts: Counter[str],
                   **fields: Any) -> Settlement:
    if isinstance(error, AuthError | UnknownCrmObjectType):
        raise error  # every other record would fail the same way (credentials; a type code the CRM lacks)
    if isinstance(error, RecordRejected):
        counts["rejected"] += 1
        return Settlement(key, "rejected", error=str(error), dequeue=True, **fields)
    # retriable and exhausted: stays queued, the task fails and Airflow retries it
    counts["failed"] += 1
    log.warning("%s", error)
    return Settlement(key, "failed", error=str(error), **fields)


def _reason(failure: Any, spec: EntitySpec) -> str:
    """The check's reason, with the offending value unless it is sensitive (codes, phones)."""
    if failure.value is None or failure.column in spec.sensitive_columns or failure.column.endswith("_ok"):
        return failure.reason
    return f"{failure.reason} ({failure.value})"


def _masked(detail: dict[str, Any], spec: EntitySpec) -> dict[str, Any]:
    if detail["column"] in spec.sensitive_columns and detail["value"] is not None:
        return {**detail, "value": mask(detail["value"])}
    return detail
