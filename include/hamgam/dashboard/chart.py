"""Records synced per hour and set aside per day, per entity: counted from the ledger's outcome log and drawn
as server-side SVG (no script, nothing fetched)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from typing import Any

from sqlalchemy import select

from hamgam.ledger.models import SyncOutcome

SYNCED = ("created", "updated", "deleted")
SET_ASIDE = ("invalid", "rejected", "failed")
HOURS, DAYS = 24, 14


@dataclass(frozen=True)
class Series:
    entity: str
    synced_per_hour: list[int]  # oldest first; the last is the current hour
    set_aside_per_day: list[int]  # oldest first; the last is today (UTC)


def activity(ledger: Any, now: datetime, company: int | None = None) -> list[Series]:
    """Per entity with any outcome in the window: counts per hour (last ``HOURS``) and per day (last ``DAYS``)."""
    hour0 = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=HOURS - 1)
    day0 = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=DAYS - 1)
    o = SyncOutcome
    query = select(o.entity, o.outcome, o.recorded_at).where(
        o.recorded_at >= min(hour0, day0), o.outcome.in_((*SYNCED, *SET_ASIDE)))
    if company is not None:
        query = query.where(o.company == company)
    per_hour: dict[str, list[int]] = {}
    per_day: dict[str, list[int]] = {}
    with ledger.engine.connect() as conn:
        for entity, outcome, at in conn.execute(query):
            hours, days = per_hour.setdefault(entity, [0] * HOURS), per_day.setdefault(entity, [0] * DAYS)
            if outcome in SYNCED and at >= hour0:
                hours[min(HOURS - 1, int((at - hour0).total_seconds() // 3600))] += 1
            elif outcome in SET_ASIDE and at >= day0:
                days[min(DAYS - 1, (at - day0).days)] += 1
    return [Series(e, per_hour[e], per_day[e]) for e in sorted(per_hour)]


def _bars(values: list[int], x: int, y: int, width: int, height: int, colour: str, unit: str) -> str:
    top = max(values) or 1
    step = width / len(values)
    parts = []
    for i, v in enumerate(values):
        h = round(height * v / top, 1)
        parts.append(f'<rect x="{x + i * step:.1f}" y="{y + height - h:.1f}" width="{max(step - 1, 1):.1f}" '
                     f'height="{h}" fill="{colour}"><title>{v} {unit}</title></rect>')
    parts.append(f'<line x1="{x}" y1="{y + height}" x2="{x + width}" y2="{y + height}" stroke="#999"/>')
    parts.append(f'<text x="{x + width + 4}" y="{y + 10}" font-size="10" fill="#555">max {max(values)}</text>')
    return "".join(parts)


def svg(series: list[Series]) -> str:
    """One row per entity: synced per hour (left, last 24 h), set aside per day (right, last 14 days)."""
    row_h, label_w, plot_w, gap = 46, 130, 300, 60
    width = label_w + 2 * plot_w + 2 * gap
    height = 30 + row_h * max(len(series), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="records synced per hour and set aside per day, per entity" font-family="sans-serif">',
             f'<text x="{label_w}" y="14" font-size="12">synced per hour (last {HOURS} h)</text>',
             f'<text x="{label_w + plot_w + gap}" y="14" font-size="12">set aside per day (last {DAYS} days)</text>']
    if not series:
        parts.append('<text x="10" y="44" font-size="12" fill="#555">nothing synced or set aside in this '
                     'window</text>')
    for i, s in enumerate(series):
        y = 24 + i * row_h
        parts.append(f'<text x="4" y="{y + 24}" font-size="12">{escape(s.entity)}</text>')
        parts.append(_bars(s.synced_per_hour, label_w, y, plot_w, row_h - 12, "#2e7d32", "synced"))
        parts.append(_bars(s.set_aside_per_day, label_w + plot_w + gap, y, plot_w, row_h - 12, "#c62828",
                           "set aside"))
    parts.append("</svg>")
    return "".join(parts)
