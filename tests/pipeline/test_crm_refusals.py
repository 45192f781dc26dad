"""What the CRM's SOAP side refuses, and how a load ends: a type code the CRM does not have stops the load
as a configuration error. The document pipeline against the real sandbox over HTTP."""

from __future__ import annotations

import pytest
from document_world import add, config_with, crm_records, outcome, sync

from hamgam.payamgostar.errors import UnknownCrmObjectType


@pytest.mark.parametrize("entity", ["quotes", "sales_returns", "receipts"])
def test_a_type_code_the_crm_does_not_have_stops_the_load_naming_it(tadbir, ledger, crm, sandbox, entity):
    for n in (1, 2):
        add(tadbir, entity, n)
    with pytest.raises(UnknownCrmObjectType, match="'no_such_type'") as raised:
        sync(entity, tadbir, ledger, crm, config=config_with(**{entity: {"type_code": "no_such_type"}}))
    assert "check the type_code setting" in str(raised.value)
    assert crm_records(sandbox, entity) == {}
    assert outcome(ledger, entity, 1) is None or outcome(ledger, entity, 1).status != "rejected"
