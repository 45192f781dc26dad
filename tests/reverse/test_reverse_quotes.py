"""payamgostar_to_tadbir__quotes without Airflow: CRM quotes → Tadbir ``__SPFactor__`` (FactorType 4) by the
vendor's quote and numbering rules (vendor-sync-spec.md), over the forward-synced demo world.

Each test saves quotes in the real sandbox (SOAP SaveInvoice), stores the webhook event the CRM would
send and runs the reverse flow's collect → apply; then reads Tadbir, the ledger and the event.
"""

from __future__ import annotations

import sqlite3

import pytest
from reverse_world import CLOSED_PERIOD, CURRENT_PERIOD

MIYY_TEMPLATE = "{companyCode}-{____(MIYY)}/{*(AN)}"


@pytest.fixture(scope="module")
def customer(world) -> str:
    """A CRM-made person of company 100, already in Tadbir."""
    crm_id = world.create_person("100-20301", first="آرش", last="فرهمند")
    assert world.apply_events("customer", crm_id) == {"created": 1}
    return crm_id


def newest_quote_no(world, company: int, period: int = CURRENT_PERIOD) -> int:
    return max(world.quotes(company, period))


def written(world, crm_id: str, company: int = 100) -> dict:
    """The Tadbir quote the reverse flow wrote for a CRM quote (by the forward ledger's record)."""
    keys = [key for key, s in world.ledger().records(company, "quotes").items() if s.crm_id == crm_id]
    assert len(keys) == 1, keys
    year, _, number = keys[0].partition("/")
    period = {1403: CLOSED_PERIOD, 1404: CURRENT_PERIOD}[int(year)]
    return world.quotes(company, period)[int(number)]


def assert_rejected(world, crm_id: str, before: dict, *fragments: str) -> None:
    record = world.crm_record("crm_quotes", crm_id)
    assert record.status == "rejected"
    for fragment in fragments:
        assert fragment in record.last_error, record.last_error
    assert world.event_of(crm_id).status == "failed"
    assert world.digests() == before, "a rejected quote must write nothing to Tadbir"


# -- company and fiscal year from the number ------------------------------------------------------------
def test_the_number_names_the_company_and_the_fiscal_year(world, customer):
    code, state = world.synced_identities(200, "organization")[0]
    in_100 = world.save_quote("100-1404/9301", customer)
    in_200 = world.save_quote("200-1404/9302", state.crm_id, [("200-1002", 5, 300_000)])

    assert world.apply_events("salequote", in_100, in_200) == {"created": 2}

    quote = written(world, in_100, 100)
    assert quote["FPId"] == CURRENT_PERIOD and quote["FactorType"] == 4
    assert quote["CustomerId"] == world.customer(100, "20301")["Id"]
    assert quote["Total"] == 2_000_000
    other = written(world, in_200, 200)
    assert other["FPId"] == CURRENT_PERIOD
    assert other["CustomerId"] == world.customer(200, code)["Id"]
    [line] = world.lines(200, other["Id"])
    assert line["MerchandiseId"] == world.merchandise_id(200, "1002")
    assert (line["Amount"], line["UnitPrice"]) == (5, 300_000)
    for crm_id in (in_100, in_200):
        assert world.crm_record("crm_quotes", crm_id).status == "synced"
        assert world.event_of(crm_id).status == "done"


def test_a_gregorian_year_template_names_the_period_starting_in_that_year(world, customer):
    with world.configured(quotes={"number_template": MIYY_TEMPLATE, "type_code": "quote"}):
        crm_id = world.save_quote("100-2025/7", customer)
        assert world.apply_events("salequote", crm_id) == {"created": 1}
        assert written(world, crm_id)["FPId"] == CURRENT_PERIOD  # 1404 starts on 2025-03-21

        before = world.digests()
        older = world.save_quote("100-2024/8", customer)  # 1403: closed
        assert world.apply_events("salequote", older) == {"rejected": 1}
        assert_rejected(world, older, before, "quote 100-2024/8", "fiscal year 1403", "closed")


def test_an_open_fiscal_years_setting_opens_an_older_year(world):
    # a customer Tadbir has in both years
    code, state = next((code, s) for code, s in world.synced_identities(100, "person")
                       if world.customer(100, code, CLOSED_PERIOD) is not None)
    with world.configured(reverse={"quotes": {"open_fiscal_years": [1403, 1404]}}):
        crm_id = world.save_quote("100-1403/9303", state.crm_id)
        assert world.apply_events("salequote", crm_id) == {"created": 1}
    quote = written(world, crm_id)
    assert quote["FPId"] == CLOSED_PERIOD
    assert quote["CustomerId"] == world.customer(100, code, CLOSED_PERIOD)["Id"]


def test_a_crm_made_customer_can_have_quotes_in_an_older_open_year(world, customer):
    with world.configured(reverse={"quotes": {"open_fiscal_years": [1403, 1404]}}):
        crm_id = world.save_quote("100-1403/9327", customer)
        assert world.apply_events("salequote", crm_id) == {"created": 1}


# -- numbering -----------------------------------------------------------------------------------------
def test_floating_coding_gives_the_next_tadbir_number_of_that_year_and_type(world, customer):
    expected = newest_quote_no(world, 100) + 1
    invoices_before = world.query(100, "SELECT MAX(FactorNo) AS n FROM __SPFactor__ WHERE FPId = ? AND FactorType = 1",
                                  CURRENT_PERIOD)[0]["n"]
    crm_id = world.save_quote("100-1404/9304", customer)
    assert world.apply_events("salequote", crm_id) == {"created": 1}
    assert written(world, crm_id)["FactorNo"] == expected
    assert world.ledger().get(100, "quotes", f"1404/{expected}").crm_number == "100-1404/9304"
    assert world.query(100, "SELECT MAX(FactorNo) AS n FROM __SPFactor__ WHERE FPId = ? AND FactorType = 1",
                       CURRENT_PERIOD)[0]["n"] == invoices_before


def test_without_floating_coding_the_crm_number_is_kept_and_a_taken_one_rejected(world, customer):
    # a Tadbir quote of 1404 that is not in the CRM (the forward flow set it aside as invalid)
    taken = sorted(int(key.partition("/")[2]) for key, s in world.ledger().records(100, "quotes").items()
                   if key.startswith("1404/") and s.status == "invalid")[0]
    assert taken in world.quotes(100)
    with world.configured(reverse={"quotes": {"floating_coding": False}}):
        crm_id = world.save_quote("100-1404/9305", customer)
        assert world.apply_events("salequote", crm_id) == {"created": 1}
        assert written(world, crm_id)["FactorNo"] == 9305

        before = world.digests()
        clash = world.save_quote(f"100-1404/{taken}", customer)
        assert world.apply_events("salequote", clash) == {"rejected": 1}
        assert_rejected(world, clash, before, f"quote 100-1404/{taken}", "already exists")


# -- customer, lines and warehouse ------------------------------------------------------------------------
def test_a_missing_crm_made_customer_is_brought_over_first(world):
    newcomer = world.create_person("100-20302", first="یاسمن", last="توکلی")
    assert world.customer(100, "20302") is None
    crm_id = world.save_quote("100-1404/9306", newcomer)
    assert world.apply_events("salequote", crm_id) == {"created": 1}
    customer = world.customer(100, "20302")
    assert customer is not None and customer["Name"] == "یاسمن توکلی"
    assert written(world, crm_id)["CustomerId"] == customer["Id"]
    assert world.ledger().get(100, "identities", "20302").origin == "crm"


def test_lines_are_written_with_the_default_warehouse(world, customer):
    crm_id = world.save_quote("100-1404/9307", customer, [("100-1001", 1, 100_000), ("100-1003", 4, 25_000)])
    assert world.apply_events("salequote", crm_id) == {"created": 1}
    lines = world.lines(100, written(world, crm_id)["Id"])
    assert [line["MerchandiseId"] for line in lines] == [world.merchandise_id(100, "1001"),
                                                         world.merchandise_id(100, "1003")]
    assert {line["StockRoomId"] for line in lines} == {world.stock_room_id(100, 1)}

    with world.configured(reverse={"quotes": {"default_warehouse_code": 2}}):
        other = world.save_quote("100-1404/9308", customer)
        assert world.apply_events("salequote", other) == {"created": 1}
    assert {line["StockRoomId"] for line in world.lines(100, written(world, other)["Id"])} == {
        world.stock_room_id(100, 2)}


# -- edits, renumbering, deletes --------------------------------------------------------------------------
def test_a_crm_edit_of_a_crm_made_quote_replaces_the_same_tadbir_quote(world, customer):
    crm_id = world.save_quote("100-1404/9309", customer, [("100-1001", 2, 1_000_000)])
    assert world.apply_events("salequote", crm_id) == {"created": 1}
    first = written(world, crm_id)
    old_lines = world.lines(100, first["Id"])
    count = len(world.quotes(100))

    world.save_quote("100-1404/9309", customer, [("100-1002", 3, 400_000), ("100-1004", 1, 50_000)], crm_id=crm_id)
    assert world.apply_events("salequote", crm_id) == {"updated": 1}

    edited = written(world, crm_id)
    assert (edited["Id"], edited["FactorNo"]) == (first["Id"], first["FactorNo"])
    assert len(world.quotes(100)) == count
    assert edited["Total"] == 1_250_000
    lines = world.lines(100, edited["Id"])
    assert [(li["MerchandiseId"], li["Amount"]) for li in lines] == [(world.merchandise_id(100, "1002"), 3),
                                                                      (world.merchandise_id(100, "1004"), 1)]
    assert len(old_lines) == 1
    # the same content again is no edit
    before = world.digests()
    assert world.apply_events("salequote", crm_id) == {"unchanged": 1}
    assert world.digests() == before


def test_an_edit_is_one_transaction(world, customer):
    crm_id = world.save_quote("100-1404/9310", customer, [("100-1001", 2, 1_000_000)])
    assert world.apply_events("salequote", crm_id) == {"created": 1}
    quote = written(world, crm_id)
    lines = world.lines(100, quote["Id"])

    # Tadbir refuses the second new line: the header update and the deleted lines must roll back too
    conn = sqlite3.connect(world.tadbir_path(100))
    with conn:
        conn.execute("CREATE TRIGGER refuse_line BEFORE INSERT ON __SPArticle__ WHEN NEW.Amount = 13 "
                     "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
    try:
        world.save_quote("100-1404/9310", customer, [("100-1002", 1, 10_000), ("100-1003", 13, 10_000)],
                         crm_id=crm_id)
        with pytest.raises(RuntimeError, match="could not be written into Tadbir and stay queued"):
            world.apply_events("salequote", crm_id)  # the run fails (Airflow retries it) after trying all
        assert written(world, crm_id) == quote
        assert world.lines(100, quote["Id"]) == lines
    finally:
        with conn:
            conn.execute("DROP TRIGGER refuse_line")
        conn.close()
    # the event stayed pending: the next run writes the edit
    assert world.event_of(crm_id).status == "pending"
    assert world.reverse("salequote") == {"updated": 1}
    assert [li["Amount"] for li in world.lines(100, quote["Id"])] == [1, 13]


def test_a_changed_number_makes_a_new_quote(world, customer):
    crm_id = world.save_quote("100-1404/9311", customer)
    assert world.apply_events("salequote", crm_id) == {"created": 1}
    first_no = newest_quote_no(world, 100)
    old = world.quotes(100)[first_no]

    world.save_quote("100-1404/9312", customer, crm_id=crm_id)
    assert world.apply_events("salequote", crm_id) == {"created": 1}
    assert world.quotes(100)[first_no] == old, "the old quote stays as it was"
    assert newest_quote_no(world, 100) == first_no + 1
    assert world.ledger().get(100, "quotes", f"1404/{first_no + 1}").crm_number == "100-1404/9312"


def test_a_renumbered_quote_is_not_written_twice_and_takes_later_edits(world, customer):
    crm_id = world.save_quote("100-1404/9313", customer)
    assert world.apply_events("salequote", crm_id) == {"created": 1}
    world.save_quote("100-1404/9314", customer, crm_id=crm_id)
    assert world.apply_events("salequote", crm_id) == {"created": 1}
    count = len(world.quotes(100))

    assert world.apply_events("salequote", crm_id) == {"unchanged": 1}  # the same webhook again
    world.save_quote("100-1404/9314", customer, [("100-1001", 7, 1_000_000)], crm_id=crm_id)
    assert world.apply_events("salequote", crm_id) == {"updated": 1}
    assert len(world.quotes(100)) == count


def test_a_crm_delete_does_not_touch_tadbir(world, customer):
    crm_id = world.save_quote("100-1404/9315", customer)
    assert world.apply_events("salequote", crm_id) == {"created": 1}
    quote = written(world, crm_id)
    before = world.digests()
    world.delete_quote("100-1404/9315")
    assert world.apply_events("salequote", crm_id, event="Delete") == {"skipped": 1}
    assert world.digests() == before
    assert written(world, crm_id) == quote
    assert "no longer in the CRM" in world.event_of(crm_id).message


def test_a_forward_made_quote_coming_back_changes_nothing(world):
    key, state = next((k, s) for k, s in sorted(world.ledger().records(100, "quotes").items())
                      if s.status == "synced" and s.origin == "tadbir" and k.startswith("1404/"))
    before = world.digests()
    assert world.apply_events("salequote", state.crm_id) == {"skipped": 1}  # the webhook of its own write

    # even edited in the CRM: a quote's edits flow only from the side that created it
    with world.client() as client:
        found = client.find_quote_by_id(state.crm_id)
    details = [(d["ProductCode"], int(d["Count"]) + 1, int(d["BaseUnitPrice"])) for d in found["Details"]]
    world.save_quote(state.crm_number, found["IdentityId"], details, crm_id=state.crm_id)
    assert world.apply_events("salequote", state.crm_id) == {"skipped": 1}
    assert world.digests() == before
    assert "created in Tadbir" in world.crm_record("crm_quotes", state.crm_id).last_error


# -- bad input: rejected, named, nothing written ---------------------------------------------------------
@pytest.mark.parametrize("number, lines, fragments", [
    ("Q-9320", None, ["does not fit the numbering template"]),
    ("300-1404/9321", None, ["company 300", "not configured"]),
    ("100-1403/9322", None, ["fiscal year 1403 of company 100 is closed"]),
    ("100-1399/9323", None, ["fiscal year 1399 does not exist"]),
    ("100-1404/9324", [], ["no lines"]),
    ("100-1404/9325", [("100-1001", 1, 1000), ("100-9999", 1, 1000)], ["line 2", "product 100-9999",
                                                                       "not in Tadbir"]),
], ids=["template", "unknown-company", "closed-year", "missing-year", "no-lines", "unknown-product"])
def test_bad_quotes_are_rejected_naming_the_quote_and_nothing_is_written(world, customer, number, lines,
                                                                         fragments):
    ensure_crm_only_product(world)
    before = world.digests()
    crm_id = world.save_quote(number, customer, lines)
    assert world.apply_events("salequote", crm_id) == {"rejected": 1}
    assert_rejected(world, crm_id, before, f"quote {number}:", *fragments)


def test_a_rejected_quote_does_not_bring_its_customer_over(world):
    ensure_crm_only_product(world)
    newcomer = world.create_person("100-20303", first="شهرام", last="باقری")
    before = world.digests()
    crm_id = world.save_quote("100-1404/9326", newcomer, [("100-9999", 1, 1000)])
    assert world.apply_events("salequote", crm_id) == {"rejected": 1}
    assert world.customer(100, "20303") is None
    assert world.digests() == before


def ensure_crm_only_product(world) -> None:
    """A CRM product that Tadbir does not have."""
    with world.client() as client:
        if client.find_product_by_code("100-9999") is None:
            client.save_product({"Code": "100-9999", "Name": "کالای فقط در CRM", "ProductUnitType": "عدد",
                                 "UnitPrice": 1000})


def test_a_quotes_crm_made_customer_with_leading_zeros_is_brought_over_with_them(world):
    newcomer = world.create_person("100-0779", first="فرناز", last="صدری")
    quote = world.save_quote("100-1404/9390", newcomer)
    assert world.apply_events("salequote", quote) == {"created": 1}

    customer = world.customer(100, "0779")
    assert customer is not None and world.customer(100, "779") is None
    assert written(world, quote)["CustomerId"] == customer["Id"]
