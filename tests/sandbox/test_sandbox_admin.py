"""The /_sandbox admin surface: health, records, reset and the readable HTML page."""

import requests
from sandbox_helpers import person


def test_health(pg):
    # instance: the nonce run_sandbox started it with (how it knows the answer is its own sandbox's)
    assert requests.get(f"{pg.base_url}/_sandbox/health", timeout=5).json() == {"status": "ok",
                                                                              "instance": pg.instance}


def test_records_lists_live_identities_with_their_kind(pg, api):
    kept = api.create("person", person())
    gone = api.create("person", person())
    api.post("crmobject/person/delete", {"id": gone})

    records = {r["crmId"]: r for r in pg.records()}

    assert records[kept]["kind"] == "person"
    assert gone not in records


def test_html_page_lists_a_persian_name_in_utf8(pg, api):
    api.create("person", person(firstName="زهرا", lastName="کریمی‌نژاد", nationalCode="0087654321",
                                phoneContacts=[{"phoneType": "موبایل", "phoneNumber": "09127654321", "default": True}]))
    api.create("person", person(lastName="<script>alert(1)</script>"))

    response = requests.get(f"{pg.base_url}/_sandbox/", timeout=5)

    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    html = response.content.decode("utf-8")
    assert 'dir="rtl"' in html and '<meta charset="utf-8">' in html
    assert "زهرا کریمی‌نژاد" in html and "0087654321" in html and "09127654321" in html
    assert "<script>alert" not in html and "&lt;script&gt;" in html


def test_reset_wipes_records(pg, api):
    api.create("person", person())
    pg.reset()
    assert pg.records() == []
