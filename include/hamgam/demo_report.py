"""The demo's closing summary: counts per company and entity, problems with reasons, CRM samples."""

from __future__ import annotations

import logging
from typing import Any

from hamgam.config import load_config
from hamgam.summary import COLUMNS, counts_table, problems_text, skipped_text
from hamgam.transform.codes import mask


def _runs_by_order(ledger: Any, entity: str, company: int) -> list[Any]:
    return [r for r in reversed(ledger.runs(limit=1000)) if r.entity == entity and r.company == company]


def _sample(record: dict[str, Any]) -> str:
    phones = ", ".join(mask(p.get("phoneNumber", ""), keep=4) for p in record.get("phoneContacts") or [])
    kind = record.get("kind") or record.get("crmObjectTypeCode")
    name = record.get("nickName") or record.get("lastName") or ""
    return (f"  {record.get('customerNumber', ''):<12} {kind:<13} {name}  "
            f"national code {mask(record.get('nationalCode') or '', keep=2) or '-'}  phones [{phones}]")


def print_report(*, built: dict, timings: dict[str, float], first: dict, second: dict,
                 records: list[dict], entities: tuple[str, ...], latency_ms: int) -> None:
    from hamgam.tasks import open_ledger

    logging.getLogger("alembic").setLevel(logging.WARNING)  # the ledger's migration check is not news here
    config = load_config()
    ledger = open_ledger(config)
    companies = [c.code for c in config.companies]
    print("\n" + "=" * 100)
    print("hamgam demo summary")
    print("=" * 100)
    for label, index in (("First run (demo data into an empty CRM)", 0), ("Second run (no change in Tadbir)", 1)):
        rows = []
        for entity in entities:
            for company in companies:
                runs = _runs_by_order(ledger, entity, company)
                if len(runs) > index:
                    run = runs[index]
                    rows.append((entity, company, run.state, {c: getattr(run, c) for c in COLUMNS}))
        print(f"\n{label}:")
        print(counts_table(rows))
    print(f"\nCRM calls, first run:  {first.get('calls', {})}  (writes: {first.get('writes', 0)})")
    print(f"CRM calls, second run: {second.get('calls', {})}  (writes: {second.get('writes', 0)})")

    print("\nRejected and invalid rows, with their reasons:")
    problems = [p for company in companies for entity in entities
                for p in ledger.problems(company=company, entity=entity)]
    print(problems_text(problems, limit=100))
    skipped = [p for company in companies for entity in entities
               for p in ledger.problems(company=company, entity=entity, statuses=("skipped",))]
    print("\n" + skipped_text(skipped, limit=60) + "\n")
    kinds: dict[str, int] = {}
    for record in records:
        kinds[record.get("kind") or "?"] = kinds.get(record.get("kind") or "?", 0) + 1
    print(f"\nThe CRM now holds {len(records)} records: {kinds}. A few identities:")
    for record in [r for r in records if r.get("kind") in ("person", "organization")][:4]:
        print(_sample(record))

    print("\nThroughput of the first run:")
    for entity in entities:
        firsts = [runs[0] for company in companies if (runs := _runs_by_order(ledger, entity, company))]
        synced = sum(r.created + r.updated + r.deleted for r in firsts)
        load_seconds = sum((r.finished_at - r.started_at).total_seconds() for r in firsts if r.finished_at)
        dag_seconds = timings.get(entity, 0.0)
        print(f"  {entity:<15} {synced:>4} records; load tasks {load_seconds:5.1f} s = "
              f"{synced / load_seconds if load_seconds else 0:4.0f} records/s; whole DAG run (dag.test) "
              f"{dag_seconds:5.1f} s = {synced / dag_seconds if dag_seconds else 0:4.1f} records/s")
    print(f"  (sandbox latency {latency_ms} ms per CRM call; the first DAG run also pays Airflow's start-up)")
    print("\nDemo Tadbir data (rows per fiscal period included):")
    for code, company in built["companies"].items():
        dirt = {case: len(ids) for case, ids in company["dirty_customer_ids"].items()}
        print(f"  company {code}: {company['counts']['__Customer__']} customer rows in "
              f"{company['counts']['__FiscalPeriod__']} fiscal periods; deliberate dirt: {dirt}")
        cases: dict[str, int] = {}
        for case in company.get("document_cases", []):
            cases[case["case"]] = cases.get(case["case"], 0) + 1
        print(f"    {company['counts']['__SPFactor__']} documents and {company['counts']['__PayReceive__']} "
              f"receipts/payments; deliberate cases: {cases}")
    print("=" * 100)
