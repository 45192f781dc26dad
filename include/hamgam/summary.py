"""Plain-text summaries of sync runs for logs, the demo and the data team.

A run's report tells the truth about the run: its counts come from the ledger over all its tries (the
outcome log), records that still need attention are counted as invalid / rejected / failed (not as
unchanged), what other DAGs' runs synced for the entity as references is shown, and a company that did
not finish is named with the task that failed (detect or load) and its error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

COLUMNS = ("created", "updated", "deleted", "unchanged", "invalid", "rejected", "failed", "skipped")
VIA = "via references"
_ERROR_CHARS = 600


def counts_table(rows: list[tuple[str, int, str, dict[str, Any]]]) -> str:
    """rows: (entity, company, state, counts) -> an aligned text table; a count not given shows as "-"."""
    header = ("entity", "company", "state", *COLUMNS)
    body = [(entity, str(company), state, *(str(counts[c]) if c in counts else "-" for c in COLUMNS))
            for entity, company, state, counts in rows]
    widths = [max(len(str(r[i])) for r in [header, *body]) for i in range(len(header))]
    line = lambda r: "  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()  # noqa: E731
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


def skipped_text(skipped: list[Any], limit: int = 50) -> str:
    """Records the sync rules leave out (no lines, cancelled, no customer): not errors, but listed."""
    if not skipped:
        return "No records skipped by the sync rules."
    lines = [f"{len(skipped)} record(s) skipped by the sync rules (not errors):"]
    lines += [f"  [{p.company} {p.entity}] {p.last_error}" for p in skipped[:limit]]
    if len(skipped) > limit:
        lines.append(f"  ... and {len(skipped) - limit} more (see the hamgam ledger)")
    return "\n".join(lines)


@dataclass
class RunReport:
    """One entity's report of a DAG run: ``failures`` names, per company that did not finish, why."""

    text: str
    totals: dict[str, Any]
    failures: dict[int, str] = field(default_factory=dict)


def _error(message: str | None) -> str:
    text = " ".join((message or "no error recorded").split())
    return text if len(text) <= _ERROR_CHARS else text[:_ERROR_CHARS - 1] + "…"


def _failure(entity: str, company: int, run: Any) -> str | None:
    """Why a company's run did not finish, naming the task (``<entity>.detect`` / ``<entity>.load``)."""
    where = f"{entity} company {company}: task"
    if run is None:
        return (f"{where} {entity}.detect (company {company}) left no run in the ledger: it failed before it "
                f"could record one, or did not run; see that task's log")
    task = f"{entity}.{'detect' if run.stage == 'detect' else 'load'} (company {company})"
    if run.state == "failed":
        return f"{where} {task} failed: {_error(run.message)}"
    if run.state == "running":
        if run.stage == "detected":
            return f"{where} {task} did not run after detect finished"
        return f"{where} {task} did not finish (its worker stopped, or it is still running)"
    return None


def _state(run: Any) -> str:
    if run is None:
        return "not run"
    if run.state == "failed":
        return f"{'detect' if run.stage == 'detect' else 'load'} failed"
    if run.state == "running":
        return "load not run" if run.stage == "detected" else f"{run.stage} unfinished"
    return run.state


def _via_text(entity: str, company: int, writes: list[Any]) -> list[str]:
    return [f"  company {company}: {_counts_phrase(w.counts)} by {w.dag_id} run {w.run_id} ({w.via_entity})"
            for w in writes]


def _counts_phrase(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {name}" for name, n in counts.items() if n) or "nothing"


def run_report(ledger: Any, entity: str, companies: list[int], *, run_id: str | None = None,
               dag_id: str | None = None, key_prefix: str | None = None) -> RunReport:
    """The counts table, failures, references synced by other runs, and problems of one entity.

    ``run_id`` (and ``dag_id``): the DAG run to report; without them, each company's latest run.
    ``key_prefix`` narrows the scope of the counts (one fiscal year of documents: ``"1403/"``).
    """
    rows: list[tuple[str, int, str, dict[str, Any]]] = []
    failures: dict[int, str] = {}
    totals: dict[str, Any] = dict.fromkeys(COLUMNS, 0)
    via_totals: dict[str, int] = {}
    via_lines: list[str] = []
    made_lines: list[str] = []
    for company in companies:
        if run_id is None:
            run = ledger.latest_run(company, entity)
        elif dag_id is not None:
            run = ledger.find_run(dag_id, run_id, company, entity)
        else:
            latest = ledger.latest_run(company, entity)
            run = latest if latest is not None and latest.run_id == run_id else None
        failure = _failure(entity, company, run)
        if failure is not None:
            failures[company] = failure
        if run is None or (run.state == "failed" and run.stage == "detect"):
            rows.append((entity, company, _state(run), {}))
            continue
        counts = ledger.run_counts(run.id, key_prefix=key_prefix)
        rows.append((entity, company, _state(run), counts))
        for name in COLUMNS:
            totals[name] += counts[name]
        # what runs of other entities synced for this one since its previous run (references first)
        previous = ledger.previous_run(run.id)
        via = ledger.reference_writes(company, entity, since=previous.started_at if previous else None,
                                      until=run.started_at)
        if via:
            summed: dict[str, int] = {}
            for writes in via:
                for name, n in writes.counts.items():
                    summed[name] = summed.get(name, 0) + n
                    via_totals[name] = via_totals.get(name, 0) + n
            rows.append((entity, company, VIA, {name: summed.get(name, 0) for name in COLUMNS
                                                if name != "unchanged"}))
            via_lines += _via_text(entity, company, via)
        # what this run synced for other entities
        made_lines += [f"  company {company}: {w.entity}: {_counts_phrase(w.counts)}"
                       for w in ledger.reference_writes(company, run_pk=run.id)]
    totals["via_references"] = via_totals

    parts = [counts_table(rows)]
    if failures:
        parts.append("Did not finish:\n" + "\n".join(f"  {message}" for message in failures.values()))
    if via_lines:
        parts.append(f"Written by other DAGs' runs while they synced the references they need, since the "
                     f"previous {entity} run (not in the counts above):\n" + "\n".join(via_lines))
    if made_lines:
        parts.append("Synced as references of these records (counted in those entities' next reports):\n"
                     + "\n".join(made_lines))
    problems = [p for c in companies for p in ledger.problems(company=c, entity=entity)]
    skipped = [p for c in companies for p in ledger.problems(company=c, entity=entity, statuses=("skipped",))]
    if key_prefix is not None:
        problems = [p for p in problems if p.tadbir_key.startswith(key_prefix)]
        skipped = [p for p in skipped if p.tadbir_key.startswith(key_prefix)]
    parts += [problems_text(problems), skipped_text(skipped)]
    return RunReport("\n\n".join(parts), totals, failures)


def entity_report(ledger: Any, entity: str, companies: list[int], *, run_id: str | None = None,
                  dag_id: str | None = None, key_prefix: str | None = None
                  ) -> tuple[str, dict[str, Any], list[int]]:
    """``run_report`` as (text, totals, the companies that did not finish)."""
    report = run_report(ledger, entity, companies, run_id=run_id, dag_id=dag_id, key_prefix=key_prefix)
    return report.text, report.totals, list(report.failures)
