"""payamgostar_to_tadbir__identities without Airflow: CRM identities → Tadbir customers by the vendor's
identity rules (vendor-sync-spec.md), over the forward-synced demo world and the real sandbox.

Each test stores the webhook event the CRM would send and runs the reverse flow's own collect → apply
(``run.collect(sweep=False)`` / ``run.apply``), then reads Tadbir, the ledger and the event.
"""

from __future__ import annotations

import pytest
from reverse_world import CURRENT_PERIOD

from hamgam.transform.codes import make_national_code, make_national_id

PERSON_CODE = make_national_code("001354241")
ORG_ID = make_national_id("1032165498")


def bad_checksum(code: str) -> str:
    return code[:-1] + str((int(code[-1]) + 1) % 10)


def detail_account(world, company: int, customer: dict) -> dict:
    rows = world.query(company, "SELECT * FROM __DetailAcc__ WHERE FPId = ? AND Id = ?", CURRENT_PERIOD,
                       customer["FAccId"])
    assert len(rows) == 1
    return rows[0]


def assert_rejected(world, crm_id: str, before: dict, *fragments: str) -> str:
    record = world.crm_record("crm_identities", crm_id)
    assert record.status == "rejected"
    for fragment in fragments:
        assert fragment in record.last_error
    assert world.event_of(crm_id).status == "failed"
    assert world.digests() == before, "a rejected identity must write nothing to Tadbir"
    return record.last_error


# -- routing by customer number ----------------------------------------------------------------------
def test_the_customer_number_routes_the_identity_to_its_company(world):
    person = world.create_person("100-20101", national_code=PERSON_CODE)
    organization = world.create_organization("200-20102", "شرکت پارس نوین", national_id=ORG_ID)

    assert world.apply_events("customer", person, organization) == {"created": 2}

    created = world.customer(100, "20101")
    assert created is not None and world.customer(200, "20101") is None
    assert created["Name"] == "سارا کریمی" and created["RegisterCode"] == PERSON_CODE
    assert created["MobileNo"] == "09121234567"
    org = world.customer(200, "20102")
    assert org is not None and world.customer(100, "20102") is None
    assert org["Name"] == "شرکت پارس نوین" and org["RegisterCode"] == ORG_ID
    assert world.crm_record("crm_identities", person).status == "synced"
    assert world.event_of(person).status == "done"
    # the forward ledger knows them as made in the CRM, with their CRM ids
    ledger = world.ledger()
    assert ledger.get(100, "identities", "20101").origin == "crm"
    assert ledger.get(100, "identities", "20101").crm_id == person
    assert ledger.get(200, "identities", "20102").crm_id == organization


def test_a_number_without_a_company_code_goes_to_the_default_company(world):
    person = world.create_person("20103", first="مینا", last="صادقی")
    assert world.apply_events("customer", person) == {"created": 1}
    assert world.customer(100, "20103")["Name"] == "مینا صادقی"  # company 100 is the default
    assert world.customer(200, "20103") is None


def test_an_unknown_company_is_rejected_naming_it(world):
    before = world.digests()
    person = world.create_person("300-5", first="رضا", last="نوری")
    assert world.apply_events("customer", person) == {"rejected": 1}
    error = assert_rejected(world, person, before, "identity 300-5", "company 300")
    assert "not configured" in error


@pytest.mark.parametrize("number, fragment", [
    (None, "customer number is empty"),
    ("ABC-12", "does not fit the numbering template"),
    ("100-", "does not fit the numbering template"),
])
def test_a_missing_or_malformed_customer_number_is_rejected(world, number, fragment):
    before = world.digests()
    person = world.create_person(number, first="نادر", last="امینی")
    assert world.apply_events("customer", person) == {"rejected": 1}
    error = assert_rejected(world, person, before, fragment)
    assert f"identity {number or person}" in error  # names the item: its number, else its CRM id


def test_a_person_whose_national_code_fails_its_checksum_is_rejected(world):
    before = world.digests()
    person = world.create_person("100-20104", national_code=bad_checksum(PERSON_CODE))
    assert world.apply_events("customer", person) == {"rejected": 1}
    assert_rejected(world, person, before, "identity 100-20104", "national code fails its checksum")
    assert world.customer(100, "20104") is None


# -- where the new customer is filed -------------------------------------------------------------------
def test_a_new_customer_is_filed_under_the_configured_detail_account_chain(world):
    siblings = world.query(100, "SELECT T2 FROM __DetailAcc__ WHERE FPId = ? AND AccLevel = 5 AND T1 = '1'",
                           CURRENT_PERIOD)
    highest = max(int(r["T2"]) for r in siblings if r["T2"].isdigit())
    person = world.create_person("100-20105", first="لیلا", last="مرادی")
    assert world.apply_events("customer", person) == {"created": 1}  # default chain: ["1"]
    customer = world.customer(100, "20105")
    account = detail_account(world, 100, customer)
    assert (account["AccLevel"], account["T1"], int(account["T2"]), account["T3"]) == (5, "1", highest + 1, "")
    assert account["Name"] == "لیلا مرادی"
    assert customer["AccId"] == "1103"  # the configured receivables account

    with world.configured(reverse={"identities": {"detail_account_chain": ["1", "9"]}}):
        other = world.create_person("100-20106", first="کاوه", last="یزدانی")
        assert world.apply_events("customer", other) == {"created": 1}
    account = detail_account(world, 100, world.customer(100, "20106"))
    assert (account["AccLevel"], account["T1"], account["T2"], account["T3"]) == (6, "1", "9", "1")


def test_a_new_detail_account_code_keeps_the_width_of_its_siblings(world):
    person = world.create_person("100-20107", first="ژاله", last="کامرانی")
    assert world.apply_events("customer", person) == {"created": 1}
    account = detail_account(world, 100, world.customer(100, "20107"))
    widths = {len(r["T2"]) for r in world.query(
        100, "SELECT T2 FROM __DetailAcc__ WHERE FPId = ? AND AccLevel = 5 AND T1 = '1' AND Id <> ?",
        CURRENT_PERIOD, account["Id"]) if r["T2"].isdigit()}
    assert widths == {5} and len(account["T2"]) == 5


# -- system of record ------------------------------------------------------------------------------
def test_crm_as_system_of_record_carries_crm_edits_of_a_tadbir_made_customer(world):
    code, state = world.synced_identities(100, "person")[0]
    before = world.customer(100, code)
    with world.configured(reverse={"identities": {"system_of_record": "crm"}}):
        world.update_identity("person", state.crm_id, description="مشتری ویژه از CRM")
        assert world.apply_events("customer", state.crm_id) == {"updated": 1}
        after = world.customer(100, code)
        assert after["CDesc"] == "مشتری ویژه از CRM"
        assert after["Id"] == before["Id"] and after["Name"] == before["Name"]
        assert world.crm_record("crm_identities", state.crm_id).status == "synced"
        # a second run with nothing new changes nothing
        unchanged = world.digests()
        assert world.apply_events("customer", state.crm_id) == {"unchanged": 1}
        assert world.digests() == unchanged


def test_tadbir_as_system_of_record_writes_nothing_and_says_why(world):
    code, state = world.synced_identities(100, "person")[1]
    with world.configured(reverse={"identities": {"system_of_record": "tadbir"}}):
        before = world.digests()
        world.update_identity("person", state.crm_id, description="ویرایش در CRM")
        newcomer = world.create_person("100-20111", first="بهرام", last="شریفی")
        assert world.apply_events("customer", state.crm_id, newcomer) == {"skipped": 2}
        assert world.digests() == before
        assert world.customer(100, "20111") is None
        for crm_id in (state.crm_id, newcomer):
            record = world.crm_record("crm_identities", crm_id)
            assert record.status == "skipped"
            assert "Tadbir is the system of record" in record.last_error
            assert world.event_of(crm_id).status == "done"


def test_per_record_crm_made_customers_take_crm_edits(world):
    person = world.create_person("100-20112", first="پریا", last="حسینی")
    assert world.apply_events("customer", person) == {"created": 1}
    world.update_identity("person", person, description="ویرایش دوم", phoneContacts=[
        {"phoneType": "موبایل", "phoneNumber": "09350001122", "default": True}])
    assert world.apply_events("customer", person) == {"updated": 1}
    customer = world.customer(100, "20112")
    assert customer["CDesc"] == "ویرایش دوم" and customer["MobileNo"] == "09350001122"


def test_per_record_tadbir_made_customers_keep_their_tadbir_values(world):
    code, state = world.synced_identities(100, "person")[2]
    before = world.digests()
    world.update_identity("person", state.crm_id, description="نباید به تدبیر برسد")
    assert world.apply_events("customer", state.crm_id) == {"skipped": 1}
    assert world.digests() == before
    record = world.crm_record("crm_identities", state.crm_id)
    assert record.status == "skipped" and "created in Tadbir" in record.last_error


def test_per_record_the_reference_property_can_hand_a_tadbir_made_customer_to_the_crm(world):
    code, state = world.synced_identities(100, "organization")[0]
    world.update_identity("organization", state.crm_id, description="مرجع: CRM",
                          extendedProperties=[{"userKey": "CustomerReference", "value": "crm"}])
    assert world.apply_events("customer", state.crm_id) == {"updated": 1}
    assert world.customer(100, code)["CDesc"] == "مرجع: CRM"


@pytest.mark.parametrize("origin", ["crm", "tadbir"])
def test_per_record_allow_update_false_blocks_the_edit(world, origin):
    if origin == "crm":
        crm_id = world.create_person("100-20113", first="سیما", last="جعفری")
        assert world.apply_events("customer", crm_id) == {"created": 1}
        code, reference = "20113", []
    else:  # handed to the CRM by its reference, yet updates are not allowed
        code, state = world.synced_identities(100, "person")[3]
        crm_id, reference = state.crm_id, [{"userKey": "CustomerReference", "value": "crm"}]
    before = world.digests()
    world.update_identity("person", crm_id, description="قفل شده",
                          extendedProperties=[*reference, {"userKey": "AllowUpdate", "value": "false"}])
    assert world.apply_events("customer", crm_id) == {"skipped": 1}
    assert world.digests() == before
    assert "does not allow updates" in world.crm_record("crm_identities", crm_id).last_error


def test_per_record_an_identity_whose_reference_is_tadbir_is_not_created(world):
    person = world.create_person("100-20114", extendedProperties=[{"userKey": "CustomerReference",
                                                                   "value": "tadbir"}])
    before = world.digests()
    assert world.apply_events("customer", person) == {"skipped": 1}
    assert world.digests() == before and world.customer(100, "20114") is None


# -- kind change and delete ------------------------------------------------------------------------------
def test_a_person_to_organization_change_in_the_crm_reaches_the_register_code(world):
    person = world.create_person("100-20115", first="حمید", last="کاظمی", national_code=PERSON_CODE)
    assert world.apply_events("customer", person) == {"created": 1}
    before = world.customer(100, "20115")
    assert before["RegisterCode"] == PERSON_CODE

    # the CRM changes the kind by replacing the person with an organization of the same customer number
    with world.client() as client:
        client.delete_identity("person", person)
    organization = world.create_organization("100-20115", "شرکت کاظمی و شرکا", national_id=ORG_ID)
    world.event("customer", organization, "Insert", subtype="مخاطب حقوقی")
    assert world.reverse("customer") == {"updated": 1}

    after = world.customer(100, "20115")
    assert after["Id"] == before["Id"], "the same Tadbir customer, not a second one"
    assert after["RegisterCode"] == ORG_ID and after["Name"] == "شرکت کاظمی و شرکا"
    assert world.ledger().get(100, "identities", "20115").crm_kind == "organization"
    # and the forward flow does not send it back
    world.sandbox.reset_stats()
    world.forward(("identities",))
    assert world.writes() == 0


@pytest.mark.parametrize("origin", ["crm", "tadbir"])
def test_deleting_in_the_crm_never_touches_tadbir(world, origin):
    if origin == "crm":
        crm_id = world.create_person("100-20116", first="نرگس", last="اکبری")
        assert world.apply_events("customer", crm_id) == {"created": 1}
        code = "20116"
    else:
        code, state = world.synced_identities(100, "person")[4]
        crm_id = state.crm_id
    before = world.digests()
    with world.client() as client:
        client.delete_identity("person", crm_id)
    for sor in ("crm", "per_record"):
        with world.configured(reverse={"identities": {"system_of_record": sor}}):
            assert world.apply_events("customer", crm_id, event="Delete") == {"skipped": 1}
    assert world.digests() == before
    assert world.customer(100, code) is not None
    assert world.event_of(crm_id).status == "done"
    assert "no longer in the CRM" in world.event_of(crm_id).message


# -- customer codes are text: leading zeros survive the way back ------------------------------------------
def add_tadbir_customer(world, company: int, code: str, name: str, national_code: str) -> int:
    """A customer made in Tadbir (with its detail account), as a Tadbir user would make it."""
    import sqlalchemy as sa

    from hamgam.tadbir.writer import TadbirWriter

    engine = sa.create_engine(f"sqlite:///{world.tadbir_path(company)}")
    try:
        return TadbirWriter(engine).insert_customer(CURRENT_PERIOD, {
            "SubscriptionNo": code, "Name": name, "RegisterCode": national_code, "MobileNo": "09125550777",
            "Type": 1, "LRes": 1}, detail_chain=["1"], receivables_account="1103")
    finally:
        engine.dispose()


@pytest.mark.parametrize("mode", ["crm", "per_record"])
def test_the_webhook_of_a_forward_written_customer_with_leading_zeros_changes_nothing(world, mode):
    code = {"crm": "0777", "per_record": "0787"}[mode]
    add_tadbir_customer(world, 100, code, f"مشتری {code}", make_national_code(f"00{code}123"[:9]))
    world.forward(("identities",))
    state = world.ledger().get(100, "identities", code)
    assert state is not None and state.status == "synced" and state.crm_number == f"100-{code}"
    assert world.crm_identity(f"100-{code}")["crmId"] == state.crm_id

    before = world.digests()
    with world.configured(reverse={"identities": {"system_of_record": mode}}):
        counts = world.apply_events("customer", state.crm_id)
    assert counts == ({"unchanged": 1} if mode == "crm" else {"skipped": 1})
    assert world.digests() == before, "the CRM's webhook for hamgam's own write changed Tadbir"
    assert world.customer(100, code.lstrip("0")) is None, "a second Tadbir customer without the leading zero"
    assert world.ledger().get(100, "identities", code.lstrip("0")) is None


def test_a_crm_made_customer_number_with_leading_zeros_keeps_them_in_tadbir(world):
    person = world.create_person("100-0778", first="زهره", last="نیکنام")
    assert world.apply_events("customer", person) == {"created": 1}

    customer = world.customer(100, "0778")
    assert customer is not None and customer["Name"] == "زهره نیکنام"
    assert world.customer(100, "778") is None
    state = world.ledger().get(100, "identities", "0778")
    assert (state.crm_id, state.crm_number, state.origin) == (person, "100-0778", "crm")
    # the forward flow finds it in step: no CRM write, no second identity 100-778
    world.sandbox.reset_stats()
    world.forward(("identities",))
    assert world.writes() == 0
    assert world.crm_identity("100-0778")["crmId"] == person
