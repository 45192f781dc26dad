"""What the CRM's SOAP side refuses, and how a load ends: a type code the CRM does not have, refused
credentials or a missing permission stop the load; a document the CRM renumbered is still edited and deleted
by its id. The document pipeline against the real sandbox over HTTP."""

from __future__ import annotations

import pytest
from document_world import (
    LABEL,
    PAY_TYPE,
    add,
    config_with,
    crm_records,
    number,
    outcome,
    sync,
    update_header,
)

from hamgam.payamgostar.client import PayamgostarClient
from hamgam.payamgostar.errors import AuthError, UnknownCrmObjectType
from hamgam.pipeline import SyncIncomplete
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


# -- credentials and permissions -------------------------------------------------------------------

DELETE_BY_ID = {"quotes": "IInvoice/DeleteInvoiceById", "receipts": "IPayment/DeletePaymentById"}


def _client(sandbox, password: str, **options) -> PayamgostarClient:
    return PayamgostarClient(sandbox.base_url, sandbox.username, password, max_attempts=2, sleep=lambda s: None,
                             **options)


@pytest.mark.parametrize("entity", tuple(DELETE_BY_ID))
def test_a_wrong_password_answered_as_success_false_stops_the_load(tadbir, ledger, crm, sandbox, entity):
    """Only the probe can tell: no message pattern, no subtype resolution in the way."""
    kept = add(tadbir, entity, 1)
    sync(entity, tadbir, ledger, crm)
    add(tadbir, entity, 2)
    _remove_row(tadbir, entity, kept)
    sandbox.set_faults(soap_refusal="result")

    with _client(sandbox, "wrong", access_refusals=(), resolve_type_ids=False) as refused:
        with pytest.raises(AuthError, match="refuses to list its CRM object types"):
            sync(entity, tadbir, ledger, refused)

    assert outcome(ledger, entity, 1).status == "synced"  # not recorded as deleted, nor "gone"
    assert outcome(ledger, entity, 2) is None or outcome(ledger, entity, 2).status not in ("rejected", "synced")
    assert list(crm_records(sandbox, entity)) == [number(entity, 1)]


@pytest.mark.parametrize("entity", tuple(DELETE_BY_ID))
def test_a_delete_the_user_may_not_make_stops_the_load_not_gone(tadbir, ledger, crm, sandbox, entity):
    row = add(tadbir, entity, 1)
    sync(entity, tadbir, ledger, crm)
    _remove_row(tadbir, entity, row)
    sandbox.set_faults(soap_refusal="result", soap_denied_operations=[DELETE_BY_ID[entity]])

    with _client(sandbox, sandbox.password) as client, pytest.raises(AuthError, match="Access denied"):
        sync(entity, tadbir, ledger, client)

    assert outcome(ledger, entity, 1).status == "synced"
    assert list(crm_records(sandbox, entity)) == [number(entity, 1)]


def test_a_user_who_may_do_nothing_is_told_by_the_probe(tadbir, ledger, crm, sandbox):
    add(tadbir, "quotes", 1)
    sync("quotes", tadbir, ledger, crm)  # customers and products are in the CRM
    add(tadbir, "quotes", 2)
    sandbox.set_faults(soap_refusal="result", soap_denied_operations=["*"])

    with _client(sandbox, sandbox.password, access_refusals=("no such wording",), resolve_type_ids=False) as client:
        with pytest.raises(AuthError, match="wrong credentials or a missing permission"):
            sync("quotes", tadbir, ledger, client)
    assert outcome(ledger, "quotes", 2) is None or outcome(ledger, "quotes", 2).status != "rejected"


# -- a record the CRM's service breaks on --------------------------------------------------------------

@pytest.mark.parametrize("entity", ["quotes", "receipts"])
def test_a_record_the_crm_keeps_failing_on_is_rejected_with_its_message_and_the_others_go_on(tadbir, ledger, crm,
                                                                                             sandbox, entity):
    for n in (1, 2):
        add(tadbir, entity, n)
    sandbox.set_faults(soap_fault_numbers=[number(entity, 1)])

    counts = sync(entity, tadbir, ledger, crm)

    assert (counts["rejected"], counts["created"], counts.get("failed", 0)) == (1, 1, 0)
    state = outcome(ledger, entity, 1)
    assert state.status == "rejected"
    assert state.last_error.startswith(f"{LABEL[entity]} {number(entity, 1)}: ")
    assert "unable to process the request due to an internal error" in state.last_error
    assert list(crm_records(sandbox, entity)) == [number(entity, 2)]
    sandbox.reset_stats()
    assert sync(entity, tadbir, ledger, crm)["queued"] == 0  # set aside: not sent again every run
    assert sandbox.stats()["writes"] == 0


def test_while_the_whole_crm_fails_nothing_is_rejected(tadbir, ledger, crm, sandbox):
    add(tadbir, "quotes", 1)
    sync("quotes", tadbir, ledger, crm)  # customers and products are in the CRM
    add(tadbir, "quotes", 2)
    sandbox.set_faults(error_rate=1.0)  # every call: an InternalServiceFault

    with pytest.raises(SyncIncomplete, match="stay queued"):
        sync("quotes", tadbir, ledger, crm)

    assert outcome(ledger, "quotes", 2).status == "failed"  # retried next run, not set aside
