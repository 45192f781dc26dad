"""The worker's clock as Tadbir keeps time: naive wall time of the site's time zone.

ASSUMPTION (not observed on a real Tadbir): Tadbir's DATETIME columns hold Tehran wall time without an offset,
as its users type them. Where hamgam compares or fills a Tadbir date with "now", it uses this clock, never
``datetime.now()`` (the worker's own zone: UTC in most deployments, 3.5 hours behind Tehran — the wrong day
from 20:30 to midnight Tehran time). ``sync.tadbir_timezone`` (default ``Asia/Tehran``) names another zone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

TADBIR_TIMEZONE = "Asia/Tehran"
TEHRAN = ZoneInfo(TADBIR_TIMEZONE)


def utc_now() -> datetime:
    return datetime.now(UTC)


def tadbir_now(zone: str = TADBIR_TIMEZONE, *, now: datetime | None = None) -> datetime:
    """Now (or the aware instant ``now``) as naive wall time of ``zone``."""
    instant = now if now is not None else datetime.now(UTC)
    return instant.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def tadbir_today(zone: str = TADBIR_TIMEZONE, *, now: datetime | None = None) -> datetime:
    """Midnight of today in ``zone``, naive (a Tadbir document date)."""
    return tadbir_now(zone, now=now).replace(hour=0, minute=0, second=0, microsecond=0)
