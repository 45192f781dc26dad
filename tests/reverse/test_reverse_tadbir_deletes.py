"""A delete in Tadbir is never undone by the reverse flow.

A customer (or quote) the forward flow brought from Tadbir into the CRM and that is then deleted in Tadbir
stays in the CRM until the forward flow's delete reaches it: detection has not run yet, the delete is
still queued, or it failed (the CRM was down). Meanwhile a webhook or the sweep sees the CRM copy; the
reverse flow must not write it back into Tadbir (no ``__Customer__``, ``__DetailAcc__`` or quote rows
come back) and records the event as ignored, saying why.

The module's tests run in order on one world (the sweep first, the forward flow's deletes last).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from reverse_world import CURRENT_PERIOD, EARLIEST

from throwaway_pg import BACKENDS, pg_database

STAGES = ("not_detected", "queued", "delete_failed")  # how far the forward flow's CRM delete has come
_runs = itertools.count(1)
SWEPT: list[tuple[str, str]] = []  # (code, CRM id) of the customers the sweep test deleted in Tadbir
LEDGER_DELETED: list[str] = []  # CRM ids whose forward record says deleted while the CRM copy stays


@pytest.fixture(scope="module")
def tadbir_made(world) -> Iterator[tuple[str, object]]:
    """Forward-synced persons of company 100 that no quote or receipt uses, one per call of next()."""
    used = {r["CustomerId"] for r in world.query(
        100, "SELECT CustomerId FROM __SPFactor__ WHERE FPId = ? UNION SELECT CustomerId FROM __PayReceive__ "
             "WHERE FPId = ?", CURRENT_PERIOD, CURRENT_PERIOD)}
    return iter([(code, state) for code, state in world.synced_identities(100, "person")
                 if (found := customer(world, code)) is not None and found["Id"] not in used])


def customer(world, code: str, company: int = 100) -> dict | None:
    """The current period's customer whose code, normalised (Tadbir may type Persian digits), is ``code``."""
    from hamgam.transform.text import normalize_code

    found = [r for r in world.query(company, "SELECT * FROM __Customer__ WHERE FPId = ?", CURRENT_PERIOD)
             if normalize_code(r["SubscriptionNo"] or "") == code]
    assert len(found) <= 1, found
    return found[0] if found else None


def delete_customer(world, code: str, company: int = 100) -> None:
    """Delete a customer in Tadbir, as a Tadbir user (or the chaos suite) does."""
    row_id = customer(world, code, company)["Id"]
    conn = world.tadbir(company)
    try:
        conn.execute("DELETE FROM __Customer__ WHERE FPId = ? AND Id = ?", (CURRENT_PERIOD, row_id))
        conn.commit()
    finally:
        conn.close()


def delete_quote(world, key: str, company: int = 100) -> None:
    year, _, number = key.partition("/")
    assert int(year) == 1404
    conn = world.tadbir(company)
    try:
        [(sp_id,)] = conn.execute("SELECT Id FROM __SPFactor__ WHERE FPId = ? AND FactorType = 4 AND FactorNo = ?",
                                  (CURRENT_PERIOD, int(number))).fetchall()
        for table in ("__SPArticle__", "__SPTax__"):
            conn.execute(f"DELETE FROM {table} WHERE FPId = ? AND SPId = ?", (CURRENT_PERIOD, sp_id))  # noqa: S608
        conn.execute("DELETE FROM __SPFactor__ WHERE FPId = ? AND Id = ?", (CURRENT_PERIOD, sp_id))
        conn.commit()
    finally:
        conn.close()


def forward_until(world, entity: str, stage: str, company: int = 100, capture: str | None = None) -> None:
    """Run the forward flow of ``entity`` as far as ``stage``: not at all, detect only, or detect and a load
    whose CRM calls all fail (the CRM is down). ``capture``: detect with this change capture."""
    from hamgam import tasks

    if stage == "not_detected":
        return
    run_id = f"fwd-delete-{next(_runs)}"
    if capture is None:
        detected = tasks.detect(entity, company, run_id=run_id)
    else:
        with world.configured(sync={"change_capture": capture}):
            detected = tasks.detect(entity, company, run_id=run_id)
    if stage == "queued":
        return
    world.sandbox.set_faults(error_rate=1.0)
    try:
        with pytest.raises(Exception):  # noqa: B017 - whatever the outage looks like, the load does not finish
            tasks.load(entity, detected, dag_id="fwd", run_id=run_id)
    finally:
        world.sandbox.clear_faults()


def delete_is_queued(world, entity: str, key: str, company: int = 100) -> bool:
    return any(p.tadbir_key == key and p.action == "delete" for p in world.ledger().pending(company, entity, 10_000))


def table_sizes(world, company: int = 100) -> dict[str, int]:
    return {t: world.query(company, f"SELECT COUNT(*) AS n FROM {t}")[0]["n"]  # noqa: S608
            for t in ("__Customer__", "__DetailAcc__", "__SPFactor__", "__SPArticle__")}


def assert_ignored(world, crm_id: str, *fragments: str) -> None:
    event = world.event_of(crm_id)
    assert event.status == "ignored", (event.status, event.message)
    for fragment in fragments:
        assert fragment in event.message, event.message
    entity = "crm_quotes" if fragments and fragments[0].startswith("quote") else "crm_identities"
    record = world.crm_record(entity, crm_id)
    assert record.status == "skipped" and fragments[0] in record.last_error


# -- identities ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["per_record", "crm"])
def test_a_sweep_does_not_bring_back_a_customer_deleted_in_tadbir(world, tadbir_made, mode):
    code, state = next(tadbir_made)
    delete_customer(world, code)
    forward_until(world, "identities", "queued")
    assert world.crm_identity(f"100-{code}")["crmId"] == state.crm_id  # the CRM copy is still there
    before, sizes = world.digests(), table_sizes(world)

    with world.configured(reverse={"identities": {"system_of_record": mode}}):
        world.ledger().set_cursor(0, "sweep:customer", "modified_since", EARLIEST)
        counts = world.reverse("customer", sweep=True, run_id=f"sweep-{mode}")

    assert counts.get("ignored") == len(SWEPT) + 1, counts  # this one and those before it (still queued)
    assert counts.get("created", 0) == counts.get("updated", 0) == 0, counts
    assert world.digests() == before and table_sizes(world) == sizes
    assert customer(world, code) is None
    record = world.crm_record("crm_identities", state.crm_id)
    assert record.status == "skipped"
    assert f"customer 100-{code} was deleted in Tadbir" in record.last_error
    # the forward flow's own record is untouched: its delete stays queued
    assert delete_is_queued(world, "identities", code)
    assert world.ledger().get(100, "identities", code).status == "synced"
    SWEPT.append((code, state.crm_id))


@pytest.mark.parametrize("mode", ["per_record", "crm", "tadbir"])
@pytest.mark.parametrize("stage", STAGES)
def test_a_webhook_does_not_bring_back_a_customer_deleted_in_tadbir(world, tadbir_made, stage, mode):
    code, state = next(tadbir_made)
    delete_customer(world, code)
    forward_until(world, "identities", stage)
    assert world.crm_identity(f"100-{code}")["crmId"] == state.crm_id
    # a CRM user even edits the CRM copy meanwhile
    world.update_identity("person", state.crm_id, description="ویرایش پس از حذف در تدبیر")
    before, sizes = world.digests(), table_sizes(world)

    with world.configured(reverse={"identities": {"system_of_record": mode}}):
        assert world.apply_events("customer", state.crm_id) == {"ignored": 1}

    assert world.digests() == before and table_sizes(world) == sizes, "the Tadbir delete was undone"
    assert customer(world, code) is None
    assert_ignored(world, state.crm_id, f"customer 100-{code} was deleted in Tadbir",
                   "its CRM copy is being removed, not brought back")
    known = world.ledger().get(100, "identities", code)
    assert known.origin == "tadbir" and known.status == ("failed" if stage == "delete_failed" else "synced")
    assert delete_is_queued(world, "identities", code) == (stage != "not_detected")


def test_a_ledger_that_says_deleted_keeps_the_crm_copy_out_of_tadbir(world, tadbir_made):
    """The forward ledger says deleted (the CRM answered the delete as done) yet the CRM still shows it."""
    code, state = next(tadbir_made)
    delete_customer(world, code)
    world.ledger().record_outcome(100, "identities", code, status="deleted", crm_id=state.crm_id)
    before = world.digests()
    with world.configured(reverse={"identities": {"system_of_record": "crm"}}):
        assert world.apply_events("customer", state.crm_id) == {"ignored": 1}
    assert world.digests() == before and customer(world, code) is None
    assert_ignored(world, state.crm_id, f"customer 100-{code} was deleted in Tadbir")
    LEDGER_DELETED.append(state.crm_id)


@pytest.mark.parametrize(("stage", "capture"), [("not_detected", "checksum"), ("queued", "checksum"),
                                                ("queued", "scan")])
def test_a_crm_made_customer_deleted_in_tadbir_is_not_brought_back(world, stage, capture):
    removed_no, kept_no = {("not_detected", "checksum"): ("20501", "20502"), ("queued", "checksum"): ("20503", "20504"),
                           ("queued", "scan"): ("20505", "20506")}[stage, capture]
    removed = world.create_person(f"100-{removed_no}", first="کیان", last="رستمی")
    kept = world.create_person(f"100-{kept_no}", first="آیدا", last="فاضلی")
    assert world.apply_events("customer", removed, kept) == {"created": 2}
    delete_customer(world, removed_no)
    # checksum: a row the reverse flow wrote and Tadbir deleted before any detect leaves the range's checksum
    # as stored; the reverse write placed the key in its range, so the delete is found all the same
    forward_until(world, "identities", stage, capture=capture)
    assert delete_is_queued(world, "identities", removed_no) == (stage == "queued")
    world.update_identity("person", removed, description="ویرایش در CRM")
    world.update_identity("person", kept, description="ویرایش در CRM")
    before = world.digests()

    assert world.apply_events("customer", removed) == {"ignored": 1}
    assert world.digests() == before and customer(world, removed_no) is None
    assert_ignored(world, removed, f"customer 100-{removed_no} was deleted in Tadbir")
    # the legitimate case still works: a CRM-made customer, still in Tadbir, takes its CRM edits
    assert world.apply_events("customer", kept) == {"updated": 1}
    assert customer(world, kept_no)["CDesc"] == "ویرایش در CRM"


# -- quotes -----------------------------------------------------------------------------------------------
def tadbir_made_quotes(world) -> list[tuple[str, object]]:
    return sorted((key, s) for key, s in world.ledger().records(100, "quotes").items()
                  if key.startswith("1404/") and s.origin == "tadbir" and s.status == "synced" and s.crm_id)


@pytest.mark.parametrize("stage", STAGES)
def test_a_quote_deleted_in_tadbir_is_not_brought_back(world, stage):
    key, state = tadbir_made_quotes(world)[STAGES.index(stage)]
    delete_quote(world, key)
    forward_until(world, "quotes", stage)
    before, sizes = world.digests(), table_sizes(world)
    with world.configured(reverse={"identities": {"system_of_record": "crm"}}):
        assert world.apply_events("salequote", state.crm_id) == {"ignored": 1}
    assert world.digests() == before and table_sizes(world) == sizes
    assert int(key.partition("/")[2]) not in world.quotes(100)
    assert_ignored(world, state.crm_id, f"quote {state.crm_number} was deleted in Tadbir",
                   "its CRM copy is being removed, not brought back")


def test_a_crm_quote_does_not_bring_back_its_customer_deleted_in_tadbir(world, tadbir_made):
    code, state = next(tadbir_made)
    delete_customer(world, code)
    quote = world.save_quote("100-1404/9501", state.crm_id)
    before, sizes = world.digests(), table_sizes(world)
    for mode in ("per_record", "crm"):
        with world.configured(reverse={"identities": {"system_of_record": mode}}):
            assert world.apply_events("salequote", quote) == {"rejected": 1}
    assert world.digests() == before and table_sizes(world) == sizes
    assert customer(world, code) is None
    record = world.crm_record("crm_quotes", quote)
    assert record.status == "rejected"
    assert "quote 100-1404/9501" in record.last_error
    assert f"customer 100-{code} was deleted in Tadbir" in record.last_error


@pytest.mark.parametrize("stage", ["not_detected", "queued"])
def test_a_crm_made_quote_deleted_in_tadbir_is_not_brought_back_by_its_next_edit(world, stage):
    number, customer_number = {"not_detected": ("100-1404/9502", "100-20511"),
                               "queued": ("100-1404/9503", "100-20512")}[stage]
    person = world.create_person(customer_number, first="نیما", last="ثابتی")
    quote = world.save_quote(number, person)
    assert world.apply_events("salequote", quote) == {"created": 1}
    [key] = [k for k, s in world.ledger().records(100, "quotes").items() if s.crm_id == quote]
    delete_quote(world, key)
    forward_until(world, "quotes", stage)
    world.save_quote(number, person, [("100-1002", 4, 90_000)], crm_id=quote)  # edited in the CRM
    before, sizes = world.digests(), table_sizes(world)
    assert world.apply_events("salequote", quote) == {"ignored": 1}
    assert world.digests() == before and table_sizes(world) == sizes
    assert_ignored(world, quote, f"quote {number} was deleted in Tadbir")


# -- and once the forward flow's delete went through -------------------------------------------------------
def test_once_the_crm_copies_are_deleted_nothing_comes_back_either(world):
    world.forward(("identities", "quotes"), run_id="fwd-deletes-done")
    ledger = world.ledger()
    assert SWEPT and LEDGER_DELETED
    for code, _ in SWEPT:
        assert ledger.get(100, "identities", code).status == "deleted"
        assert not delete_is_queued(world, "identities", code)
    before = world.digests()
    world.ledger().set_cursor(0, "sweep:customer", "modified_since", EARLIEST)
    counts = world.reverse("customer", sweep=True, run_id="sweep-after")
    assert counts.get("created", 0) == counts.get("updated", 0) == 0, counts
    assert counts.get("ignored", 0) == len(LEDGER_DELETED), counts  # those CRM copies were never removed
    for code, crm_id in SWEPT:
        assert world.apply_events("customer", crm_id) == {"skipped": 1}
        assert "no longer in the CRM" in world.event_of(crm_id).message
        assert customer(world, code) is None
    assert world.digests() == before


# -- the rule itself, on both ledger databases ----------------------------------------------------------
@pytest.fixture(params=BACKENDS)
def any_ledger(request, tmp_path) -> Iterator[object]:
    """A fresh ledger on SQLite, or on a new PostgreSQL database (dropped afterwards)."""
    from hamgam.ledger import Ledger

    if request.param == "sqlite":
        with Ledger.connect(f"sqlite:///{tmp_path / 'ledger.sqlite'}") as ledger:
            yield ledger
        return
    with pg_database("hamgam_reverse_test") as url, Ledger.connect(url) as ledger:
        yield ledger


def test_the_deletion_rule_reads_the_forward_ledger_and_queue(any_ledger):
    from hamgam.reverse.common import deleted_in_tadbir

    ledger = any_ledger

    def gone(key: str, *, present: bool, crm_id: str = "crm-1") -> bool:
        return deleted_in_tadbir(ledger, 100, "identities", ledger.get(100, "identities", key), crm_id=crm_id,
                                 in_tadbir=lambda: present)

    assert not gone("unknown", present=False)  # never synced: a CRM creation
    ledger.record_outcome(100, "identities", "1", status="synced", crm_id="crm-1", origin="tadbir")
    assert not gone("1", present=True)
    assert gone("1", present=False)  # missing from Tadbir: deleted before the forward flow looked
    ledger.queue_changes(100, "identities", [("1", "upsert", "h")], run_id="r")
    assert not gone("1", present=True)
    ledger.queue_changes(100, "identities", [("1", "delete", None)], run_id="r")
    assert gone("1", present=True)  # the forward flow is removing the CRM copy (out of scope in Tadbir)

    ledger.record_outcome(100, "identities", "2", status="synced", crm_id="crm-2", origin="crm")
    ledger.record_outcome(100, "identities", "2", status="deleted", crm_id="crm-2", origin="crm")
    assert gone("2", present=False, crm_id="crm-2")  # the very CRM copy the forward flow deleted
    assert not gone("2", present=False, crm_id="crm-new")  # a new CRM identity reusing the number
    ledger.record_outcome(100, "identities", "3", status="deleted", crm_id="crm-3", origin="tadbir")
    assert gone("3", present=True, crm_id="crm-new")  # the number of a customer deleted in Tadbir
