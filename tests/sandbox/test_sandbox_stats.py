"""Call counters at /_sandbox/stats."""

from sandbox_helpers import login, person


def test_counters_by_verb_and_writes(pg, api):
    pg.reset_stats()

    login(pg.base_url)
    crm_id = api.create("person", person())
    api.create("person", person())
    api.post("crmobject/person/create", {"lastName": "x"})  # 400: nothing written
    api.get("person", crm_id)
    api.ok("crmobject/person/update", {"crmId": crm_id, "firstName": "حسن"})
    api.post("crmobject/person/delete", {"id": crm_id})
    api.post("crmobject/person/get", {"id": crm_id})  # 404
    api.ok("crmobject/identity/search", {"pageNumber": 0, "pageSize": 1})

    stats = pg.stats()

    assert stats["calls"] == {"auth/login": 1, "person/create": 3, "person/get": 2, "person/update": 1,
                              "person/delete": 1, "identity/search": 1}
    assert stats["writes"] == 4
    assert stats["statuses"] == {"200": 7, "400": 1, "404": 1}
    assert stats["faults"] == {}


def test_reset_stats(pg, api):
    api.post("crmobject/person/find", {})
    assert pg.reset_stats() == {"calls": {}, "writes": 0, "faults": {}, "statuses": {},
                                "webhooks": {"sent": 0, "failed": 0, "dropped": 0, "retries": 0, "pending": 0}}
