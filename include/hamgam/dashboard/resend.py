"""Resend: make the next detection read these records again and queue them, whatever their content hash.

After a fix in Tadbir a record's hash changes and detection queues it anyway; after a fix in the CRM (the
missing customer made there, say) Tadbir is unchanged and detection would leave a rejected record alone. So a
resend forgets the record's content hash in the ledger (``judge`` then queues it) and marks the key ranges it
was last seen in to be read again (``AGAIN``, as a delete does), so checksum and Change Tracking capture read
it too; a ``scan`` reads everything anyway. Nothing is sent from here: the entity's DAG does that.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, or_, select, update

from hamgam.ledger.detect_state import AGAIN
from hamgam.ledger.models import DetectKey, DetectRange, SyncRecord


def request_resend(ledger: Any, company: int, entity: str, keys: Iterable[str]) -> int:
    """Mark ``keys`` of ``company``'s ``entity`` for the next run; returns how many records the ledger has."""
    keys = sorted(set(keys))
    marked = 0
    with ledger.engine.begin() as conn:
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            marked += conn.execute(update(SyncRecord).where(
                SyncRecord.company == company, SyncRecord.entity == entity, SyncRecord.tadbir_key.in_(chunk))
                .values(content_hash=None)).rowcount
            places = conn.execute(select(DetectKey.period, DetectKey.range_no).distinct().where(
                DetectKey.company == company, DetectKey.entity == entity, DetectKey.tadbir_key.in_(chunk))).all()
            if places:
                conn.execute(update(DetectRange).where(
                    DetectRange.company == company, DetectRange.entity == entity,
                    or_(*(and_(DetectRange.period == p, DetectRange.range_no == n) for p, n in places)))
                    .values(basis=AGAIN))
    return marked
