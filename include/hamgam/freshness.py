"""How stale the CRM is for one company's entity: its freshness lag.

The CRM holds Tadbir as it was when the company's last successful run of the entity started, less any
change still queued (detected, not yet loaded). The lag is the time since the older of the two: the start of
that run, or the detection of the oldest change still queued. A company's entity that never finished a run
and has nothing queued has no lag to speak of (None): its failures are what alert then.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any


def freshness_lag(ledger: Any, company: int, entity: str, now: datetime) -> timedelta | None:
    """The freshness lag of ``company``'s ``entity`` at ``now`` (aware UTC), or None (see the module)."""
    success = ledger.latest_success(company, entity)
    return lag(success.started_at if success else None, ledger.oldest_pending_at(company, entity), now)


def lag(last_success_started_at: datetime | None, oldest_pending_at: datetime | None,
        now: datetime) -> timedelta | None:
    """The lag from its two marks (see the module); the e-mails, the metrics and the hamgam page all use it."""
    marks = [m for m in (last_success_started_at, oldest_pending_at) if m]
    if not marks:
        return None
    return max(now - min(marks), timedelta(0))
