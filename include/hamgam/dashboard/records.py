"""The records that need a person: status, the reason the report prints, where they are in Tadbir and the CRM;
filtered by company, entity, status, fiscal year and text; as rows or CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, func, or_, select

from hamgam.ledger.models import PROBLEM_STATUSES, DetectKey, SyncRecord

# statuses a person can act on (skipped records are listed on request: out of scope by the sync rules)
NEEDS_PERSON = PROBLEM_STATUSES
LISTABLE = (*PROBLEM_STATUSES, "skipped")
MAX_ROWS = 5000


@dataclass(frozen=True)
class RecordFilter:
    company: int | None = None
    entity: str | None = None
    statuses: tuple[str, ...] = NEEDS_PERSON
    fiscal_year: int | None = None
    text: str | None = None

    def query_string(self) -> dict[str, str]:
        """The filter as the page's query parameters (for links and the CSV download)."""
        out = {"company": str(self.company) if self.company is not None else "", "entity": self.entity or "",
               "status": ",".join(self.statuses) if self.statuses != NEEDS_PERSON else "",
               "fiscal_year": str(self.fiscal_year) if self.fiscal_year is not None else "", "q": self.text or ""}
        return {k: v for k, v in out.items() if v}


@dataclass(frozen=True)
class PersonRecord:
    company: int
    entity: str
    status: str
    reason: str | None  # the sentence the run's report prints (the ledger's last_error)
    tadbir_key: str  # the Tadbir number (documents: fiscal year/number)
    tadbir_ids: str  # the Tadbir row ids (Id) the key was last read from, if detection placed it
    fiscal_year: int | None
    crm_id: str | None
    crm_number: str | None
    first_seen: datetime
    last_tried: datetime

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["first_seen"], out["last_tried"] = self.first_seen.isoformat(), self.last_tried.isoformat()
        return out


def _fiscal_year(key: str) -> int | None:
    head = key.split("/", 1)[0]
    return int(head) if "/" in key and head.isdigit() else None


def find(ledger: Any, flt: RecordFilter, limit: int = MAX_ROWS) -> list[PersonRecord]:
    """The records matching ``flt``, by company, entity and key; at most ``limit``."""
    r = SyncRecord
    query = (select(r.company, r.entity, r.status, r.last_error, r.tadbir_key, r.crm_id, r.crm_number,
                    r.created_at, r.updated_at)
             .where(r.status.in_(flt.statuses)).order_by(r.company, r.entity, r.tadbir_key).limit(limit))
    if flt.company is not None:
        query = query.where(r.company == flt.company)
    if flt.entity:
        query = query.where(r.entity == flt.entity)
    if flt.fiscal_year is not None:
        query = query.where(r.tadbir_key.startswith(f"{flt.fiscal_year}/", autoescape=True))
    if flt.text:
        needle = f"%{flt.text.lower()}%"
        query = query.where(or_(*(func.lower(c).like(needle) for c in (
            r.tadbir_key, r.last_error, r.crm_id, r.crm_number, cast(r.company, String)))))
    with ledger.engine.connect() as conn:
        rows = conn.execute(query).all()
        ids = _row_ids(conn, rows)
    return [PersonRecord(row.company, row.entity, row.status, row.last_error, row.tadbir_key,
                         " ".join(str(i) for i in ids.get((row.company, row.entity, row.tadbir_key), [])),
                         _fiscal_year(row.tadbir_key), row.crm_id, row.crm_number,
                         row.created_at, row.updated_at)
            for row in rows]


def _row_ids(conn: Any, rows: Iterable[Any]) -> dict[tuple[int, str, str], list[int]]:
    """Tadbir row ids per (company, entity, key) from detection's key places, for the listed keys."""
    wanted: dict[tuple[int, str], list[str]] = {}
    for row in rows:
        wanted.setdefault((row.company, row.entity), []).append(row.tadbir_key)
    out: dict[tuple[int, str, str], list[int]] = {}
    t = DetectKey
    for (company, entity), keys in wanted.items():
        for start in range(0, len(keys), 500):
            for key, row_ids in conn.execute(select(t.tadbir_key, t.row_ids).where(
                    t.company == company, t.entity == entity, t.tadbir_key.in_(keys[start:start + 500]))):
                out.setdefault((company, entity, key), []).extend(int(i) for i in row_ids or [])
    return out


CSV_COLUMNS = ("company", "entity", "status", "reason", "tadbir_key", "tadbir_ids", "fiscal_year", "crm_id",
               "crm_number", "first_seen", "last_tried")


def to_csv(records: Iterable[PersonRecord]) -> str:
    """CSV with a header; UTF-8 text (Persian reasons as they are), ISO timestamps."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for rec in records:
        data = rec.as_json()
        writer.writerow(["" if data[c] is None else data[c] for c in CSV_COLUMNS])
    return out.getvalue()
