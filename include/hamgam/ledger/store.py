"""The ledger's API: what the CRM holds per record, the change queue, cursors, runs, leases and webhooks.

Every write is its own short transaction, committed before the call returns, so an outcome written
is never lost to a later crash; ``settle`` writes many records' outcomes in one. Upserts are single ``INSERT ... ON CONFLICT DO UPDATE`` statements,
atomic under concurrency on both PostgreSQL and SQLite.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import URL, Connection, Engine, Table, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from hamgam.ledger.db import SQLITE_BEGIN, make_engine
from hamgam.ledger.migrate import upgrade
from hamgam.ledger.models import (
    ACTIONS,
    COUNT_NAMES,
    EVENT_KINDS,
    EVENT_SOURCES,
    EVENT_STATUSES,
    ORIGINS,
    OUTCOMES,
    PENDING_ONLY,
    PROBLEM_STATUSES,
    RUN_STAGES,
    RUN_STATES,
    STATUSES,
    Base,
    Cursor,
    PendingChange,
    SendMark,
    SyncLease,
    SyncOutcome,
    SyncRecord,
    SyncRun,
    WebhookEvent,
    utcnow,
)

log = logging.getLogger(__name__)

# both dialects' INSERT carry the upsert (``excluded``, ``on_conflict_do_update``, ``on_conflict_do_nothing``)
_INSERTS: dict[str, Callable[[Table], sqlite.Insert | postgresql.Insert]] = {
    "sqlite": sqlite.insert, "postgresql": postgresql.insert}
_DELETE_CHUNK = 500  # keys per DELETE ... IN (...), well under every driver's parameter limit
_LEASE_POLL_SECONDS = 0.5
HOLDER_MAX = 200  # leaves room for suffixes such as ":references" in the 250 characters of a holder
# the sync run (and try) outcomes are written for: set by ``Ledger.attribute`` around a task's work
_ATTRIBUTION: ContextVar[tuple[int | None, str | None]] = ContextVar("hamgam_ledger_attribution",
                                                                    default=(None, None))


def _table(model: type[Base]) -> Table:
    """A model's ``Table``: the declarative base types ``__table__`` as any ``FromClause``, but every
    model here is mapped to a table."""
    return cast(Table, model.__table__)


def try_holder(dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int) -> str:
    """The lease holder of one try of one task instance: ``dag_id/run_id/task_id/map_index/try_number``.

    Two tries of a task (an orphaned try and its retry) are different holders, so they never hold a
    lease together. Ids too long for the ledger are cut and made unique again by a digest.
    """
    holder = f"{dag_id}/{run_id}/{task_id}/{map_index}/{try_number}"
    if len(holder) <= HOLDER_MAX:
        return holder
    digest = hashlib.sha256(holder.encode()).hexdigest()[:16]
    return f"{holder[:HOLDER_MAX - len(digest) - 1]}#{digest}"


@dataclass(frozen=True)
class RecordState:
    """What the ledger knows about one record."""

    tadbir_key: str
    crm_id: str | None
    crm_number: str | None
    content_hash: str | None
    status: str
    attempts: int
    last_error: str | None
    origin: str = "tadbir"
    crm_kind: str | None = None


@dataclass(frozen=True)
class Settlement:
    """One record's outcome, as ``Ledger.settle`` writes it (``Ledger.record_outcome`` has the rules);
    ``dequeue``: the outcome is final and the key leaves the queue."""

    key: str
    status: str
    crm_id: str | None = None
    crm_number: str | None = None
    crm_kind: str | None = None
    content_hash: str | None = None
    error: str | None = None
    error_details: Any = None
    origin: str = "tadbir"
    dequeue: bool = False


@dataclass(frozen=True)
class _Prior:
    crm_id: str | None
    status: str


@dataclass(frozen=True, kw_only=True)
class ProblemRecord(RecordState):
    """A record whose last outcome was invalid, rejected or failed, with where and why."""

    company: int
    entity: str
    error_details: Any
    updated_at: datetime


@dataclass(frozen=True)
class PendingChangeRow:
    tadbir_key: str
    action: str
    content_hash: str | None
    run_id: str | None
    detected_at: datetime
    locator: Any = None


@dataclass(frozen=True)
class RunRow:
    """One row of the run history; each count is an attribute, ``counts`` gives them as a dict."""

    id: int
    dag_id: str
    run_id: str
    company: int
    entity: str
    state: str
    started_at: datetime
    finished_at: datetime | None
    created: int
    updated: int
    deleted: int
    unchanged: int
    invalid: int
    rejected: int
    failed: int
    skipped: int
    message: str | None
    stage: str = "load"  # detect, detected (detect done, load not started) or load
    holder: str | None = None  # the try working on the run now

    @property
    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNT_NAMES}


@dataclass(frozen=True)
class OutcomeRow:
    """One entry of the outcome log."""

    id: int
    sync_run_id: int | None
    holder: str | None
    company: int
    entity: str
    tadbir_key: str
    outcome: str
    recorded_at: datetime


@dataclass(frozen=True)
class ReferenceWrites:
    """What one run of ``via_entity`` wrote to records of ``entity`` (references it synced first)."""

    sync_run_id: int
    dag_id: str
    run_id: str
    via_entity: str
    entity: str
    counts: dict[str, int] = field(default_factory=dict)  # by outcome, only those that happened


@dataclass(frozen=True)
class EventRow:
    """One webhook event: what the CRM announced, and how the reverse flow handled it.

    ``deliveries`` counts the webhook calls folded into the event while it was pending; pass the
    value read to ``finish_event`` so a change announced during processing is not lost.
    """

    id: int
    source: str
    event: str
    crm_id: str
    crm_type: str | None
    subtype: str | None
    received_at: datetime
    last_received_at: datetime
    deliveries: int
    status: str
    attempts: int
    processed_at: datetime | None
    message: str | None
    run_id: str | None


class LeaseLost(RuntimeError):
    """Another holder took this try's lease over (it missed its renewals): the try must stop writing."""

    def __init__(self, company: int, entity: str, holder: str, holder_now: str | None = None) -> None:
        self.company, self.entity, self.holder, self.holder_now = company, entity, holder, holder_now
        by = f" by {holder_now!r}" if holder_now else ""
        super().__init__(f"company {company} {entity}: the sync lease of {holder!r} was taken over{by}; "
                         "this try stops before its next write batch")


class Lease:
    """A lease held in a ``with ledger.lease(...)`` block, renewed by a heartbeat thread.

    The heartbeat renews every ``heartbeat_seconds`` (a third of the ttl by default), so a live holder
    keeps its lease however long it works and a dead one loses it a ttl after its last beat. If the
    renewal finds another holder (this try stalled and was taken over), the lease is ``lost``: ``check``
    raises ``LeaseLost`` and the ledger refuses this holder the lease from then on.
    """

    def __init__(self, ledger: Ledger, company: int, entity: str, holder: str, ttl_seconds: float,
                 heartbeat_seconds: float) -> None:
        if heartbeat_seconds <= 0:
            raise ValueError(f"heartbeat_seconds must be positive; got {heartbeat_seconds!r}")
        self.company, self.entity, self.holder = company, entity, holder
        self.ttl_seconds, self.heartbeat_seconds = ttl_seconds, heartbeat_seconds
        self.renewals = 0
        self.holder_now: str | None = None
        self._ledger = ledger
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"hamgam-lease-{company}-{entity}", daemon=True)

    @property
    def lost(self) -> bool:
        return self._lost.is_set()

    def check(self) -> None:
        """Raise ``LeaseLost`` if the heartbeat found the lease taken over."""
        if self.lost:
            raise LeaseLost(self.company, self.entity, self.holder, self.holder_now)

    def _start(self) -> None:
        self._thread.start()

    def _stop_beating(self) -> None:
        self._stop.set()
        self._thread.join()  # a renewal in flight ends before the lease is released

    def _beat(self) -> None:
        last_renewed = time.monotonic()
        while not self._stop.wait(self.heartbeat_seconds):
            try:
                renewed = self._ledger.acquire_lease(self.company, self.entity, self.holder, self.ttl_seconds)
            except Exception as exc:  # the ledger did not answer: try again at the next beat, within the ttl
                log.warning("company %s %s: renewing the sync lease of %r failed: %s", self.company, self.entity,
                            self.holder, exc)
                if time.monotonic() - last_renewed < self.ttl_seconds:
                    continue
                renewed = False
            if not renewed:
                self._mark_lost()
                return
            last_renewed = time.monotonic()
            self.renewals += 1

    def _mark_lost(self) -> None:
        self._ledger._refuse(self.company, self.entity, self.holder)
        try:
            self.holder_now = (self._ledger.lease_holder(self.company, self.entity) or (None,))[0]
        except Exception:  # only for the message
            self.holder_now = None
        self._lost.set()
        log.warning("%s", LeaseLost(self.company, self.entity, self.holder, self.holder_now))


class LeaseBusy(RuntimeError):
    """Another run holds the lease of this company + entity."""

    def __init__(self, company: int, entity: str, holder_now: str | None,
                 expires_at: datetime | None = None) -> None:
        self.company, self.entity, self.holder_now, self.expires_at = company, entity, holder_now, expires_at
        if holder_now is None:
            why = "was busy and has just been released; try again"
        else:
            until = f" until {expires_at:%Y-%m-%d %H:%M:%S} UTC" if expires_at else ""
            why = f"is held by {holder_now!r}{until}: another run is loading it"
        super().__init__(f"company {company} {entity}: the sync lease {why}")


_RECORD_COLUMNS = (SyncRecord.tadbir_key, SyncRecord.crm_id, SyncRecord.crm_number, SyncRecord.content_hash,
                   SyncRecord.status, SyncRecord.attempts, SyncRecord.last_error, SyncRecord.origin,
                   SyncRecord.crm_kind)
_PENDING_COLUMNS = (PendingChange.tadbir_key, PendingChange.action, PendingChange.content_hash,
                    PendingChange.run_id, PendingChange.detected_at, PendingChange.locator)
_RUN_COLUMNS = (SyncRun.id, SyncRun.dag_id, SyncRun.run_id, SyncRun.company, SyncRun.entity, SyncRun.state,
                SyncRun.started_at, SyncRun.finished_at, *(getattr(SyncRun, n) for n in COUNT_NAMES),
                SyncRun.message, SyncRun.stage, SyncRun.holder)
_OUTCOME_COLUMNS = tuple(getattr(SyncOutcome, name) for name in OutcomeRow.__dataclass_fields__)

_EVENT_COLUMNS = tuple(getattr(WebhookEvent, name) for name in EventRow.__dataclass_fields__)


def _record(row: Any) -> RecordState:
    return RecordState(**row._mapping)


def _check(value: Any, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}; got {value!r}")


def _check_key(key: Any) -> None:
    if not isinstance(key, str) or not key:
        raise TypeError(f"a tadbir_key is a non-empty str (the normalised business key); got {key!r}")


def _outcome(status: str, prior: Any, crm_id: str | None) -> str:
    """What an outcome did: a synced record is created unless the CRM already held it (same id)."""
    if status != "synced":
        return status
    if prior is None or prior.crm_id is None or prior.status == "deleted" or (
            crm_id is not None and crm_id != prior.crm_id):
        return "created"
    return "updated"


def _finals(rows: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The final outcome per key of a run's outcomes (in the order written). A record one try created
    and a later try sent again (an update of that record) counts as created."""
    final: dict[str, str] = {}
    created: set[str] = set()
    for key, outcome in rows:
        final[key] = outcome
        if outcome == "created":
            created.add(key)
    return {key: "created" if outcome == "updated" and key in created else outcome
            for key, outcome in final.items()}


class Ledger:
    """The ledger database. ``Ledger.connect(url)`` migrates it and opens it.

    ``Ledger(engine)`` takes an engine from ``make_engine`` (on SQLite the ledger relies on its WAL,
    busy timeout and BEGIN handling); ``clock`` returns the aware UTC "now" (settable in tests).
    """

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = utcnow) -> None:
        if engine.dialect.name not in _INSERTS:
            raise ValueError(f"the hamgam ledger runs on SQLite or PostgreSQL, not {engine.dialect.name!r}")
        self.engine = engine
        self._insert = _INSERTS[engine.dialect.name]
        self._writer = engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        self._clock = clock
        self._refused: set[tuple[int, str, str]] = set()  # holders whose lease was taken over
        self._refused_lock = threading.Lock()

    @classmethod
    def connect(cls, url: str | URL, *, clock: Callable[[], datetime] = utcnow) -> Ledger:
        """Upgrade the database at ``url`` to the latest schema, then open it."""
        upgrade(url)
        return cls(make_engine(url), clock=clock)

    def dispose(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.dispose()

    def __repr__(self) -> str:
        return f"Ledger({self.engine.url!r})"

    def _write(self) -> AbstractContextManager[Connection]:
        """A write transaction (on SQLite it takes the write lock at BEGIN)."""
        return self._writer.begin()

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the ledger's clock must return timezone-aware datetimes")
        return now

    # -- records ----------------------------------------------------------------------------------

    def records(self, company: int, entity: str) -> dict[str, RecordState]:
        """Every record of a scope, by key, in one query (for change detection)."""
        query = select(*_RECORD_COLUMNS).where(SyncRecord.company == company, SyncRecord.entity == entity)
        with self.engine.connect() as conn:
            return {row.tadbir_key: _record(row) for row in conn.execute(query)}

    def get(self, company: int, entity: str, key: str) -> RecordState | None:
        query = select(*_RECORD_COLUMNS).where(SyncRecord.company == company, SyncRecord.entity == entity,
                                               SyncRecord.tadbir_key == key)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else _record(row)

    def states(self, company: int, entity: str, keys: Iterable[str]) -> dict[str, RecordState]:
        """The records of these keys that the ledger has, by key (a few queries, however many keys)."""
        found: dict[str, RecordState] = {}
        wanted = list(dict.fromkeys(keys))
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), _DELETE_CHUNK):
                query = select(*_RECORD_COLUMNS).where(
                    SyncRecord.company == company, SyncRecord.entity == entity,
                    SyncRecord.tadbir_key.in_(wanted[start:start + _DELETE_CHUNK]))
                found.update({row.tadbir_key: _record(row) for row in conn.execute(query)})
        return found

    def record_outcome(self, company: int, entity: str, key: str, *, status: str, crm_id: str | None = None,
                       crm_number: str | None = None, content_hash: str | None = None, origin: str = "tadbir",
                       error: str | None = None, error_details: Any = None, crm_kind: str | None = None) -> None:
        """Write one record's outcome and commit.

        ``attempts`` counts every call. ``crm_id``, ``crm_number``, ``crm_kind`` and ``content_hash``
        given as None keep the stored values. ``synced`` stamps ``synced_at`` and clears the error; any other status
        stores this call's ``error`` and ``error_details``. ``origin`` is kept from the first write
        (where the record was born).
        """
        self.settle(company, entity, [Settlement(key, status, crm_id=crm_id, crm_number=crm_number,
                                                 crm_kind=crm_kind, content_hash=content_hash, error=error,
                                                 error_details=error_details, origin=origin)])

    def settle(self, company: int, entity: str, settlements: Sequence[Settlement]) -> None:
        """Write many records' outcomes in one transaction (each as ``record_outcome`` would, with its line
        in the outcome log), take those with ``dequeue`` off the queue, and clear the send marks of those
        the CRM now holds or no longer holds (synced, deleted). All or nothing: a crash before the commit
        leaves every one of them queued, as if none had been sent, for the next try to find."""
        if not settlements:
            return
        for item in settlements:
            _check(item.status, STATUSES, "status")
            _check(item.origin, ORIGINS, "origin")
            _check_key(item.key)
        now = self._now()
        run_pk, holder = _ATTRIBUTION.get()
        table = _table(SyncRecord)
        new = self._insert(table).excluded
        upsert = self._insert(table).on_conflict_do_update(
            index_elements=[table.c.company, table.c.entity, table.c.tadbir_key],
            set_={"crm_id": func.coalesce(new.crm_id, table.c.crm_id),
                  "crm_number": func.coalesce(new.crm_number, table.c.crm_number),
                  "crm_kind": func.coalesce(new.crm_kind, table.c.crm_kind),
                  "content_hash": func.coalesce(new.content_hash, table.c.content_hash),
                  "status": new.status,
                  "last_error": new.last_error,
                  "error_details": new.error_details,
                  "attempts": table.c.attempts + 1,
                  "updated_at": new.updated_at,
                  "synced_at": func.coalesce(new.synced_at, table.c.synced_at)})
        keys = list(dict.fromkeys(item.key for item in settlements))
        with self._write() as conn:
            prior: dict[str, _Prior] = {}
            for start in range(0, len(keys), _DELETE_CHUNK):
                prior.update({row.tadbir_key: _Prior(row.crm_id, row.status) for row in conn.execute(
                    select(table.c.tadbir_key, table.c.crm_id, table.c.status).where(
                        table.c.company == company, table.c.entity == entity,
                        table.c.tadbir_key.in_(keys[start:start + _DELETE_CHUNK])))})
            rows, outcomes = [], []
            for item in settlements:  # in order: a key settled twice in one batch sees its first outcome
                synced = item.status == "synced"
                rows.append({"company": company, "entity": entity, "tadbir_key": item.key, "crm_id": item.crm_id,
                             "crm_number": item.crm_number, "crm_kind": item.crm_kind,
                             "content_hash": item.content_hash, "origin": item.origin, "status": item.status,
                             "last_error": None if synced else item.error,
                             "error_details": None if synced else item.error_details, "attempts": 1,
                             "created_at": now, "updated_at": now, "synced_at": now if synced else None})
                before = prior.get(item.key)
                outcomes.append({"sync_run_id": run_pk, "holder": holder, "company": company, "entity": entity,
                                 "tadbir_key": item.key, "outcome": _outcome(item.status, before, item.crm_id),
                                 "recorded_at": now})
                prior[item.key] = _Prior(item.crm_id or (before.crm_id if before else None), item.status)
            if len(keys) == len(rows):
                conn.execute(upsert, rows)
            else:  # one statement may not touch a row twice (PostgreSQL): one at a time
                for row in rows:
                    conn.execute(upsert, [row])
            conn.execute(_table(SyncOutcome).insert(), outcomes)
            gone = [item.key for item in settlements if item.dequeue]
            settled = [item.key for item in settlements if item.status in ("synced", "deleted")]
            for start in range(0, max(len(gone), len(settled)), _DELETE_CHUNK):
                if chunk := gone[start:start + _DELETE_CHUNK]:
                    conn.execute(delete(PendingChange).where(PendingChange.company == company,
                                                             PendingChange.entity == entity,
                                                             PendingChange.tadbir_key.in_(chunk)))
                if chunk := settled[start:start + _DELETE_CHUNK]:
                    conn.execute(delete(SendMark).where(SendMark.company == company, SendMark.entity == entity,
                                                        SendMark.tadbir_key.in_(chunk)))

    def mark_sent(self, company: int, entity: str, keys: Iterable[str], *, holder: str | None = None) -> None:
        """Before creates go to the CRM without a look first: mark their keys (one transaction). Until an
        outcome settles a key as synced (or deleted), ``sent_marks`` names it: the create may have
        reached the CRM unanswered, so the next try looks before it creates."""
        keys = list(dict.fromkeys(keys))
        if not keys:
            return
        now = self._now()
        stmt = self._insert(_table(SendMark)).on_conflict_do_nothing()
        with self._write() as conn:
            conn.execute(stmt, [{"company": company, "entity": entity, "tadbir_key": key, "holder": holder,
                                 "marked_at": now} for key in keys])

    def sent_marks(self, company: int, entity: str, keys: Iterable[str]) -> set[str]:
        """Which of these keys carry a send mark (``mark_sent``)."""
        wanted = list(dict.fromkeys(keys))
        found: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), _DELETE_CHUNK):
                found.update(conn.execute(select(SendMark.tadbir_key).where(
                    SendMark.company == company, SendMark.entity == entity,
                    SendMark.tadbir_key.in_(wanted[start:start + _DELETE_CHUNK]))).scalars())
        return found

    @contextmanager
    def attribute(self, run_pk: int | None, holder: str | None = None) -> Iterator[None]:
        """Outcomes recorded in this block (this thread or task) belong to sync run ``run_pk``, written
        by the try ``holder``: the outcome log sums a run's counts over all its tries from them."""
        token = _ATTRIBUTION.set((run_pk, holder))
        try:
            yield
        finally:
            _ATTRIBUTION.reset(token)

    def outcome_log(self, run_pk: int | None = None, *, company: int | None = None,
                    entity: str | None = None) -> list[OutcomeRow]:
        """The outcome log (of one run, company or entity), oldest first."""
        query = select(*_OUTCOME_COLUMNS).order_by(SyncOutcome.id)
        if run_pk is not None:
            query = query.where(SyncOutcome.sync_run_id == run_pk)
        if company is not None:
            query = query.where(SyncOutcome.company == company)
        if entity is not None:
            query = query.where(SyncOutcome.entity == entity)
        with self.engine.connect() as conn:
            return [OutcomeRow(**row._mapping) for row in conn.execute(query)]

    def problems(self, company: int | None = None, entity: str | None = None,
                 statuses: tuple[str, ...] = PROBLEM_STATUSES) -> list[ProblemRecord]:
        """Invalid, rejected and failed records (or those of ``statuses``) with their errors, by company,
        entity and key."""
        query = (select(*_RECORD_COLUMNS, SyncRecord.company, SyncRecord.entity, SyncRecord.error_details,
                        SyncRecord.updated_at)
                 .where(SyncRecord.status.in_(statuses))
                 .order_by(SyncRecord.company, SyncRecord.entity, SyncRecord.tadbir_key))
        if company is not None:
            query = query.where(SyncRecord.company == company)
        if entity is not None:
            query = query.where(SyncRecord.entity == entity)
        with self.engine.connect() as conn:
            return [ProblemRecord(**row._mapping) for row in conn.execute(query)]

    def counts_by_status(self, company: int, entity: str) -> dict[str, int]:
        query = (select(SyncRecord.status, func.count())
                 .where(SyncRecord.company == company, SyncRecord.entity == entity)
                 .group_by(SyncRecord.status))
        with self.engine.connect() as conn:
            return {status: count for status, count in conn.execute(query)}

    # -- the change queue -------------------------------------------------------------------------

    def queue_changes(self, company: int, entity: str, changes: Iterable[tuple], run_id: str | None) -> int:
        """Queue ``(key, action, content_hash)`` or ``(key, action, content_hash, locator)`` changes.

        ``locator`` is any JSON value that tells the loader where to find the rows (None if not given).
        A key already queued is replaced (last wins). Returns how many keys were queued.
        """
        now = self._now()
        rows: dict[str, dict[str, Any]] = {}
        for key, action, content_hash, *rest in changes:
            _check_key(key)
            _check(action, ACTIONS, "action")
            if len(rest) > 1:
                raise ValueError(f"a change is (key, action, content_hash[, locator]); got {len(rest) + 3} items")
            rows[key] = {"company": company, "entity": entity, "tadbir_key": key, "action": action,
                         "content_hash": content_hash, "locator": rest[0] if rest else None,
                         "detected_at": now, "run_id": run_id}
        if not rows:
            return 0
        table = _table(PendingChange)
        stmt = self._insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(table.primary_key),
            set_={c: stmt.excluded[c] for c in ("action", "content_hash", "locator", "detected_at", "run_id")})
        with self._write() as conn:
            conn.execute(stmt, list(rows.values()))
        return len(rows)

    def pending(self, company: int, entity: str, limit: int, after_key: str | None = None
                ) -> list[PendingChangeRow]:
        """Up to ``limit`` queued changes after ``after_key``, in key order (the database's collation)."""
        query = (select(*_PENDING_COLUMNS)
                 .where(PendingChange.company == company, PendingChange.entity == entity)
                 .order_by(PendingChange.tadbir_key).limit(limit))
        if after_key is not None:
            query = query.where(PendingChange.tadbir_key > after_key)
        with self.engine.connect() as conn:
            return [PendingChangeRow(**row._mapping) for row in conn.execute(query)]

    def pending_count(self, company: int, entity: str) -> int:
        query = select(func.count()).where(PendingChange.company == company, PendingChange.entity == entity)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def dequeue(self, company: int, entity: str, keys: Iterable[str]) -> int:
        """Remove loaded keys from the queue; returns how many were removed."""
        keys = list(dict.fromkeys(keys))
        removed = 0
        with self._write() as conn:
            for start in range(0, len(keys), _DELETE_CHUNK):
                chunk = keys[start:start + _DELETE_CHUNK]
                removed += conn.execute(delete(PendingChange).where(
                    PendingChange.company == company, PendingChange.entity == entity,
                    PendingChange.tadbir_key.in_(chunk))).rowcount
        return removed

    def clear_pending(self, company: int, entity: str, key_prefix: str | None = None) -> int:
        """Empty the queue of a scope, or only its keys starting with ``key_prefix`` (one fiscal year)."""
        stmt = delete(PendingChange).where(PendingChange.company == company, PendingChange.entity == entity)
        if key_prefix is not None:
            stmt = stmt.where(PendingChange.tadbir_key.startswith(key_prefix, autoescape=True))
        with self._write() as conn:
            return conn.execute(stmt).rowcount

    # -- cursors ----------------------------------------------------------------------------------

    def get_cursor(self, company: int, entity: str, name: str) -> str | None:
        query = select(Cursor.value).where(Cursor.company == company, Cursor.entity == entity,
                                           Cursor.name == name)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one_or_none()

    def set_cursor(self, company: int, entity: str, name: str, value: str) -> None:
        table = _table(Cursor)
        stmt = self._insert(table).values(company=company, entity=entity, name=name, value=value,
                                          updated_at=self._now())
        stmt = stmt.on_conflict_do_update(index_elements=list(table.primary_key),
                                          set_={"value": stmt.excluded.value,
                                                "updated_at": stmt.excluded.updated_at})
        with self._write() as conn:
            conn.execute(stmt)

    # -- runs -------------------------------------------------------------------------------------

    def start_run(self, dag_id: str, run_id: str, company: int, entity: str, *, stage: str = "load",
                  holder: str | None = None) -> int:
        """Record a run of one company + entity as started at ``stage``; returns its id.

        One record per DAG run: detect starts it, load (and each retry) carries it on, ``finish_run``
        ends it. ``holder`` is the try working on it.
        """
        _check(stage, RUN_STAGES, "a run's stage")
        stmt = _table(SyncRun).insert().values(dag_id=dag_id, run_id=run_id, company=company, entity=entity,
                                              state="running", stage=stage, holder=holder,
                                              started_at=self._now())
        with self._write() as conn:
            key = conn.execute(stmt).inserted_primary_key
            assert key is not None  # an INSERT of one row always has its primary key
            return key[0]

    def set_stage(self, run_pk: int, stage: str, *, holder: str | None = None) -> None:
        """The run is (again) running at ``stage``, worked on by the try ``holder``."""
        _check(stage, RUN_STAGES, "a run's stage")
        stmt = (update(SyncRun).where(SyncRun.id == run_pk)
                .values(stage=stage, state="running", finished_at=None, message=None, holder=holder))
        with self._write() as conn:
            if conn.execute(stmt).rowcount != 1:
                raise LookupError(f"no sync run with id {run_pk}")

    def finish_run(self, run_pk: int, state: str, counts: dict[str, int], message: str | None = None, *,
                   holder: str | None = None) -> bool:
        """Record how a run ended: ``state`` success or failed, ``counts`` by name (others stay 0).

        With ``holder``, only while that try works on the run: an orphaned try ending after its retry
        took the run over changes nothing (returns False). Raises LookupError for an unknown id.
        """
        _check(state, RUN_STATES[1:], "a finished run's state")
        unknown = set(counts) - set(COUNT_NAMES)
        if unknown:
            raise ValueError(f"unknown run counts {sorted(unknown)}; known: {', '.join(COUNT_NAMES)}")
        stmt = (update(SyncRun).where(SyncRun.id == run_pk)
                .values(state=state, finished_at=self._now(), message=message,
                        **{name: int(value) for name, value in counts.items()}))
        if holder is not None:
            stmt = stmt.where(or_(SyncRun.holder.is_(None), SyncRun.holder == holder))
        with self._write() as conn:
            if conn.execute(stmt).rowcount == 1:
                return True
            if conn.execute(select(SyncRun.id).where(SyncRun.id == run_pk)).first() is None:
                raise LookupError(f"no sync run with id {run_pk}")
        log.warning("sync run %s is worked on by another try now; %r does not record it as %s", run_pk, holder,
                    state)
        return False

    def run(self, run_pk: int) -> RunRow:
        with self.engine.connect() as conn:
            row = conn.execute(select(*_RUN_COLUMNS).where(SyncRun.id == run_pk)).first()
        if row is None:
            raise LookupError(f"no sync run with id {run_pk}")
        return RunRow(**row._mapping)

    def find_run(self, dag_id: str, run_id: str, company: int, entity: str) -> RunRow | None:
        """The latest run record of one DAG run for one company + entity, or None."""
        query = (select(*_RUN_COLUMNS).where(SyncRun.dag_id == dag_id, SyncRun.run_id == run_id,
                                             SyncRun.company == company, SyncRun.entity == entity)
                 .order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(1))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else RunRow(**row._mapping)

    def previous_run(self, run_pk: int) -> RunRow | None:
        """The run of the same company + entity before this one (any DAG), or None."""
        run = self.run(run_pk)
        query = (select(*_RUN_COLUMNS)
                 .where(SyncRun.company == run.company, SyncRun.entity == run.entity,
                        or_(SyncRun.started_at < run.started_at,
                            (SyncRun.started_at == run.started_at) & (SyncRun.id < run.id)))
                 .order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(1))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else RunRow(**row._mapping)

    def run_counts(self, run_pk: int, *, key_prefix: str | None = None) -> dict[str, int]:
        """The counts of a run over all its tries, from the ledger.

        created, updated, deleted: the run's own outcomes (the final one per record). invalid, rejected,
        failed, skipped: the records of the scope in that status now, found again by this run or still
        open from before. unchanged: the scope's synced records this run did not touch and that are not
        queued. ``key_prefix`` narrows the scope (one fiscal year of documents: ``"1403/"``).
        """
        run = self.run(run_pk)
        outcomes = (select(SyncOutcome.tadbir_key, SyncOutcome.outcome)
                    .where(SyncOutcome.sync_run_id == run_pk, SyncOutcome.company == run.company,
                           SyncOutcome.entity == run.entity).order_by(SyncOutcome.id))
        records = select(SyncRecord.tadbir_key, SyncRecord.status).where(
            SyncRecord.company == run.company, SyncRecord.entity == run.entity)
        queued = select(PendingChange.tadbir_key).where(
            PendingChange.company == run.company, PendingChange.entity == run.entity)
        if key_prefix is not None:
            records = records.where(SyncRecord.tadbir_key.startswith(key_prefix, autoescape=True))
            queued = queued.where(PendingChange.tadbir_key.startswith(key_prefix, autoescape=True))
        with self.engine.connect() as conn:
            finals = _finals(conn.execute(outcomes))
            states = conn.execute(records).all()
            pending = set(conn.execute(queued).scalars())
        counts = dict.fromkeys(COUNT_NAMES, 0)
        for outcome in finals.values():
            if outcome in ("created", "updated", "deleted"):
                counts[outcome] += 1
        for key, status in states:
            if status in ("invalid", "rejected", "failed", "skipped"):
                counts[status] += 1
            elif status == "synced" and key not in finals and key not in pending:
                counts["unchanged"] += 1
        return counts

    def reference_writes(self, company: int, entity: str | None = None, *, run_pk: int | None = None,
                         since: datetime | None = None, until: datetime | None = None) -> list[ReferenceWrites]:
        """Outcomes runs of one entity wrote to records of another (references synced first), per run
        and changed entity: of ``entity``'s records, or those ``run_pk`` wrote, recorded in [since, until)."""
        o, r = SyncOutcome, SyncRun
        query = (select(o.sync_run_id, o.entity, o.tadbir_key, o.outcome, r.dag_id, r.run_id,
                        r.entity.label("via_entity"))
                 .join(r, r.id == o.sync_run_id)
                 .where(o.company == company, o.entity != r.entity).order_by(o.id))
        if entity is not None:
            query = query.where(o.entity == entity)
        if run_pk is not None:
            query = query.where(o.sync_run_id == run_pk)
        if since is not None:
            query = query.where(o.recorded_at >= since)
        if until is not None:
            query = query.where(o.recorded_at < until)
        groups: dict[tuple[int, str], list[Any]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                groups.setdefault((row.sync_run_id, row.entity), []).append(row)
        result = []
        for (sync_run_id, changed), rows in sorted(groups.items()):
            tally = Counter(_finals((row.tadbir_key, row.outcome) for row in rows).values())
            first = rows[0]
            result.append(ReferenceWrites(sync_run_id, first.dag_id, first.run_id, first.via_entity, changed,
                                          {name: tally[name] for name in OUTCOMES if tally[name]}))
        return result

    def runs(self, limit: int = 20) -> list[RunRow]:
        """The latest runs, newest first."""
        query = select(*_RUN_COLUMNS).order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [RunRow(**row._mapping) for row in conn.execute(query)]

    def latest_run(self, company: int, entity: str) -> RunRow | None:
        query = (select(*_RUN_COLUMNS).where(SyncRun.company == company, SyncRun.entity == entity)
                 .order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(1))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else RunRow(**row._mapping)

    def latest_success(self, company: int, entity: str) -> RunRow | None:
        """The company's latest run of ``entity`` that finished successfully (freshness: the CRM holds Tadbir as
        it was when that run started)."""
        query = (select(*_RUN_COLUMNS).where(SyncRun.company == company, SyncRun.entity == entity,
                                             SyncRun.state == "success")
                 .order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(1))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else RunRow(**row._mapping)

    def oldest_pending_at(self, company: int, entity: str) -> datetime | None:
        """When the oldest change still queued for the company's ``entity`` was detected; None if none is."""
        query = select(func.min(PendingChange.detected_at)).where(PendingChange.company == company,
                                                                  PendingChange.entity == entity)
        with self.engine.connect() as conn:
            value = conn.execute(query).scalar_one_or_none()
        return value  # min() keeps the column type: an aware UTC datetime

    # -- leases -----------------------------------------------------------------------------------

    def acquire_lease(self, company: int, entity: str, holder: str, ttl_seconds: float) -> bool:
        """Take the lease of a scope for ``ttl_seconds``; False if another holder's lease is live.

        The same holder calling again extends its lease (renewal during a long load).
        """
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be positive; got {ttl_seconds!r}")
        with self._refused_lock:
            if (company, entity, holder) in self._refused:
                return False  # its lease was taken over: this try stops, it does not take it back
        now = self._now()
        table = _table(SyncLease)
        insert = self._insert(table).values(company=company, entity=entity, holder=holder,
                                            expires_at=now + timedelta(seconds=ttl_seconds))
        new = insert.excluded
        stmt = insert.on_conflict_do_update(
            index_elements=list(table.primary_key),
            set_={"holder": new.holder, "expires_at": new.expires_at},
            where=or_(table.c.holder == new.holder, table.c.expires_at <= now),
        ).returning(table.c.holder)  # a row comes back only if this holder got the lease
        with self._write() as conn:
            return conn.execute(stmt).first() is not None

    def holds_lease(self, company: int, entity: str, holder: str, ttl_seconds: float) -> bool:
        """Whether ``holder`` still holds the lease of a scope, for a check before each batch or call: a read
        while its lease is live (the heartbeat renews it), ``acquire_lease`` otherwise (a lease that expired
        with nobody taking it is taken again, as a renewal would). A read costs a fifth of a renewal's write."""
        with self._refused_lock:
            if (company, entity, holder) in self._refused:
                return False
        live = self.lease_holder(company, entity)
        if live is not None and live[0] == holder:
            return True
        return self.acquire_lease(company, entity, holder, ttl_seconds)

    def release_lease(self, company: int, entity: str, holder: str) -> bool:
        """Give the lease back; False if ``holder`` did not hold it (expired and taken over)."""
        stmt = delete(SyncLease).where(SyncLease.company == company, SyncLease.entity == entity,
                                       SyncLease.holder == holder)
        with self._write() as conn:
            return conn.execute(stmt).rowcount == 1

    def lease_holder(self, company: int, entity: str) -> tuple[str, datetime] | None:
        """``(holder, expires_at)`` of a live lease, or None."""
        query = select(SyncLease.holder, SyncLease.expires_at).where(
            SyncLease.company == company, SyncLease.entity == entity, SyncLease.expires_at > self._now())
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else (row.holder, row.expires_at)

    def _refuse(self, company: int, entity: str, holder: str) -> None:
        with self._refused_lock:
            self._refused.add((company, entity, holder))

    @contextmanager
    def lease(self, company: int, entity: str, holder: str, ttl_seconds: float, wait_seconds: float = 0, *,
              heartbeat_seconds: float | None = None) -> Iterator[Lease]:
        """Hold the lease of a scope for the ``with`` block, waiting up to ``wait_seconds`` for it.

        ``holder`` names one try (``try_holder``). A heartbeat thread renews the lease every
        ``heartbeat_seconds`` (default: a third of ``ttl_seconds``); if it finds the lease taken over,
        the yielded ``Lease`` is ``lost`` and ``acquire_lease`` refuses this holder, so a writer that
        checks before each batch stops. Raises ``LeaseBusy`` if another holder keeps the lease.
        Released on exit, also on error.
        """
        with self._refused_lock:
            self._refused.discard((company, entity, holder))
        deadline = time.monotonic() + wait_seconds
        while not self.acquire_lease(company, entity, holder, ttl_seconds):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                holder_now, expires_at = self.lease_holder(company, entity) or (None, None)
                raise LeaseBusy(company, entity, holder_now, expires_at)
            time.sleep(min(_LEASE_POLL_SECONDS, remaining))
        held = Lease(self, company, entity, holder, ttl_seconds,
                     heartbeat_seconds if heartbeat_seconds is not None else ttl_seconds / 3)
        held._start()
        try:
            yield held
        finally:
            held._stop_beating()
            if not self.release_lease(company, entity, holder):
                log.warning("company %s %s: the sync lease of %r expired during the run and was taken over",
                            company, entity, holder)


    # -- webhook events ---------------------------------------------------------------------------

    def store_event(self, source: str, event: str, crm_id: str, crm_type: str | None = None,
                    subtype: str | None = None) -> bool:
        """Store a webhook event; True if stored, False if one for the same record was still pending.

        A duplicate is folded into the pending event (its ``deliveries`` goes up by one and its
        ``last_received_at`` moves on) in the same statement, so concurrent calls for one record
        store exactly one event, on SQLite and PostgreSQL alike.
        """
        _check(source, EVENT_SOURCES, "an event's source")
        _check(event, EVENT_KINDS, "an event")
        if not isinstance(crm_id, str) or not crm_id:
            raise TypeError(f"a crm_id is a non-empty str; got {crm_id!r}")
        now = self._now()
        table = _table(WebhookEvent)
        insert = self._insert(table).values(source=source, event=event, crm_id=crm_id, crm_type=crm_type,
                                            subtype=subtype, received_at=now, last_received_at=now,
                                            deliveries=1, status="pending", attempts=0)
        stmt = insert.on_conflict_do_update(
            index_elements=[table.c.source, table.c.crm_id], index_where=PENDING_ONLY,
            set_={"deliveries": table.c.deliveries + 1, "last_received_at": insert.excluded.last_received_at},
        ).returning(table.c.deliveries)
        with self._write() as conn:
            return conn.execute(stmt).scalar_one() == 1

    def pending_events(self, source: str, limit: int = 500) -> list[EventRow]:
        """Up to ``limit`` pending events of ``source``, oldest first."""
        _check(source, EVENT_SOURCES, "an event's source")
        query = (select(*_EVENT_COLUMNS).where(WebhookEvent.source == source, WebhookEvent.status == "pending")
                 .order_by(WebhookEvent.id).limit(limit))
        with self.engine.connect() as conn:
            return [EventRow(**row._mapping) for row in conn.execute(query)]

    def finish_event(self, event_id: int, status: str, message: str | None = None, run_id: str | None = None,
                     *, deliveries: int | None = None) -> bool:
        """Record how the reverse flow handled an event; ``attempts`` counts every call.

        ``status`` done, ignored or failed finishes the event (``processed_at`` is stamped); pending
        records a failed attempt and leaves the event queued for the next run (only a pending event
        can stay pending: a finished one is never reopened, a new webhook stores a new event).
        ``deliveries``: the value read with the event. If the CRM announced the record again since
        then, the event stays pending (the run may have read the record before that change) and
        False is returned; otherwise True. Raises LookupError for an unknown id.
        """
        _check(status, EVENT_STATUSES, "an event's status")
        table = _table(WebhookEvent)
        values: dict[str, Any] = {"attempts": table.c.attempts + 1, "message": message, "run_id": run_id}
        stmt = update(table).where(table.c.id == event_id)
        if status == "pending":
            stmt = stmt.where(table.c.status == "pending")
        else:
            values.update(status=status, processed_at=self._now())
        if deliveries is not None:
            stmt = stmt.where(table.c.deliveries <= deliveries)
        with self._write() as conn:
            if conn.execute(stmt.values(**values)).rowcount == 1:
                return True
            row = conn.execute(select(table.c.status, table.c.deliveries).where(table.c.id == event_id)).first()
            if row is None:
                raise LookupError(f"no webhook event with id {event_id}")
            if status == "pending" and row.status != "pending":
                raise ValueError(f"webhook event {event_id} is {row.status}; a finished event is not reopened")
            # announced again while it was processed: one more attempt, and it stays in the queue
            again = f"the CRM announced the record again while it was processed ({row.deliveries} webhooks)"
            conn.execute(update(table).where(table.c.id == event_id).values(
                attempts=table.c.attempts + 1, run_id=run_id,
                message=again if status == "done" or not message else f"{message}; {again}"))
            return False

    def events(self, source: str | None = None, limit: int = 100) -> list[EventRow]:
        """The latest events (of ``source``, if given), newest first."""
        query = select(*_EVENT_COLUMNS).order_by(WebhookEvent.id.desc()).limit(limit)
        if source is not None:
            _check(source, EVENT_SOURCES, "an event's source")
            query = query.where(WebhookEvent.source == source)
        with self.engine.connect() as conn:
            return [EventRow(**row._mapping) for row in conn.execute(query)]

    def count_events(self, status: str | None = None, source: str | None = None) -> int:
        query = select(func.count()).select_from(WebhookEvent)
        if status is not None:
            _check(status, EVENT_STATUSES, "an event's status")
            query = query.where(WebhookEvent.status == status)
        if source is not None:
            _check(source, EVENT_SOURCES, "an event's source")
            query = query.where(WebhookEvent.source == source)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()
