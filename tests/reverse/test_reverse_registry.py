"""The reverse flows' registry: one spec per webhook source the ledger and the web app accept."""

from __future__ import annotations

from hamgam.dagbuilder import REVERSE_DAGS
from hamgam.ledger.models import EVENT_SOURCES
from hamgam.reverse.specs import REVERSE_SPECS


def test_every_webhook_source_has_its_spec_and_dag():
    assert set(REVERSE_SPECS) == set(EVENT_SOURCES)
    assert REVERSE_DAGS == {"customer": "payamgostar_to_tadbir__identities",
                            "salequote": "payamgostar_to_tadbir__quotes"}  # the DAG ids DESIGN.md fixes
    assert {spec.crm_entity for spec in REVERSE_SPECS.values()} == {"crm_identities", "crm_quotes"}
