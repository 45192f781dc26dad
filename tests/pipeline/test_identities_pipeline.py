"""The generic pipeline with the identities spec, without Airflow: a hand-made Tadbir database,
the real sandbox over HTTP and a SQLite ledger. Each test states one rule of the sync."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest
import sqlalchemy as sa

from hamgam import pipeline
from hamgam.config import parse_config
from hamgam.entities import SPECS
from hamgam.entities.base import SyncContext
from hamgam.ledger import LeaseBusy, Ledger
from hamgam.tadbir import schema
from hamgam.transform.codes import make_national_code, make_national_id

SPEC = SPECS["identities"]
PERSON_CODE = make_national_code("001234567")
ORG_ID = make_national_id("1010123456")
SETTINGS = """
companies: [{code: 100, tadbir_conn_id: tadbir_default, default: true}]
identities: {kind_policy: %s, category_key: zone0}
sync: {chunk_size: 50, min_batch_for_bad_share: 5, max_bad_share: 0.5}
"""


@pytest.fixture
def tadbir(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'tadbir.sqlite'}")
    schema.create_all(engine)
    with engine.begin() as conn:
        conn.execute(schema.fiscal_period.insert(), [
            {"Id": 1, "FPNo": 1403, "Name": "1403", "StartDate": datetime(2024, 3, 20),
             "EndDate": datetime(2025, 3, 20, 23, 59, 59)},
            {"Id": 2, "FPNo": 1404, "Name": "1404", "StartDate": datetime(2025, 3, 21),
             "EndDate": datetime(2026, 3, 20, 23, 59, 59)},
        ])
    yield engine
    engine.dispose()


@pytest.fixture
def ledger(tmp_path):
    with Ledger.connect(f"sqlite:///{tmp_path / 'ledger.sqlite'}") as opened:
        yield opened


def add_customer(engine, row_id: int, code: str, name: str, *, period: int = 2, **columns) -> None:
    with engine.begin() as conn:
        conn.execute(schema.customer.insert().values(Id=row_id, FPId=period, SubscriptionNo=code, Name=name,
                                                     **columns))


def update_customer(engine, row_id: int, period: int = 2, **columns) -> None:
    with engine.begin() as conn:
        conn.execute(schema.customer.update().where(schema.customer.c.Id == row_id,
                                                    schema.customer.c.FPId == period).values(**columns))


def sync(tadbir, ledger, crm, policy: str = "by_register_code", *, settings: str = "", **detect_options) -> dict:
    config = parse_config(SETTINGS % policy + settings)
    ctx = SyncContext(config, config.company(100))
    detected = pipeline.detect(SPEC, ctx, engine=tadbir, ledger=ledger, run_id="r", **detect_options)
    loaded = pipeline.load(SPEC, ctx, engine=tadbir, ledger=ledger, client=crm, run_id="r")
    return {**detected, **loaded}


def crm_records(sandbox) -> dict[str, dict]:
    return {r["customerNumber"]: r for r in sandbox.records("person", "organization")}


def test_person_or_organization_follows_the_register_code(tadbir, ledger, crm, sandbox):
    add_customer(tadbir, 1, "501", "علی احمدی", RegisterCode=PERSON_CODE)
    add_customer(tadbir, 2, "502", "شرکت نمونه", RegisterCode=ORG_ID)
    add_customer(tadbir, 3, "503", "فروشگاه بی‌کد")
    assert sync(tadbir, ledger, crm)["created"] == 3
    records = crm_records(sandbox)
    assert records["100-501"]["kind"] == "person" and records["100-501"]["nationalCode"] == PERSON_CODE
    assert records["100-501"]["lastName"] == "علی احمدی"
    assert records["100-502"]["kind"] == "organization" and records["100-502"]["nationalCode"] == ORG_ID
    assert records["100-503"]["kind"] == "organization"


def test_the_organization_policy_makes_every_customer_an_organization(tadbir, ledger, crm, sandbox):
    add_customer(tadbir, 1, "501", "علی احمدی", RegisterCode=PERSON_CODE)
    sync(tadbir, ledger, crm, policy="organization")
    assert crm_records(sandbox)["100-501"]["kind"] == "organization"


def test_an_identity_already_in_the_crm_is_adopted_not_created_twice(tadbir, ledger, crm, sandbox):
    existing = crm.create_identity("organization", {"crmObjectTypeCode": "organization", "nickName": "قدیمی",
                                                    "customerNumber": "100-601"})
    sandbox.reset_stats()
    add_customer(tadbir, 1, "601", "شرکت پارس")
    counts = sync(tadbir, ledger, crm)
    assert counts["created"] == 0 and counts["updated"] == 1
    assert sandbox.stats()["calls"].get("organization/create", 0) == 0
    assert crm_records(sandbox)["100-601"]["nickName"] == "شرکت پارس"
    assert ledger.get(100, "identities", "601").crm_id == existing


@pytest.mark.parametrize("adoption", ["first_load", "always"])
def test_after_the_first_load_a_new_customer_is_created_without_a_look_unless_adoption_is_always(
        tadbir, ledger, crm, sandbox, adoption):
    """The first load looks for every customer's number (and adopts what the CRM holds); once it has emptied
    the queue, a new customer costs one create. A customer whose number a CRM user typed in by hand meanwhile
    is adopted either way: the CRM refuses the second number and the refusal is looked up (first_load), or
    the look comes first (``sync.adoption: always``)."""
    settings = f"\nsync: {{chunk_size: 50, adoption: {adoption}}}"
    add_customer(tadbir, 1, "601", "شرکت پارس")
    sync(tadbir, ledger, crm, settings=settings)
    assert sandbox.stats()["calls"].get("organization/find", 0) == 1  # the first load looked
    assert ledger.get_cursor(100, "identities", "adopted") == "done"
    add_customer(tadbir, 2, "602", "شرکت تازه")
    sandbox.reset_stats()
    assert sync(tadbir, ledger, crm, settings=settings)["created"] == 1
    calls = {name: n for name, n in sandbox.stats()["calls"].items() if name != "auth/login"}
    assert calls == ({"organization/create": 1} if adoption == "first_load" else
                     {"organization/find": 1, "person/find": 1, "organization/create": 1})

    typed = crm.create_identity("organization", {"crmObjectTypeCode": "organization", "nickName": "دستی",
                                                 "customerNumber": "100-603"})
    add_customer(tadbir, 3, "603", "شرکت سوم")
    counts = sync(tadbir, ledger, crm, settings=settings)
    assert (counts["created"], counts["updated"], counts["rejected"]) == (0, 1, 0)
    holders = [r for r in sandbox.records("person", "organization") if r["customerNumber"] == "100-603"]
    assert [(r["crmId"], r["nickName"]) for r in holders] == [(typed, "شرکت سوم")]


def test_a_kind_change_in_tadbir_is_not_applied_to_the_crm(tadbir, ledger, crm, sandbox):
    add_customer(tadbir, 1, "701", "علی احمدی", RegisterCode=PERSON_CODE)
    sync(tadbir, ledger, crm)
    update_customer(tadbir, 1, RegisterCode=ORG_ID, Name="علی احمدی و شرکا")
    sandbox.reset_stats()
    assert sync(tadbir, ledger, crm)["updated"] == 1
    calls = sandbox.stats()["calls"]
    assert calls.get("person/update") == 1
    assert "organization/update" not in calls and "organization/create" not in calls
    assert crm_records(sandbox)["100-701"]["kind"] == "person"


def test_an_identity_deleted_in_the_crm_comes_back_when_tadbir_edits_it(tadbir, ledger, crm, sandbox):
    add_customer(tadbir, 1, "801", "شرکت البرز")
    sync(tadbir, ledger, crm)
    crm.delete_identity("organization", ledger.get(100, "identities", "801").crm_id)
    update_customer(tadbir, 1, Address="کرج، میدان آزادی")
    assert sync(tadbir, ledger, crm)["created"] == 1
    assert crm_records(sandbox)["100-801"]["addressContacts"][0]["address"] == "کرج، میدان آزادی"


def test_older_fiscal_periods_are_history_and_the_current_one_decides(tadbir, ledger, crm, sandbox):
    add_customer(tadbir, 1, "901", "نام قدیمی", period=1)
    add_customer(tadbir, 1, "901", "نام جدید", period=2)
    add_customer(tadbir, 2, "902", "فقط در ۱۴۰۳", period=1)
    counts = sync(tadbir, ledger, crm)
    assert counts["created"] == 1
    assert set(crm_records(sandbox)) == {"100-901"}
    assert crm_records(sandbox)["100-901"]["nickName"] == "نام جدید"


def test_a_mostly_bad_batch_fails_and_loads_nothing(tadbir, ledger, crm, sandbox):
    for i in range(1, 9):
        add_customer(tadbir, i, str(1000 + i), "")  # no name
    for i in range(9, 12):
        add_customer(tadbir, i, str(1000 + i), f"شرکت {i}")
    config = parse_config(SETTINGS % "by_register_code")
    ctx = SyncContext(config, config.company(100))
    pipeline.detect(SPEC, ctx, engine=tadbir, ledger=ledger, run_id="r")
    with pytest.raises(pipeline.MostlyInvalid, match=r"8 of 11 records .* name is empty ×8"):
        pipeline.load(SPEC, ctx, engine=tadbir, ledger=ledger, client=crm, run_id="r")
    assert sandbox.stats().get("writes", 0) == 0
    assert ledger.counts_by_status(100, "identities") == {"invalid": 8}
    assert ledger.pending_count(100, "identities") == 3  # the good rows wait for a fix


def test_a_second_load_waits_for_the_lease_of_the_first(tadbir, ledger, crm):
    add_customer(tadbir, 1, "1101", "شرکت یک")
    config = parse_config(SETTINGS % "by_register_code")
    ctx = SyncContext(config, config.company(100))
    pipeline.detect(SPEC, ctx, engine=tadbir, ledger=ledger, run_id="first")
    assert ledger.acquire_lease(100, "identities", "first", 60)
    with pytest.raises(LeaseBusy):
        pipeline.load(SPEC, ctx, engine=tadbir, ledger=ledger, client=crm, run_id="second")
    assert ledger.pending_count(100, "identities") == 1
    with pytest.raises(LeaseBusy):  # nor may another run replace the queue the first one is working
        pipeline.detect(SPEC, ctx, engine=tadbir, ledger=ledger, run_id="second", full_resync=True)


def test_full_resync_sends_everything_again_without_creating(tadbir, ledger, crm, sandbox):
    add_customer(tadbir, 1, "1201", "شرکت یک")
    add_customer(tadbir, 2, "1202", "شرکت دو")
    sync(tadbir, ledger, crm)
    assert sync(tadbir, ledger, crm)["queued"] == 0
    counts = sync(tadbir, ledger, crm, full_resync=True)
    assert (counts["created"], counts["updated"]) == (0, 2)


def test_national_codes_and_phones_never_reach_the_logs(tadbir, ledger, crm, caplog):
    bad_code = PERSON_CODE[:-1] + str((int(PERSON_CODE[-1]) + 1) % 10)
    add_customer(tadbir, 1, "1301", "علی احمدی", RegisterCode=bad_code, PhoneNo="09121234567")
    add_customer(tadbir, 2, "1302", "مریم کریمی", RegisterCode=PERSON_CODE, MobileNo="09357654321")
    with caplog.at_level(logging.DEBUG):
        sync(tadbir, ledger, crm)
    text = caplog.text + " ".join(str(p.error_details) for p in ledger.problems())
    for secret in (bad_code, PERSON_CODE, "09121234567", "09357654321"):
        assert secret not in text
    assert "fails its checksum" in ledger.get(100, "identities", "1301").last_error


def test_an_empty_tadbir_does_not_empty_the_crm(tadbir, ledger, crm, sandbox):
    for i in range(1, 13):
        add_customer(tadbir, i, str(1400 + i), f"شرکت {i}")
    sync(tadbir, ledger, crm)
    with tadbir.begin() as conn:  # e.g. the connection now points at a database without this period's data
        conn.execute(schema.customer.delete())
    with pytest.raises(pipeline.MassDeleteRefused, match="12 of 12 synced customers are missing"):
        sync(tadbir, ledger, crm)
    assert len(sandbox.records()) == 12
    assert sync(tadbir, ledger, crm, allow_mass_delete=True)["deleted"] == 12
    assert sandbox.records() == []


# -- field lengths (settings ``limits``; the vendor states none) ------------------------------------

def test_a_name_or_address_longer_than_the_crm_takes_is_invalid_naming_the_field(tadbir, ledger, crm, sandbox):
    add_customer(tadbir, 1, "1501", "ش" * 10_000)
    add_customer(tadbir, 2, "1502", "شرکت دو", Address="خیابان " * 1_000)  # 6,999 once trimmed
    add_customer(tadbir, 3, "1503", "شرکت سه", Address="تهران، خیابان آزادی", City="تهران")
    counts = sync(tadbir, ledger, crm)
    assert (counts["created"], counts["invalid"]) == (1, 2)
    assert set(crm_records(sandbox)) == {"100-1503"}
    assert ledger.get(100, "identities", "1501").last_error == (
        "customer 1501 (Id 1): a field is longer than the CRM takes (Name: 10000 characters, at most 250)")
    assert ledger.get(100, "identities", "1502").last_error == (
        "customer 1502 (Id 2): a field is longer than the CRM takes (Address: 6999 characters, at most 500)")


def test_a_long_national_id_is_named_by_its_field_never_shown(tadbir, ledger, crm, sandbox, caplog):
    code = "1234567890" * 6
    add_customer(tadbir, 1, "1601", "شرکت یک", RegisterCode=code)
    with caplog.at_level(logging.DEBUG):
        sync(tadbir, ledger, crm)
    state = ledger.get(100, "identities", "1601")
    assert state.status == "invalid"
    assert "RegisterCode: 60 characters, at most 50" in state.last_error
    assert code not in caplog.text + state.last_error + " ".join(str(p.error_details) for p in ledger.problems())


def test_a_long_description_is_truncated_and_marked_and_sent_once(tadbir, ledger, crm, sandbox):
    text = "مشتری قدیمی " * 500  # 6,000 characters
    add_customer(tadbir, 1, "1701", "شرکت یک", CDesc=text)
    assert sync(tadbir, ledger, crm)["created"] == 1
    sent = crm_records(sandbox)["100-1701"]["description"]
    assert len(sent) <= 1000 and sent.endswith(" …[truncated]")
    assert text.startswith(sent.removesuffix(" …[truncated]"))
    sandbox.reset_stats()
    assert sync(tadbir, ledger, crm)["queued"] == 0
    assert sandbox.stats().get("writes", 0) == 0


def test_the_limits_are_settings_and_a_changed_limit_looks_at_every_record_again(tadbir, ledger, crm, sandbox):
    add_customer(tadbir, 1, "1801", "ش" * 300)
    add_customer(tadbir, 2, "1802", "شرکت دو", CDesc="توضیح " * 20)
    assert sync(tadbir, ledger, crm)["invalid"] == 1
    counts = sync(tadbir, ledger, crm, settings="limits: {name: 400, free_text: 60}\n")
    assert (counts["queued"], counts["created"], counts["updated"]) == (2, 1, 1)
    records = crm_records(sandbox)
    assert records["100-1801"]["nickName"] == "ش" * 300
    assert len(records["100-1802"]["description"]) <= 60
    assert records["100-1802"]["description"].endswith(" …[truncated]")
