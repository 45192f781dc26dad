"""The check's rows and how they are shown: one table per company (text) or one JSON document.

A row is one finding: ✓ fine, ✗ hamgam would break here (with the fix in one sentence), ! works but worth a
look, – not applicable here (a SQL-Server-only check on SQLite, a check the client cannot make yet). The
command exits 1 when any row is ✗. Texts are built by the checks, which never put a secret, a national code
or a phone number in them (``scrub`` masks the connection passwords once more, in case a driver's error
message quotes one)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Literal

Status = Literal["ok", "fail", "warn", "skip"]
MARKS: dict[Status, str] = {"ok": "✓", "fail": "✗", "warn": "!", "skip": "–"}
MASK = "****"


@dataclass(frozen=True)
class Row:
    status: Status
    check: str  # what was checked: "tadbir: column __Customer__.Name"
    found: str  # what was found: "NVARCHAR(256), collation Persian_100_CI_AI"
    fix: str = ""  # for ✗ (and a warning's advice): one sentence

    @property
    def mark(self) -> str:
        return MARKS[self.status]


def ok(check: str, found: str) -> Row:
    return Row("ok", check, found)


def fail(check: str, found: str, fix: str) -> Row:
    return Row("fail", check, found, fix)


def warn(check: str, found: str, fix: str = "") -> Row:
    return Row("warn", check, found, fix)


def skip(check: str, found: str) -> Row:
    return Row("skip", check, found)


@dataclass
class CompanyReport:
    """One table: a company's rows, or (``code`` None) those shared by every company (the CRM, the webhooks)."""

    code: int | None
    name: str
    rows: list[Row] = field(default_factory=list)

    @property
    def title(self) -> str:
        return self.name if self.code is None else f"company {self.code} {self.name}".rstrip()

    @property
    def failed(self) -> bool:
        return any(row.status == "fail" for row in self.rows)


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every non-empty secret replaced by ``****``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


def exit_code(reports: Iterable[CompanyReport]) -> int:
    return 1 if any(report.failed for report in reports) else 0


def as_text(reports: list[CompanyReport]) -> str:
    """One table per company: mark, check, what was found; a ✗ (or advised !) row's fix on the line below."""
    out: list[str] = []
    for report in reports:
        counts = {status: sum(row.status == status for row in report.rows) for status in MARKS}
        out.append(report.title)
        width = max((len(row.check) for row in report.rows), default=0)
        for row in report.rows:
            out.append(f"  {row.mark} {row.check.ljust(width)}  {row.found}")
            if row.fix:
                out.append(f"{' ' * (width + 6)}fix: {row.fix}")  # under the found column
        out.append(f"  {counts['ok']} ✓, {counts['fail']} ✗, {counts['warn']} !, {counts['skip']} –")
        out.append("")
    failed = [r.title for r in reports if r.failed]
    out.append(f"hamgam check: {'✗ in ' + '; '.join(failed) if failed else 'no ✗'}")
    return "\n".join(out)


def as_json(reports: list[CompanyReport]) -> str:
    return json.dumps({"ok": exit_code(reports) == 0, "tables": [
        {"company": r.code, "name": r.name, "ok": not r.failed,
         "rows": [{**asdict(row), "mark": row.mark} for row in r.rows]} for r in reports]},
        ensure_ascii=False, indent=2)
