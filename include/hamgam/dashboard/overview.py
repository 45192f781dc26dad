"""Per company × entity: records by status, the queue and its oldest change, the last successful run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from hamgam.freshness import lag
from hamgam.ledger.models import PendingChange, SyncRecord, SyncRun

# the statuses the page counts, in its column order ("queued": changes waiting in the queue, not a status)
SHOWN = ("synced", "queued", "invalid", "rejected", "skipped", "failed")


@dataclass(frozen=True)
class EntityRow:
    """One company's one entity, as the page shows it."""

    company: int
    entity: str
    dag_id: str
    counts: dict[str, int]
    oldest_queued_at: datetime | None
    last_success_at: datetime | None  # when the latest successful load finished
    last_run: dict[str, Any] | None = field(default=None)  # dag_id, run_id, state, started_at of the latest load
    last_success_started_at: datetime | None = field(default=None)  # when that load started (freshness)

    def queued_age_seconds(self, now: datetime) -> float | None:
        return None if self.oldest_queued_at is None else (now - self.oldest_queued_at).total_seconds()

    def freshness_lag_seconds(self, now: datetime) -> float | None:
        """How stale the CRM is for this entity (hamgam.freshness: the same lag the e-mails and metrics use)."""
        lagging = lag(self.last_success_started_at, self.oldest_queued_at, now)
        return None if lagging is None else lagging.total_seconds()

    def as_json(self, now: datetime) -> dict[str, Any]:
        return {"company": self.company, "entity": self.entity, "dag_id": self.dag_id, "counts": self.counts,
                "oldest_queued_at": _iso(self.oldest_queued_at),
                "oldest_queued_age_seconds": self.queued_age_seconds(now),
                "last_success_at": _iso(self.last_success_at),
                "freshness_lag_seconds": self.freshness_lag_seconds(now),
                "last_run": None if self.last_run is None else {
                    **self.last_run, "started_at": _iso(self.last_run["started_at"])}}


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def overview(ledger: Any, scope: list[tuple[int, str, str]]) -> list[EntityRow]:
    """``scope``: (company, entity, dag_id) for every entity a company syncs (settings' order). A few grouped
    queries, whatever the number of records."""
    with ledger.engine.connect() as conn:
        statuses: dict[tuple[int, str], dict[str, int]] = {}
        for company, entity, status, n in conn.execute(
                select(SyncRecord.company, SyncRecord.entity, SyncRecord.status, func.count())
                .group_by(SyncRecord.company, SyncRecord.entity, SyncRecord.status)):
            statuses.setdefault((company, entity), {})[status] = n
        queued = {(c, e): (n, oldest) for c, e, n, oldest in conn.execute(
            select(PendingChange.company, PendingChange.entity, func.count(), func.min(PendingChange.detected_at))
            .group_by(PendingChange.company, PendingChange.entity))}
        succeeded = {(c, e): (finished, started) for c, e, finished, started in conn.execute(
            select(SyncRun.company, SyncRun.entity, func.max(SyncRun.finished_at), func.max(SyncRun.started_at))
            .where(SyncRun.state == "success").group_by(SyncRun.company, SyncRun.entity))}
        latest_ids = select(func.max(SyncRun.id)).group_by(SyncRun.company, SyncRun.entity)
        latest = {(r.company, r.entity): {"dag_id": r.dag_id, "run_id": r.run_id, "state": r.state,
                                          "started_at": r.started_at}
                  for r in conn.execute(select(SyncRun).where(SyncRun.id.in_(latest_ids)))}
    # min()/max() come back as plain values from an aggregate: give them the ledger's UTC type again
    type_ = SyncRun.__table__.c.finished_at.type
    rows = []
    for company, entity, dag_id in scope:
        by_status = statuses.get((company, entity), {})
        n_queued, oldest = queued.get((company, entity), (0, None))
        counts = {name: by_status.get(name, 0) for name in SHOWN}
        counts["queued"] = n_queued
        finished, started = succeeded.get((company, entity), (None, None))
        rows.append(EntityRow(company, entity, dag_id, counts, _utc(type_, oldest, ledger),
                              _utc(type_, finished, ledger), latest.get((company, entity)),
                              _utc(type_, started, ledger)))
    return rows


def _utc(type_: Any, value: Any, ledger: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite answers an aggregate of a timestamp as text
        value = datetime.fromisoformat(value)
    return type_.process_result_value(value, ledger.engine.dialect)
