"""The ledger's change-capture state (``detect_range``, ``detect_key``, CT versions in ``sync_cursor``).

Read per range, never per entity: detection asks for the ranges of one fiscal period (a few hundred rows
at most), the keys of the ranges it is about to diff, and the records of exactly those keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select

from hamgam.ledger.models import DetectKey, DetectRange, PendingChange, SyncRecord
from hamgam.ledger.store import _RECORD_COLUMNS, Ledger, RecordState, _record, _table

_IN_CHUNK = 500  # keys per IN (...), well under every driver's parameter limit


@dataclass(frozen=True)
class StoredRange:
    header_checksum: str | None
    lines_checksum: str | None
    basis: str


@dataclass(frozen=True)
class RangeState:
    """What one read range held: its checksums (computed before the read) and per key its row ids."""

    period: int
    range_no: int
    header_checksum: str | None
    lines_checksum: str | None
    keys: dict[str, list[int]]
    again: bool = False  # read it again next run whatever its checksum (see ``AGAIN``)


AGAIN = "again"  # the basis of a range to read again next run (a key it holds is leaving the CRM)


def _chunks(items: Sequence[Any], size: int = _IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class DetectState:
    """Change-capture state of one ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    # -- ranges -------------------------------------------------------------------------------------

    def ranges(self, company: int, entity: str, period: int) -> dict[int, StoredRange]:
        """The stored ranges of one fiscal period of an entity."""
        t = DetectRange
        query = select(t.range_no, t.header_checksum, t.lines_checksum, t.basis).where(
            t.company == company, t.entity == entity, t.period == period)
        with self.ledger.engine.connect() as conn:
            return {row.range_no: StoredRange(row.header_checksum, row.lines_checksum, row.basis)
                    for row in conn.execute(query)}

    def again(self, company: int, entity: str, periods: Sequence[int]) -> list[tuple[int, int]]:
        """``(period, range)`` of the ranges marked to be read again."""
        query = select(DetectRange.period, DetectRange.range_no).where(
            DetectRange.company == company, DetectRange.entity == entity, DetectRange.basis == AGAIN,
            DetectRange.period.in_(list(periods)))
        with self.ledger.engine.connect() as conn:
            return [(row.period, row.range_no) for row in conn.execute(query)]

    def periods(self, company: int, entity: str) -> set[int]:
        query = (select(DetectRange.period).where(DetectRange.company == company, DetectRange.entity == entity)
                 .group_by(DetectRange.period))
        with self.ledger.engine.connect() as conn:
            return set(conn.execute(query).scalars())

    def members(self, company: int, entity: str, period: int, ranges: Iterable[int]
                ) -> dict[str, dict[tuple[int, int], list[int]]]:
        """The keys the ranges held when last read: key → {(period, range): row ids}."""
        out: dict[str, dict[tuple[int, int], list[int]]] = {}
        ranges = sorted(set(ranges))
        t = DetectKey
        with self.ledger.engine.connect() as conn:
            for chunk in _chunks(ranges):
                query = select(t.tadbir_key, t.period, t.range_no, t.row_ids).where(
                    t.company == company, t.entity == entity, t.period == period, t.range_no.in_(chunk))
                for row in conn.execute(query):
                    out.setdefault(row.tadbir_key, {})[(row.period, row.range_no)] = list(row.row_ids or [])
        return out

    def where(self, company: int, entity: str, keys: Iterable[str]) -> dict[str, dict[tuple[int, int], list[int]]]:
        """Every range the keys were last seen in: key → {(period, range): row ids}."""
        out: dict[str, dict[tuple[int, int], list[int]]] = {}
        t = DetectKey
        with self.ledger.engine.connect() as conn:
            for chunk in _chunks(sorted(set(keys))):
                query = select(t.tadbir_key, t.period, t.range_no, t.row_ids).where(
                    t.company == company, t.entity == entity, t.tadbir_key.in_(chunk))
                for row in conn.execute(query):
                    out.setdefault(row.tadbir_key, {})[(row.period, row.range_no)] = list(row.row_ids or [])
        return out

    def save(self, company: int, entity: str, basis: str, states: Iterable[RangeState]) -> None:
        """Replace what the ranges held and their checksums, in one transaction (after their diff is queued)."""
        states = list(states)
        if not states:
            return
        now = self.ledger._now()
        r, k = _table(DetectRange), _table(DetectKey)
        with self.ledger._write() as conn:
            for period in {s.period for s in states}:
                numbers = sorted({s.range_no for s in states if s.period == period})
                for chunk in _chunks(numbers):
                    where = and_(r.c.company == company, r.c.entity == entity, r.c.period == period,
                                 r.c.range_no.in_(chunk))
                    conn.execute(delete(r).where(where))
                    conn.execute(delete(k).where(k.c.company == company, k.c.entity == entity, k.c.period == period,
                                                 k.c.range_no.in_(chunk)))
            filled = [{"company": company, "entity": entity, "period": s.period, "range_no": s.range_no,
                       "header_checksum": s.header_checksum, "lines_checksum": s.lines_checksum,
                       "basis": AGAIN if s.again else basis, "updated_at": now}
                      for s in states if s.again or s.header_checksum or s.lines_checksum]
            if filled:  # a range with no rows left is not stored (nor computed: they stay equal)
                conn.execute(r.insert(), filled)
            members = [{"company": company, "entity": entity, "tadbir_key": key, "period": s.period,
                        "range_no": s.range_no, "row_ids": ids} for s in states for key, ids in s.keys.items()]
            if members:
                conn.execute(k.insert(), members)

    def place(self, company: int, entity: str, period: int, range_no: int, key: str, row_ids: list[int]) -> None:
        """A row written into Tadbir outside detection (the reverse flow): its range holds the key from now on
        and is read again next run, so a later edit or delete of that row is found although the range's
        checksum may be back to what was stored (a row written and deleted between two runs)."""
        r, k = _table(DetectRange), _table(DetectKey)
        stmt = self.ledger._insert(k).values(company=company, entity=entity, tadbir_key=key, period=period,
                                             range_no=range_no, row_ids=list(row_ids))
        stmt = stmt.on_conflict_do_update(index_elements=list(k.primary_key), set_={"row_ids": stmt.excluded.row_ids})
        with self.ledger._write() as conn:
            conn.execute(stmt)
            conn.execute(delete(r).where(r.c.company == company, r.c.entity == entity, r.c.period == period,
                                         r.c.range_no == range_no))

    def drop_periods(self, company: int, entity: str, keep: Sequence[int]) -> None:
        """Forget every period but ``keep`` (master data: the current period moved on, or none has rows)."""
        r, k = _table(DetectRange), _table(DetectKey)
        with self.ledger._write() as conn:
            for t in (r, k):
                conn.execute(delete(t).where(t.c.company == company, t.c.entity == entity,
                                             t.c.period.not_in(list(keep))))

    def forget(self, company: int, entity: str, period: int | None = None,
               ranges: Iterable[int] | None = None) -> int:
        """Drop stored checksums (of one period, of some of its ranges): those ranges are read again next time.
        What they held stays (a key read again replaces it; a key gone is found through it)."""
        r = _table(DetectRange)
        stmt = delete(r).where(r.c.company == company, r.c.entity == entity)
        if period is not None:
            stmt = stmt.where(r.c.period == period)
        removed = 0
        with self.ledger._write() as conn:
            if ranges is None:
                return conn.execute(stmt).rowcount
            for chunk in _chunks(sorted(set(ranges))):
                removed += conn.execute(stmt.where(r.c.range_no.in_(chunk))).rowcount
        return removed

    # -- records ------------------------------------------------------------------------------------

    def records(self, company: int, entity: str, keys: Iterable[str]) -> dict[str, RecordState]:
        """The ledger records of exactly these keys."""
        out: dict[str, RecordState] = {}
        with self.ledger.engine.connect() as conn:
            for chunk in _chunks(sorted(set(keys))):
                query = select(*_RECORD_COLUMNS).where(SyncRecord.company == company, SyncRecord.entity == entity,
                                                       SyncRecord.tadbir_key.in_(chunk))
                out.update({row.tadbir_key: _record(row) for row in conn.execute(query)})
        return out

    def unplaced(self, company: int, entity: str, periods: Sequence[int], key_prefixes: Sequence[str] | None,
                 before: datetime) -> dict[str, RecordState]:
        """Records that may need a delete but that no read range of ``periods`` holds: last written before
        ``before`` (the run's start: a record a concurrent load just made is not judged on an older read),
        not deleted, and made by Tadbir or synced. ``key_prefixes``: only keys of these fiscal years."""
        s, k = SyncRecord, DetectKey
        placed = exists().where(k.company == s.company, k.entity == s.entity, k.tadbir_key == s.tadbir_key,
                                k.period.in_(list(periods)))
        query = select(*_RECORD_COLUMNS).where(
            s.company == company, s.entity == entity, s.status != "deleted",
            or_(s.origin == "tadbir", s.status == "synced"), s.updated_at < before, ~placed)
        if key_prefixes is not None:
            query = query.where(or_(*(s.tadbir_key.startswith(p, autoescape=True) for p in key_prefixes)))
        with self.ledger.engine.connect() as conn:
            return {row.tadbir_key: _record(row) for row in conn.execute(query)}

    def count_keys(self, company: int, entity: str, periods: Sequence[int]) -> int:
        """How many keys the stored ranges of ``periods`` hold."""
        query = select(func.count(func.distinct(DetectKey.tadbir_key))).where(
            DetectKey.company == company, DetectKey.entity == entity, DetectKey.period.in_(list(periods)))
        with self.ledger.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def queue_counts(self, company: int, entity: str) -> dict[str, int]:
        """The change queue of an entity by action (what its load has to do)."""
        query = (select(PendingChange.action, func.count()).where(PendingChange.company == company,
                                                                  PendingChange.entity == entity)
                 .group_by(PendingChange.action))
        with self.ledger.engine.connect() as conn:
            return {action: int(n) for action, n in conn.execute(query)}

    def count_synced(self, company: int, entity: str, key_prefixes: Sequence[str] | None) -> int:
        """How many records of the scope the CRM holds (the mass-delete guard's base)."""
        query = select(func.count()).where(SyncRecord.company == company, SyncRecord.entity == entity,
                                           SyncRecord.status == "synced")
        if key_prefixes is not None:
            query = query.where(or_(*(SyncRecord.tadbir_key.startswith(p, autoescape=True) for p in key_prefixes)))
        with self.ledger.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())
