"""No echo, both ways: what the forward flow wrote into the CRM is not written back into Tadbir by the reverse
flow (in every system-of-record mode), and what the reverse flow wrote into Tadbir is not sent back to the
CRM by the forward flow (zero CRM writes, as the sandbox counts them).

The module's tests run in order on one world: first the sweeps over the whole forward-synced CRM, then
reverse writes of every kind, then the forward flow over them.
"""

from __future__ import annotations

import pytest
from reverse_world import EARLIEST

from hamgam.transform.codes import make_national_code, make_national_id

MODES = ("crm", "tadbir", "per_record")


def sweep_everything(world, source: str) -> dict[str, int]:
    """A reverse run over every CRM item of ``source`` (the sweep, with its cursor before everything)."""
    world.ledger().set_cursor(0, f"sweep:{source}", "modified_since", EARLIEST)
    return world.reverse(source, sweep=True, run_id=f"sweep-{source}")


@pytest.mark.parametrize("mode", MODES)
def test_a_sweep_over_every_forward_synced_identity_writes_nothing(world, mode):
    synced = sum(len(world.synced_identities(c, k)) for c in (100, 200) for k in ("person", "organization"))
    assert synced > 150
    before = world.digests()
    with world.configured(reverse={"identities": {"system_of_record": mode}}):
        counts = sweep_everything(world, "customer")
    assert world.digests() == before, f"the reverse flow wrote the forward flow's identities back ({mode})"
    assert sum(counts.values()) == synced
    # crm: every identity is compared with Tadbir and found equal; otherwise the rules skip them
    assert counts == ({"unchanged": synced} if mode == "crm" else {"skipped": synced})


@pytest.mark.parametrize("mode", MODES)
def test_a_sweep_over_every_forward_synced_quote_writes_nothing(world, mode):
    synced = sum(s.status == "synced" for c in (100, 200) for s in world.ledger().records(c, "quotes").values())
    before = world.digests()
    with world.configured(reverse={"identities": {"system_of_record": mode}}):
        counts = sweep_everything(world, "salequote")
    assert world.digests() == before
    assert counts == {"skipped": synced}


def test_what_the_reverse_flow_wrote_is_not_sent_back_to_the_crm(world):
    with world.configured(reverse={"identities": {"system_of_record": "crm"}}):
        person = world.create_person("100-20401", national_code=make_national_code("002345678"))
        organization = world.create_organization("200-20402", "شرکت نوآوران", national_id=make_national_id("1044455566"))
        bare = world.create_person("20403", first="امید", last="رحمانی")  # the default company
        _, tadbir_made = world.synced_identities(100, "person")[0]
        world.update_identity("person", tadbir_made.crm_id, description="ویرایش در CRM",
                              phoneContacts=[{"phoneType": "موبایل", "phoneNumber": "09127778899", "default": True}])
        assert world.apply_events("customer", person, organization, bare, tadbir_made.crm_id) == {
            "created": 3, "updated": 1}

        quote = world.save_quote("100-1404/9401", person, [("100-1001", 2, 1_000_000), ("100-1005", 1, 70_000)])
        newcomer = world.create_person("200-20404", first="ترانه", last="ملکی")  # brought over by its quote
        other = world.save_quote("200-1404/9402", newcomer, [("200-1003", 3, 12_000)])
        assert world.apply_events("salequote", quote, other) == {"created": 2}
        world.save_quote("100-1404/9401", person, [("100-1002", 6, 80_000)], crm_id=quote)
        assert world.apply_events("salequote", quote) == {"updated": 1}

    world.sandbox.reset_stats()
    counts = world.forward(("identities", "products", "quotes"))
    assert world.writes() == 0, world.sandbox.stats()
    assert counts.get("created", 0) == counts.get("updated", 0) == counts.get("deleted", 0) == 0

    # and the reverse flow, hearing of it all again, writes nothing more
    before = world.digests()
    with world.configured(reverse={"identities": {"system_of_record": "crm"}}):
        assert world.apply_events("customer", person, organization, bare, tadbir_made.crm_id, newcomer) == {
            "unchanged": 5}
        assert world.apply_events("salequote", quote, other) == {"unchanged": 2}
    assert world.digests() == before
