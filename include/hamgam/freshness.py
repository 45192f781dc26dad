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
    marks = [m for m in (success.started_at if success else None, ledger.oldest_pending_at(company, entity)) if m]
    if not marks:
        return None
    return max(now - min(marks), timedelta(0))
