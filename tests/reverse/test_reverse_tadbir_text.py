"""The reverse flow writing into a Tadbir whose text is stored the legacy way (Saman digits, Arabic kaf and
yeh: ``reverse.tadbir_text: legacy``, what ``auto`` does for SQL Server VARCHAR columns): the customer is
written as the desktop client stores it, and neither direction sees a change to send back."""

from __future__ import annotations

from hamgam.transform.codes import make_national_code

LEGACY = {"reverse": {"identities": {"system_of_record": "crm"}, "tadbir_text": "legacy"}}


def test_a_customer_written_the_legacy_way_is_stored_as_tadbir_stores_text_and_never_echoes(world):
    with world.configured(**LEGACY):
        person = world.create_person("100-20501", first="کیوان", last="یکتا",
                                     national_code=make_national_code("003456789"))
        assert world.apply_events("customer", person) == {"created": 1}
        stored = world.query(100, "SELECT * FROM __Customer__ WHERE FPId = 2 AND SubscriptionNo = ?", "‚¹…¹±")  # 20501
        assert len(stored) == 1 and stored[0]["Name"] == "كيوان يكتا"
        assert stored[0]["MobileNo"] == "¹‰±‚±‚ƒ„…†‡"  # 09121234567 in Saman digits

        world.sandbox.reset_stats()
        world.forward(("identities",))
        assert world.writes() == 0, world.sandbox.stats()
        assert world.apply_events("customer", person) == {"unchanged": 1}
