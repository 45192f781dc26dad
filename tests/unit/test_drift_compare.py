"""hamgam.drift.compare: the keys that differ each way, by fiscal year, and which of them the ledger explains."""

from __future__ import annotations

from hamgam.drift import QUEUED, TadbirRecord, compare, unexplained_text
from hamgam.drift_crm import CrmRecord
from hamgam.entities import SPECS
from hamgam.ledger.store import RecordState

INVOICES = SPECS["sales_invoices"]


def synced(key: str, number: str) -> RecordState:
    return RecordState(key, f"crm-{key}", number, "h", "synced", 1, None)


def test_each_way_of_differing_is_named_and_only_what_the_ledger_explains_is_explained():
    tadbir = {k: TadbirRecord(k, f"100-{k}", int(k[:4]), amount) for k, amount in
              [("1403/1", 100), ("1403/2", 200), ("1404/1", 300), ("1404/2", 400), ("1404/3", 500)]}
    states = {
        "1403/1": synced("1403/1", "100-1403/1"),
        "1403/2": synced("1403/2", "100-1403/2"),  # deleted by hand in the CRM
        "1404/1": synced("1404/1", "100-1404/1"),  # its amount differs in the CRM
        "1404/2": RecordState("1404/2", None, None, "h", "invalid", 1, "sales_invoice 100-1404/2: totals differ"),
        "1403/9": synced("1403/9", "100-1403/9"),  # gone from Tadbir, still in the CRM
    }
    crm = {"1403/1": CrmRecord("100-1403/1", "crm-1403/1", 100), "1404/1": CrmRecord("100-1404/1", "c", 999),
           "1403/9": CrmRecord("100-1403/9", "crm-1403/9", 50)}
    rows = {r["fiscal_year"]: r for r in compare(INVOICES, 100, tadbir, states, {"1404/3"}, crm)}

    assert set(rows) == {1403, 1404}
    y3, y4 = rows[1403], rows[1404]
    assert (y3["tadbir"], y3["ledger"], y3["crm"]) == (
        {"count": 2, "amount": 300}, {"count": 3, "amount": 300}, {"count": 2, "amount": 150})
    assert [d["key"] for d in y3["differences"]["missing_in_crm"]] == ["1403/2"]
    assert [d["key"] for d in y3["differences"]["extra_in_crm"]] == ["1403/9"]
    assert [d["key"] for d in y3["differences"]["extra_in_ledger"]] == ["1403/9"]
    assert y3["unexplained"] == ["1403/2", "1403/9"]

    [amount] = y4["differences"]["amount_differs"]
    assert (amount["key"], amount["tadbir"], amount["crm"], amount["explained"]) == ("1404/1", 300, 999, None)
    missing = {d["key"]: d["explained"] for d in y4["differences"]["missing_in_crm"]}
    assert missing == {"1404/2": "invalid: sales_invoice 100-1404/2: totals differ", "1404/3": QUEUED}
    assert y4["unexplained"] == ["1404/1"]

    text = unexplained_text(list(rows.values()))
    assert "company 100 sales_invoices fiscal year 1403: missing in crm: 100-1403/2 (key 1403/2)" in text
    assert "fiscal year 1404: amount differs: 100-1404/1 (key 1404/1)" in text


def test_master_data_is_one_row_without_amounts():
    identities = SPECS["identities"]
    tadbir = {"10255": TadbirRecord("10255", "100-10255", None, None)}
    rows = compare(identities, 100, tadbir, {"10255": synced("10255", "100-10255")}, set(),
                   {"10255": CrmRecord("100-10255", "x", None)})
    assert [(r["fiscal_year"], r["tadbir"], r["crm"], r["unexplained"]) for r in rows] == [
        (None, {"count": 1, "amount": None}, {"count": 1, "amount": None}, [])]
