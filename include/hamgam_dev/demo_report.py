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
                 records: list[dict], entities: tuple[str, ...], latency_ms: int, reverse: dict | None = None) -> None:
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

    if reverse is not None:
        print_reverse(reverse, ledger, config)

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


def print_reverse(reverse: dict, ledger: Any, config: Any) -> None:
    """Payamgostar → Tadbir: the webhooks, what the reverse DAGs wrote where, and what they declined."""
    import sqlalchemy as sa

    from hamgam.connections import engine_for
    from hamgam.tadbir import schema

    made = reverse["made"]
    hooks = reverse["webhooks"]
    print("\nPayamgostar → Tadbir:")
    print(f"  webhooks the sandbox sent: {hooks.get('sent', 0)} (failed {hooks.get('failed', 0)}); events stored "
          f"by the hamgam web app: {ledger.count_events()} — done {ledger.count_events(status='done')}, "
          f"pending {ledger.count_events(status='pending')}, failed {ledger.count_events(status='failed')}")
    seconds = ", ".join(f"{dag_id} {s:.1f} s" for dag_id, s in reverse["timings"].items())
    print(f"  reverse DAG runs: {seconds}")
    for company in config.companies:
        written = {entity: [s for s in ledger.records(company.code, entity).values() if s.origin == "crm"]
                   for entity in ("identities", "quotes")}
        if not any(written.values()):
            continue
        engine = engine_for(company.tadbir_conn_id, config)
        c, f = schema.customer, schema.sp_factor
        with engine.connect() as conn:
            for state in written["identities"]:
                row = conn.execute(sa.select(c.c.Id, c.c.FPId, c.c.Name, c.c.FAccId).where(
                    c.c.SubscriptionNo == state.tadbir_key).order_by(c.c.FPId.desc())).first()
                print(f"  company {company.code}: customer {state.crm_number} → __Customer__ Id {row.Id} "
                      f"(fiscal period {row.FPId}, detail account {row.FAccId}): {row.Name}")
            for state in written["quotes"]:
                year, _, number = state.tadbir_key.partition("/")
                row = conn.execute(sa.select(f.c.Id, f.c.FPId, f.c.Total).where(
                    f.c.FactorType == 4, f.c.FactorNo == int(number), f.c.FPId.in_(
                        sa.select(schema.fiscal_period.c.Id)))).all()
                print(f"  company {company.code}: quote {state.crm_number} → __SPFactor__ quote {number} of "
                      f"fiscal year {year} (floating coding), total {row[-1].Total if row else '?'} Rial")
    declined = [p for c in config.companies for e in ("crm_identities", "crm_quotes")
                for p in ledger.problems(company=c.code, entity=e, statuses=("rejected", "skipped"))]
    mine = sum(1 for p in declined if p.status == "skipped")
    print(f"  {mine} CRM item(s) were hamgam's own forward writes coming back as webhooks, or owned by Tadbir: "
          "nothing written for them (no echo)")
    for p in [p for p in declined if p.status == "rejected"][:10]:
        print(f"  rejected: {p.last_error}")
    print(f"  CRM user's items: customer {made.customer_number}, quote {made.quote_number}")
