"""The CRM's live customer balance: what a customer owes (or is owed), read from Tadbir's vouchers at the time
of asking.

The vendor's synchronizer shows the account balance on the CRM's identity, read live from Tadbir
(vendor-sync-spec, "account balance"); hamgam answers ``GET /api/balance/{companyCode}/{customerNumber}``.
The customer is found by its code (the ``AN`` part of the CRM number, ``100-10255`` → ``10255``) in the
company's current fiscal period (as the stock read picks it) or the ``fiscal_year`` asked for; its balance is
the sum of the voucher lines (``__Article__``) of its detail account (``__Customer__.FAccId``) in that period,
debits less credits: positive, the customer owes the company. That reading of ``__Article__`` is hamgam's
assumption (no Tadbir balance query is public): a site names its own table or view and columns in
``companies[].assumed_tables.article``; where they are not there the answer is 503 naming them and the setting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from hamgam.config import HamgamConfig
from hamgam.settings import ArticleTable
from hamgam.tadbir import schema
from hamgam.tadbir.reader import fiscal_periods
from hamgam.tadbir.source_check import MissingSource, find_missing, tables_in
from hamgam.transform.text import normalize_name
from hamgam.webapp.inventory import InventoryError, current_period, today_in_tehran

BALANCE = "balance"  # the reader named in the 503 message


@dataclass(frozen=True)
class Balance:
    company: int
    customer_number: str
    customer_code: str
    name: str
    fiscal_year: int
    debit: int
    credit: int

    def as_json(self) -> dict[str, Any]:
        return {"companyCode": self.company, "customerNumber": self.customer_number,
                "customerCode": self.customer_code, "name": self.name, "fiscalYear": self.fiscal_year,
                "debit": self.debit, "credit": self.credit, "balance": self.debit - self.credit}


def balance_query(period_id: int, detail_account: int, names: ArticleTable) -> sa.Select:
    """Σ debit and Σ credit of detail account ``detail_account`` in period ``period_id``, from the voucher-line
    table as ``names`` calls it."""
    columns = names.columns.model_dump()
    # only the columns read (not named_as's every column): ``hamgam check`` asks a site for no more than these
    t = sa.table(names.table, *(sa.column(theirs, schema.article.c[ours].type) for ours, theirs in columns.items()))

    def q(name: str) -> sa.ColumnClause:
        return t.c[columns[name]]

    return (sa.select(sa.func.coalesce(sa.func.sum(q("Debit")), 0).label("debit"),
                      sa.func.coalesce(sa.func.sum(q("Credit")), 0).label("credit"))
            .where(q("FPId") == period_id, q("FAccId") == detail_account))


def missing_balance_source(engine: sa.Engine, config: HamgamConfig, company: int) -> MissingSource | None:
    """A table or column the balance read needs that company ``company``'s Tadbir lacks, naming the setting."""
    query = balance_query(0, 0, config.company(company).assumed_tables.article)
    return find_missing(engine, tables_in(query), config, company, BALANCE)


def customer_code(config: HamgamConfig, company: int, number: str) -> str:
    """The customer code in CRM number ``number`` (by the identities' numbering template); a number without the
    company part is read as company ``company``'s."""
    from hamgam.entities.identities import settings as identity_settings
    from hamgam.reverse.common import number_parts
    from hamgam.transform.numbering import COMPANY_CODE

    template_text = identity_settings(config).customer_number_template
    parts = number_parts(template_text, number)
    if parts is not None:
        named = parts.pop(COMPANY_CODE, None)
        if named is not None and int(named) != company:
            raise InventoryError(f"customer number {number!r} names company {int(named)}, not {company}", 404)
        code = str(parts.get("AN", "")).strip()
        if code:
            return code
    raise InventoryError(f"customer number {number!r} does not fit the numbering template {template_text!r}", 400)


def customer_balance(config: HamgamConfig, company_code: int, number: str, *,
                     engine_for: Callable[[str], sa.Engine], fiscal_year: int | None = None,
                     today: date | None = None) -> Balance:
    """The balance of the customer with CRM number ``number`` in company ``company_code``; raises InventoryError
    with the HTTP status to answer (400 wrong number, 404 unknown company/customer/year, 502, 503)."""
    from hamgam.reverse.identities import find_customer

    if company_code not in {c.code for c in config.companies}:
        raise InventoryError(f"company {company_code} is not configured "
                             f"(known: {', '.join(str(c.code) for c in config.companies)})", 404)
    company = config.company(company_code)
    code = customer_code(config, company_code, number)
    try:
        engine = engine_for(company.tadbir_conn_id)
        period = current_period(fiscal_periods(engine), today or today_in_tehran(), fiscal_year)
        if period is None:
            which = f"fiscal year {fiscal_year}" if fiscal_year else "any fiscal period"
            raise InventoryError(f"company {company_code}: Tadbir has no {which}", 404)
        # asking again will not help until the settings say where the vouchers are: 503 naming table and setting
        missing = missing_balance_source(engine, config, company_code)
        if missing is not None:
            raise InventoryError(str(missing), 503, missing.as_json())
        customer = find_customer(engine, period.id, code)
        if customer is None:
            raise InventoryError(f"company {company_code}: no customer with code {code} (CRM number {number}) in "
                                 f"fiscal year {period.year}", 404)
        with engine.connect() as conn:
            row = conn.execute(balance_query(period.id, int(customer["FAccId"] or 0),
                                             company.assumed_tables.article)).one()
    except InventoryError:
        raise
    except Exception as exc:
        raise InventoryError(f"company {company_code}: Tadbir could not be read ({type(exc).__name__})", 502) from exc
    return Balance(company_code, number, code, normalize_name(customer.get("Name")), period.year,
                   int(row.debit or 0), int(row.credit or 0))
