"""The ledger's API: what the CRM holds per record, the change queue, cursors, runs, leases and webhooks.

Every write is its own short transaction, committed before the call returns, so an outcome written
is never lost to a later crash. Upserts are single ``INSERT ... ON CONFLICT DO UPDATE`` statements,
atomic under concurrency on both PostgreSQL and SQLite.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import URL, Connection, Engine, delete, func, or_, select, update
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
    PENDING_ONLY,
    PROBLEM_STATUSES,
    RUN_STATES,
    STATUSES,
    Cursor,
    PendingChange,
    SyncLease,
    SyncRecord,
    SyncRun,
    WebhookEvent,
    utcnow,
)

log = logging.getLogger(__name__)

_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
_DELETE_CHUNK = 500  # keys per DELETE ... IN (...), well under every driver's parameter limit
_LEASE_POLL_SECONDS = 0.5


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

    @property
    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNT_NAMES}


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
                SyncRun.message)

_EVENT_COLUMNS = tuple(getattr(WebhookEvent, name) for name in EventRow.__dataclass_fields__)


def _record(row: Any) -> RecordState:
    return RecordState(**row._mapping)


def _check(value: Any, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}; got {value!r}")


def _check_key(key: Any) -> None:
    if not isinstance(key, str) or not key:
        raise TypeError(f"a tadbir_key is a non-empty str (the normalised business key); got {key!r}")


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

    def record_outcome(self, company: int, entity: str, key: str, *, status: str, crm_id: str | None = None,
                       crm_number: str | None = None, content_hash: str | None = None, origin: str = "tadbir",
                       error: str | None = None, error_details: Any = None, crm_kind: str | None = None) -> None:
        """Write one record's outcome and commit.

        ``attempts`` counts every call. ``crm_id``, ``crm_number``, ``crm_kind`` and ``content_hash``
        given as None keep the stored values. ``synced`` stamps ``synced_at`` and clears the error; any other status
        stores this call's ``error`` and ``error_details``. ``origin`` is kept from the first write
        (where the record was born).
        """
        _check(status, STATUSES, "status")
        _check(origin, ORIGINS, "origin")
        _check_key(key)
        now = self._now()
        synced = status == "synced"
        table = SyncRecord.__table__
        stmt = self._insert(table).values(
            company=company, entity=entity, tadbir_key=key, crm_id=crm_id, crm_number=crm_number,
            crm_kind=crm_kind, content_hash=content_hash, origin=origin, status=status, last_error=None if synced else error,
            error_details=None if synced else error_details, attempts=1, created_at=now, updated_at=now,
            synced_at=now if synced else None)
        new = stmt.excluded
        stmt = stmt.on_conflict_do_update(
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
        with self._write() as conn:
            conn.execute(stmt)

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
        table = PendingChange.__table__
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
        table = Cursor.__table__
        stmt = self._insert(table).values(company=company, entity=entity, name=name, value=value,
                                          updated_at=self._now())
        stmt = stmt.on_conflict_do_update(index_elements=list(table.primary_key),
                                          set_={"value": stmt.excluded.value,
                                                "updated_at": stmt.excluded.updated_at})
        with self._write() as conn:
            conn.execute(stmt)

    # -- runs -------------------------------------------------------------------------------------

    def start_run(self, dag_id: str, run_id: str, company: int, entity: str) -> int:
        """Record a run as started; returns its id for ``finish_run``."""
        stmt = SyncRun.__table__.insert().values(dag_id=dag_id, run_id=run_id, company=company, entity=entity,
                                                 state="running", started_at=self._now())
        with self._write() as conn:
            return conn.execute(stmt).inserted_primary_key[0]

    def finish_run(self, run_pk: int, state: str, counts: dict[str, int], message: str | None = None) -> None:
        """Record how a run ended: ``state`` success or failed, ``counts`` by name (others stay 0)."""
        _check(state, RUN_STATES[1:], "a finished run's state")
        unknown = set(counts) - set(COUNT_NAMES)
        if unknown:
            raise ValueError(f"unknown run counts {sorted(unknown)}; known: {', '.join(COUNT_NAMES)}")
        stmt = (update(SyncRun).where(SyncRun.id == run_pk)
                .values(state=state, finished_at=self._now(), message=message,
                        **{name: int(value) for name, value in counts.items()}))
        with self._write() as conn:
            if conn.execute(stmt).rowcount != 1:
                raise LookupError(f"no sync run with id {run_pk}")

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

    # -- leases -----------------------------------------------------------------------------------

    def acquire_lease(self, company: int, entity: str, holder: str, ttl_seconds: float) -> bool:
        """Take the lease of a scope for ``ttl_seconds``; False if another holder's lease is live.

        The same holder calling again extends its lease (renewal during a long load).
        """
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be positive; got {ttl_seconds!r}")
        now = self._now()
        table = SyncLease.__table__
        stmt = self._insert(table).values(company=company, entity=entity, holder=holder,
                                          expires_at=now + timedelta(seconds=ttl_seconds))
        new = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=list(table.primary_key),
            set_={"holder": new.holder, "expires_at": new.expires_at},
            where=or_(table.c.holder == new.holder, table.c.expires_at <= now),
        ).returning(table.c.holder)  # a row comes back only if this holder got the lease
        with self._write() as conn:
            return conn.execute(stmt).first() is not None

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

    @contextmanager
    def lease(self, company: int, entity: str, holder: str, ttl_seconds: float,
              wait_seconds: float = 0) -> Iterator[None]:
        """Hold the lease of a scope for the ``with`` block, waiting up to ``wait_seconds`` for it.

        Raises ``LeaseBusy`` if another holder keeps it. Released on exit, also on error.
        """
        deadline = time.monotonic() + wait_seconds
        while not self.acquire_lease(company, entity, holder, ttl_seconds):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                holder_now, expires_at = self.lease_holder(company, entity) or (None, None)
                raise LeaseBusy(company, entity, holder_now, expires_at)
            time.sleep(min(_LEASE_POLL_SECONDS, remaining))
        try:
            yield
        finally:
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
        table = WebhookEvent.__table__
        stmt = self._insert(table).values(source=source, event=event, crm_id=crm_id, crm_type=crm_type,
                                          subtype=subtype, received_at=now, last_received_at=now, deliveries=1,
                                          status="pending", attempts=0)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.source, table.c.crm_id], index_where=PENDING_ONLY,
            set_={"deliveries": table.c.deliveries + 1, "last_received_at": stmt.excluded.last_received_at},
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
        table = WebhookEvent.__table__
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
