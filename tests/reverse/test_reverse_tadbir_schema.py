"""A Tadbir that cannot take hamgam's writes is refused when the reverse flow starts applying, naming the table
and the column, before anything is written: the items stay queued for when the site is fixed."""

from __future__ import annotations

import pytest

from hamgam.tadbir.write_errors import TadbirSchemaMismatch
from hamgam.transform.codes import make_national_code


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
