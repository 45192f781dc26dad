"""What the CRM's SOAP side refuses, and how a load ends: a type code the CRM does not have stops the load
as a configuration error. The document pipeline against the real sandbox over HTTP."""

from __future__ import annotations

import pytest
from document_world import LABEL, PAY_TYPE, add, config_with, crm_records, outcome, sync, update_header

from hamgam.payamgostar.errors import UnknownCrmObjectType
from hamgam.tadbir import schema


@pytest.mark.parametrize("entity", ["quotes", "sales_returns", "receipts"])
def test_a_type_code_the_crm_does_not_have_stops_the_load_naming_it(tadbir, ledger, crm, sandbox, entity):
    for n in (1, 2):
        add(tadbir, entity, n)
    with pytest.raises(UnknownCrmObjectType, match="'no_such_type'") as raised:
        sync(entity, tadbir, ledger, crm, config=config_with(**{entity: {"type_code": "no_such_type"}}))
    assert "check the type_code setting" in str(raised.value)
    assert crm_records(sandbox, entity) == {}
    assert outcome(ledger, entity, 1) is None or outcome(ledger, entity, 1).status != "rejected"


SOAP_DOCUMENTS = ("quotes", "sales_returns", "purchase_returns", "receipts", "payments")
RETURNS = ("sales_returns", "purchase_returns")  # no by-id delete: deleted by the number the CRM holds now
EDIT = {"receipts": {"Amount": 7_000_000}, "payments": {"Amount": 7_000_000}}  # documents: Expense


def _remove_row(tadbir, entity: str, row_id: int) -> None:
    table = schema.pay_receive if entity in PAY_TYPE else schema.sp_factor
    with tadbir.begin() as conn:
        conn.execute(table.delete().where(table.c.Id == row_id, table.c.FPId == 2))


@pytest.mark.parametrize("entity", SOAP_DOCUMENTS)
def test_a_document_the_crm_renumbered_is_edited_and_deleted_by_its_id(tadbir, ledger, crm, sandbox, entity):
    row = add(tadbir, entity, 1)
    sync(entity, tadbir, ledger, crm)
    crm_id = outcome(ledger, entity, 1).crm_id
    sandbox.renumber(crm_id, "CRM-000017" if entity in RETURNS else "")  # the CRM's template rewrites or blanks it

    update_header(tadbir, entity, row, **EDIT.get(entity, {"Expense": 100_000}))
    assert sync(entity, tadbir, ledger, crm)["updated"] == 1
    assert [r["crmId"] for r in sandbox.records(LABEL[entity])] == [crm_id]  # that record, no duplicate

    _remove_row(tadbir, entity, row)
    counts = sync(entity, tadbir, ledger, crm)
    assert counts["deleted"] == 1 and sandbox.records(LABEL[entity]) == []  # removed, not "gone"
    assert outcome(ledger, entity, 1).status == "deleted"


@pytest.mark.parametrize("entity", SOAP_DOCUMENTS)
def test_a_refused_edit_of_a_renumbered_document_never_creates_a_duplicate(tadbir, ledger, crm, sandbox, entity):
    row = add(tadbir, entity, 1)
    sync(entity, tadbir, ledger, crm)
    crm_id = outcome(ledger, entity, 1).crm_id
    sandbox.renumber(crm_id, "CRM-000017")
    update_header(tadbir, entity, row, **EDIT.get(entity, {"Expense": 100_000}))
    sandbox.set_faults(soap_fault_after_commit_rate=1.0)  # a Client fault, after the update was saved

    counts = sync(entity, tadbir, ledger, crm)

    assert counts["rejected"] == 1
    assert [r["crmId"] for r in sandbox.records(LABEL[entity])] == [crm_id]
    assert outcome(ledger, entity, 1).crm_id == crm_id


@pytest.mark.parametrize("entity", RETURNS)
def test_a_return_the_crm_holds_without_a_number_cannot_be_deleted_and_says_so(tadbir, ledger, crm, sandbox, entity):
    row = add(tadbir, entity, 1)
    sync(entity, tadbir, ledger, crm)
    crm_id = outcome(ledger, entity, 1).crm_id
    sandbox.renumber(crm_id, "")
    _remove_row(tadbir, entity, row)

    assert sync(entity, tadbir, ledger, crm)["rejected"] == 1

    assert [r["crmId"] for r in sandbox.records(LABEL[entity])] == [crm_id]
    assert f"holds {crm_id} without a number" in outcome(ledger, entity, 1).last_error
