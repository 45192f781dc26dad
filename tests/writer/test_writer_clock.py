"""Entry stamps (EDate/ETime) are Tehran wall-clock time, as Tadbir's clients write them, not the worker's UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from writer_workers import header, lines

from hamgam.tadbir import schema
from hamgam.tadbir.writer import TadbirWriter

LATE_EVENING_IN_UTC = datetime(2025, 6, 1, 20, 45, tzinfo=UTC)
IN_TEHRAN = datetime(2025, 6, 2, 0, 15)  # +03:30, already the next day


def test_entry_stamps_are_tehran_wall_clock_time(tadbir):
    writer = TadbirWriter(tadbir, clock=lambda: LATE_EVENING_IN_UTC)
    sp_id, _ = writer.write_quote(header(2), lines(), number=None)
    customer_id = writer.insert_customer(2, {"Name": "شرکت نو", "SubscriptionNo": "99001"}, detail_chain=["1"],
                                         receivables_account="1103")
    f, c = schema.sp_factor, schema.customer
    with tadbir.connect() as conn:
        quote = conn.execute(sa.select(f.c.EDate, f.c.ETime).where(f.c.Id == sp_id, f.c.FPId == 2)).one()
        customer = conn.execute(sa.select(c.c.EDate, c.c.ETime).where(c.c.Id == customer_id, c.c.FPId == 2)).one()
    assert tuple(quote) == tuple(customer) == (IN_TEHRAN, IN_TEHRAN)
