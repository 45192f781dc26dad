"""Tehran wall-clock time: Tadbir's stamps and the CRM's dates are Asia/Tehran local time, stored naive."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

TEHRAN = ZoneInfo("Asia/Tehran")


def utc_now() -> datetime:
    return datetime.now(UTC)


def tehran_wall_time(moment: datetime | None = None) -> datetime:
    """``moment`` (an aware instant; now by default) as Tehran's wall-clock time without an offset — how
    Tadbir's clients stamp rows, whatever time zone the worker runs in (UTC in containers)."""
    return (moment or utc_now()).astimezone(TEHRAN).replace(tzinfo=None)
