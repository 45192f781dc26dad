"""A Tadbir lacking a column hamgam does not write takes the reverse flow's writes; one that cannot take hamgam's writes is refused when the reverse flow starts applying, naming the table
and the column, before anything is written: the items stay queued for when the site is fixed."""

from __future__ import annotations

import pytest

from hamgam.tadbir.write_errors import TadbirSchemaMismatch
from hamgam.transform.codes import make_national_code


def test_a_tadbir_without_a_column_hamgam_does_not_write_takes_new_customers(world):
    with world.tadbir(200) as conn:
        conn.execute('ALTER TABLE "__Customer__" DROP COLUMN "GroupName"')  # read by no flow, written by none
    with world.configured(reverse={"identities": {"system_of_record": "crm"}}):
        person = world.create_person("200-20602", national_code=make_national_code("005678912"))
        assert world.apply_events("customer", person) == {"created": 1}
        world.update_identity("person", person, description="ویرایش در CRM")
        assert world.apply_events("customer", person) == {"updated": 1}
    assert world.customer(200, "20602")["CDesc"] == "ویرایش در CRM"


def test_a_tadbir_without_a_column_hamgam_writes_is_refused_before_anything_is_written(world):
    with world.tadbir(100) as conn:
        conn.execute('ALTER TABLE "__Customer__" DROP COLUMN "MobileNo"')
    before = world.digests()
    with world.configured(reverse={"identities": {"system_of_record": "crm"}}):
        person = world.create_person("100-20601", national_code=make_national_code("004567891"))
        with pytest.raises(TadbirSchemaMismatch, match="table __Customer__ has no column MobileNo, which hamgam writes"):
            world.apply_events("customer", person)
    assert world.digests() == before
    assert world.event_of(person).status == "pending"
