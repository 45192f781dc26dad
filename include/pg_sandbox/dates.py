"""Date formats as the real server writes them (.NET on an Iran-time server).

- Record dates are local time without an offset, trailing zero fractions trimmed
  (Newtonsoft's `yyyy-MM-ddTHH:mm:ss.FFFFFFF`), e.g. `2025-12-21T14:06:17.173`.
- Login `expiresAt` is a DateTimeOffset with seven fraction digits, e.g.
  `2025-12-16T11:43:53.1385332+03:30`.
"""

from datetime import UTC, datetime, timedelta, timezone

# Iran has kept +03:30 all year since it dropped daylight saving in 2022.
TEHRAN = timezone(timedelta(hours=3, minutes=30), "Asia/Tehran")


def now_utc() -> datetime:
    return datetime.now(UTC)


def local_text(moment: datetime) -> str:
    """A moment as Tehran local time without an offset, fractions trimmed."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(TEHRAN).replace(tzinfo=None)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{moment.microsecond:06d}".rstrip("0")
    return f"{text}.{fraction}" if fraction else text


def offset_text(moment: datetime) -> str:
    """A moment in Tehran time with seven fraction digits and the +03:30 offset."""
    local = moment.astimezone(TEHRAN)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond:06d}0" + "+03:30"


def parse_client_date(text: str) -> datetime:
    """Parse an ISO-8601 date sent by a client (raises ValueError)."""
    return datetime.fromisoformat(text)
