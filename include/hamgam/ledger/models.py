"""The ledger's tables (SQLAlchemy 2 declarative), portable across SQLite and PostgreSQL.

Every timestamp is timezone-aware UTC on the way in and on the way out (``UTCDateTime``).
Allowed values of the string "enums" are checked in ``store.py`` rather than by CHECK constraints,
so that a new status does not need a table rebuild on SQLite.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ORIGINS = ("tadbir", "crm")
STATUSES = ("synced", "invalid", "rejected", "failed", "deleted", "skipped")  # skipped: out of scope, with why
PROBLEM_STATUSES = ("invalid", "rejected", "failed")
ACTIONS = ("upsert", "delete")
RUN_STATES = ("running", "success", "failed")
# the step a run is at: detect running (or failed there), detect done and load not started, load
RUN_STAGES = ("detect", "detected", "load")
# what one outcome did: a synced record was created or updated in the CRM; otherwise its new status
OUTCOMES = ("created", "updated", "deleted", "invalid", "rejected", "failed", "skipped")
COUNT_NAMES = ("created", "updated", "deleted", "unchanged", "invalid", "rejected", "failed", "skipped")
EVENT_SOURCES = ("customer", "salequote")  # the webhook that sent the event: /api/sync/<source>
EVENT_KINDS = ("Insert", "Update", "Delete")  # Payamgostar's event names, as sent
EVENT_STATUSES = ("pending", "done", "ignored", "failed")

NAMING_CONVENTION = {
    "pk": "pk_%(table_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC; rejects naive datetimes, always returns aware UTC ones.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so it stores naive UTC text.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"the ledger stores timezone-aware datetimes only, got naive {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


# Upserts on PostgreSQL consume a sequence value even when they update, so the surrogate key is
# 64-bit there; SQLite needs exactly INTEGER for an auto-incrementing primary key.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Company = Integer
Entity = String(64)
Key = String(255)
Hash = String(128)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SyncRecord(Base):
    """What the CRM holds for one Tadbir record, and how its last sync went."""

    __tablename__ = "sync_record"
    __table_args__ = (
        UniqueConstraint("company", "entity", "tadbir_key"),
        Index("ix_sync_record_company_entity_status", "company", "entity", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    company: Mapped[int] = mapped_column(Company)
    entity: Mapped[str] = mapped_column(Entity)
    tadbir_key: Mapped[str] = mapped_column(Key)
    crm_id: Mapped[str | None] = mapped_column(String(100))
    crm_number: Mapped[str | None] = mapped_column(String(100))
    crm_kind: Mapped[str | None] = mapped_column(String(32))  # e.g. the CRM identity type: person/organization
    content_hash: Mapped[str | None] = mapped_column(Hash)
    origin: Mapped[str] = mapped_column(String(16), default="tadbir")
    status: Mapped[str] = mapped_column(String(16))
    last_error: Mapped[str | None] = mapped_column(Text)
    error_details: Mapped[Any | None] = mapped_column(JSON(none_as_null=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PendingChange(Base):
    """The change queue between detection and load: one row per key still to load."""

    __tablename__ = "pending_change"

    company: Mapped[int] = mapped_column(Company, primary_key=True)
    entity: Mapped[str] = mapped_column(Entity, primary_key=True)
    tadbir_key: Mapped[str] = mapped_column(Key, primary_key=True)
    action: Mapped[str] = mapped_column(String(8))
    content_hash: Mapped[str | None] = mapped_column(Hash)
    locator: Mapped[Any | None] = mapped_column(JSON(none_as_null=True))  # where the loader finds the rows
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    run_id: Mapped[str | None] = mapped_column(String(250))


class Cursor(Base):
    """A named bookmark per scope (e.g. a rowversion or a Change Tracking version)."""

    __tablename__ = "sync_cursor"

    company: Mapped[int] = mapped_column(Company, primary_key=True)
    entity: Mapped[str] = mapped_column(Entity, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def _count() -> Mapped[int]:
    return mapped_column(Integer, default=0, server_default="0")


class SyncRun(Base):
    """One load of one company + entity: when, how it ended, and what it did."""

    __tablename__ = "sync_run"
    __table_args__ = (
        Index("ix_sync_run_company_entity_started_at", "company", "entity", "started_at"),
        Index("ix_sync_run_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dag_id: Mapped[str] = mapped_column(String(250))
    run_id: Mapped[str] = mapped_column(String(250))
    company: Mapped[int] = mapped_column(Company)
    entity: Mapped[str] = mapped_column(Entity)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16), default="running")
    created: Mapped[int] = _count()
    updated: Mapped[int] = _count()
    deleted: Mapped[int] = _count()
    unchanged: Mapped[int] = _count()
    invalid: Mapped[int] = _count()
    rejected: Mapped[int] = _count()
    failed: Mapped[int] = _count()
    skipped: Mapped[int] = _count()
    message: Mapped[str | None] = mapped_column(Text)
    stage: Mapped[str] = mapped_column(String(16), default="load", server_default="load")
    holder: Mapped[str | None] = mapped_column(String(250))  # the try working on the run now


class SyncOutcome(Base):
    """The outcome log: one row per outcome written, with the run (and try) that wrote it.

    A run's counts are summed from here over all its tries; an outcome of an entity written by another
    entity's run (a reference synced first) is attributed to the entity it changed.
    """

    __tablename__ = "sync_outcome"
    __table_args__ = (
        Index("ix_sync_outcome_sync_run_id", "sync_run_id"),
        Index("ix_sync_outcome_company_entity_recorded_at", "company", "entity", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sync_run_id: Mapped[int | None] = mapped_column(BigId)  # sync_run.id; None outside a run
    holder: Mapped[str | None] = mapped_column(String(250))
    company: Mapped[int] = mapped_column(Company)
    entity: Mapped[str] = mapped_column(Entity)
    tadbir_key: Mapped[str] = mapped_column(Key)
    outcome: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SendMark(Base):
    """A create about to be sent to the CRM without looking for the record first (``Ledger.mark_sent``),
    written before the call: until its outcome is settled, a later try looks before it creates again."""

    __tablename__ = "crm_send_mark"

    company: Mapped[int] = mapped_column(Company, primary_key=True)
    entity: Mapped[str] = mapped_column(Entity, primary_key=True)
    tadbir_key: Mapped[str] = mapped_column(Key, primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(250))
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SyncLease(Base):
    """Who is loading a company + entity right now, and until when."""

    __tablename__ = "sync_lease"

    company: Mapped[int] = mapped_column(Company, primary_key=True)
    entity: Mapped[str] = mapped_column(Entity, primary_key=True)
    holder: Mapped[str] = mapped_column(String(250))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


PENDING_ONLY = text("status = 'pending'")


class WebhookEvent(Base):
    """A change the CRM announced through a webhook, kept until the reverse flow has handled it.

    At most one pending event per (source, crm_id): a webhook for a record that is still pending
    is folded into that event (``deliveries`` counts the calls, ``last_received_at`` is the latest),
    since the reverse flow reads the record's current state from the CRM anyway. The partial unique
    index enforces it on SQLite and PostgreSQL alike.
    """

    __tablename__ = "webhook_event"
    __table_args__ = (
        Index("uq_webhook_event_pending_source_crm_id", "source", "crm_id", unique=True,
              sqlite_where=PENDING_ONLY, postgresql_where=PENDING_ONLY),
        Index("ix_webhook_event_source_status_id", "source", "status", "id"),
        Index("ix_webhook_event_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    event: Mapped[str] = mapped_column(String(16))
    crm_id: Mapped[str] = mapped_column(String(100))
    crm_type: Mapped[str | None] = mapped_column(String(100))
    subtype: Mapped[str | None] = mapped_column(String(250))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deliveries: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(String(250))


class DetectRange(Base):
    """Change capture (``checksum``, ``change_tracking``): what detection last read of one key range of one
    fiscal period of an entity — the checksums Tadbir computed for its headers and its lines just before the
    read, and the ``basis`` they were compared under (settings that change content hashes, range size)."""

    __tablename__ = "detect_range"

    company: Mapped[int] = mapped_column(Company, primary_key=True)
    entity: Mapped[str] = mapped_column(Entity, primary_key=True)
    period: Mapped[int] = mapped_column(Integer, primary_key=True)  # the Tadbir fiscal period (FPId)
    range_no: Mapped[int] = mapped_column(Integer, primary_key=True)  # Id // range size
    header_checksum: Mapped[str | None] = mapped_column(String(100))
    lines_checksum: Mapped[str | None] = mapped_column(String(100))
    basis: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DetectKey(Base):
    """Which keys a read key range held (and by which row ids): the keys whose ledger records a range's diff
    reads, and where a deleted key was last seen."""

    __tablename__ = "detect_key"
    __table_args__ = (
        Index("ix_detect_key_company_entity_period_range_no", "company", "entity", "period", "range_no"),
    )

    company: Mapped[int] = mapped_column(Company, primary_key=True)
    entity: Mapped[str] = mapped_column(Entity, primary_key=True)
    tadbir_key: Mapped[str] = mapped_column(Key, primary_key=True)
    period: Mapped[int] = mapped_column(Integer, primary_key=True)
    range_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    row_ids: Mapped[Any] = mapped_column(JSON)  # the key's row ids in this range


class DriftReport(Base):
    """One drift report (the ``hamgam_drift_report`` DAG's ``drift`` task): per company, entity and fiscal
    year the count and sum in Tadbir, the ledger and the CRM, and the keys that differ (``hamgam.drift``)."""

    __tablename__ = "drift_report"
    __table_args__ = (Index("ix_drift_report_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dag_id: Mapped[str] = mapped_column(String(250))
    run_id: Mapped[str] = mapped_column(String(250))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    unexplained: Mapped[int] = mapped_column(Integer)
    report: Mapped[Any] = mapped_column(JSON)
