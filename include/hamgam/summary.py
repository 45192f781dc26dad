"""Plain-text summaries of sync runs for logs, the demo and the data team."""

from __future__ import annotations

from typing import Any

COLUMNS = ("created", "updated", "deleted", "unchanged", "invalid", "rejected", "failed", "skipped")


def counts_table(rows: list[tuple[str, int, str, dict[str, Any]]]) -> str:
    """rows: (entity, company, state, counts) -> an aligned text table."""
    header = ("entity", "company", "state", *COLUMNS)
    body = [(entity, str(company), state, *(str(counts.get(c, 0)) for c in COLUMNS))
            for entity, company, state, counts in rows]
    widths = [max(len(str(r[i])) for r in [header, *body]) for i in range(len(header))]
    line = lambda r: "  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True))  # noqa: E731
    return "\n".join([line(header), line(tuple("-" * w for w in widths)), *map(line, body)])


def problems_text(problems: list[Any], limit: int = 50) -> str:
    if not problems:
        return "No rejected or invalid records."
    lines = [f"{len(problems)} record(s) need attention (status: reason):"]
    for p in problems[:limit]:
        lines.append(f"  [{p.company} {p.entity}] {p.status}: {p.last_error}")
    if len(problems) > limit:
        lines.append(f"  ... and {len(problems) - limit} more (see the hamgam ledger)")
    return "\n".join(lines)


def entity_report(ledger: Any, entity: str, companies: list[int], *, run_id: str | None = None
                  ) -> tuple[str, dict[str, int], list[int]]:
    """The counts table and problems of one entity; also the companies whose run did not succeed."""
    rows = []
    unfinished = []
    totals: dict[str, int] = dict.fromkeys(COLUMNS, 0)
    for company in companies:
        run = ledger.latest_run(company, entity)
        if run is None or (run_id is not None and run.run_id != run_id):
            rows.append((entity, company, "not run", {}))
            unfinished.append(company)
            continue
        counts = {c: getattr(run, c) for c in COLUMNS}
        rows.append((entity, company, run.state, counts))
        if run.state != "success":
            unfinished.append(company)
        for c in COLUMNS:
            totals[c] += counts[c]
    problems = [p for c in companies for p in ledger.problems(company=c, entity=entity)]
    skipped = [p for c in companies for p in ledger.problems(company=c, entity=entity, statuses=("skipped",))]
    return (counts_table(rows) + "\n\n" + problems_text(problems) + "\n\n" + skipped_text(skipped),
            totals, unfinished)


def skipped_text(skipped: list[Any], limit: int = 50) -> str:
    """Records the sync rules leave out (no lines, cancelled, no customer): not errors, but listed."""
    if not skipped:
        return "No records skipped by the sync rules."
    lines = [f"{len(skipped)} record(s) skipped by the sync rules (not errors):"]
    lines += [f"  [{p.company} {p.entity}] {p.last_error}" for p in skipped[:limit]]
    if len(skipped) > limit:
        lines.append(f"  ... and {len(skipped) - limit} more (see the hamgam ledger)")
    return "\n".join(lines)
